"""Pure parts of the lab: how slots are split and how nodes get addresses and failure-domain labels."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rcdoctor.lab.cluster import LabSpec, _plan_nodes, split_slots
from rcdoctor.lab.faults import KINDS
from rcdoctor.lab.faults.base import FaultOp


@given(st.integers(min_value=1, max_value=200))
def test_split_slots_covers_every_slot_once_and_evenly(primaries: int) -> None:
    ranges = split_slots(primaries)
    assert len(ranges) == primaries
    assert ranges[0][0] == 0 and ranges[-1][1] == 16383
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    sizes = [last - first + 1 for first, last in ranges]
    assert max(sizes) - min(sizes) <= 1


def test_split_matches_redis_cli_for_three() -> None:
    assert split_slots(3) == [(0, 5460), (5461, 10922), (10923, 16383)]


@given(st.integers(1, 12), st.integers(0, 3), st.integers(1, 4))
def test_spread_placement_keeps_replicas_off_their_primary(primaries: int, replicas: int, zones: int) -> None:
    nodes = _plan_nodes(LabSpec(primaries=primaries, replicas=replicas, zones=zones), Path("/x"))
    assert len(nodes) == primaries * (1 + replicas)
    assert len({n.ip for n in nodes}) == len(nodes) and {n.port for n in nodes} == {6379}
    assert [n.name for n in nodes] == [f"n{i + 1}" for i in range(len(nodes))]
    primary_of = {n.shard: n for n in nodes if n.role == "primary"}
    for node in nodes:
        if node.role == "replica":
            assert node.host != primary_of[node.shard].host
            if zones > 1:
                assert node.zone != primary_of[node.shard].zone


def test_colocated_placement_puts_replicas_with_their_primary() -> None:
    nodes = _plan_nodes(LabSpec(primaries=3, replicas=2, placement="colocated", hosts=3), Path("/x"))
    primary_of = {n.shard: n for n in nodes if n.role == "primary"}
    assert all((n.host, n.zone) == (primary_of[n.shard].host, primary_of[n.shard].zone) for n in nodes)


def test_every_fault_kind_documents_itself_and_ops_round_trip() -> None:
    assert {
        "kill",
        "restart",
        "pause",
        "resume",
        "new-address",
        "lose-nodes-conf",
        "half-migrate",
        "drop-slot-owner",
        "assign-twice",
    } <= set(KINDS)
    for kind in KINDS.values():
        assert len(kind.summary) > 20
    op = FaultOp.from_dict({"f": "kill", "targets": ["n1", "primary"], "params": {"seed": 3}})
    assert FaultOp.from_dict(op.to_dict()) == op
