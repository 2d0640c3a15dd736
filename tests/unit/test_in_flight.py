"""Migrations in flight on snapshots recorded from real 7.0 and 6.2 clusters: one S004 per source ->
target pair, no S003 false alarm on either side or their replicas, critical only when keys cannot be
read, and one repair per slot in the heal plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import Facts, Flags, plan
from rcdoctor.plan.resume import Closing

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")


def _snapshot(name: str, version: str) -> Snapshot:
    return Snapshot.load(DATA / f"scenario-{name}-{version}.json")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_migration_in_flight_is_one_warning_and_no_stray_keys(version: str) -> None:
    report = analyze(_snapshot("migration_in_flight", version), default_registry())
    assert not [f for f in report.findings if f.code == "S003"]  # not even on the target's replica
    (open_slot,) = [f for f in report.findings if f.code == "S004"]
    assert open_slot.severity == "warning" and report.worst == "warning" and report.exit_code == 1
    assert open_slot.title == "slot 300 is open for migration"
    assert any(e.startswith("from ") and " to " in e for e in open_slot.evidence)
    assert any("keys here: 40 on the source, 40 on the target" in e for e in open_slot.evidence)
    assert "--resume" in open_slot.fix


@pytest.mark.parametrize("version", VERSIONS)
def test_migrating_on_the_source_only_is_critical_because_keys_cannot_be_read(version: str) -> None:
    snapshot = _snapshot("migrating_source_only", version)
    report = analyze(snapshot, default_registry())
    assert not [f for f in report.findings if f.code == "S003"]
    (open_slot,) = [f for f in report.findings if f.code == "S004"]
    assert open_slot.severity == "critical" and open_slot.root_cause
    assert "one side only" in open_slot.title
    assert any("40 keys of slot 300 cannot be read" in e for e in open_slot.evidence)
    # One slot, one repair: the engine's closing only, no stray-key return for the same slot.
    ctx = ClusterView(snapshot)
    closing = Closing(300, "forward", "", "", "keys on both sides")
    healed = plan(ctx, Facts(closings=(closing,)), Flags())
    (slots,) = [p for p in healed.phases if p.name == "slots"]
    assert [c.slot for c in slots.closings] == [300] and not slots.strays


def test_a_replica_in_its_initial_sync_is_info_and_gets_no_second_replicate() -> None:
    """Recorded on Redis 7 while the primary waited repl-diskless-sync-delay (its default 5 s): the
    replica reads master_link_status:down, master_link_down_since_seconds:-1, like a broken link."""
    snapshot = Snapshot.load(DATA / "replica-initial-sync-redis7.json")
    report = analyze(snapshot, default_registry())
    (syncing,) = [f for f in report.findings if f.code == "R002"]
    assert syncing.severity == "info" and "syncing" in syncing.title and "wait_bgsave" in syncing.title
    assert report.healthy and report.exit_code == 0
    healed = plan(ClusterView(snapshot), Facts(), Flags())
    assert not [s for p in healed.phases for s in p.steps if s.command[:2] == ("CLUSTER", "REPLICATE")]
