"""Collection speed: `rcdoctor collect` versus `redis-cli --cluster check`, same lab, same run.

    python bench/collect.py [--primaries 30] [--replicas 1] [--repeat 5]

On a P-primary/R-replica lab (default 30+30 = 60 nodes) it times, alternately and `--repeat` times each:
  - `rcdoctor collect SEED -o /dev/null` as a user runs it (a new process: Python start-up included),
  - `collect()` called in-process (the collector alone),
  - `redis-cli --cluster check SEED` (the reference tool; it asks fewer things of each node),
then pauses 3 nodes (SIGSTOP) and times both again, redis-cli under a time limit because it never returns
from a silent node. Prints a table and writes JSON (bench/results/collect.json). No assertions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _tools import find_redis_cli, timed
from rcdoctor.collect import ConnectOptions, collect
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.faults import FaultOp, apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primaries", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis-server", default=None)
    parser.add_argument("--redis-cli", default=None)
    parser.add_argument("--base-ip", default="127.60.0.11")
    parser.add_argument("--timeout", type=float, default=3.0, help="rcdoctor's per-node timeout (s)")
    parser.add_argument("--cli-limit", type=float, default=30.0, help="time limit for redis-cli with paused nodes")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "collect.json"))
    args = parser.parse_args()
    redis_cli = find_redis_cli(args.redis_cli)
    rcdoctor = [sys.executable, "-m", "rcdoctor"]

    root = Path(tempfile.mkdtemp(prefix="rcdoctor-bench-"))
    started = time.perf_counter()
    lab = Lab.up(
        LabSpec(primaries=args.primaries, replicas=args.replicas, base_ip=args.base_ip, node_timeout_ms=15000),
        name="bench",
        directory=root / "lab",
        redis_server=args.redis_server,
    )
    results: dict[str, Any] = {
        "nodes": len(lab.nodes),
        "redis_version": lab.state.version,
        "redis_cli": redis_cli,
        "lab_up_s": round(time.perf_counter() - started, 2),
    }
    try:
        seed = lab.addresses[0]
        runs: dict[str, list[float]] = {"rcdoctor_cli": [], "collector_in_process": [], "redis_cli_check": []}
        checks: list[int | None] = []
        timed([*rcdoctor, "collect", seed, "-o", "/dev/null"], 120)  # warm caches once
        for _ in range(args.repeat):
            runs["rcdoctor_cli"].append(timed([*rcdoctor, "collect", seed, "-o", "/dev/null"], 120)[0])
            t0 = time.perf_counter()
            snapshot = collect([seed], ConnectOptions(timeout=args.timeout))
            runs["collector_in_process"].append(time.perf_counter() - t0)
            elapsed, code = timed([redis_cli, "--cluster", "check", seed], 120)
            runs["redis_cli_check"].append(elapsed)
            checks.append(code)
        results["healthy"] = {k: round(statistics.median(v), 4) for k, v in runs.items()}
        results["healthy"]["nodes_collected"] = len(snapshot.answered)
        results["healthy"]["redis_cli_exit_codes"] = checks

        paused = ("n2", f"n{args.primaries + 5}", f"n{len(lab.nodes) - 1}")
        apply(lab, FaultOp("pause", paused))
        elapsed, code = timed([*rcdoctor, "collect", seed, "-o", "/dev/null", "--timeout", str(args.timeout)], 120)
        t0 = time.perf_counter()
        snapshot = collect([seed], ConnectOptions(timeout=args.timeout))
        in_process = time.perf_counter() - t0
        cli_elapsed, cli_code = timed([redis_cli, "--cluster", "check", seed], args.cli_limit)
        results["paused"] = {
            "paused_nodes": list(paused),
            "rcdoctor_timeout_s": args.timeout,
            "rcdoctor_cli": round(elapsed, 3),
            "rcdoctor_cli_exit": code,
            "collector_in_process": round(in_process, 3),
            "nodes_answered": len(snapshot.answered),
            "nodes_recorded_with_error": len(snapshot.failed),
            "redis_cli_check": round(cli_elapsed, 3),
            "redis_cli_finished": cli_code is not None,
            "redis_cli_limit_s": args.cli_limit,
        }
        apply(lab, FaultOp("resume", paused), record=False)
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)

    healthy, paused_r = results["healthy"], results["paused"]
    print(
        f"collect bench: {results['nodes']} nodes, Redis {results['redis_version']}, lab up in {results['lab_up_s']}s"
    )
    print(f"healthy (median of {args.repeat}):")
    print(f"  rcdoctor collect (new process)      {healthy['rcdoctor_cli']:.3f} s")
    print(f"  collect() in-process                {healthy['collector_in_process']:.3f} s")
    print(f"  redis-cli --cluster check           {healthy['redis_cli_check']:.3f} s")
    print(f"  ratio redis-cli / rcdoctor (process) {healthy['redis_cli_check'] / healthy['rcdoctor_cli']:.2f}")
    print(f"  ratio redis-cli / collect()         {healthy['redis_cli_check'] / healthy['collector_in_process']:.2f}")
    print(f"3 nodes paused ({', '.join(paused_r['paused_nodes'])}), rcdoctor --timeout {args.timeout}:")
    print(
        f"  rcdoctor collect (new process)      {paused_r['rcdoctor_cli']:.3f} s "
        f"(exit {paused_r['rcdoctor_cli_exit']}, "
        f"{paused_r['nodes_answered']} answered, {paused_r['nodes_recorded_with_error']} recorded with error)"
    )
    print(f"  collect() in-process                {paused_r['collector_in_process']:.3f} s")
    cli_note = (
        "finished" if paused_r["redis_cli_finished"] else f"did NOT finish, killed at the {args.cli_limit:.0f}s limit"
    )
    print(f"  redis-cli --cluster check           {paused_r['redis_cli_check']:.3f} s ({cli_note})")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
