"""Scale: how diagnose grows with the cluster (issue 17). Prints a table and writes JSON; asserts nothing.

    python bench/scale.py [--synthetic 100,1000,2000] [--repeat 3] [--real 30] [--base-ip 127.0.100.11]

Synthetic rows: a healthy snapshot of N nodes (N/2 primaries, one replica each) built from a real node's
replies (bench/synthetic.py, 'minimal': the shape issue 17 measured), written as .json and .json.gz, then:
  - `rcdoctor diagnose --from FILE` as a user runs it (new process): wall time and peak RSS, median of
    `--repeat` runs (alternating .json and .json.gz);
  - in one fresh process: load, analyze (every check), render (the text report) timed apart.
Real row (`--real P`: a P+P lab of real servers, 0 to skip): `rcdoctor diagnose SEED` and
`redis-cli --cluster check SEED`, alternating, `--repeat` times each, medians; the snapshot's size.

Writes bench/results/scale.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def run_measured(cmd: list[str], limit: float = 600) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS (MiB), exit code and CPU seconds (user + system: what other work on a
    shared machine does not inflate as much as wall time) of one command, read from its own rusage."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = started + limit
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def stages(path: str) -> dict[str, float]:
    """Load, analyze and render timed apart, in this (fresh) process."""
    import gc
    import io

    from rich.console import Console

    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.cli.render_diagnose import render_report
    from rcdoctor.model.snapshot import Snapshot

    t0 = time.perf_counter()
    snapshot = Snapshot.load(path)
    gc.freeze()  # as diagnose does (cli.common.snapshot_for)
    t1 = time.perf_counter()
    report = analyze(snapshot, default_registry())
    t2 = time.perf_counter()
    render_report(report, Console(file=io.StringIO(), width=160, highlight=False, emoji=False))
    t3 = time.perf_counter()
    return {"load_s": t1 - t0, "analyze_s": t2 - t1, "render_s": t3 - t2, "findings": len(report.findings)}


def synthetic_row(nodes: int, repeat: int, work: Path) -> dict[str, Any]:
    plain, packed = work / f"synthetic-{nodes}.json", work / f"synthetic-{nodes}.json.gz"
    # Made by other processes: a child forked from a process holding a big snapshot would count its
    # pages in the child's peak RSS.
    for path in (plain, packed):
        subprocess.run([sys.executable, str(HERE / "synthetic.py"), str(nodes), "-o", str(path)], check=True)
    rcdoctor = [sys.executable, "-m", "rcdoctor", "diagnose", "--from"]
    runs: dict[str, list[tuple[float, float, int, float]]] = {"json": [], "gz": []}
    for _ in range(repeat):
        runs["json"].append(run_measured([*rcdoctor, str(plain)]))
        runs["gz"].append(run_measured([*rcdoctor, str(packed)]))
    inner = subprocess.run(
        [sys.executable, __file__, "--stages", str(plain)], capture_output=True, text=True, check=True
    )
    row: dict[str, Any] = {
        "nodes": nodes,
        "kind": "synthetic",
        "snapshot_mb": round(plain.stat().st_size / 1e6, 1),
        "snapshot_gz_mb": round(packed.stat().st_size / 1e6, 2),
        "diagnose_s": round(statistics.median(r[0] for r in runs["json"]), 3),
        "diagnose_rss_mib": round(statistics.median(r[1] for r in runs["json"])),
        "diagnose_cpu_s": round(statistics.median(r[3] for r in runs["json"]), 3),
        "diagnose_gz_s": round(statistics.median(r[0] for r in runs["gz"]), 3),
        "diagnose_gz_rss_mib": round(statistics.median(r[1] for r in runs["gz"])),
        "exit_codes": sorted({r[2] for rs in runs.values() for r in rs}),
        **{k: round(v, 3) for k, v in json.loads(inner.stdout).items()},
    }
    plain.unlink()
    packed.unlink()
    return row


def precompile() -> None:
    """Bytecode as an installed wheel has it: run from a source tree with PYTHONDONTWRITEBYTECODE (set on
    these machines), every run would compile every module again (about 0.1 s of each figure)."""
    import rcdoctor

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(rcdoctor.__file__).parent)], check=True)


def real_row(primaries: int, repeat: int, base_ip: str, work: Path) -> dict[str, Any]:
    from _tools import find_redis_cli, timed
    from rcdoctor.lab import Lab, LabSpec

    redis_cli = find_redis_cli(None)
    lab = Lab.up(
        LabSpec(primaries=primaries, replicas=1, base_ip=base_ip, node_timeout_ms=15000),
        name="scale-bench",
        directory=work / "lab",
    )
    try:
        lab.wait_cluster_ok()
        seed = lab.addresses[0]
        rcdoctor = [sys.executable, "-m", "rcdoctor"]
        bundle = work / "real.json"
        timed([*rcdoctor, "collect", seed, "-o", str(bundle)], 120)
        timed([*rcdoctor, "diagnose", seed, "--format", "json"], 120)  # warm caches once
        runs: dict[str, list[float]] = {"diagnose": [], "check": []}
        rss: list[float] = []
        cpu: list[float] = []
        for _ in range(repeat):
            wall, peak, _code, used = run_measured([*rcdoctor, "diagnose", seed, "--format", "json"], 120)
            runs["diagnose"].append(wall)
            rss.append(peak)
            cpu.append(used)
            runs["check"].append(timed([redis_cli, "--cluster", "check", seed], 120)[0])
        inner = subprocess.run(
            [sys.executable, __file__, "--stages", str(bundle)], capture_output=True, text=True, check=True
        )
        diagnose, check = statistics.median(runs["diagnose"]), statistics.median(runs["check"])
        return {
            "nodes": len(lab.nodes),
            "kind": f"real (Redis {lab.state.version})",
            "snapshot_mb": round(bundle.stat().st_size / 1e6, 2),
            "diagnose_s": round(diagnose, 3),
            "diagnose_rss_mib": round(statistics.median(rss)),
            "diagnose_cpu_s": round(statistics.median(cpu), 3),
            "redis_cli_check_s": round(check, 3),
            "diagnose_over_check": round(diagnose / check, 2) if check else None,
            **{k: round(v, 3) for k, v in json.loads(inner.stdout).items()},
        }
    finally:
        lab.down()


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'nodes':>6} {'kind':<22} {'file MB':>8} {'.gz MB':>7} {'diagnose s':>10} {'CPU s':>6} {'RSS MiB':>8} "
        f"{'.gz s':>6} {'load s':>7} {'analyze s':>9} {'render s':>8} {'redis-cli s':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['nodes']:>6} {r['kind']:<22} {r['snapshot_mb']:>8} {r.get('snapshot_gz_mb', '-'):>7} "
            f"{r['diagnose_s']:>10} {r['diagnose_cpu_s']:>6} {r['diagnose_rss_mib']:>8} "
            f"{r.get('diagnose_gz_s', '-'):>6} "
            f"{r['load_s']:>7} {r['analyze_s']:>9} {r['render_s']:>8} {r.get('redis_cli_check_s', '-'):>11}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", default="100,1000,2000", help="node counts, comma-separated ('' for none)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real", type=int, default=30, help="primaries of the real lab (one replica each); 0: none")
    parser.add_argument("--base-ip", default="127.0.100.11")
    parser.add_argument("--dir", default=None, help="work directory (default: a new one under /tmp)")
    parser.add_argument("--json", default=str(HERE / "results" / "scale.json"))
    parser.add_argument("--stages", help=argparse.SUPPRESS)  # internal: time one file's stages, print JSON
    args = parser.parse_args()
    if args.stages:
        print(json.dumps(stages(args.stages)))
        return
    precompile()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for count in [int(c) for c in args.synthetic.split(",") if c.strip()]:
            rows.append(synthetic_row(count, args.repeat, work))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
        if args.real:
            rows.append(real_row(args.real, args.repeat, args.base_ip, work))
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    small = next((r for r in rows if r["kind"] == "synthetic" and r["nodes"] == 100), None)
    for r in rows:
        if small is not None and r["kind"] == "synthetic":
            r["diagnose_over_100_nodes"] = round(r["diagnose_s"] / small["diagnose_s"], 1)
    print(table(rows))
    results = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "load": os.getloadavg(), "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
