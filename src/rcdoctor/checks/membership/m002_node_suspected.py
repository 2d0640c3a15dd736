from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, role
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    voters = len(ctx.slot_primaries)
    for node_id in ctx.ids:
        reporters = ctx.reporters(node_id, "fail?")
        if not reporters or ctx.reporters(node_id, "fail"):
            continue
        entry = ctx.entry(node_id)
        votes = len(ctx.primary_reporters(node_id, "fail?"))
        if votes >= ctx.quorum:
            outlook = "enough for a quorum: it should be marked FAIL within about node-timeout x 2"
        else:
            outlook = (
                "not enough for a quorum: it stays suspected, is never marked FAIL and is never failed over"
                " while this lasts"
            )
        evidence = (
            f"suspected (fail?) by {plural(len(reporters), 'node')}: " + ", ".join(s.address for s in reporters[:8]),
            f"{votes} of them are slot-owning primaries; FAIL needs {ctx.quorum} of {voters}: {outlook}",
        )
        yield Issue(
            title=f"{role(entry)} {ctx.name(node_id)} is suspected down (fail?) by {plural(len(reporters), 'node')}",
            nodes=(ctx.ref(node_id),),
            evidence=evidence,
        )


CHECK = Check(
    code="M002",
    name="node-suspected",
    family="membership",
    severity="warning",
    summary="Nodes suspect a node is down (fail? / PFAIL), with or without a quorum to mark it FAIL.",
    explanation=(
        "`fail?` is one node's opinion: it got no pong from the peer for node-timeout. Only the reports of a "
        "majority of the slot-owning primaries turn it into FAIL. rcdoctor counts the reporting primaries "
        "against that quorum: below it (for instance when every node moved and no one reaches anyone) the "
        "node stays suspected forever and no failover happens."
    ),
    evidence="The `fail?` flags in every answering node's CLUSTER NODES; which reporters are slot-owning primaries.",
    why="A suspected primary's slots are counted as failing (cluster_slots_pfail); it is the early sign of a FAIL.",
    fix=(
        "Check the node and the bus path to it from the reporters: `redis-cli -h <reporter> CLUSTER LINKS` "
        "(7.0+), `nc -vz <ip> 16379` from a reporter pod. If it moved, see A003."
    ),
    heal="Through its cause only.",
    run=run,
    explains=("M009", "M008"),
)
