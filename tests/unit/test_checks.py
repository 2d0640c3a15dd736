"""The check catalogue, the analyzer and the docs, on snapshots recorded from real 7.0 and 6.2 clusters."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import Check, Issue, Registry, default_registry
from rcdoctor.checks.docs import all_docs
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings, ClusterView

DATA = Path(__file__).parent.parent / "data"
DOCS = Path(__file__).parent.parent.parent / "docs" / "checks"
VERSIONS = ("redis7", "redis6")


def load(name: str) -> Snapshot:
    return Snapshot.load(DATA / f"{name}.json")


def diagnose(name: str, **settings: object) -> Report:
    return analyze(load(name), default_registry(), settings=AnalysisSettings(**settings))  # type: ignore[arg-type]


def codes(report: Report, root: bool | None = None) -> set[str]:
    return {f.code for f in report.findings if root is None or f.root_cause == root}


# The registry


def test_registry_has_every_family_and_unique_codes() -> None:
    registry = default_registry()
    assert len(registry) >= 35
    assert {c.family for c in registry} == {
        "addresses", "membership", "slots", "epochs", "replication", "placement", "config"
    }  # fmt: skip
    assert len({c.name for c in registry}) == len(registry)


def _check(code: str, name: str, explains: tuple[str, ...] = ()) -> Check:
    base = default_registry().checks["A001"]
    return dataclasses.replace(base, code=code, name=name, explains=explains)


def test_registry_refuses_code_and_name_collisions() -> None:
    with pytest.raises(ValueError, match="code X001 declared twice"):
        Registry.of([_check("X001", "one"), _check("X001", "two")])
    with pytest.raises(ValueError, match="name one declared twice"):
        Registry.of([_check("X001", "one"), _check("X002", "one")])


def test_registry_refuses_bad_declarations_and_cycles() -> None:
    with pytest.raises(ValueError, match="capital letter"):
        Registry.of([_check("x1", "one")])
    with pytest.raises(ValueError, match="unknown code"):
        Registry.of([_check("X001", "one", explains=("X999",))])
    with pytest.raises(ValueError, match="cycle"):
        Registry.of([_check("X001", "one", explains=("X002",)), _check("X002", "two", explains=("X001",))])
    with pytest.raises(ValueError, match="fix is empty"):
        Registry.of([dataclasses.replace(_check("X001", "one"), fix=" ")])


def test_select_and_ignore_by_code_prefix_name_and_family() -> None:
    registry = default_registry()
    assert {c.code for c in registry.select(["S001"])} == {"S001"}
    assert {c.family for c in registry.select(["slots"])} == {"slots"}
    assert {c.code for c in registry.select(["node-unreachable"])} == {"A001"}
    assert all(c.code.startswith("M") for c in registry.select(["M"]))
    assert "C001" not in {c.code for c in registry.select((), ["config"])}
    assert registry.validate_selectors(["S001", "nonsense"]) == ["nonsense"]


def test_docs_are_generated_and_current() -> None:
    """docs/checks/ is exactly what the registry generates: regenerate with scripts/gen_check_docs.py."""
    pages = all_docs(default_registry())
    on_disk = {p.name: p.read_text() for p in DOCS.glob("*.md")}
    assert set(on_disk) == set(pages), "docs/checks/ is stale: run python scripts/gen_check_docs.py"
    stale = [name for name, text in pages.items() if on_disk[name] != text]
    assert not stale, f"stale pages {stale}: run python scripts/gen_check_docs.py"
    for check in default_registry():
        page = pages[f"{check.code}.md"]
        for section in ("What it means", "Evidence", "Why it matters", "Fix by hand", "heal"):
            assert section in page


# The analysis on recorded snapshots


@pytest.mark.parametrize("version", VERSIONS)
def test_healthy_cluster_has_nothing_above_info(version: str) -> None:
    report = diagnose(f"healthy-{version}")
    assert report.healthy and report.exit_code == 0
    assert all(f.severity == "info" for f in report.findings), [f.title for f in report.findings]
    assert report.answered == 6


@pytest.mark.parametrize("version", VERSIONS)
def test_all_nodes_moved_is_one_root_cause_explaining_the_symptoms(version: str) -> None:
    report = diagnose(f"new-address-{version}")
    roots = [f for f in report.root_causes if f.severity != "info"]
    assert [f.code for f in roots] == ["A003"]
    root = roots[0]
    assert root.title.startswith("all 6 nodes came back at new addresses")
    assert len(root.nodes) == 6 and all(n.id and n.address for n in root.nodes)
    explained = {f.code for f in report.findings if f.explained_by is not None}
    # the fail? flags, PFAIL slots and cluster_state:fail on every node are folded under it
    assert {"M002", "M008", "S002", "A004", "A006"} <= explained
    state = next(f for f in report.findings if f.code == "M008")
    assert state.title.startswith("all 6 nodes report cluster_state:fail")
    clients = next(f for f in report.findings if f.code == "A006")
    assert "ClusterAllFailedError" in clients.title
    assert report.exit_code == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_one_moved_node_advertising_its_old_address(version: str) -> None:
    report = diagnose(f"moved-one-{version}")
    assert codes(report, root=True) - {"C001", "C005"} == {"A004"}
    finding = next(f for f in report.findings if f.code == "A004")
    assert "advertises itself at" in finding.title
    assert next(f for f in report.findings if f.code == "A006").explained_by == finding.id


@pytest.mark.parametrize("version", VERSIONS)
def test_half_migrated_slot_names_both_sides(version: str) -> None:
    report = diagnose(f"half-migrate-{version}")
    finding = next(f for f in report.findings if f.code == "S004")
    assert finding.title == "slot 7 is open for migration"
    assert any("MIGRATING" in e for e in finding.evidence) and any("IMPORTING" in e for e in finding.evidence)
    assert any("keys here: " in e and "unknown" not in e for e in finding.evidence)
    assert report.exit_code == 1


def test_json_report_schema() -> None:
    data = diagnose("new-address-redis7").to_dict()
    assert data["format"] == "rcdoctor.diagnose" and data["version"] == 1
    assert data["summary"]["healthy"] is False and data["summary"]["worst"] == "critical"
    ids = {f["id"] for f in data["findings"]}
    for finding in data["findings"]:
        assert {"code", "severity", "title", "nodes", "evidence", "fix", "explains", "root_cause"} <= set(finding)
        assert finding["root_cause"] or finding["explained_by"] in ids
        assert set(finding["explains"]) <= ids
        for node in finding["nodes"]:
            assert set(node) == {"id", "address"}
    json.dumps(data)


def test_a_crashing_check_is_an_unknown_finding_not_a_crash() -> None:
    def boom(ctx: ClusterView) -> Iterator[Issue]:
        raise KeyError("no such thing")

    broken = dataclasses.replace(default_registry().checks["S001"], run=boom, explains=())
    registry = Registry.of([broken])
    report = analyze(load("healthy-redis7"), registry)
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert finding.crashed and finding.code == "S001" and "could not run" in finding.title
    assert report.exit_code == 1 and finding.to_dict()["unknown"] is True


def test_domains_put_primaries_together() -> None:
    snapshot = load("healthy-redis7")
    ctx = ClusterView(snapshot)
    primaries = ctx.slot_primaries
    # every node on one "host": each shard shares it and that host holds every primary
    domains = {ctx.address(i): "host-a" for i in ctx.ids}
    report = analyze(snapshot, default_registry(), settings=AnalysisSettings(domains=domains))  # type: ignore[arg-type]
    assert {"Q002", "Q003"} <= codes(report)
    q003 = next(f for f in report.findings if f.code == "Q003")
    assert {n.id for n in q003.nodes} == set(primaries)
    assert q003.severity == "critical"


# Scenarios recorded from the lab (tests/data/record_snapshots.py --scenarios-only)

RECORDED = sorted(p.name.removeprefix("scenario-").removesuffix(".json") for p in DATA.glob("scenario-*-redis*.json"))


def test_scenarios_are_recorded_for_both_versions() -> None:
    from tests.data.record_snapshots import RECORDED_SCENARIOS

    assert sorted(RECORDED) == sorted(f"{n}-{v}" for n in RECORDED_SCENARIOS for v in VERSIONS)


@pytest.mark.parametrize("recorded", RECORDED)
def test_recorded_scenario(recorded: str) -> None:
    """The same expectations as the live integration test, on the snapshot recorded from that scenario."""
    from tests.scenarios import EXPECTED, REDIS7_ALSO

    name, _, version = recorded.rpartition("-")
    domains_file = DATA / f"scenario-{recorded}.domains"
    domains = json.loads(domains_file.read_text()) if domains_file.exists() else {}
    report = analyze(load(f"scenario-{recorded}"), default_registry(), settings=AnalysisSettings(domains=domains))
    must_fire, must_be_root = EXPECTED[name]
    if version == "redis7":
        must_fire = must_fire | REDIS7_ALSO.get(name, set())
    assert must_fire <= codes(report), must_fire - codes(report)
    assert must_be_root <= codes(report, root=True), must_be_root - codes(report, root=True)
    assert not any(f.crashed for f in report.findings)


# M010 cluster-merge (tests/scenarios.py cluster_merge: a 3+0 cluster's node met into a 3+3 one, collected
# right after the MEET handshake)


@pytest.mark.parametrize("version", VERSIONS)
def test_cluster_merge_is_a_critical_inferred_root_cause(version: str) -> None:
    report = diagnose(f"scenario-cluster_merge-{version}")
    merge = [f for f in report.findings if f.code == "M010"]
    assert len(merge) == 1
    finding = merge[0]
    assert finding.severity == "critical" and finding.root_cause and finding.basis == "inferred"
    assert finding.confirm and "split-brain diff" in finding.fix and "CLUSTER FORGET" in finding.fix
    assert "unrelated histories" in finding.title
    assert any("neither lists the other as its replica" in e for e in finding.evidence)
    assert any("(sampled) in those slots" in e for e in finding.evidence)  # both sides hold keys
    assert any("(its own cluster)" in e for e in finding.evidence)  # peers the other side does not know
    # The two claims and the other transient symptoms are its symptoms, not causes of their own.
    for code in ("E002", "E001", "M004", "M005"):
        assert code in codes(report, root=False), code
    assert codes(report, root=True) - {"C001", "C005"} == {"M010"}
    assert report.exit_code == 2


def test_cluster_merge_still_shows_while_the_losers_turn_replicas() -> None:
    """Recorded on Valkey 8.1 under load: the merge read later, while the losers were becoming replicas of
    the winners. Some views already list each loser as the winner's replica while its own view still claims
    the slots. That direction (the older configEpoch as the newer one's replica) is how a merge ends, not a
    shared history: still M010, with the claims as its symptoms."""
    report = diagnose("scenario-cluster_merge_late-valkey8")
    assert codes(report, root=True) - {"C001", "C005", "R002"} == {"M010"}
    (merge,) = [f for f in report.findings if f.code == "M010"]
    assert merge.severity == "critical" and "E002" in codes(report, root=False)


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name.removesuffix(".json")
        for p in DATA.glob("*.json")
        if "cluster_merge" not in p.name  # every other recorded cluster: healthy, failovers, separate clusters…
    ),
)
def test_cluster_merge_does_not_fire_elsewhere(name: str) -> None:
    assert "M010" not in codes(diagnose(name))


@pytest.mark.parametrize("version", VERSIONS)
def test_separate_clusters_are_not_a_merge(version: str) -> None:
    report = diagnose(f"scenario-two_clusters-{version}")
    assert "M007" in codes(report, root=True) and "M010" not in codes(report)


def _relink(snapshot: Snapshot, viewer: str, node_id: str, primary_id: str) -> Snapshot:
    """`viewer`'s CLUSTER NODES lists `node_id` as a replica of `primary_id` (the line of a failover)."""
    nodes = []
    for sample in snapshot.nodes:
        text = sample.replies.get("CLUSTER NODES")
        if sample.node_id == viewer and isinstance(text, str):
            lines = []
            for line in text.splitlines():
                fields = line.split()
                if fields and fields[0] == node_id:
                    fields = [*fields[:2], "slave", primary_id, *fields[4:8]]  # a replica owns no slots
                lines.append(" ".join(fields))
            sample = dataclasses.replace(sample, replies={**sample.replies, "CLUSTER NODES": "\n".join(lines) + "\n"})
        nodes.append(sample)
    return dataclasses.replace(snapshot, nodes=tuple(nodes))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_merge_names_claimants_that_do_not_list_each_other_yet(version: str) -> None:
    """Right after the MEET most pairs of claimants have not heard of each other (gossip is still
    spreading the newcomers), yet other members list both: their clusters have met, and M010 names every
    such pair, each one's E002 folded under it (on Valkey 8.1 one pair's E002 was left a root cause)."""
    from rcdoctor.checks.membership.m010_cluster_merge import clashes

    snapshot = load(f"scenario-cluster_merge-{version}")
    ctx = ClusterView(snapshot)
    found = clashes(ctx)
    strangers = [c for c in found if not any(e.id == c.rival for e in ctx.own[c.claimant].view.value)]
    strangers = [c for c in strangers if not any(e.id == c.claimant for e in ctx.own[c.rival].view.value)]
    assert len(found) == 3 and strangers  # the three shards of the 3+0 cluster met, some pairs strangers
    report = analyze(snapshot, default_registry())
    merge = next(f for f in report.findings if f.code == "M010")
    named = {n.id for n in merge.nodes}
    assert all({c.claimant, c.rival} <= named for c in found)
    assert all(f.explained_by == merge.id for f in report.findings if f.code == "E002")


@pytest.mark.parametrize("version", VERSIONS)
def test_claims_of_one_history_are_a_split_brain_not_a_merge(version: str) -> None:
    """A stale primary that lists its rival as its own replica is a failover's split-brain (E002)."""
    snapshot = load(f"scenario-cluster_merge-{version}")
    ctx = ClusterView(snapshot)
    from rcdoctor.checks.membership.m010_cluster_merge import clashes

    found = clashes(ctx)
    assert found
    for clash in found:
        # Whichever of the two has met the other records the replication link, as after a failover; where
        # neither lists the other yet (M010 names such pairs too), a peer's view records it.
        a, b = clash.claimant, clash.rival
        if any(e.id == b for e in ctx.own[a].view.value):
            snapshot = _relink(snapshot, a, b, a)
        elif any(e.id == a for e in ctx.own[b].view.value):
            snapshot = _relink(snapshot, b, a, b)
        else:
            peer = next(s for s in ctx.viewers if s.node_id != a and any(e.id == b for e in s.view.value))
            snapshot = _relink(snapshot, str(peer.node_id), b, a)
    report = analyze(snapshot, default_registry())
    assert "M010" not in codes(report) and "E002" in codes(report)


def _claim_also(snapshot: Snapshot, claimant: str, slots: str) -> Snapshot:
    """`claimant`'s own CLUSTER NODES line also claims `slots` (a slot assigned twice by hand)."""
    nodes = []
    for sample in snapshot.nodes:
        text = sample.replies.get("CLUSTER NODES")
        if sample.node_id == claimant and isinstance(text, str):
            lines = [f"{line} {slots}" if "myself" in line.split()[2] else line for line in text.splitlines()]
            sample = dataclasses.replace(sample, replies={**sample.replies, "CLUSTER NODES": "\n".join(lines) + "\n"})
        nodes.append(sample)
    return dataclasses.replace(snapshot, nodes=tuple(nodes))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_slot_claimed_twice_in_one_settled_cluster_is_not_a_merge(version: str) -> None:
    from rcdoctor.checks.membership.m010_cluster_merge import clashes, member_lists

    snapshot = load(f"healthy-{version}")
    ctx = ClusterView(snapshot)
    owners = sorted({owner for _, owner in ctx.consensus})
    first = next(r for r, owner in ctx.consensus if owner == owners[1])
    doubled = _claim_also(snapshot, owners[0], f"{first.start}-{first.start + 9}")
    ctx = ClusterView(doubled)
    assert clashes(ctx) and member_lists(ctx) == 1  # unrelated claimants, but every view lists the same members
    report = analyze(doubled, default_registry())
    assert "E002" in codes(report) and "M010" not in codes(report)
