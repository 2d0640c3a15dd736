"""Which servers make CLUSTER SETSLOT wait for replicas (and take TIMEOUT), and which drop a source's
MIGRATING state by gossip: what the migration engine changes its order and speed on. Read on the nodes
of snapshots recorded from real Valkey 8.1, Redis 8.2, 7.0 and 6.2 clusters."""

from __future__ import annotations

import pytest
from tests.conftest import DATA

from rcdoctor.model.server import ServerIdentity, gossip_clears_migrating, replicates_setslot
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.plan.topology import topology


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (ServerIdentity("valkey", "8.1.8"), True),
        (ServerIdentity("valkey", "8.0.1"), True),
        (ServerIdentity("valkey", "7.2.5"), False),  # SETSLOT replication came with 8.0
        (ServerIdentity("redis", "8.2.3"), False),
        (ServerIdentity("redis", "7.0.15"), False),
        (None, False),  # a node that did not say: no TIMEOUT argument it might refuse
    ],
)
def test_setslot_waits_for_replicas_on_valkey_8_only(identity: ServerIdentity | None, expected: bool) -> None:
    assert replicates_setslot(identity) is expected
    assert gossip_clears_migrating(identity) is expected


@pytest.mark.parametrize(("recorded", "expected"), [("valkey8", True), ("redis8", False), ("redis7", False)])
def test_the_engine_sees_it_on_recorded_nodes(recorded: str, expected: bool) -> None:
    top = topology(Snapshot.load(DATA / f"healthy-{recorded}.json"))
    assert top.nodes and {replicates_setslot(n.server) for n in top.nodes.values()} == {expected}
