"""add-node and remove-node plan ordinary plan steps (run by the one executor, journaled): recorded clusters."""

from __future__ import annotations

import pytest
from tests.conftest import DATA

from rcdoctor.migrate.membership import add_steps, line, remove_steps
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.plan.steps import Step
from rcdoctor.plan.topology import topology


@pytest.mark.parametrize("version", ["redis6", "redis7"])
def test_removing_a_primary_re_points_its_replicas_then_every_other_node_forgets_it(version: str) -> None:
    top = topology(Snapshot.load(DATA / f"healthy-{version}.json"))
    gone = top.primaries[0]
    steps = remove_steps(top, gone, reachable=True)
    assert all(isinstance(s, Step) and s.answers == () and s.risk is None for s in steps)
    replicas = top.replicas_of(gone.node_id)
    assert replicas, "the recorded cluster has a replica per primary"
    re_pointed = [s for s in steps if s.command[:2] == ("CLUSTER", "REPLICATE")]
    assert {s.node for s in re_pointed} == {r.address for r in replicas}
    assert all(s.command[2] != gone.node_id for s in re_pointed)
    forgets = [s for s in steps if s.command[:2] == ("CLUSTER", "FORGET")]
    assert {s.node for s in forgets} == {n.address for n in top.nodes.values() if n.node_id != gone.node_id}
    assert all(s.command[2] == gone.node_id for s in forgets)
    assert steps[-1].command == ("CLUSTER", "RESET", "SOFT") and steps[-1].node == gone.address
    assert line(steps[-1]).endswith("— stop it gossiping the old cluster")
    # A node that does not answer is only forgotten: nothing is sent to it
    assert all(s.node != gone.address for s in remove_steps(top, gone, reachable=False))


def test_a_new_node_meets_a_member_then_replicates_its_primary() -> None:
    top = topology(Snapshot.load(DATA / "healthy-redis7.json"))
    seed, primary = next(iter(top.nodes.values())), top.primaries[1]
    new = parse_hostport("127.0.0.99:6379")
    meet, replicate = add_steps(new, seed, primary)
    assert meet.command == ("CLUSTER", "MEET", seed.endpoint.host, str(seed.endpoint.port))
    assert replicate.command == ("CLUSTER", "REPLICATE", primary.node_id) and replicate.node == "127.0.0.99:6379"
    assert add_steps(new, seed, None) == [meet]
