"""Failure-domain risk on topologies recorded from real 7.0/6.2 clusters, placed on crafted domains."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest

from rcdoctor.errors import UsageError
from rcdoctor.model.domain_files import domains_from, parse_document
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings, ClusterView
from rcdoctor.risk.analysis import DEGRADED, DOWN, FAILOVER, RiskReport, analyze_risk

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")


def context(name: str, domains: dict[str, str] | None = None) -> ClusterView:
    return ClusterView(Snapshot.load(DATA / name), AnalysisSettings(domains=MappingProxyType(domains or {})))


def layout(ctx: ClusterView) -> tuple[list[str], dict[str, str]]:
    """The primaries (in order) and each primary's replica."""
    primaries = list(ctx.slot_primaries)
    return primaries, {p: ctx.replicas_of[p][0] for p in primaries}


def place(ctx: ClusterView, where: dict[str, str]) -> ClusterView:
    """A new context with node ids mapped to domains through their addresses."""
    mapping = {str(ctx.address(i)): d for i, d in where.items()}
    return ClusterView(ctx.snapshot, AnalysisSettings(domains=MappingProxyType(mapping)))


def single(report: RiskReport, domain: str) -> str:
    return next(loss.outcome for loss in report.losses if loss.domains == (domain,))


@pytest.mark.parametrize("version", VERSIONS)
def test_one_node_per_host_survives_any_single_host(version: str) -> None:
    report = analyze_risk(context(f"healthy-{version}.json"), pairs=True)
    assert report.primaries == 3 and report.quorum == 2 and report.tolerance == 1
    singles = [loss for loss in report.losses if len(loss.domains) == 1]
    assert len(singles) == 6
    assert sorted(loss.outcome for loss in singles) == [DEGRADED] * 3 + [FAILOVER] * 3
    assert all(t.wins and t.candidates for loss in singles for t in loss.takeovers)
    assert report.worst == "ok" and not report.shared_domains
    # Two primaries at once: 1 of 3 left, no election can be won.
    two = [loss for loss in report.losses if len(loss.primaries_lost) == 2]
    assert two and all(loss.outcome == DOWN and not loss.majority for loss in two)
    # A primary with its own replica: every copy of that shard gone.
    both = [loss for loss in report.losses if loss.shards_without_copy]
    assert len(both) == 3 and all(loss.slots_down > 5000 for loss in both)


@pytest.mark.parametrize("version", VERSIONS)
def test_three_zones_with_replicas_off_their_primary_survive_any_zone(version: str) -> None:
    ctx = context(f"healthy-{version}.json")
    primaries, replica = layout(ctx)
    zones = {p: f"zone-{i}" for i, p in enumerate(primaries)}
    zones |= {replica[p]: f"zone-{(i + 1) % 3}" for i, p in enumerate(primaries)}
    report = analyze_risk(place(ctx, zones))
    assert {single(report, f"zone-{i}") for i in range(3)} == {FAILOVER}
    assert report.worst == "ok" and not report.recommendations


@pytest.mark.parametrize("version", VERSIONS)
def test_primaries_in_one_zone_lose_the_majority_and_get_failover_advice(version: str) -> None:
    ctx = context(f"healthy-{version}.json")
    primaries, replica = layout(ctx)
    where = {p: "zone-a" for p in primaries} | {replica[p]: f"zone-{i}" for i, p in enumerate(primaries)}
    report = analyze_risk(place(ctx, where))
    loss = next(loss for loss in report.losses if loss.domains == ("zone-a",))
    assert loss.outcome == DOWN and not loss.majority and loss.primaries_left == 0
    assert all(not t.wins and "needs 2" in t.reason for t in loss.takeovers)
    assert report.worst == "critical"
    failovers = [r for r in report.recommendations if r.command and r.command.endswith("CLUSTER FAILOVER")]
    # Two of the three primaries must move so that zone-a keeps at most 1 (3 - quorum).
    assert len(failovers) == 2
    targets = {str(ctx.address(replica[p])) for p in primaries}
    assert all(any(t.rpartition(":")[0] in r.command for t in targets) for r in failovers)  # type: ignore[operator]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_shard_with_every_copy_on_one_host(version: str) -> None:
    ctx = context(f"healthy-{version}.json")
    primaries, replica = layout(ctx)
    first = primaries[0]
    where = {p: f"host-{i}" for i, p in enumerate(primaries)} | {
        replica[p]: f"host-r{i}" for i, p in enumerate(primaries)
    }
    where[replica[first]] = "host-0"
    report = analyze_risk(place(ctx, where))
    assert (first, "host-0") in report.shared_domains
    loss = next(loss for loss in report.losses if loss.domains == ("host-0",))
    assert loss.outcome == DOWN and loss.shards_without_copy == (first,) and loss.majority
    advice = [r for r in report.recommendations if r.command and f"--replica-of {first}" in r.command]
    assert advice and "every copy in host-0" in advice[0].text


@pytest.mark.parametrize("version", VERSIONS)
def test_primaries_without_replicas_are_down_on_any_loss(version: str) -> None:
    report = analyze_risk(context(f"scenario-slot_damage-{version}.json"))
    singles = [loss for loss in report.losses if len(loss.domains) == 1]
    assert singles and all(loss.outcome == DOWN and loss.shards_without_copy for loss in singles)
    assert sum(1 for r in report.recommendations if "has no replica" in r.text) == len(report.shards)


@pytest.mark.parametrize("version", VERSIONS)
def test_write_loss_bound_follows_the_settings(version: str) -> None:
    ctx = context(f"healthy-{version}.json")
    report = analyze_risk(ctx)
    assert report.write_loss.bound_ms == ctx.node_timeout_ms
    assert "cluster-node-timeout" in report.write_loss.explanation
    document = report.to_dict()
    assert document["format"] == "rcdoctor.risk" and document["write_loss"]["bound_ms"] == ctx.node_timeout_ms
    json.dumps(document)  # serialisable


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "redis-0"},
    "spec": {"nodeName": "worker-1"},
    "status": {"podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}]},
}
NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "worker-1", "labels": {"topology.kubernetes.io/zone": "eu-west-1a"}},
}


def test_kubectl_pods_give_nodes_and_nodes_give_zones() -> None:
    pods = {"apiVersion": "v1", "kind": "List", "items": [POD, {**POD, "spec": {"nodeName": "worker-2"},
            "status": {"podIP": "10.1.0.6"}}]}  # fmt: skip
    nodes = {"apiVersion": "v1", "kind": "List", "items": [NODE]}
    assert domains_from([("pods", pods)]) == {"10.1.0.5": "worker-1", "10.1.0.6": "worker-2"}
    # worker-2 has no zone label: it stays its own domain
    assert domains_from([("pods", pods), ("nodes", nodes)]) == {"10.1.0.5": "eu-west-1a", "10.1.0.6": "worker-2"}
    both = {"apiVersion": "v1", "kind": "List", "items": [POD, NODE]}
    assert domains_from([("both", both)]) == {"10.1.0.5": "eu-west-1a"}


def test_plain_json_and_yaml_maps() -> None:
    assert domains_from([("m.json", parse_document("m.json", '{"10.0.0.5:6379": "a"}'))]) == {"10.0.0.5:6379": "a"}
    assert domains_from([("m.yaml", parse_document("m.yaml", "10.0.0.5: rack-1\n10.0.0.6: rack-2\n"))]) == {
        "10.0.0.5": "rack-1",
        "10.0.0.6": "rack-2",
    }


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", "- a\n- b\n", '{"a": 1}', "key: [unclosed"])
def test_bad_domain_files_are_one_line_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        domains_from([("f", parse_document("f", text))])
    assert "\n" not in str(caught.value)


def test_nodes_without_pods_is_an_error() -> None:
    with pytest.raises(UsageError, match="pods"):
        domains_from([("nodes", {"apiVersion": "v1", "kind": "List", "items": [NODE]})])
