"""remove-node as an operation: find the node (refusing one whose slots cannot be moved), drain its slots
(the move operation, `migrate/move.py`), check they are gone, then the steps that re-point its replicas,
FORGET it on every member within the blacklist window and reset it. The CLI prints and runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rcdoctor.errors import UsageError
from rcdoctor.execute.journal import Journal
from rcdoctor.migrate import membership, session
from rcdoctor.model.address import Seed
from rcdoctor.plan.moves import MovePlan, drain
from rcdoctor.plan.steps import Step
from rcdoctor.plan.topology import Node, Topology
from rcdoctor.transport.options import ConnectOptions


@dataclass(frozen=True)
class Removal:
    node: Node
    reachable: bool  # it answered: its slots can be drained and it can be reset
    top: Topology  # the cluster as read for the steps

    @property
    def drain_first(self) -> bool:
        return self.node.primary and bool(self.node.slots)

    def drain_plan(self, top: Topology) -> MovePlan:
        """The planner of the drain: every slot of the node to the other primaries."""
        return drain(top, self.node.node_id)

    @property
    def steps(self) -> list[Step]:
        return membership.remove_steps(self.top, self.node, self.reachable)


def locate(seeds: Sequence[Seed], options: ConnectOptions, which: str) -> Removal:
    """The node named by id, id prefix or host:port. Refuses (UsageError) a name no member has, and a
    primary with slots that does not answer (its keys cannot be moved)."""
    _, top = session.read(seeds, options)
    node = top.find(which, silent=True)
    if node is None:
        raise UsageError(f"{which!r} is not a node of this cluster (give an id, a unique id prefix or host:port)")
    reachable = node.node_id in top.nodes
    if node.primary and node.slots and not reachable:
        raise UsageError(
            f"{node.short} owns {len(node.slots)} slots and does not answer: its keys cannot be moved; "
            "fail over to a replica or heal it first"
        )
    return Removal(node, reachable, top)


def drained(seeds: Sequence[Seed], options: ConnectOptions, removal: Removal) -> Removal:
    """After the drain: the cluster read again, and the node refused if it still owns slots."""
    _, top = session.read(seeds, options)
    node = top.nodes[removal.node.node_id]
    if node.slots:
        raise UsageError(f"{node.short} still owns {len(node.slots)} slots after the drain; not removing it")
    return Removal(node, removal.reachable, top)


def apply(removal: Removal, options: ConnectOptions, log: Callable[[str], None], journal: Journal) -> None:
    membership.run_steps(removal.steps, options, log, journal, "remove-node")
