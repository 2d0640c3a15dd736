"""Exporter and probe costs: collection and scrape durations, exporter memory, probe start-up.

    python bench/exporter.py [--sizes 3,30] [--scrapes 20] [--probes 20] [--interval 2] [--base-octet 70]

Issue 17's exporter figure: `--sizes 100 --interval 15 --scrapes 300 --probes 0` (a 100+100 lab collected
every 15 s, the exporter's default; scrapes p99 under 50 ms, RSS under 200 MB).

For each lab size P (P primaries + P replicas, Redis from --redis-server or PATH) it starts the real
`rcdoctor exporter` (interval 2 s, timeout 3 s) and measures, from outside:
  - collection duration (the exporter's own rcdoctor_collection_duration_seconds, median of the
    collections seen) and CPU seconds per collection (from /proc),
  - scrape wall time of GET /metrics (median and max of --scrapes), series and bytes per scrape,
  - exporter resident memory (VmRSS, VmHWM),
  - the same scrape timings with 3 nodes paused (SIGSTOP): scrapes must not wait for them.
Then probe start-up on one node: `rcdoctor probe liveness|readiness` as a new process (median of
--probes) next to the seed's healthcheck.sh (two redis-cli calls) and a bare `redis-cli ping`.
Prints a table and writes bench/results/exporter.json. No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _tools import find_redis_cli, timed
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.faults import FaultOp, apply, heal

EXPORTER = [sys.executable, "-m", "rcdoctor", "exporter", "--timeout", "3"]
RESULTS = Path(__file__).parent / "results" / "exporter.json"
HEALTHCHECK = """CLUSTER_STATE=$({cli} -h {host} -p {port} cluster info | grep cluster_state | cut -d: -f2 \\
  | tr -d '\\r')
if [ "$CLUSTER_STATE" != "ok" ]; then echo "Cluster state is not ok: $CLUSTER_STATE"; exit 1; fi
{cli} -h {host} -p {port} ping | grep -q PONG || exit 1
exit 0
"""


def proc_status(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0]) * 1024
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(url: str) -> tuple[float, str]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as reply:
        body = reply.read().decode()
    return time.perf_counter() - started, body


def metric(body: str, name: str) -> float | None:
    found = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(found[1]) if found else None


def scrapes(url: str, count: int) -> dict[str, Any]:
    times, sizes, series = [], [], []
    for _ in range(count):
        took, body = scrape(url)
        times.append(took)
        sizes.append(len(body))
        series.append(sum(1 for line in body.splitlines() if line and not line.startswith("#")))
        time.sleep(0.1)
    p99 = statistics.quantiles(times, n=100, method="inclusive")[98] if len(times) > 1 else times[0]
    return {
        "scrape_median_ms": round(statistics.median(times) * 1000, 2),
        "scrape_p99_ms": round(p99 * 1000, 2),
        "scrape_max_ms": round(max(times) * 1000, 2),
        "series": series[-1],
        "bytes": sizes[-1],
    }


def collections_done(url: str) -> int:
    found = re.search(r'^rcdoctor_collections_total\{result="ok"\} (\S+)$', scrape(url)[1], re.M)
    return int(float(found[1])) if found else 0


def collections(url: str, seconds: float) -> list[float]:
    """Distinct collection durations seen while polling for `seconds`."""
    seen: dict[float, float] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _, body = scrape(url)
        stamp, duration = (
            metric(body, "rcdoctor_collection_last_success_timestamp_seconds"),
            metric(body, "rcdoctor_collection_duration_seconds"),
        )
        if stamp is not None and duration is not None:
            seen[stamp] = duration
        time.sleep(0.3)
    return list(seen.values())


def measure_size(primaries: int, args: argparse.Namespace, root: Path, base_ip: str) -> dict[str, Any]:
    spec = LabSpec(primaries=primaries, replicas=1, base_ip=base_ip, node_timeout_ms=15_000)
    lab = Lab.up(spec, name=f"exp{primaries}", directory=root / f"exp{primaries}", redis_server=args.redis_server)
    log = root / f"exporter{primaries}.log"
    interval = args.interval
    try:
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [*EXPORTER, lab.nodes[0].address, "--listen", "127.0.0.1:0", "--interval", str(interval)],
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        try:
            while not (found := re.search(r"http://(\S+)/metrics", log.read_text())):
                time.sleep(0.05)
            url = f"http://{found[1]}/metrics"
            while metric(scrape(url)[1], "rcdoctor_collection_last_success_timestamp_seconds") is None:
                time.sleep(0.2)
            # CPU per collection over a quiet window (no scrapes but one at each end)
            cpu_before, count_before = cpu_seconds(proc.pid), collections_done(url)
            time.sleep(interval * args.windows)
            cpu_used, count = cpu_seconds(proc.pid) - cpu_before, collections_done(url) - count_before
            durations = collections(url, interval * args.windows)
            healthy = scrapes(url, args.scrapes)
            memory = proc_status(proc.pid)
            paused = [n.name for n in lab.nodes[1:4]]
            apply(lab, FaultOp("pause", tuple(paused)))
            try:
                time.sleep(interval + 5)  # at least one collection that met the hung nodes
                hung = scrapes(url, args.scrapes)
                hung_durations = collections(url, interval * max(2, args.windows - 1))
            finally:
                heal(lab)
            return {
                "nodes": len(lab.nodes),
                "interval_s": interval,
                "collection_median_s": round(statistics.median(durations), 3) if durations else None,
                "collection_max_s": round(max(durations), 3) if durations else None,
                "collections_seen": len(durations),
                "cpu_s_per_collection": round(cpu_used / max(1, count), 3),
                **healthy,
                "rss_mb": round(memory.get("VmRSS", 0) / 1e6, 1),
                "peak_rss_mb": round(memory.get("VmHWM", 0) / 1e6, 1),
                "paused_nodes": len(paused),
                "paused_collection_median_s": round(statistics.median(hung_durations), 3) if hung_durations else None,
                "paused_scrape_median_ms": hung["scrape_median_ms"],
                "paused_scrape_max_ms": hung["scrape_max_ms"],
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    finally:
        lab.down()


def measure_probes(args: argparse.Namespace, root: Path, base_ip: str) -> dict[str, Any]:
    lab = Lab.up(
        LabSpec(primaries=3, replicas=1, base_ip=base_ip), name="probe", directory=root / "probe",
        redis_server=args.redis_server,
    )  # fmt: skip
    try:
        node = lab.nodes[0]
        cli = find_redis_cli(args.redis_cli)
        script = root / "healthcheck.sh"
        script.write_text(HEALTHCHECK.format(cli=cli, host=node.endpoint.host, port=node.endpoint.port))
        commands = {
            "rcdoctor probe liveness": [sys.executable, "-m", "rcdoctor", "probe", "liveness", node.address],
            "rcdoctor probe readiness": [sys.executable, "-m", "rcdoctor", "probe", "readiness", node.address],
            "seed healthcheck.sh": ["bash", str(script)],
            "redis-cli ping": [cli, "-h", node.endpoint.host, "-p", str(node.endpoint.port), "ping"],
            "python -c pass (start-up floor)": [sys.executable, "-c", "pass"],
        }
        results: dict[str, Any] = {}
        for name, cmd in commands.items():
            runs = [timed(cmd, 10) for _ in range(args.probes)]
            results[name] = {
                "median_ms": round(statistics.median(t for t, _ in runs) * 1000, 1),
                "exit_codes": sorted({c for _, c in runs}, key=str),
            }
        return results
    finally:
        lab.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3,30", help="primaries per lab (each gets as many replicas)")
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--interval", type=float, default=2.0, help="the exporter's --interval, seconds")
    parser.add_argument("--windows", type=int, default=5, help="intervals watched per measurement")
    parser.add_argument("--base-octet", type=int, default=70, help="labs on 127.B.0.x from B up (keep off others)")
    parser.add_argument("--redis-server", default=None)
    parser.add_argument("--redis-cli", default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rcdoctor-bench-exporter-"))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]  # --sizes "" measures the probes only
    results: dict[str, Any] = {"sizes": {}, "probes": {}}
    try:
        for index, primaries in enumerate(sizes):
            print(f"exporter on a {primaries}+{primaries} lab…", flush=True)
            name = f"{primaries}+{primaries}"
            results["sizes"][name] = measure_size(primaries, args, root, f"127.{args.base_octet + index}.0.11")
            print("  " + json.dumps(results["sizes"][name]), flush=True)
        if args.probes:
            print("probes…", flush=True)
            results["probes"] = measure_probes(args, root, f"127.{args.base_octet + 9}.0.11")
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"\n{'lab':>8} {'collect s':>10} {'cpu s/coll':>10} {'scrape ms':>10} {'p99 ms':>7} {'max ms':>8} "
          f"{'series':>7} {'RSS MB':>7} {'paused: collect s':>18} {'scrape ms':>10} {'max ms':>7}")  # fmt: skip
    for name, r in results["sizes"].items():
        print(
            f"{name:>8} {r['collection_median_s']:>10} {r['cpu_s_per_collection']:>10} {r['scrape_median_ms']:>10} "
            f"{r['scrape_p99_ms']:>7} "
            f"{r['scrape_max_ms']:>8} {r['series']:>7} {r['rss_mb']:>7} {r['paused_collection_median_s']:>18} "
            f"{r['paused_scrape_median_ms']:>10} {r['paused_scrape_max_ms']:>7}"
        )
    print(f"\n{'probe':<28} {'median ms':>10}  exit codes")
    for name, r in results["probes"].items():
        print(f"{name:<28} {r['median_ms']:>10}  {r['exit_codes']}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
