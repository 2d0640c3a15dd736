"""`rcdoctor demo`: the seed incident played on a real local cluster, told step by step.

The lab work is in lab/demo.py; this module narrates it and judges the run (exit 0 only when the incident
showed, diagnose named A003 alone, heal healed and verify found every key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rcdoctor.cli import output
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK

if TYPE_CHECKING:
    from rich.console import Console

    from rcdoctor.lab import Lab
    from rcdoctor.verify.baseline import Baseline


def _quiet(log: Callable[[str], None]) -> Callable[[str], None]:
    """The phase lines only: each step's line is in the journal and in `heal --apply`'s own output."""

    def printer(line: str) -> None:
        if not line.startswith("  ok "):
            log(line)

    return printer


def _step(con: Console, text: str) -> None:
    con.print(f"\n[bold cyan]▶ {text}[/bold cyan]")


def run_demo(redis_server: str | None, base_ip: str, keys: int, node_timeout: int) -> int:
    from rcdoctor.lab import LabSpec, temporary_lab

    con = output.console()
    _step(con, "Start a 3-primary / 3-replica Redis Cluster, one loopback IP per node (like pods), same port")
    spec = LabSpec(primaries=3, replicas=1, base_ip=base_ip, node_timeout_ms=node_timeout)
    try:
        with temporary_lab(spec, "demo", redis_server, log=con.print) as lab:
            try:
                con.print("cluster_state:ok on every node: " + ", ".join(lab.addresses))
                baseline = _write(con, lab, keys)
                all_failed = _incident(con, lab, node_timeout)
                held, found = _diagnose(con, lab, keys)
                healed, verified = _heal_and_verify(con, lab, baseline, keys)
            finally:
                _step(con, "Stop the lab")
    finally:
        con.print("stopped every redis-server the demo started and removed its directory")
    ok = all_failed and held == keys and found == ["A003"] and healed and verified
    return EXIT_OK if ok else EXIT_CRITICAL


def _write(con: Console, lab: Lab, keys: int) -> Baseline:
    from rcdoctor.cli.render import render_status
    from rcdoctor.collect import collect
    from rcdoctor.lab.demo import write_demo_keys
    from rcdoctor.status import build_status
    from rcdoctor.verify.baseline import Baseline
    from rcdoctor.verify.run import digest_cluster

    _step(con, f"Write {keys} keys through a cluster client")
    write_demo_keys(lab, keys)
    con.print(f"wrote {keys} keys (demo:key:0 … demo:key:{max(keys - 1, 0)}), spread over the 3 primaries")
    before = digest_cluster(lab.addresses, lab.options)
    baseline = Baseline.now(before)
    con.print(
        f"baseline: {before.keys} keys, content digest {before.total} (what `rcdoctor verify --save-baseline` "
        "keeps, to prove later that nothing was lost)"
    )
    _step(con, "Status (the runbook's step 1, CLUSTER INFO/NODES on every pod, in one command)")
    render_status(build_status(collect(lab.addresses, lab.options)), con)
    return baseline


def _incident(con: Console, lab: Lab, node_timeout: int) -> bool:
    """Move every pod, show the nodes fail, their logs and what applications see; True if all failed."""
    from rcdoctor.lab.demo import client_read, wait_all_fail
    from rcdoctor.lab.faults import FaultOp, apply
    from rcdoctor.lab.logs import node_logs
    from rcdoctor.timeline import build

    _step(con, "Every pod is recreated at once and comes back with a new IP (same data, same nodes.conf)")
    old = list(lab.addresses)
    result = apply(lab, FaultOp("new-address", "all"))
    for name, move in result.details["moved"].items():
        con.print(f"  {name}: {move['from']} → {move['to']}")

    _step(con, "Wait: every node still dials its peers at their old addresses")
    all_failed, states, waited = wait_all_fail(lab, max(10.0, node_timeout / 1000 * 8))
    con.print(f"after {waited:.1f}s: " + ", ".join(f"{a} {s}" for a, s in states.items()))
    con.print("the servers' logs (the seed's symptom), as `rcdoctor timeline` reads them:")
    timeline = build(node_logs(lab))
    for node in lab.nodes:
        changes = [e for e in timeline.events if e.node == node.name and e.kind in ("state-ok", "state-fail")]
        con.print(f"  {node.name}: " + "  ".join(f"{e.time:%H:%M:%S.%f}"[:-3] + f" {e.text}" for e in changes[-2:]))
    fails = timeline.kinds().get("state-fail")
    if fails is not None:
        con.print(
            f"  Cluster state changed: fail on {len(fails.nodes)} of {len(lab.nodes)} nodes, "
            f"{fails.first:%H:%M:%S} to {fails.last:%H:%M:%S}"
        )

    _step(con, "What applications see")
    for label, addresses in (("configured with the old pod IPs", old), ("given the new pod IPs", lab.addresses)):
        error = client_read(addresses)
        con.print(f"  {label}: read worked" if error is None else f"  {label}: [red]{error}[/red]")
    return all_failed


def _diagnose(con: Console, lab: Lab, keys: int) -> tuple[int, list[str]]:
    """Status and diagnosis of the broken cluster: (keys the primaries hold, root-cause codes)."""
    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.cli.render import render_status
    from rcdoctor.cli.render_diagnose import render_report
    from rcdoctor.collect import collect
    from rcdoctor.status import build_status

    _step(con, "Status now: each node answers at its new address, peers list it at the old one")
    snapshot = collect(lab.addresses, lab.options)
    report = build_status(snapshot)
    render_status(report, con)
    _step(con, "Diagnose: one root cause, with its evidence and fix; the symptoms it explains folded under it")
    diagnosis = analyze(snapshot, default_registry())
    render_report(diagnosis, con)
    held = sum(r.keys or 0 for r in report.rows if r.role == "primary")
    con.print(
        f"\nThe data is intact on disk and in memory: the primaries hold {held} keys "
        f"(written: {keys}). Nothing is lost yet; the cluster only lost track of its own members."
    )
    return held, [f.code for f in diagnosis.root_causes if f.severity != "info"]


def _heal_and_verify(con: Console, lab: Lab, baseline: Baseline, keys: int) -> tuple[bool, bool]:
    """The dry-run plan, heal --apply, then verify against the baseline: (healed, verified)."""
    from rcdoctor.cli.heal import render_plan
    from rcdoctor.collect import collect
    from rcdoctor.execute.journal import Journal
    from rcdoctor.heal.session import run as heal_run
    from rcdoctor.heal.session import survey
    from rcdoctor.plan.heal import Flags
    from rcdoctor.verify.run import run_verify

    _step(con, "Heal, dry run: the plan (rcdoctor heal ADDR…), nothing changed yet")
    flags = Flags()
    surveyed = survey(lab.addresses, lab.options, flags)
    render_plan(surveyed[1], apply=False, compact=True)

    _step(con, "Heal --apply: each step re-checks its precondition, is journaled, then the cluster is re-read")
    started = time.monotonic()
    outcome = heal_run(lab.addresses, lab.options, flags, Journal(None), _quiet(con.print), surveyed)
    healed = outcome.final_report is not None and outcome.final_report.healthy
    con.print(f"healed in {time.monotonic() - started:.1f}s: " + ("diagnose is clean" if healed else "NOT healthy"))

    _step(con, "Verify: real writes and reads on every primary, and every key against the baseline")
    verified = run_verify(collect(lab.addresses, lab.options), lab.options, baseline=baseline)
    for check in verified.results:
        mark = "[green]pass[/]" if check.ok else "[red]FAIL[/]"
        con.print(f"{mark}  {check.name}: {check.detail}")
    con.print(
        f"\n[bold]{'All ' + str(keys) + ' keys are back, unchanged' if verified.ok else 'Verification failed'}[/]"
        " — no reset, no key moved, nothing lost: the nodes only had to be told where their peers are now."
    )
    return healed, verified.ok
