"""exporter: glue between options and the exporter's loop and HTTP server."""

from __future__ import annotations

import sys

from rcdoctor.cli.common import Target, analysis_settings
from rcdoctor.errors import EXIT_CANNOT_RUN, EXIT_OK, UsageError


def run_exporter(
    t: Target, listen: str, interval: float, seeds_file: str | None, domains_file: tuple[str, ...], once: bool
) -> int:
    from rcdoctor.exporter.server import Exporter, read_seeds_file, render_once, serve

    settings = analysis_settings(domains_file)
    if seeds_file:
        read_seeds_file(seeds_file)  # a missing or unreadable file is a usage error now, not a log line later
    exporter = Exporter(t.seeds, t.options, interval=interval, settings=settings, seeds_file=seeds_file)
    if once:
        sys.stdout.write(render_once(exporter).decode())
        _, result, _ = exporter.snapshot_state()
        return EXIT_OK if result is not None and result.answered else EXIT_CANNOT_RUN
    host, port = listen_address(listen)
    server = serve(exporter, host, port)
    # SIGTERM (Kubernetes stopping the pod) is already a KeyboardInterrupt through rcdoctor.interrupts,
    # remembered so the exit code says 143, like every other command.
    exporter.start()
    host, port = str(server.server_address[0]), server.server_address[1]  # the real port when 0 was asked
    print(
        f"rcdoctor exporter: http://{host}:{port}/metrics, collecting every {interval:g}s "
        f"(timeout {t.options.timeout:g}s per node)",
        file=sys.stderr,
        flush=True,
    )
    if not _loopback(host):
        print(
            f"rcdoctor exporter: note: {host}:{port} is reachable from other machines; its pages show node ids, "
            "addresses, pids and run ids to anyone who reaches it (restrict it, e.g. with a NetworkPolicy)",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        # Ctrl-C or SIGTERM: stop listening and leave at once. A collection waiting on a hung node is not
        # waited for (it holds nothing); the interrupt goes on to main(), which exits 130 or 143.
        server.server_close()
        exporter.stop()
    return EXIT_OK


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def listen_address(text: str) -> tuple[str, int]:
    """HOST:PORT, :PORT (all interfaces, said explicitly) or [v6]:PORT; port 0 picks a free one (printed at
    start)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"bad --listen {text!r}: expected HOST:PORT, e.g. 0.0.0.0:9840")
    return (host.strip("[]") or "0.0.0.0"), int(port)
