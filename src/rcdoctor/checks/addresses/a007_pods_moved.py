"""A007 pods-moved: the nodes that answer have moved, and the ones that do not are most likely moved too.

The typical case: every pod of a StatefulSet was recreated at once with new IPs and the user gives the
one new IP they know. That node answers and still lists its peers at their old IPs, where nothing
listens. Without this inference each unreachable peer reads as a dead node (A001), and "dead" invites
FORGET and failovers; the truth is that rcdoctor was not told where they are.
"""

from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, role, slots_text
from rcdoctor.model.view import HANDSHAKE, ClusterView

CONFIRM = (
    "give rcdoctor the address of every pod: the headless Service name (NAME.NAMESPACE.svc.cluster.local:6379, "
    "which resolves to every pod IP), the Kubernetes source k8s:NAMESPACE/SELECTOR, or the IPs from "
    "`kubectl get pods -o wide`; nodes that answer there with these ids moved, ids no pod holds are gone"
)


def run(ctx: ClusterView) -> Iterator[Issue]:
    moved = ctx.moved
    if not moved or any(i not in moved for i in ctx.answers_at):
        # A node that answers where everyone recorded it would have heard from a moved peer that is
        # alive (the peer dials it, gossip spreads the new address): unreachable nodes are then down.
        return
    unseen = [
        i
        for i in ctx.unreachable
        if ctx.may_be_elsewhere(i) and not all(e.flags & HANDSHAKE for _, e in ctx.listings.get(i, ()))
    ]
    if not unseen:
        return  # everyone answered: A003 says what to MEET
    evidence = []
    for node_id, olds in moved.items():
        evidence.append(f"{node_id[:8]} answers at {ctx.address(node_id)}; recorded at {', '.join(olds)}")
    critical = False
    for node_id in sorted(unseen, key=lambda i: ctx.address(i) or ""):
        entry = ctx.entry(node_id)
        address = ctx.address(node_id) or "no address"
        sample = ctx.snapshot.node(address)
        if sample is not None and sample.answered and sample.node_id not in (None, node_id):
            there = f"another node ({sample.node_id[:8]}) answers there: the IP was reused"
        elif sample is not None and sample.error is not None:
            there = str(sample.error)
        else:
            there = "not dialled"
        owns = f", owns {slots_text(entry.slots)}" if entry is not None and entry.is_primary and entry.slots else ""
        critical = critical or bool(owns)
        evidence.append(f"{role(entry)} {node_id[:8]} recorded at {address}{owns}: {there}")
    evidence.append(
        "no node answers at an address recorded before the move, so the nodes cannot reach each other and "
        "gossip cannot repair it; rcdoctor was given "
        + plural(len(ctx.snapshot.seeds), "seed")
        + ": "
        + ", ".join(ctx.snapshot.seeds[:6])
    )
    yield Issue(
        title=(
            f"the pods moved: {plural(len(moved), 'node')} answer{'s' if len(moved) == 1 else ''} at a new "
            f"address and {plural(len(unseen), 'other')} do{'es' if len(unseen) == 1 else ''} not answer at "
            "the recorded address: most likely moved too, not dead"
        ),
        nodes=ctx.refs([*moved, *unseen]),
        evidence=tuple(evidence),
        severity="critical" if critical else "warning",
        basis="inferred",
        confirm=CONFIRM,
    )


CHECK = Check(
    code="A007",
    name="pods-moved",
    family="addresses",
    severity="critical",
    summary="Nodes answer at new addresses and their peers answer at none of theirs: the pods moved, rcdoctor "
    "was not told where.",
    explanation=(
        "Inferred, not seen. Every node that answered rcdoctor has moved (its own CLUSTER NODES line or its "
        "peers' lines give an address where it does not answer) and the other members do not answer at the "
        "addresses recorded for them. When a whole StatefulSet is recreated at once every pod gets a new IP and "
        "keeps its nodes.conf: each node still dials its peers at their old IPs, nobody reaches anybody, and "
        "given one pod's address rcdoctor can see only that pod. The unreachable nodes are then most likely "
        "alive at addresses nobody gave; a node that stayed where everyone recorded it would have heard from a "
        "live peer that moved, so this is not inferred when any answering node did not move."
    ),
    evidence=(
        "Where each node answered against the addresses recorded for it; the collector's result at each "
        "unreachable node's recorded address (refused, timeout, another node answering there)."
    ),
    why=(
        "Read as dead nodes, they invite CLUSTER FORGET (which locks a live node out of its own cluster) and "
        "forced failovers (two primaries for one shard once the old one is found). The cluster stays in "
        "cluster_state:fail until the nodes are told each other's new addresses."
    ),
    fix=(
        "Give rcdoctor the addresses where the pods are now: the headless Service name (`rcdoctor heal "
        "redis-main.NAMESPACE.svc.cluster.local:6379`), the Kubernetes source (`k8s:NAMESPACE/SELECTOR`), or "
        "each IP from `kubectl get pods -o wide`; heal then MEETs the nodes by id at their new addresses and "
        "every node keeps its data. Do not FORGET, fail over or reassign the slots of these nodes: they are "
        "most likely alive."
    ),
    heal=(
        "Not from this evidence: heal plans no FORGET, failover or slot reassignment for a node that may have "
        "moved, and asks for the addresses; given them, it MEETs the nodes back (A003)."
    ),
    run=run,
    explains=(
        "A001",
        "A003",
        "A004",
        "A006",
        "M001",
        "M002",
        "M008",
        "M009",
        "S002",
        "E004",
        "R001",
        "R002",
        "R003",
        "R004",
        "R005",
    ),
    basis="inferred",
)
