"""The heal planner (pure) on snapshots recorded from real 7.0 and 6.2 clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import RISK_FORCE, Facts, Flags, HealPlan, plan

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")


def _plan(name: str, flags: Flags | None = None, facts: Facts | None = None) -> tuple[ClusterView, HealPlan]:
    ctx = ClusterView(Snapshot.load(DATA / f"{name}.json"))
    return ctx, plan(ctx, facts or Facts(), flags or Flags())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_healthy_cluster_needs_nothing(version: str) -> None:
    _, healed = _plan(f"healthy-{version}")
    assert healed.empty and not healed.blocked and not healed.phases


@pytest.mark.parametrize("version", VERSIONS)
def test_nodes_at_new_addresses_are_met_where_they_answer(version: str) -> None:
    ctx, healed = _plan(f"new-address-{version}")
    meet = healed.phases[0]
    assert meet.name == "meet" and meet.parallel and meet.hold_failovers
    assert all(s.command[:2] == ("CLUSTER", "MEET") and s.risk is None for s in meet.steps)
    # The hold is planned, not decided at run time: exactly the replicas that answered, by their own view
    replicas = {s.address for s in ctx.answered if s.myself is not None and not s.myself.is_primary}
    assert meet.hold is not None and set(meet.hold.replicas) == replicas and replicas
    for step in meet.steps:
        target = f"{step.command[2]}:{step.command[3]}"
        (expect,) = step.expect
        # The MEET goes to where that node answers now, and is sent by a node listing it elsewhere.
        assert expect.kind == "answers-as" and expect.address == target
        assert target in ctx.answers_at[expect.node_id]
        assert step.node in {s.address for s in ctx.answered} and step.node != target
    # Every (viewer, moved node) pair with a stale listing gets exactly one MEET.
    stale = {
        (viewer.address, node_id)
        for node_id, items in ctx.listings.items()
        if node_id in ctx.answers_at
        for viewer, entry in items
        if entry.address not in ctx.answers_at[node_id]
    }
    assert {(s.node, s.expect[0].node_id) for s in meet.steps} == stale


@pytest.mark.parametrize("version", VERSIONS)
def test_a_dead_primary_is_failed_over_only_with_the_risk_flag(version: str) -> None:
    _, refused = _plan(f"scenario-primary_down_no_failover-{version}")
    assert not any(p.name == "failover" for p in refused.phases)
    assert any(RISK_FORCE in line and "lost" in line for line in refused.blocked)
    ctx, allowed = _plan(f"scenario-primary_down_no_failover-{version}", Flags(failover_force=True))
    (phase,) = [p for p in allowed.phases if p.name == "failover"]
    (step,) = phase.steps
    assert step.command == ("CLUSTER", "FAILOVER", "FORCE") and step.risk
    kinds = [e.kind for e in step.expect]
    assert kinds == ["silent", "replica-of"]
    dead = step.expect[0].node_id
    assert dead not in ctx.answers_at and ctx.owned_slots(dead)


@pytest.mark.parametrize("version", VERSIONS)
def test_uncovered_slots_go_to_the_node_holding_their_keys(version: str) -> None:
    ctx = ClusterView(Snapshot.load(DATA / f"healthy-{version}.json"))
    primaries = list(ctx.slot_primaries)
    holder = primaries[1]
    facts = Facts(uncovered_keys={5: {holder: 3, primaries[0]: 0}, 6: {p: 0 for p in primaries}})
    healed = plan(ctx, facts, Flags())
    (phase,) = healed.phases
    given = {s.node: s.command for s in phase.steps}
    assert ctx.address(holder) in given and "5" in given[ctx.address(holder) or ""]
    assert any("6" in c for c in given.values())
    conflict = plan(ctx, Facts(uncovered_keys={9: {primaries[0]: 1, primaries[1]: 2}}), Flags())
    assert not conflict.phases and any("human decision" in b for b in conflict.blocked)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_node_forgotten_by_one_node_is_met_again_and_a_handshake_ghost_left_to_expire(version: str) -> None:
    ctx, healed = _plan(f"scenario-ghost_and_forgotten-{version}")
    (meet,) = [p for p in healed.phases if p.name == "meet"]
    (step,) = meet.steps
    assert step.answers == ("M004",)
    forgotten = step.expect[0].node_id
    # The node that forgot it MEETs it where it answers; the forgotten one still lists that node.
    assert forgotten not in {e.id for e in next(s for s in ctx.answered if s.address == step.node).view.value}
    assert f"{step.command[2]}:{step.command[3]}" in ctx.answers_at[forgotten]
    assert any("handshake" in line and "never completed" in line for line in healed.blocked)
    assert not any(p.name == "forget" for p in healed.phases)  # a handshake entry has no id to forget


@pytest.mark.parametrize("version", VERSIONS)
def test_keys_only_a_replica_holds_are_never_given_away(version: str) -> None:
    """An uncovered slot whose only keys sit on a replica: assigning it empty elsewhere or re-pointing the
    replica (a full resync flushes it) would lose them; only promoting that replica keeps them."""
    ctx = ClusterView(Snapshot.load(DATA / f"healthy-{version}.json"))
    replica = next(i for i in ctx.answers_at if not ctx.is_primary(i))
    facts = Facts(uncovered_keys={5: {replica: 3, **{p: 0 for p in ctx.slot_primaries}}})
    held_back = plan(ctx, facts, Flags())
    steps = [s for p in held_back.phases for s in p.steps]
    assert not any("5" in s.command[2:] for s in steps if s.command[1] in ("ADDSLOTS", "ADDSLOTSRANGE"))
    assert not any(s.command[:2] == ("CLUSTER", "REPLICATE") and s.node == ctx.address(replica) for s in steps)
    assert any("TAKEOVER needs --allow-takeover" in b for b in held_back.blocked)
    assert any("its keys are on replica" in b for b in held_back.blocked)
    allowed = plan(ctx, facts, Flags(takeover=True))
    takeovers = [s for p in allowed.phases for s in p.steps if s.command == ("CLUSTER", "FAILOVER", "TAKEOVER")]
    assert [s.node for s in takeovers] == [ctx.address(replica)] and takeovers[0].risk


@pytest.mark.parametrize("version", VERSIONS)
def test_a_stale_copy_is_merged_before_it_is_emptied_and_differences_need_the_flag(version: str) -> None:
    from rcdoctor.model.key_diff import Tally
    from rcdoctor.plan.heal import RISK_DISCARD
    from rcdoctor.plan.rejoin import stale_copies

    name = f"scenario-stale_copy_after_failover-{version}"
    ctx, unknown = _plan(name)
    ((copy, (owner, slots)),) = stale_copies(ctx).items()
    assert ctx.own[owner].myself is not None and ctx.own[owner].myself.is_primary  # the promoted replica
    assert 100 in slots and not any(p.name == "rejoin" for p in unknown.phases)  # not compared: nothing
    assert any("could not be compared" in line for line in unknown.blocked)

    _, matching = _plan(name, facts=Facts(copies={copy: Tally(identical=5, only_a=2)}))
    (rejoin,) = [p for p in matching.phases if p.name == "rejoin"]
    verbs = [" ".join(s.command[:2]) for s in rejoin.steps]
    assert verbs == ["FLUSHALL", "CLUSTER RESET", "CLUSTER MEET", "CLUSTER REPLICATE"]
    flush = rejoin.steps[0]
    assert flush.risk is None and flush.salvage is not None and flush.salvage.owner == owner
    assert not flush.salvage.allow_conflicts and "2 key(s) only it holds" in flush.why
    assert rejoin.steps[-1].command[2] == owner

    _, differing = _plan(name, facts=Facts(copies={copy: Tally(identical=5, differ=1)}))
    assert not any(p.name == "rejoin" for p in differing.phases)
    assert any(RISK_DISCARD in line and "1 key(s)" in line for line in differing.blocked)
    _, allowed = _plan(name, Flags(discard_copy=True), Facts(copies={copy: Tally(differ=1)}))
    (rejoin,) = [p for p in allowed.phases if p.name == "rejoin"]
    assert rejoin.steps[0].risk and rejoin.steps[0].salvage and rejoin.steps[0].salvage.allow_conflicts


@pytest.mark.parametrize("version", VERSIONS)
def test_no_cluster_left_is_rebuilt_only_with_the_flag_around_the_keys(version: str) -> None:
    from rcdoctor.model.slots import SLOT_COUNT
    from rcdoctor.plan.heal import REBUILD
    from rcdoctor.plan.rebuild import shards

    name = f"scenario-all_alone-{version}"
    ctx, refused = _plan(name)
    assert refused.empty and any(REBUILD in line for line in refused.blocked)
    groups = shards(ctx)
    assert len(groups) == 3 and all(len(g.copies) == 1 for g in groups)  # each primary with its replica's copy
    for group in groups:
        (copy,) = group.copies
        assert (ctx.own[group.primary].keys or 0) >= (ctx.own[copy].keys or 0)

    _, rebuilt = _plan(name, Flags(rebuild=True))
    phase = rebuilt.phases[0]
    assert phase.name == "rebuild" and not any(s.risk for s in phase.steps)
    primaries = {g.primary for g in groups}
    by_verb: dict[str, list[str]] = {}
    for step in phase.steps:
        by_verb.setdefault(step.command[1] if step.command[0] == "CLUSTER" else step.command[0], []).append(step.node)
    assert "FLUSHALL" not in by_verb and "REPLICATE" not in by_verb  # the copies rejoin next round, merged
    assert len(by_verb["SET-CONFIG-EPOCH"]) == 3 and len(by_verb["MEET"]) == 2
    # Every slot ends with exactly one primary: its own claims plus what ADDSLOTS gives it.
    owned: list[int] = []
    for primary in primaries:
        sample = ctx.own[primary]
        assert sample.myself is not None
        owned += [s for r in sample.myself.slots for s in range(r.start, r.end + 1)]
    for step in phase.steps:
        if step.command[1] == "ADDSLOTSRANGE":
            bounds = [int(x) for x in step.command[2:]]
            owned += [s for a, b in zip(bounds[::2], bounds[1::2], strict=True) for s in range(a, b + 1)]
        elif step.command[1] == "ADDSLOTS":
            owned += [int(x) for x in step.command[2:]]
    assert sorted(owned) == list(range(SLOT_COUNT))
    assert all(e.kind == "alone" for s in phase.steps for e in s.expect)


def test_a_primary_listed_without_address_is_silent_and_other_checks_on_it_fail_cleanly() -> None:
    """Found by the chaos rehearsal: FAILOVER FORCE's precondition on a noaddr primary (its address answers
    with another id now) crashed heal with "empty address". No address: nothing can answer there."""
    from rcdoctor.execute.preconditions import check
    from rcdoctor.plan.conditions import AnswersAs, Silent
    from rcdoctor.transport.options import ConnectOptions

    options = ConnectOptions(timeout=0.2)
    assert check(Silent("", "9a0c7dbb" * 5), options) is None
    status, detail = check(AnswersAs("", "9a0c7dbb" * 5), options) or ("", "")
    assert status == "failed" and "no address" in detail
