"""The chaos generator: seeded, replayable round by round, never a combination that takes both copies
of a shard, and every fault resolvable against a lab's shape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcdoctor.chaos.generator import (
    CATALOGUE,
    NEEDS_NETWORK,
    ON_NODES,
    Fault,
    Shape,
    compatible,
    draw,
    parse_kinds,
    resolve,
)

ALL = tuple(CATALOGUE)


def shape(shards: int) -> Shape:
    return Shape(tuple((f"p{k}", (f"r{k}",)) for k in range(shards)))


def test_the_same_seed_and_round_give_the_same_faults_whatever_came_before() -> None:
    first = [draw(42, i, 3, ALL, 2000) for i in range(20)]
    again = draw(42, 13, 3, ALL, 2000)  # round 13 alone, as --round 13 replays it
    assert again == first[13]
    assert [p.to_dict() for p in first] != [p.to_dict() for p in (draw(43, i, 3, ALL, 2000) for i in range(20))]


def test_a_long_rehearsal_draws_every_kind_and_some_combinations() -> None:
    plans = [draw(7, i, 3, ALL, 2000) for i in range(300)]
    drawn = {f.kind for p in plans for f in p.faults}
    assert drawn == set(ALL)
    assert sum(len(p.faults) > 1 for p in plans) > 60
    assert {f.scope for p in plans for f in p.faults if f.kind == "new-address"} == {"one", "some", "all"}


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 10**9), index=st.integers(0, 10_000), shards=st.integers(2, 6))
def test_no_round_takes_both_copies_of_a_shard(seed: int, index: int, shards: int) -> None:
    plan = draw(seed, index, shards, ALL, 2000)
    layout = shape(shards)
    hit: dict[int, set[str]] = {}
    for fault in plan.faults:
        if fault.kind not in ON_NODES:
            continue
        for name in resolve(fault, layout):
            hit.setdefault(int(name[1:]), set()).add(name[0])
        if fault.scope in ("some", "all"):
            assert all(f is fault or f.kind not in ON_NODES for f in plan.faults), plan
    # A whole-cluster move restarts every node with its data: it is the only fault that touches both
    assert all(len(roles) == 1 for roles in hit.values()) or any(f.scope == "all" for f in plan.faults), plan
    assert sum(f.kind == "interrupt-heal" for f in plan.faults) <= 1
    assert 1.0 <= plan.hold_s <= 6.0  # 0.5 to 3 node timeouts of 2 s


def test_interrupt_heal_comes_only_with_a_fault_that_leaves_work() -> None:
    plans = [draw(3, i, 3, ("interrupt-heal", "kill", "half-migrate"), 2000) for i in range(200)]
    with_interrupt = [p for p in plans if any(f.kind == "interrupt-heal" for f in p.faults)]
    assert with_interrupt
    assert all(any(f.kind == "half-migrate" for f in p.faults) for p in with_interrupt)


def test_compatible_refuses_two_faults_on_one_shard_and_a_move_with_another_node_fault() -> None:
    kill = Fault("kill", 1, "primary")
    assert not compatible([kill], Fault("lose-volume", 1, "replica"))
    assert compatible([kill], Fault("lose-volume", 2, "replica"))
    assert not compatible([kill], Fault("new-address", scope="all"))
    assert compatible([Fault("new-address", scope="all")], Fault("half-migrate", 0, params={"to_shard": 1}))
    assert not compatible([Fault("half-migrate", 0)], Fault("interrupt-reshard", 1))


def test_resolve_names_the_nodes_in_the_shape() -> None:
    layout = shape(3)
    assert resolve(Fault("kill", 2, "replica"), layout) == ("r2",)
    assert resolve(Fault("pause", 0, "primary"), layout) == ("p0",)
    assert resolve(Fault("new-address", scope="all"), layout) == layout.nodes
    assert resolve(Fault("new-address", scope="some"), layout) == ("p0", "p2")
    assert resolve(Fault("half-migrate", 1), layout) == ()


def test_parse_kinds() -> None:
    assert set(parse_kinds(None, network=False)) == set(ALL) - NEEDS_NETWORK
    assert parse_kinds(None, network=True) == ALL
    assert parse_kinds("kill, pause,kill", network=False) == ("kill", "pause")
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_kinds("kill,explode", network=False)
    with pytest.raises(ValueError, match="needs a fault"):
        parse_kinds("interrupt-heal", network=False)
    with pytest.raises(ValueError):
        draw(1, 0, 1, ALL, 2000)
