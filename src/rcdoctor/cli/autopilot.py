"""autopilot: glue between options and the autopilot's loop (the exporter's HTTP server and loop)."""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import sys
import threading
from typing import TYPE_CHECKING

from rcdoctor.cli.common import Target, analysis_settings
from rcdoctor.cli.monitor import listen_address
from rcdoctor.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from http.server import HTTPServer

    from rcdoctor.autopilot.audit import Audit
    from rcdoctor.autopilot.decide import Policy
    from rcdoctor.autopilot.lease import Lease
    from rcdoctor.autopilot.pilot import Autopilot

# A repair under way when SIGTERM/Ctrl-C arrives is let finish (it closes what it opened), up to this long.
FINISH_REPAIR_S = 120.0


def allowed_codes(text: str | None) -> frozenset[str]:
    """--allow CODE,…: check codes (`default` stands for the default set); unknown codes are an error."""
    from rcdoctor.autopilot.decide import DEFAULT_ALLOW
    from rcdoctor.checks import default_registry

    if text is None:
        return DEFAULT_ALLOW
    known = set(default_registry().checks)
    codes: set[str] = set()
    for part in filter(None, (p.strip() for p in text.replace(" ", ",").split(","))):
        if part.lower() == "default":
            codes |= DEFAULT_ALLOW
        elif part.upper() in known:
            codes.add(part.upper())
        else:
            raise UsageError(f"--allow: {part!r} is not a check code (see `rcdoctor explain`), nor `default`")
    if not codes:
        raise UsageError("--allow: give at least one check code, or `default`")
    return frozenset(codes)


def cluster_key(t: Target, seeds_file: str | None) -> str:
    """The state file names of one cluster: from the seeds as given (two autopilots given the same seeds
    share the lease; otherwise give both the same --lease)."""
    specs = sorted({s.spec or str(s.endpoint) for s in t.seeds} | ({f"@{seeds_file}"} if seeds_file else set()))
    return hashlib.sha256("\n".join(specs).encode()).hexdigest()[:12]


def heal_command(t: Target, seeds_file: str | None) -> str:
    """What a human runs for what the autopilot will not do: the seeds as given, never a password."""
    specs = [s.spec or str(s.endpoint) for s in t.seeds] + ([f"@{seeds_file}"] if seeds_file else [])
    return " ".join(["rcdoctor", "heal", *(shlex.quote(s) for s in specs), "--apply"])


def run_autopilot(
    t: Target,
    *,
    listen: str,
    interval: float,
    dry_run: bool,
    allow: str | None,
    hook: str | None,
    block_period: float,
    confirm_rounds: int,
    lease_spec: str | None,
    seeds_file: str | None,
    domains_file: tuple[str, ...],
) -> int:
    from rcdoctor.autopilot.audit import Audit
    from rcdoctor.autopilot.decide import Policy
    from rcdoctor.autopilot.lease import identity, parse_lease
    from rcdoctor.autopilot.pilot import Autopilot, Config
    from rcdoctor.execute.journal import default_dir
    from rcdoctor.exporter.server import read_seeds_file, serve

    settings = analysis_settings(domains_file)
    if seeds_file:
        read_seeds_file(seeds_file)
    host, port = listen_address(listen)
    key = cluster_key(t, seeds_file)
    state = default_dir().parent
    # A Kubernetes lease outlives a few missed rounds, not a dead autopilot: three intervals, at least 15 s.
    lease = parse_lease(
        lease_spec or "file",
        state / "autopilot" / f"{key}.lease",
        kube_context=t.options.kube_context,
        duration=max(15.0, 3 * interval),
    )
    policy = Policy(allowed_codes(allow), confirm_rounds, block_period, dry_run, heal_command(t, seeds_file))
    audit = Audit(default_dir() / f"autopilot-{key}.jsonl", identity())
    pilot = Autopilot(
        t.seeds,
        t.options,
        Config(policy, lease, audit, hook),
        interval=interval,
        settings=settings,
        seeds_file=seeds_file,
    )
    server = serve(pilot, host, port)
    pilot.start()
    _announce(server, policy, lease, audit, interval)
    _serve_until_stopped(server, pilot, audit, lease)
    return EXIT_OK


def _announce(server: HTTPServer, policy: Policy, lease: Lease, audit: Audit, interval: float) -> None:
    """One line on stderr with where to look, and the start in the audit journal."""
    host, port = str(server.server_address[0]), server.server_address[1]
    print(
        f"rcdoctor autopilot: http://{host}:{port}/metrics (/status, /healthz), every {interval:g}s, "
        f"{'DRY RUN, ' if policy.dry_run else ''}allowed {','.join(sorted(policy.allow))}, lease {lease.spec}, "
        f"journal {audit.path}",
        file=sys.stderr,
        flush=True,
    )
    audit.record(
        "started",
        dry_run=policy.dry_run,
        allow=sorted(policy.allow),
        interval=interval,
        block_period=policy.block_period,
        confirm_rounds=policy.confirm_rounds,
        lease=lease.spec,
    )


def _serve_until_stopped(server: HTTPServer, pilot: Autopilot, audit: Audit, lease: Lease) -> None:
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        pilot.stop()
        if pilot.repairing.is_set() and pilot._thread is not None:
            # heal closes what it opened (slots, held settings) when its phase ends: let it, bounded.
            print("rcdoctor autopilot: stopping after the repair under way", file=sys.stderr, flush=True)
            _join(pilot._thread, FINISH_REPAIR_S)
        audit.record("stopped")
        audit.close()
        lease.release()


def _join(thread: threading.Thread, timeout: float) -> None:
    with contextlib.suppress(KeyboardInterrupt):  # a second signal: leave now
        thread.join(timeout)
