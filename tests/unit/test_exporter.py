"""The exporter's metrics on snapshots recorded from real 7.0 and 6.2 clusters (pure: no server)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.exporter.metrics import CollectionStats, families, number
from rcdoctor.exporter.server import render
from rcdoctor.exporter.targets import sd_groups
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")


def exposition(name: str) -> tuple[str, Snapshot]:
    snapshot = Snapshot.load(DATA / name)
    report = analyze(snapshot, default_registry())
    stats = CollectionStats(collections_ok=1, last_success_unix=1.0e9, last_duration_s=snapshot.duration_s)
    return render(families(report, ClusterView(snapshot), stats)).decode(), snapshot


def samples(text: str, name: str) -> list[Sample]:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def one(text: str, name: str) -> float:
    found = samples(text, name)
    assert len(found) == 1, (name, found)
    return found[0].value


@pytest.mark.parametrize("version", VERSIONS)
def test_healthy_cluster(version: str) -> None:
    text, snapshot = exposition(f"healthy-{version}.json")
    up = samples(text, "redis_up")
    assert len(up) == len(snapshot.nodes) and all(s.value == 1 for s in up)
    assert {s.labels["addr"] for s in up} == {n.address for n in snapshot.nodes}
    assert all(re.fullmatch(r"[0-9a-f]{40}", s.labels["node_id"]) for s in up)
    states = samples(text, "redis_cluster_state")
    assert len(states) == len(snapshot.nodes) and all(s.value == 1 for s in states)
    roles = [s.labels["role"] for s in samples(text, "redis_instance_info")]
    assert sorted(set(roles)) == ["master", "slave"] and roles.count("master") == sum(
        1 for n in snapshot.nodes if n.role == "master"
    )
    assert all(s.value == 16384 for s in samples(text, "redis_cluster_slots_ok"))
    assert all(s.value == 0 for s in samples(text, "redis_cluster_slots_fail"))
    assert one(text, "rcdoctor_cluster_healthy") == 1
    assert one(text, "rcdoctor_cluster_views_agree") == 1
    assert one(text, "rcdoctor_cluster_slots_uncovered") == 0
    assert one(text, "rcdoctor_cluster_split_brain_suspected") == 0
    assert one(text, "rcdoctor_cluster_primaries_majority_up") == 1
    links = samples(text, "redis_master_link_up")
    assert links and all(s.value == 1 for s in links)
    assert sum(s.value for s in samples(text, "rcdoctor_findings") if s.labels["severity"] == "critical") == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_dead_primary_is_down_and_failed(version: str) -> None:
    text, snapshot = exposition(f"scenario-primary_down_no_failover-{version}.json")
    dead = [n.address for n in snapshot.nodes if not n.answered]
    down = [s.labels["addr"] for s in samples(text, "redis_up") if s.value == 0]
    assert down == dead and len(dead) == 1
    assert one(text, "rcdoctor_cluster_primaries_down") == 1
    assert one(text, "rcdoctor_cluster_nodes_unreachable") == 1
    assert one(text, "rcdoctor_cluster_healthy") == 0
    assert one(text, "rcdoctor_cluster_worst_severity") == 3
    # The seed's alert expressions select exactly what happened: slots fail, cluster_state not ok.
    assert any(s.value > 0 for s in samples(text, "redis_cluster_slots_fail"))


@pytest.mark.parametrize("version", VERSIONS)
def test_all_nodes_at_new_addresses_names_the_root_cause(version: str) -> None:
    text, _ = exposition(f"new-address-{version}.json")
    roots = {s.labels["code"] for s in samples(text, "rcdoctor_root_causes") if s.value > 0}
    assert "A003" in roots
    assert one(text, "rcdoctor_cluster_stale_addresses") == 6
    assert all(s.value == 0 for s in samples(text, "redis_cluster_state"))


@pytest.mark.parametrize("version", VERSIONS)
def test_two_claims_or_groups_raise_split_brain(version: str) -> None:
    text, _ = exposition(f"scenario-two_clusters-{version}.json")
    found = {s.labels["code"] for s in samples(text, "rcdoctor_findings") if s.value > 0}
    assert one(text, "rcdoctor_cluster_split_brain_suspected") == float(bool(found & {"E002", "E003", "E004"}))
    assert one(text, "rcdoctor_cluster_views_agree") == 0
    assert one(text, "rcdoctor_cluster_slot_maps") >= 2


@pytest.mark.parametrize("version", VERSIONS)
def test_half_migrated_slot_is_open(version: str) -> None:
    text, _ = exposition(f"half-migrate-{version}.json")
    assert one(text, "rcdoctor_cluster_slots_open") == 1


def test_every_check_has_a_series_per_severity() -> None:
    text, _ = exposition("healthy-redis7.json")
    codes = {c.code for c in default_registry()}
    for name in ("rcdoctor_findings", "rcdoctor_root_causes"):
        seen = {(s.labels["code"], s.labels["severity"]) for s in samples(text, name)}
        assert seen == {(c, sev) for c in codes for sev in ("info", "warning", "critical")}


def _label_values(text: str) -> Iterable[str]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield from sample.labels.values()


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.json")))
def test_no_url_or_credential_in_any_label(name: str) -> None:
    text, _ = exposition(name)
    for value in _label_values(text):
        assert "://" not in value and "@" not in value, value


def test_sd_groups_list_every_addressed_node() -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    groups = sd_groups(ClusterView(snapshot))
    assert sorted(t for g in groups for t in g["targets"]) == sorted(n.address for n in snapshot.nodes)  # type: ignore[attr-defined]
    assert all(g["labels"]["__meta_rcdoctor_answered"] == "true" for g in groups)  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "value"),
    [("ok", 1.0), ("fail", 0.0), ("err", 0.0), ("12", 12.0), ("1.5", 1.5), ("up", None), (None, None)],
)
def test_number_reads_info_values_as_redis_exporter_does(text: str | None, value: float | None) -> None:
    assert number(text) == value


@pytest.mark.parametrize("version", VERSIONS)
def test_cluster_merge_has_its_own_gauge(version: str) -> None:
    text, _ = exposition(f"scenario-cluster_merge-{version}.json")
    assert one(text, "rcdoctor_cluster_merge_suspected") == 1
    roots = {s.labels["code"] for s in samples(text, "rcdoctor_root_causes") if s.value > 0}
    assert "M010" in roots
    for other in ("healthy", "scenario-two_clusters", "scenario-stale_copy_after_failover"):
        quiet, _ = exposition(f"{other}-{version}.json")
        assert one(quiet, "rcdoctor_cluster_merge_suspected") == 0, other
