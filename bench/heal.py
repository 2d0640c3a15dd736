"""Time to healthy: how long `rcdoctor heal --apply` takes per incident, until `verify --baseline` is green.

    python bench/heal.py [--keys 20000] [--node-timeout 2000] [--scenarios all-new-addresses,…]

For each scenario: a fresh 3 primaries + 3 replicas lab, `--keys` keys, a baseline saved by
`rcdoctor verify --save-baseline`, the fault injected, then timed from the start of `rcdoctor heal --apply`
to the end of a green `rcdoctor verify --baseline` (every key back, unchanged). Printed beside the
cluster's node timeout, the floor under anything that waits for failure detection (a failover cannot
start before peers have flagged the primary failing). Writes bench/results/heal.json. No assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.data import DataSet, fill
from rcdoctor.lab.faults import FaultOp, apply

RESULTS = Path(__file__).parent / "results" / "heal.json"


def _kill_blocked_primary(lab: Lab) -> list[str]:
    roles = lab.live_roles()
    primary = next(n for n in lab.nodes if roles[n.name] == "primary")
    apply(lab, FaultOp("no-failover", primary.name))
    apply(lab, FaultOp("kill", primary.name))
    time.sleep(lab.state.node_timeout_ms / 1000 * 3)  # until the peers flag it fail
    return ["--allow-failover-force"]


def _stale_copy_after_failover(lab: Lab) -> list[str]:
    """The primary is down until its replica takes over, then back without nodes.conf (E002)."""
    roles = lab.live_roles()
    primary = next(n for n in lab.nodes if roles[n.name] == "primary")
    (replica,) = lab.followers({primary.node_id or ""})
    apply(lab, FaultOp("kill", primary.name))
    lab.wait(lambda: lab.live_roles()[replica.name] == "primary", f"{replica.name} to take over")
    apply(lab, FaultOp("lose-nodes-conf", primary.name))
    time.sleep(2.0)
    return []


def _fault(op: FaultOp, settle: float = 2.0) -> Callable[[Lab], list[str]]:
    def inject(lab: Lab) -> list[str]:
        apply(lab, op)
        time.sleep(settle)
        return []

    return inject


SCENARIOS: dict[str, Callable[[Lab], list[str]]] = {
    "all-new-addresses": _fault(FaultOp("new-address", "all")),
    "primaries-new-addresses": _fault(FaultOp("new-address", "primaries")),
    "lost-nodes-conf-primary": _fault(FaultOp("lose-nodes-conf", "n1"), settle=4.0),
    "half-migrated-slot": _fault(FaultOp("half-migrate", (), {"slot": 4000, "keys": 4})),
    "uncovered-slot-with-keys": _fault(FaultOp("drop-slot-owner", (), {"slot": 123})),
    "dead-primary-no-failover": _kill_blocked_primary,
    "stale-copy-after-failover": _stale_copy_after_failover,
    "empty-replacement-lost-volume": _fault(FaultOp("lose-volume", "n4"), settle=4.0),
    "rebuild-every-nodes-conf-lost": _fault(FaultOp("lose-nodes-conf", "all")),
}
FLAGS = {"rebuild-every-nodes-conf-lost": ["--rebuild-from-keys"]}


def rcdoctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rcdoctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def run(name: str, args: argparse.Namespace, root: Path, base_ip: str) -> dict[str, Any]:
    spec = LabSpec(primaries=3, replicas=1, base_ip=base_ip, node_timeout_ms=args.node_timeout)
    lab = Lab.up(spec, name=name, directory=root / name, redis_server=args.redis_server)
    env = {"XDG_STATE_HOME": str(root / name / "state")}
    try:
        fill(lab.nodes[0].endpoint, lab.options, DataSet(args.keys, 50, prefix="bench:"))
        baseline = root / name / "baseline.json"
        saved = rcdoctor("verify", lab.nodes[0].address, "--save-baseline", str(baseline), env=env)
        if saved.returncode != 0:
            raise RuntimeError(saved.stdout + saved.stderr)
        flags = SCENARIOS[name](lab) + FLAGS.get(name, [])
        if name == "half-migrated-slot":  # the fault writes keys of its own: they are part of the truth
            baseline = _baseline_now(lab, root / name / "baseline-after-fault.json")
        live = [n.address for n in lab.nodes if lab.is_running(n)]
        started = time.perf_counter()
        healed = rcdoctor("heal", *live, "--apply", "--format", "json", *flags, env=env)
        heal_s = time.perf_counter() - started
        if name == "dead-primary-no-failover":  # the killed pod comes back and rejoins as a replica
            apply(lab, FaultOp("start", next(n.name for n in lab.nodes if not lab.is_running(n))))
            lab.wait_cluster_ok()
            live = lab.addresses
        verified = rcdoctor("verify", *live, "--baseline", str(baseline), env=env)
        total_s = time.perf_counter() - started
        report = json.loads(healed.stdout) if healed.stdout.startswith("{") else {}
        return {
            "scenario": name,
            "heal_exit": healed.returncode,
            "verify_exit": verified.returncode,
            "heal_s": round(heal_s, 2),
            "to_verified_s": round(total_s, 2),
            "node_timeout_s": args.node_timeout / 1000,
            "phases": [r["phase"] for r in report.get("rounds", [])],
            "error": None
            if healed.returncode == verified.returncode == 0
            else (healed.stderr + verified.stdout)[-400:],
        }
    finally:
        lab.down()


def _baseline_now(lab: Lab, path: Path) -> Path:
    from rcdoctor.verify.baseline import Baseline
    from rcdoctor.verify.run import digest_cluster

    Baseline.now(digest_cluster(lab.addresses, lab.options)).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--node-timeout", type=int, default=2000, help="cluster-node-timeout of the labs (ms)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--redis-server", default="/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    parser.add_argument("--base-ip", default="127.0.0.150")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rcdoctor-bench-heal-"))
    results = []
    try:
        for name in args.scenarios.split(","):
            print(f"{name}: fresh 3+3 lab, {args.keys:,} keys, baseline, fault, heal, verify", flush=True)
            results.append(run(name, args, root, args.base_ip))
            print(f"  {json.dumps(results[-1])}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{'scenario':<28}{'heal':>6}{'verify':>7}{'heal s':>8}{'to green s':>11}{'node timeout s':>15}  phases")
    for r in results:
        print(
            f"{r['scenario']:<28}{r['heal_exit']:>6}{r['verify_exit']:>7}{r['heal_s']:>8.2f}{r['to_verified_s']:>11.2f}"
            f"{r['node_timeout_s']:>15.1f}  {','.join(r['phases'])}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"keys": args.keys, "node_timeout_ms": args.node_timeout, "redis_server": args.redis_server}
    RESULTS.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
