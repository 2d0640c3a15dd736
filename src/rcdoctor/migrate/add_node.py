"""add-node as an operation: read and check the cluster and the new node, plan the steps, and (applied)
run them with the waits gossip needs between them. The CLI prints the plan and the progress lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rcdoctor.errors import UsageError
from rcdoctor.execute.journal import Journal
from rcdoctor.migrate import membership, session
from rcdoctor.model.address import Endpoint, Seed, parse_hostport
from rcdoctor.plan.moves import node_named
from rcdoctor.plan.steps import Step
from rcdoctor.plan.topology import Node, Topology
from rcdoctor.transport.options import ConnectOptions

GOSSIP_WAIT_S = 30.0


@dataclass(frozen=True)
class AddPlan:
    new: str  # as the user gave it
    endpoint: Endpoint
    node_id: str
    primary: Node | None  # --replica-of, else the node joins as an empty primary
    steps: tuple[Step, ...]
    top: Topology  # the cluster as read for the plan


def plan(seeds: Sequence[Seed], options: ConnectOptions, new: str, replica_of: str | None) -> AddPlan:
    """Refuses (UsageError) a cluster with a slot migration under way, a node that is not empty or is
    already a member, a --replica-of that is not a primary."""
    _, top = session.read(seeds, options)
    session.require_safe(top, allow_open=True)
    endpoint = parse_hostport(new)
    node_id = membership.read_empty(endpoint, options).node_id
    if node_id in top.nodes:
        raise UsageError(f"{new} ({node_id[:8]}) is already a member of this cluster")
    primary = node_named(top, replica_of, "--replica-of", lambda n: n.primary) if replica_of else None
    seed = next(n for n in top.nodes.values())
    return AddPlan(new, endpoint, node_id, primary, tuple(membership.add_steps(endpoint, seed, primary)), top)


def apply(added: AddPlan, options: ConnectOptions, log: Callable[[str], None], journal: Journal) -> None:
    """MEET, then wait until every member lists the node and it knows the slot map; for a replica, wait
    until it lists its primary, then REPLICATE."""
    endpoint, node_id = added.endpoint, added.node_id
    membership.run_steps(list(added.steps[:1]), options, log, journal, "add-node")
    membership.wait_known(added.top, node_id, options)
    # Until the new node has learned the slot map by gossip its view differs from the others', and the next
    # command (another add-node, a rebalance) would refuse the cluster for it: return only once it agrees.
    assigned = sum(len(n.slots) for n in added.top.nodes.values() if n.primary)
    membership.wait_until_all(
        [endpoint], lambda c: membership.slots_assigned(c) == assigned, options, GOSSIP_WAIT_S, "to learn the slot map"
    )
    log(f"every member now lists {node_id[:8]} ({added.new}), and it knows the slot map")
    primary = added.primary
    if primary is not None:
        # The new node learns the others by gossip, a moment after they learn it: REPLICATE needs the id.
        membership.wait_until_all(
            [endpoint],
            lambda c: membership.lists(c, primary.node_id),
            options,
            GOSSIP_WAIT_S,
            f"to list {primary.short}",
        )
    membership.run_steps(list(added.steps[1:]), options, log, journal, "add-node")
