"""The status view on recorded snapshots of real clusters."""

from __future__ import annotations

import json

from tests.conftest import DATA

from rcdoctor.model.snapshot import Snapshot
from rcdoctor.status import build_status


def test_healthy_cluster_is_ok_everywhere() -> None:
    for tag in ("redis7", "redis6"):
        report = build_status(Snapshot.load(DATA / f"healthy-{tag}.json"))
        assert report.health == "ok" and report.exit_code == 0
        assert len(report.rows) == 6
        assert [r.role for r in report.rows] == ["primary"] * 3 + ["replica"] * 3
        assert sum(len(s) for r in report.rows for s in r.slots) == 16384
        assert all(r.cluster_state == "ok" and r.links == (5, 5) and not r.flags for r in report.rows)
        primaries = {r.node_id for r in report.rows if r.role == "primary"}
        assert {r.primary_id for r in report.rows if r.role == "replica"} == primaries


def test_new_addresses_one_row_per_node_with_both_addresses() -> None:
    for tag in ("redis7", "redis6"):
        snapshot = Snapshot.load(DATA / f"new-address-{tag}.json")
        report = build_status(snapshot)
        assert len(snapshot.nodes) == 12  # 6 new addresses answered, 6 old ones found in views refused
        assert len(report.rows) == 6  # …but they are the same 6 node ids
        assert report.health == "critical" and report.exit_code == 2
        for row in report.rows:
            assert row.cluster_state == "fail"
            assert row.answered_at is not None
            stale = [a for a, _ in row.listed_at]
            assert stale and row.answered_at not in stale
            assert any("peers list it at" in p for p in row.problems)
            assert row.links == (0, 5)


def test_json_document() -> None:
    report = build_status(Snapshot.load(DATA / "half-migrate-redis7.json")).to_dict()
    assert report["format"] == "rcdoctor.status" and report["version"] == 1
    node = report["nodes"][0]
    for key in (
        "id",
        "addresses",
        "role",
        "primary_id",
        "slots",
        "cluster_state",
        "config_epoch",
        "current_epoch",
        "links",
        "flags",
        "keys",
        "problems",
        "health",
    ):
        assert key in node


def test_one_moved_node_keeps_advertising_its_old_address() -> None:
    """Recorded: one pod moved; peers learned its new IP by themselves, but it still advertises the old one."""
    for tag in ("redis7", "redis6"):
        snapshot = Snapshot.load(DATA / f"moved-one-{tag}.json")
        report = build_status(snapshot)
        assert len(report.rows) == 6  # the dead old address is attributed to the node, not a row of its own
        moved = [r for r in report.rows if r.problems]
        assert len(moved) == 1
        row = moved[0]
        assert row.answered_at and row.advertised_at and row.answered_at != row.advertised_at
        assert [a for a, _ in row.listed_at] == [row.answered_at]  # its peers already use the new address
        assert any("advertises itself at" in p and p.startswith("critical") for p in row.problems)
        assert report.health == "critical"
        # and that is what clients get: its CLUSTER SLOTS sends them to the old address
        sample = snapshot.node(row.answered_at)
        assert sample is not None
        own_ranges = [e for e in sample.slots.value if e.primary.node_id == row.node_id]
        assert own_ranges and all(str(e.primary.endpoint) == row.advertised_at for e in own_ranges)


def test_a_node_reached_at_a_second_address_is_not_stale() -> None:
    """Seeds may name a node by DNS name while the cluster knows its IP: same id, no false alarm."""
    data = json.loads((DATA / "healthy-redis7.json").read_text())
    alias = json.loads(json.dumps(data["nodes"][0]))
    alias["address"], alias["origin"] = "redis-0.redis.svc:6379", "seed"
    data["nodes"].append(alias)
    report = build_status(Snapshot.from_dict(data))
    assert len(report.rows) == 6 and report.health == "ok", [r.problems for r in report.rows]
    first = next(r for r in report.rows if r.node_id == Snapshot.from_dict(data).nodes[0].node_id)
    assert first.answered_at == data["nodes"][0]["address"]  # the address its peers use is preferred


def test_a_silent_node_is_one_row_that_says_why() -> None:
    data = json.loads((DATA / "healthy-redis6.json").read_text())
    silent = data["nodes"][2]
    silent.update(error={"kind": "timeout", "message": "no answer within the timeout"}, replies={})
    report = build_status(Snapshot.from_dict(data))
    assert len(report.rows) == 6 and report.exit_code == 2
    row = next(r for r in report.rows if r.answered_at is None)
    assert row.node_id is not None and row.role is not None  # known from its peers' views
    assert row.problems == (
        f"critical: listed by 5 node(s) at {silent['address']} but did not answer there "
        f"({silent['address']}: timeout: no answer within the timeout)",
    )
