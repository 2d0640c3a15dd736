"""Console-script entry: hide URL passwords from the process title before importing anything heavy.

A password typed in a URL is in argv from exec until this runs (tens of milliseconds); REDISCLI_AUTH
or --password-file avoid even that window.
"""

from __future__ import annotations

import re
import sys

URL_WITH_PASSWORD = re.compile(r"(rediss?://[^:/@\s]*:)([^@\s]*)(@)")


def hide_url_passwords() -> None:
    """Rewrite our process title so `ps` and /proc/PID/cmdline never show a password given in a URL."""
    if not any(URL_WITH_PASSWORD.search(arg) for arg in sys.argv):
        return
    from setproctitle import setproctitle

    setproctitle(" ".join(URL_WITH_PASSWORD.sub(r"\1***\3", arg) for arg in sys.argv))


def _error(text: str) -> None:
    sys.stderr.write(f"rcdoctor: error: {text}\n")  # cli.output's line, without importing it this early


def main() -> None:
    from rcdoctor import interrupts

    # First, before the imports below (Click, Rich, redis-py: ~0.1 s): a Ctrl-C while they run is the
    # same one line and exit 130 as later, not Python's KeyboardInterrupt traceback.
    interrupts.install()
    try:
        hide_url_passwords()
        if sys.argv[1:2] == ["probe"]:
            # The fast path: probes run every few seconds on every pod; no Click, Rich or redis-py.
            from rcdoctor.cli.probe import main as probe_main

            sys.exit(probe_main(sys.argv[2:]))
        from rcdoctor.cli.app import main as app_main
    except KeyboardInterrupt:
        interrupts.exit_now(_error)
    try:
        app_main()
    finally:
        # The command is done (its result printed, its clean-up run): a signal now could only interrupt
        # the interpreter's shutdown (joining worker threads, flushing) and print a traceback there. The
        # default action ends the process at once instead, with nothing left undone.
        interrupts.uninstall()
