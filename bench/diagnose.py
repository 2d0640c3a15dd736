"""Diagnose speed: `rcdoctor diagnose` versus `redis-cli --cluster check` on one lab, in one run; and the pure
analysis alone on a synthetic 1,000-node snapshot.

    python bench/diagnose.py [--primaries 30] [--replicas 1] [--repeat 5] [--synthetic 1000]

Part 1 starts a P+P*R lab (default 30+30) and times, alternately and `--repeat` times each:
  - `rcdoctor diagnose SEED --format json` as a user runs it (new process, collection included),
  - `redis-cli --cluster check SEED` (the reference tool).
Part 2 builds a snapshot of N nodes (N/2 primaries, one replica each) from the replies of a real node
(bench/synthetic.py) and times analyze() on it: parsing the N views of N lines included, then the checks
alone on the parsed views. bench/scale.py measures diagnose --from on such snapshots of several sizes.
Prints a table and writes JSON (bench/results/diagnose.json). No assertions.
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
from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.lab import Lab, LabSpec
from synthetic import synthetic


def time_synthetic(count: int, repeat: int) -> dict[str, Any]:
    registry = default_registry()
    total, checks_only = [], []
    findings = 0
    for _ in range(repeat):
        snapshot = synthetic(count)  # fresh: parsed views are cached per sample
        t0 = time.perf_counter()
        report = analyze(snapshot, registry)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        report = analyze(snapshot, registry)  # views already parsed
        checks_only.append(time.perf_counter() - t0)
        findings = len([f for f in report.findings if f.severity != "info"])
    return {
        "nodes": count,
        "analyze_s": round(statistics.median(total), 3),
        "checks_on_parsed_views_s": round(statistics.median(checks_only), 3),
        "findings_above_info": findings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primaries", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--synthetic", type=int, default=1000)
    parser.add_argument("--redis-server", default=None)
    parser.add_argument("--redis-cli", default=None)
    parser.add_argument("--base-ip", default="127.61.0.11")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "diagnose.json"))
    args = parser.parse_args()
    redis_cli = find_redis_cli(args.redis_cli)
    rcdoctor = [sys.executable, "-m", "rcdoctor"]

    root = Path(tempfile.mkdtemp(prefix="rcdoctor-bench-"))
    lab = Lab.up(
        LabSpec(primaries=args.primaries, replicas=args.replicas, base_ip=args.base_ip, node_timeout_ms=15000),
        name="bench-diagnose",
        directory=root / "lab",
        redis_server=args.redis_server,
    )
    results: dict[str, Any] = {"nodes": len(lab.nodes), "redis_version": lab.state.version, "redis_cli": redis_cli}
    try:
        lab.wait_cluster_ok()
        seed = lab.addresses[0]
        runs: dict[str, list[float]] = {"rcdoctor_diagnose": [], "redis_cli_check": []}
        codes: dict[str, list[int | None]] = {"rcdoctor_diagnose": [], "redis_cli_check": []}
        timed([*rcdoctor, "diagnose", seed, "--format", "json"], 120)  # warm caches once
        for _ in range(args.repeat):
            for name, cmd in (
                ("rcdoctor_diagnose", [*rcdoctor, "diagnose", seed, "--format", "json"]),
                ("redis_cli_check", [redis_cli, "--cluster", "check", seed]),
            ):
                elapsed, code = timed(cmd, 120)
                runs[name].append(elapsed)
                codes[name].append(code)
        results["lab"] = {k: round(statistics.median(v), 4) for k, v in runs.items()}
        results["lab"]["exit_codes"] = codes
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)
    results["synthetic"] = time_synthetic(args.synthetic, max(1, min(args.repeat, 3)))

    lab_r, syn = results["lab"], results["synthetic"]
    print(f"diagnose bench: {results['nodes']}-node lab, Redis {results['redis_version']}, median of {args.repeat}")
    print(f"  rcdoctor diagnose (new process)   {lab_r['rcdoctor_diagnose']:.3f} s")
    print(f"  redis-cli --cluster check         {lab_r['redis_cli_check']:.3f} s")
    print(f"synthetic {syn['nodes']}-node snapshot, pure analysis:")
    print(f"  analyze() incl. parsing the views {syn['analyze_s']:.3f} s")
    print(f"  checks on already parsed views    {syn['checks_on_parsed_views_s']:.3f} s")
    print(f"  findings above info               {syn['findings_above_info']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
