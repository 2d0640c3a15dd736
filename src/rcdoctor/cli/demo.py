"""`rcdoctor demo`: the seed incident played on a real local cluster (what is built so far of it)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rcdoctor.cli import output
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK


def _quiet(log: Callable[[str], None]) -> Callable[[str], None]:
    """The phase lines only: each step's line is in the journal and in `heal --apply`'s own output."""

    def printer(line: str) -> None:
        if not line.startswith("  ok "):
            log(line)

    return printer


def run_demo(redis_server: str | None, base_ip: str, keys: int, node_timeout: int) -> int:
    from redis.cluster import ClusterNode, RedisCluster

    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.cli.heal import render_plan
    from rcdoctor.cli.render import render_status
    from rcdoctor.cli.render_diagnose import render_report
    from rcdoctor.collect import collect
    from rcdoctor.heal.plan import Flags
    from rcdoctor.heal.session import run as heal_run
    from rcdoctor.heal.session import survey
    from rcdoctor.lab import Lab, LabSpec
    from rcdoctor.lab.faults import FaultOp, apply
    from rcdoctor.migrate.journal import Journal
    from rcdoctor.status import build_status
    from rcdoctor.timeline import build
    from rcdoctor.timeline.inputs import node_logs
    from rcdoctor.verify.baseline import Baseline
    from rcdoctor.verify.run import digest_cluster, run_verify

    con = output.console()

    def step(text: str) -> None:
        con.print(f"\n[bold cyan]▶ {text}[/bold cyan]")

    root = Path(tempfile.mkdtemp(prefix="rcdoctor-demo-"))
    step("Start a 3-primary / 3-replica Redis Cluster, one loopback IP per node (like pods), same port")
    lab = None
    try:
        lab = Lab.up(
            LabSpec(primaries=3, replicas=1, base_ip=base_ip, node_timeout_ms=node_timeout),
            name="demo",
            directory=root / "lab",
            redis_server=redis_server,
            log=con.print,
        )
        con.print("cluster_state:ok on every node: " + ", ".join(lab.addresses))

        step(f"Write {keys} keys through a cluster client")
        client = RedisCluster(startup_nodes=[ClusterNode(n.ip, n.port) for n in lab.nodes], socket_timeout=2)
        try:
            for start in range(0, keys, 500):
                client.mset_nonatomic({f"demo:key:{i}": f"value-{i}" for i in range(start, min(keys, start + 500))})
        finally:
            client.close()
        con.print(f"wrote {keys} keys (demo:key:0 … demo:key:{max(keys - 1, 0)}), spread over the 3 primaries")
        before = digest_cluster(lab.addresses, lab.options)
        baseline = Baseline.now(before)
        con.print(
            f"baseline: {before.keys} keys, content digest {before.total} (what `rcdoctor verify --save-baseline` "
            "keeps, to prove later that nothing was lost)"
        )

        step("Status (the runbook's step 1, CLUSTER INFO/NODES on every pod, in one command)")
        render_status(build_status(collect(lab.addresses, lab.options)), con)

        step("Every pod is recreated at once and comes back with a new IP (same data, same nodes.conf)")
        old = list(lab.addresses)
        result = apply(lab, FaultOp("new-address", "all"))
        for name, move in result.details["moved"].items():
            con.print(f"  {name}: {move['from']} → {move['to']}")

        step("Wait: every node still dials its peers at their old addresses")
        started = time.monotonic()
        limit = max(10.0, node_timeout / 1000 * 8)
        states: dict[str, str | None] = {}
        while time.monotonic() - started < limit:
            snapshot = collect(lab.addresses, lab.options)
            # the old addresses are found in the views too; they refuse: only the live nodes count here
            states = {n.address: n.cluster_state for n in snapshot.nodes if n.address in lab.addresses}
            if all(state == "fail" for state in states.values()):
                break
            time.sleep(0.25)
        all_failed = bool(states) and all(state == "fail" for state in states.values())
        con.print(f"after {time.monotonic() - started:.1f}s: " + ", ".join(f"{a} {s}" for a, s in states.items()))
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

        step("What applications see")
        for label, addresses in (("configured with the old pod IPs", old), ("given the new pod IPs", lab.addresses)):
            nodes = [ClusterNode(*a.rsplit(":", 1)) for a in addresses]
            try:
                c = RedisCluster(startup_nodes=nodes, socket_timeout=1, socket_connect_timeout=1)
                try:
                    c.get("demo:key:1")
                    con.print(f"  {label}: read worked")
                finally:
                    c.close()
            except Exception as exc:  # whatever the client raises is what the application would see
                text = " ".join(str(exc).split())[:150]
                con.print(f"  {label}: [red]{type(exc).__name__}: {text}[/red]")

        step("Status now: each node answers at its new address, peers list it at the old one")
        snapshot = collect(lab.addresses, lab.options)
        report = build_status(snapshot)
        render_status(report, con)
        step("Diagnose: one root cause, with its evidence and fix; the symptoms it explains folded under it")
        diagnosis = analyze(snapshot, default_registry())
        render_report(diagnosis, con)
        held = sum(r.keys or 0 for r in report.rows if r.role == "primary")
        con.print(
            f"\nThe data is intact on disk and in memory: the primaries hold {held} keys "
            f"(written: {keys}). Nothing is lost yet; the cluster only lost track of its own members."
        )
        found = [f.code for f in diagnosis.root_causes if f.severity != "info"]

        step("Heal, dry run: the plan (rcdoctor heal ADDR…), nothing changed yet")
        flags = Flags()
        surveyed = survey(lab.addresses, lab.options, flags)
        plan = surveyed[1]
        render_plan(plan, apply=False, compact=True)

        step("Heal --apply: each step re-checks its precondition, is journaled, then the cluster is re-read")
        started = time.monotonic()
        outcome = heal_run(lab.addresses, lab.options, flags, Journal(None), _quiet(con.print), surveyed)
        healed = outcome.final_report is not None and outcome.final_report.healthy
        con.print(f"healed in {time.monotonic() - started:.1f}s: " + ("diagnose is clean" if healed else "NOT healthy"))

        step("Verify: real writes and reads on every primary, and every key against the baseline")
        verified = run_verify(collect(lab.addresses, lab.options), lab.options, baseline=baseline)
        for check in verified.results:
            mark = "[green]pass[/]" if check.ok else "[red]FAIL[/]"
            con.print(f"{mark}  {check.name}: {check.detail}")
        con.print(
            f"\n[bold]{'All ' + str(keys) + ' keys are back, unchanged' if verified.ok else 'Verification failed'}[/]"
            " — no reset, no key moved, nothing lost: the nodes only had to be told where their peers are now."
        )
        ok = all_failed and held == keys and found == ["A003"] and healed and verified.ok
        return EXIT_OK if ok else EXIT_CRITICAL
    finally:
        step("Stop the lab")
        if lab is not None:
            lab.down()
        shutil.rmtree(root, ignore_errors=True)
        con.print("stopped every redis-server the demo started and removed its directory")
