"""The status view on recorded snapshots of real clusters."""

from __future__ import annotations

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
