"""Rebalance speed: rcdoctor versus `redis-cli --cluster rebalance`, on identical fresh clusters, in one run.

    python bench/rebalance.py [--keys 1000000] [--size 100] [--tools rcdoctor,redis-cli,redis-cli-p1000]

For each tool: a fresh 3 primaries + 3 replicas lab (Redis from --redis-server, default Debian's 7.0),
`--keys` keys of `--size` bytes spread uniformly over the slots, two empty primaries joined with CLUSTER
MEET; then the tool rebalances with the empty primaries used while a cluster client (redis-py
RedisCluster) writes and reads its own keys. Timed: the tool's process, start to exit. Checked after each
run: every key present with its value, every acknowledged client write readable, every node agreeing on
the slot map, the client's errors.
  - rcdoctor:        `rcdoctor rebalance SEED --use-empty-primaries --apply`
  - redis-cli:       `redis-cli --cluster rebalance SEED --cluster-use-empty-masters` (pipeline 10)
  - redis-cli-p1000: the same with `--cluster-pipeline 1000`
Prints a table with keys moved, wall time, keys/s and ratios; writes bench/results/rebalance.json.
No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _tools import find_redis_cli
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.data import DataSet, fill, missing_or_wrong
from rcdoctor.lab.traffic import ClientLoad

RESULTS = Path(__file__).parent / "results" / "rebalance.json"


def fresh(tag: str, args: argparse.Namespace, root: Path, base_ip: str) -> tuple[Lab, list[str]]:
    spec = LabSpec(primaries=3, replicas=1, base_ip=base_ip, node_timeout_ms=15_000)
    lab = Lab.up(spec, name=tag, directory=root / tag, redis_server=args.redis_server)
    data = DataSet(args.keys, args.size)
    started = time.perf_counter()
    fill(lab.nodes[0].endpoint, lab.options, data)
    print(f"  {tag}: {args.keys:,} keys written in {time.perf_counter() - started:.1f}s", flush=True)
    new = lab.add_nodes(2, join=True)
    # One slot to each new primary (same for every tool, untimed) before the client starts, so it knows them:
    # redis-py <= 8.1 fails on an ASK to a primary missing from its CLUSTER SLOTS (redis/redis-py#4015).
    for node in new:
        subprocess.run(
            [
                rcdoctor_exe(),
                "reshard",
                lab.nodes[0].address,
                "--from",
                "all",
                "--to",
                str(node.node_id),
                "--slots",
                "1",
                "--apply",
                "--journal",
                str(root / f"{tag}-seed.jsonl"),
            ],
            check=True,
            capture_output=True,
        )
    lab.wait_cluster_ok()
    return lab, [n.address for n in new]


def cpu_seconds(pid: int | None) -> float:
    """user+system CPU of a process so far, from /proc (Linux)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group(node: Any) -> str:
    return {"primary": "old primaries", "empty": "new primaries"}.get(node.role, "replicas")


def rcdoctor_exe() -> str:
    return shutil.which("rcdoctor") or str(Path(sys.executable).parent / "rcdoctor")


def command(tool: str, seed: str, args: argparse.Namespace) -> list[str]:
    if tool == "rcdoctor":
        return [rcdoctor_exe(), "rebalance", seed, "--use-empty-primaries", "--apply", *args.rcdoctor_args.split()]
    cli = [find_redis_cli(args.redis_cli), "--cluster", "rebalance", seed, "--cluster-use-empty-masters"]
    return cli + (["--cluster-pipeline", "1000"] if tool == "redis-cli-p1000" else [])


def run(tool: str, args: argparse.Namespace, root: Path, base_ip: str) -> dict[str, Any]:
    lab, new = fresh(tool, args, root, base_ip)
    try:
        seed = lab.nodes[0]
        load = ClientLoad((seed.ip, seed.port))
        thread = load.start()
        time.sleep(0.5)
        cpu_before = {n.name: cpu_seconds(n.pid) for n in lab.nodes}
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(command(tool, seed.address, args), capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = {
            "tool": round(
                children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime, 2
            ),
            **{
                role: round(sum(cpu_seconds(n.pid) - cpu_before[n.name] for n in lab.nodes if group(n) == role), 2)
                for role in ("old primaries", "new primaries", "replicas")
            },
        }
        load.stop.set()
        thread.join()
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        lab.wait_cluster_ok(timeout=120)
        moved = 0
        for address in new:
            with lab.client(lab.node(address)) as c:
                moved += int(c.dbsize())
        bad = missing_or_wrong(seed.endpoint, lab.options, DataSet(args.keys, args.size))
        return {
            "tool": tool,
            "exit": proc.returncode,
            "wall_s": round(wall, 3),
            "keys_moved": moved,
            "keys_per_s": round(moved / wall) if wall else 0,
            "keys_missing_or_wrong": len(bad),
            "client_operations": load.operations,
            "client_errors": len(load.errors),
            "client_error_samples": load.errors[:5],
            "client_writes_lost": load.lost(),
            "cpu_seconds": cpu,
        }
    finally:
        lab.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--tools", default="rcdoctor,redis-cli,redis-cli-p1000")
    parser.add_argument(
        "--redis-server", default="/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    parser.add_argument("--redis-cli", default="/usr/bin/redis-cli" if Path("/usr/bin/redis-cli").exists() else None)
    parser.add_argument("--rcdoctor-args", default="", help="Extra arguments for rcdoctor rebalance.")
    parser.add_argument("--base-ip", default="127.0.0.150")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rcdoctor-bench-rebalance-"))
    results = []
    try:
        for tool in args.tools.split(","):
            print(f"{tool}: preparing a fresh 3+3 cluster with {args.keys:,} keys", flush=True)
            result = run(tool, args, root, args.base_ip)
            results.append(result)
            print(f"  {json.dumps(result)}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    by_tool = {r["tool"]: r for r in results}
    print(f"\n{'tool':<16}{'exit':>5}{'keys moved':>12}{'wall s':>9}{'keys/s':>10}{'lost':>6}{'client err':>11}")
    for r in results:
        print(
            f"{r['tool']:<16}{r['exit']:>5}{r['keys_moved']:>12,}{r['wall_s']:>9.2f}{r['keys_per_s']:>10,}"
            f"{r['keys_missing_or_wrong'] + r['client_writes_lost']:>6}{r['client_errors']:>11}"
        )
    ratios = {}
    if "rcdoctor" in by_tool:
        for other in ("redis-cli", "redis-cli-p1000"):
            if other in by_tool:
                ratios[f"rcdoctor_vs_{other}"] = round(by_tool[other]["wall_s"] / by_tool["rcdoctor"]["wall_s"], 2)
                print(f"rcdoctor is {ratios[f'rcdoctor_vs_{other}']}x faster than {other}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"keys": args.keys, "size": args.size, "redis_server": args.redis_server, "cpus": os.cpu_count()}
    RESULTS.write_text(json.dumps({"meta": meta, "results": results, "ratios": ratios}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
