"""Unattended time to healthy for the seed incident: every pod back at a new IP, DNS following, and only
`rcdoctor autopilot` watching the headless-service name.

    python bench/autopilot.py [--node-timeouts 2000,5000] [--interval 1] [--keys 20000] [--rounds 2]
                              [--redis-server PATH] [--base-ip 127.0.200.11]

For each node timeout: a fresh 3 primaries + 3 replicas lab, `--keys` keys, a baseline, the autopilot started
on a made-up name mapped in /etc/hosts (root needed; the lines are removed afterwards), then every node
restarted at a new IP and the name pointed at them. Timed from the moment the name follows the pods until
every node says cluster_state:ok and lists every other at its new address with no failure flag; then
`verify --baseline` proves every key intact. Printed beside the goal: 2 x node timeout + one interval + 2 s.
The autopilot's own journal gives when it detected, decided and finished. Writes bench/results/autopilot.json.
No assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.data import DataSet, fill
from rcdoctor.lab.faults import FaultOp, apply

RESULTS = Path(__file__).parent / "results" / "autopilot.json"
NAME = "redis-main.gameserver-cache.svc.cluster.local"
HOSTS = Path("/etc/hosts")
MARKER = f"# rcdoctor bench autopilot {os.getpid()}-{uuid.uuid4().hex[:8]}"


def map_name(ips: list[str]) -> None:
    kept = [line for line in HOSTS.read_text().splitlines(keepends=True) if not line.rstrip().endswith(MARKER)]
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    HOSTS.write_text("".join(kept) + "".join(f"{ip} {NAME}  {MARKER}\n" for ip in ips))


def unmap_name() -> None:
    HOSTS.write_text(
        "".join(line for line in HOSTS.read_text().splitlines(keepends=True) if not line.rstrip().endswith(MARKER))
    )


def all_ok(lab: Lab) -> bool:
    addresses = {n.address for n in lab.nodes}
    try:
        for node in lab.nodes:
            with lab.client(node, timeout=1) as c:
                if "cluster_state:ok" not in str(c.execute_command("CLUSTER", "INFO")):
                    return False
                for line in str(c.execute_command("CLUSTER", "NODES")).splitlines():
                    fields = line.split()
                    if fields[1].split("@")[0] not in addresses or {"fail", "fail?", "noaddr"} & set(
                        fields[2].split(",")
                    ):
                        return False
    except (redis.RedisError, OSError):
        return False
    return True


def rcdoctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rcdoctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def start_autopilot(directory: Path, interval: float, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = directory / "autopilot.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rcdoctor",
                "autopilot",
                f"{NAME}:6379",
                "--interval",
                f"{interval:g}",
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, **env},
        )
    deadline = time.monotonic() + 20
    while not re.search(r"http://127\.0\.0\.1:\d+/metrics", log.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"autopilot did not start: {log.read_text()}")
        time.sleep(0.05)
    return proc, log


def timeline(log: Path, since: float) -> list[str]:
    """The autopilot's decisions and heal's progress lines, seconds after the move."""
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry["ts"] >= since and entry["event"] not in ("hook",):
                what = entry.get("line") or entry.get("state") or ""
                lines.append(f"{entry['ts'] - since:7.2f} {entry['event']} {what}".rstrip())
    return lines


def journal_times(log: Path, since: float) -> dict[str, float]:
    """Seconds from `since` to the first detected / planned / applied line of the autopilot's log."""
    found: dict[str, float] = {}
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry["event"] in ("detected", "planned", "applied", "failed") and entry["ts"] >= since:
            found.setdefault(entry["event"], round(entry["ts"] - since, 2))
    return found


def run(node_timeout: int, round_no: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    name = f"nt{node_timeout}-{round_no}"
    spec = LabSpec(primaries=3, replicas=1, base_ip=args.base_ip, node_timeout_ms=node_timeout)
    lab = Lab.up(spec, name=name, directory=root / name, redis_server=args.redis_server)
    env = {"XDG_STATE_HOME": str(root / name / "state")}
    proc = None
    try:
        fill(lab.nodes[0].endpoint, lab.options, DataSet(args.keys, 50, prefix="bench:"))
        lab.wait_cluster_ok()
        baseline = root / name / "baseline.json"
        saved = rcdoctor("verify", lab.nodes[0].address, "--save-baseline", str(baseline), env=env)
        if saved.returncode != 0:
            raise RuntimeError(saved.stdout + saved.stderr)
        map_name([n.ip for n in lab.nodes])
        proc, log = start_autopilot(root / name, args.interval, env)
        time.sleep(args.interval * 2 + 1)  # a healthy round or two first
        apply(lab, FaultOp("new-address", "all"))
        map_name([n.ip for n in lab.nodes])
        started_wall, started = time.time(), time.monotonic()
        healthy_s = None
        while time.monotonic() - started < 120:
            if all_ok(lab):
                healthy_s = time.monotonic() - started
                break
            time.sleep(0.1)
        verified = rcdoctor("verify", f"{NAME}:6379", "--baseline", str(baseline), env=env)
        goal = 2 * node_timeout / 1000 + args.interval + 2
        return {
            "node_timeout_s": node_timeout / 1000,
            "interval_s": args.interval,
            "keys": args.keys,
            "healthy_s": None if healthy_s is None else round(healthy_s, 2),
            "goal_s": goal,
            "within_goal": healthy_s is not None and healthy_s <= goal,
            "verify_exit": verified.returncode,
            "autopilot": journal_times(log, started_wall),
            "timeline": timeline(log, started_wall),
        }
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        unmap_name()
        lab.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--node-timeouts", default="2000,5000", help="cluster-node-timeout values (ms), comma-separated"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="the autopilot's --interval")
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2, help="runs per node timeout")
    parser.add_argument(
        "--redis-server", default="/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    parser.add_argument("--base-ip", default="127.0.200.11")
    parser.add_argument("--timeline", action="store_true", help="print the autopilot's decisions and heal's steps")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autopilot-bench-"))
    results = []
    try:
        for node_timeout in (int(t) for t in args.node_timeouts.split(",")):
            for round_no in range(args.rounds):
                print(
                    f"node timeout {node_timeout} ms, run {round_no + 1}: every pod moved, autopilot alone", flush=True
                )
                results.append(run(node_timeout, round_no, args, root))
                print(f"  {json.dumps({k: v for k, v in results[-1].items() if k != 'timeline'})}", flush=True)
                if args.timeline:
                    print("\n".join(f"    {line}" for line in results[-1]["timeline"]), flush=True)
    finally:
        unmap_name()
        shutil.rmtree(root, ignore_errors=True)
    header = f"{'node timeout s':>15}{'interval s':>11}{'healthy s':>10}{'goal s':>8}{'verify':>7}"
    print(f"\n{header}  autopilot (s after the move)")
    for r in results:
        healthy = "-" if r["healthy_s"] is None else f"{r['healthy_s']:.2f}"
        times = ", ".join(f"{k} {v}" for k, v in r["autopilot"].items())
        row = f"{r['node_timeout_s']:>15.1f}{r['interval_s']:>11g}{healthy:>10}{r['goal_s']:>8.1f}{r['verify_exit']:>7}"
        print(f"{row}  {times}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"keys": args.keys, "interval_s": args.interval, "redis_server": args.redis_server}
    RESULTS.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
