"""Diagnose speed: `rcdoctor diagnose` versus `redis-cli --cluster check` on one lab, in one run; and the pure
analysis alone on a synthetic 1,000-node snapshot.

    python bench/diagnose.py [--primaries 30] [--replicas 1] [--repeat 5] [--synthetic 1000]

Part 1 starts a P+P*R lab (default 30+30) and times, alternately and `--repeat` times each:
  - `rcdoctor diagnose SEED --format json` as a user runs it (new process, collection included),
  - `redis-cli --cluster check SEED` (the reference tool).
Part 2 builds a snapshot of N nodes (N/2 primaries, one replica each) from the replies of a real node
(tests/data/healthy-redis7.json) with generated CLUSTER NODES/SLOTS, and times analyze() on it: parsing
the N views of N lines included, then the checks alone on the parsed views.
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
from types import MappingProxyType
from typing import Any

from _tools import find_redis_cli, timed
from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.model.snapshot import CLUSTER_MYID, CLUSTER_NODES, CLUSTER_SLOTS, NodeSample, PortProbe, Snapshot

TEMPLATE = Path(__file__).parent.parent / "tests" / "data" / "healthy-redis7.json"


def synthetic(count: int) -> Snapshot:
    """`count` nodes (half primaries, one replica each), every one answering with the same consistent view."""
    template = next(n for n in Snapshot.load(TEMPLATE).nodes if n.answered)
    primaries = count // 2
    ids = [f"{i:040x}" for i in range(count)]
    ips = [f"10.{i // 250}.{i % 250}.1" for i in range(count)]
    per = SLOT_COUNT // primaries
    ranges = [(i * per, SLOT_COUNT - 1 if i == primaries - 1 else (i + 1) * per - 1) for i in range(primaries)]
    lines = []
    for i in range(count):
        if i < primaries:
            start, end = ranges[i]
            lines.append(f"{ids[i]} {ips[i]}:6379@16379 master - 0 1 {i + 1} connected {start}-{end}")
        else:
            lines.append(f"{ids[i]} {ips[i]}:6379@16379 slave {ids[i - primaries]} 0 1 {i - primaries + 1} connected")
    slots = [
        [start, end, [ips[i], 6379, ids[i]], [ips[i + primaries], 6379, ids[i + primaries]]]
        for i, (start, end) in enumerate(ranges)
    ]
    nodes = []
    for i in range(count):
        view = "\n".join(
            line.replace(" master ", " myself,master ", 1).replace(" slave ", " myself,slave ", 1) if j == i else line
            for j, line in enumerate(lines)
        )
        replies = dict(template.replies)
        replies.update({CLUSTER_NODES: view + "\n", CLUSTER_MYID: ids[i], CLUSTER_SLOTS: slots})
        nodes.append(
            NodeSample(
                address=f"{ips[i]}:6379",
                origin="view",
                data_port=PortProbe(True, 0.1),
                bus_port=PortProbe(True, 0.1),
                bus_port_number=16379,
                replies=MappingProxyType(replies),
            )
        )
    return Snapshot("2026-01-01T00:00:00Z", 1.0, (nodes[0].address,), 3.0, tuple(nodes))


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
