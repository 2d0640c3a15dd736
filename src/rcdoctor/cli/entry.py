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


def main() -> None:
    hide_url_passwords()
    if sys.argv[1:2] == ["probe"]:
        # The fast path: probes run every few seconds on every pod; no Click, Rich or redis-py.
        from rcdoctor.cli.probe import main as probe_main

        sys.exit(probe_main(sys.argv[2:]))
    from rcdoctor.cli.app import main as app_main

    app_main()
