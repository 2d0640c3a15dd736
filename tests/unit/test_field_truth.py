"""Partial evidence on snapshots recorded from real 7.0 and 6.2 clusters: the pods-moved inference (A007)
and the invariant that no plan forgets, fails over or gives away a node that answered or may have moved."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import Facts, Flags, HealPlan, plan

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")
SNAPSHOTS = sorted(p.name for p in DATA.glob("*.json"))
# Every risk flag heal has: the invariant must hold with all of them given.
ALL_FLAGS = Flags(failover_force=True, takeover=True, discard_copy=True, forget_down=True, rebuild=True)


def _load(name: str) -> Snapshot:
    return Snapshot.load(DATA / name)


def _forgotten(healed: HealPlan) -> set[str]:
    return {s.command[2] for p in healed.phases for s in p.steps if s.command[:2] == ("CLUSTER", "FORGET")}


def _failed_over(ctx: ClusterView, healed: HealPlan) -> set[str]:
    """Ids of the primaries whose replicas a FAILOVER step promotes (the old primary loses its slots)."""
    found = set()
    for phase in healed.phases:
        for step in phase.steps:
            if step.command[:2] != ("CLUSTER", "FAILOVER"):
                continue
            silent = [e.node_id for e in step.expect if e.kind == "silent"]
            replica = next((i for i, a in ctx.answers_at.items() if step.node in a), None)
            entry = ctx.entry(replica) if replica else None
            found.update(silent or ([entry.primary_id] if entry is not None and entry.primary_id else []))
    return found


def _given_away(ctx: ClusterView, healed: HealPlan) -> set[str]:
    """Ids whose slots an ADDSLOTS step hands to another node."""
    slots: set[int] = set()
    for phase in healed.phases:
        for step in phase.steps:
            if step.command[:2] == ("CLUSTER", "ADDSLOTS"):
                slots.update(int(s) for s in step.command[2:])
            elif step.command[:2] == ("CLUSTER", "ADDSLOTSRANGE"):
                bounds = [int(s) for s in step.command[2:]]
                for start, end in zip(bounds[::2], bounds[1::2], strict=True):
                    slots.update(range(start, end + 1))
    return {owner for r, owner in ctx.consensus if any(s in slots for s in range(r.start, r.end + 1))}


@pytest.mark.parametrize("name", SNAPSHOTS)
@pytest.mark.parametrize("flags", [Flags(), ALL_FLAGS], ids=["no-flags", "every-risk-flag"])
def test_no_plan_forgets_fails_over_or_gives_away_a_node_that_answered_or_may_have_moved(
    name: str, flags: Flags
) -> None:
    ctx = ClusterView(_load(name))
    healed = plan(ctx, Facts(), flags)
    protected = set(ctx.answers_at) | {i for i in ctx.ids if ctx.may_be_elsewhere(i)}
    assert not _forgotten(healed) & protected
    assert not _failed_over(ctx, healed) & protected
    assert not _given_away(ctx, healed) & {i for i in ctx.ids if ctx.may_be_elsewhere(i)}


@pytest.mark.parametrize("version", VERSIONS)
def test_one_seed_after_every_pod_moved_is_one_inferred_root_cause(version: str) -> None:
    snapshot = _load(f"scenario-moved_one_seed-{version}.json")
    report = analyze(snapshot, default_registry())
    (root,) = [f for f in report.root_causes if f.severity != "info"]
    assert root.code == "A007" and root.severity == "critical"
    assert root.basis == "inferred" and root.confirm and "k8s:" in root.confirm
    ctx = ClusterView(snapshot)
    # It names every member: the one that answers and the five that do not, with their old addresses.
    assert {n.id for n in root.nodes} == set(ctx.ids) and len(ctx.ids) == 6
    for node_id in ctx.unreachable:
        assert any(node_id[:8] in line and (ctx.address(node_id) or "?") in line for line in root.evidence)
    # Every A001 is folded under it; nothing reads as a dead node any more.
    unreachable = [f for f in report.findings if f.code == "A001"]
    assert len(unreachable) == 5 and all(f.explained_by == root.id for f in unreachable)
    assert report.to_dict()["findings"][0]["basis"] == "inferred"
    assert len(report.not_seen) == 5 + 1  # the five old addresses and the seed's own old address


@pytest.mark.parametrize("version", VERSIONS)
def test_one_seed_after_every_pod_moved_plans_nothing_destructive_even_with_every_flag(version: str) -> None:
    ctx = ClusterView(_load(f"scenario-moved_one_seed-{version}.json"))
    healed = plan(ctx, Facts(), ALL_FLAGS)
    steps = [s for p in healed.phases for s in p.steps]
    assert not [s for s in steps if s.command[1] in ("FORGET", "FAILOVER", "ADDSLOTS", "ADDSLOTSRANGE")]
    joined = " ".join(healed.blocked)
    assert "may be alive" in joined and "--forget ID" in joined
    # No line suggests the flags that would do the damage.
    assert "--forget-down" not in joined and "--allow-takeover" not in joined and "accept losing" not in joined


@pytest.mark.parametrize("version", VERSIONS)
def test_the_operator_naming_a_node_is_the_proof_that_it_is_gone(version: str) -> None:
    ctx = ClusterView(_load(f"scenario-moved_one_seed-{version}.json"))
    replica = next(i for i in ctx.unreachable if not ctx.is_primary(i))
    healed = plan(ctx, Facts(), Flags(forget_down=True, forget=(replica[:8],)))
    assert _forgotten(healed) == {replica}
    assert not any(replica[:8] in line for line in healed.blocked if line.startswith("not forgetting"))


@pytest.mark.parametrize("version", VERSIONS)
def test_reused_ips_are_addresses_to_repair_not_ghosts(version: str) -> None:
    """Pods took each other's IPs: peers dropped live nodes' addresses (noaddr). That is A003 (MEET them),
    never M003 (a ghost to forget) nor a hostname problem."""
    snapshot = _load(f"scenario-moved_ips_reused-{version}.json")
    report = analyze(snapshot, default_registry())
    codes = {f.code for f in report.findings}
    assert "A003" in {f.code for f in report.root_causes}
    assert "M003" not in codes and "A005" not in codes
    ctx = ClusterView(snapshot)
    healed = plan(ctx, Facts(), ALL_FLAGS)
    steps = [s for p in healed.phases for s in p.steps]
    assert steps and all(s.command[:2] == ("CLUSTER", "MEET") for s in steps)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_complete_kubernetes_inventory_without_the_node_is_proof_it_is_gone(version: str) -> None:
    """The same snapshot as if a k8s: source had listed every pod of the StatefulSet and each answered: the
    silent ids are behind no pod, so --forget-down may forget them (and only then)."""
    from dataclasses import replace

    from rcdoctor.model.sources import Pod, SeedSource

    snapshot = _load(f"scenario-moved_one_seed-{version}.json")
    answered = [s.address for s in snapshot.answered]
    pods = tuple(
        Pod(f"redis-main-{i}", "cache", a.rpartition(":")[0], 6379, "Running", True, 1, "node-a", "zone-a")
        for i, a in enumerate(answered)
    )
    listed = SeedSource("k8s:cache/app=redis-main", "k8s", tuple(answered), None, pods, complete=True)
    ctx = ClusterView(replace(snapshot, sources=(listed,)))
    assert ctx.proven_gone == ctx.unreachable and not any(ctx.may_be_elsewhere(i) for i in ctx.ids)
    forgotten = _forgotten(plan(ctx, Facts(), Flags(forget_down=True)))
    assert forgotten == {i for i in ctx.unreachable if not ctx.owned_slots(i)}
    # A pending pod (no IP) means the inventory is not complete: nothing is proven.
    partial = SeedSource("k8s:cache/app=redis-main", "k8s", tuple(answered), None, pods, complete=False)
    assert not ClusterView(replace(snapshot, sources=(partial,))).proven_gone
