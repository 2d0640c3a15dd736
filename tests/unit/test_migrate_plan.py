"""The pure planners and resume decisions, on topologies built from real recorded snapshots and on
generated ones (hypothesis): every plan moves only slots a source owns, each slot once, and ends balanced."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcdoctor.errors import UsageError
from rcdoctor.execute import journal as journal_mod
from rcdoctor.model.address import Endpoint
from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.plan.moves import drain, rebalance, reshard
from rcdoctor.plan.resume import decide
from rcdoctor.plan.topology import Node, OpenSlot, Topology, topology

DATA = Path(__file__).parent.parent / "data"


def _top(sizes: list[int]) -> Topology:
    """Primaries owning consecutive blocks of the given sizes (the rest of the slots to the last one)."""
    owners: list[str | None] = []
    nodes = {}
    start = 0
    for index, size in enumerate(sizes):
        node_id = f"{index:040x}"
        size = SLOT_COUNT - start if index == len(sizes) - 1 else min(size, SLOT_COUNT - start)
        owners += [node_id] * size
        nodes[node_id] = Node(
            node_id,
            Endpoint(f"10.0.0.{index + 1}", 6379),
            True,
            None,
            tuple(range(start, start + size)),
            size * 10,
            size * 1000,
            "7.0.15",
        )
        start += size
    return Topology(nodes=nodes, owners=tuple(owners))


def _apply(top: Topology, plan_transfers: tuple) -> dict[str, int]:  # type: ignore[type-arg]
    owners = list(top.owners)
    seen: set[int] = set()
    for t in plan_transfers:
        for slot in t.slots:
            assert owners[slot] == t.source, "a source gives only slots it owns"
            assert slot not in seen, "each slot moves once"
            seen.add(slot)
            owners[slot] = t.target
    counts = dict.fromkeys(top.nodes, 0)
    for owner in owners:
        counts[owner] += 1  # type: ignore[index]
    return counts


def test_rebalance_onto_two_empty_primaries_is_exact() -> None:
    top = _top([5461, 5462, 5461, 0, 0])
    plan = rebalance(top, use_empty=True)
    counts = _apply(top, plan.transfers)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert plan.slot_count == sum(max(0, n - 3277) for n in (5461, 5462, 5461))
    assert len({(t.source, t.target) for t in plan.transfers}) >= 2  # room for parallel transfers


def test_rebalance_ignores_empty_primaries_unless_asked_and_respects_threshold() -> None:
    top = _top([5461, 5462, 5461, 0])
    assert rebalance(top).transfers == ()
    nearly = _top([5400, 5500, 5484])
    assert rebalance(nearly, threshold=2.0).transfers == ()
    assert "balanced" in rebalance(nearly, threshold=2.0).note
    assert rebalance(nearly, threshold=0.5).transfers != ()


def test_weights_and_weight_zero_drains() -> None:
    top = _top([4096, 4096, 4096, 4096])
    ids = list(top.nodes)
    emptied = rebalance(top, weights={ids[0]: 0.0})
    counts = _apply(top, emptied.transfers)
    assert counts[ids[0]] == 0 and sorted(counts.values())[1:] in ([5461, 5461, 5462], [5461, 5462, 5461])
    # weight 0 empties a primary that stays a member: said, with the way to take it out
    assert len(emptied.warnings) == 1 and "keeps no slot" in emptied.warnings[0]
    assert f"remove-node {ids[0][:8]}" in emptied.warnings[0]
    assert not rebalance(top, weights={ids[1]: 2.0}).warnings
    counts = _apply(top, rebalance(top, weights={ids[1]: 2.0}).transfers)
    assert counts[ids[1]] == pytest.approx(2 * SLOT_COUNT / 5, abs=1)
    with pytest.raises(UsageError):
        rebalance(top, weights=dict.fromkeys(ids, 0.0))


def test_rebalance_by_keys_uses_key_counts() -> None:
    top = _top([8192, 8192])
    ids = list(top.nodes)
    keys = {s: (3 if s < 8192 else 1) for s in range(SLOT_COUNT)}  # the first primary holds 3x the keys
    plan = rebalance(top, by="keys", keys_in_slot=keys)
    assert plan.transfers and all(t.source == ids[0] for t in plan.transfers)
    after = plan.after
    assert abs(after[ids[0]] - after[ids[1]]) <= 3


def test_reshard_takes_in_proportion_and_checks_arguments() -> None:
    top = _top([8192, 4096, 4096])
    ids = list(top.nodes)
    plan = reshard(top, None, ids[2], 1000)
    taken = {t.source: len(t.slots) for t in plan.transfers}
    assert sum(taken.values()) == 1000 and taken[ids[0]] == 667 and taken[ids[1]] == 333
    with pytest.raises(UsageError, match="cannot move"):
        reshard(top, [ids[1]], ids[2], 5000)
    with pytest.raises(UsageError, match="target cannot also be a source"):
        reshard(top, [ids[2]], ids[2], 1)


def test_drain_gives_everything_to_the_others() -> None:
    top = _top([4096, 4096, 4096, 4096])
    ids = list(top.nodes)
    counts = _apply(top, drain(top, ids[3]).transfers)
    assert counts[ids[3]] == 0 and max(counts.values()) - min(v for k, v in counts.items() if k != ids[3]) <= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6000), min_size=2, max_size=9), st.booleans())
def test_rebalance_property(sizes: list[int], use_empty: bool) -> None:
    top = _top(sizes)
    plan = rebalance(top, use_empty=use_empty, threshold=0.0)
    counts = _apply(top, plan.transfers)
    members = [i for i, n in top.nodes.items() if n.slots or use_empty]
    if len(members) >= 2:
        assert max(counts[i] for i in members) - min(counts[i] for i in members) <= 1


@pytest.mark.parametrize("version", ["redis7", "redis6"])
def test_topology_of_recorded_snapshots(version: str) -> None:
    damaged = topology(Snapshot.load(DATA / f"scenario-slot_damage-{version}.json"))
    assert damaged.open_slots and (damaged.open_slots[0].migrating or damaged.open_slots[0].importing)
    assert damaged.problems  # slots without owner / assigned twice: moving slots there is refused
    healthy = topology(Snapshot.load(DATA / f"healthy-{version}.json"))
    assert healthy.problems == () and healthy.open_slots == ()
    assert sum(len(n.slots) for n in healthy.primaries) == SLOT_COUNT


def _open(top: Topology, slot: int, source: str, target: str, migrating: bool = True) -> Topology:
    o = OpenSlot(slot, source, ((source, target),) if migrating else (), ((target, source),))
    return replace(top, open_slots=(o,))


def test_resume_decisions_follow_the_keys() -> None:
    top = _top([8192, 8192])
    a, b = list(top.nodes)
    assert decide(_open(top, 5, a, b), {5: {a: 3, b: 2}})[0].action == "forward"
    assert decide(_open(top, 5, a, b), {5: {a: 0, b: 5}})[0].action == "forward"
    assert decide(_open(top, 5, a, b, migrating=False), {5: {a: 4, b: 0}})[0].action == "cancel"
    stuck = decide(_open(top, 5, a, b), {5: {a: 1, b: None}})[0]
    assert stuck.action == "stuck" and "did not answer" in stuck.reason
    three = _top([6000, 6000, 4384])
    x, y, z = list(three.nodes)
    assert decide(_open(three, 5, x, y), {5: {x: 1, y: 1, z: 1}})[0].action == "stuck"


def test_journal_in_flight_and_a_cut_last_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    lines = [
        {"t": 1, "event": "open", "source": "a", "target": "b", "slots": [1, 2, 3]},
        {"t": 2, "event": "closed", "source": "a", "target": "b", "slots": [1, 2]},
        {"t": 3, "event": "open", "source": "c", "target": "b", "slots": [9]},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"t": 4, "event": "clo')
    flights = journal_mod.in_flight(path)
    assert {(f.source, f.target, f.slots) for f in flights} == {("a", "b", (3,)), ("c", "b", (9,))}
    path.write_text("garbage\n" + json.dumps(lines[0]) + "\n")
    with pytest.raises(UsageError, match="not a journal line"):
        journal_mod.in_flight(path)


def test_a_target_that_failed_over_hands_the_move_to_its_successor() -> None:
    """The slot was MIGRATING to b when b's replica c took over: c holds the keys b had received (replication)
    but no IMPORTING (Redis does not replicate SETSLOT). The move goes on to c, not stuck on 'keys on a
    node that is neither source nor target'."""
    top = _top([8192, 8192])
    a, b = list(top.nodes)
    c = "c" * 40
    demoted = replace(top.nodes[b], primary=False, primary_id=c, slots=())
    successor = replace(top.nodes[b], node_id=c, endpoint=Endpoint("10.0.0.9", 6379))
    failed_over = replace(
        top,
        nodes={a: top.nodes[a], b: demoted, c: successor},
        owners=tuple(c if o == b else o for o in top.owners),
        open_slots=(OpenSlot(5, a, ((a, b),), ()),),
    )
    closing = decide(failed_over, {5: {a: 2, c: 3}})[0]
    assert (closing.action, closing.source, closing.target) == ("forward", a, c)
    # The source failed over instead: its successor owns the slot and the keys left on it go forward.
    d = "d" * 40
    source_gone = replace(
        top,
        nodes={
            a: replace(top.nodes[a], primary=False, primary_id=d, slots=()),
            b: top.nodes[b],
            d: replace(top.nodes[a], node_id=d),
        },
        owners=tuple(d if o == a else o for o in top.owners),
        open_slots=(OpenSlot(5, d, (), ((b, a),)),),
    )
    closing = decide(source_gone, {5: {d: 2, b: 3}})[0]
    assert (closing.action, closing.source, closing.target) == ("forward", d, b)
