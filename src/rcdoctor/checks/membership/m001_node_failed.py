from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, role, slots_text
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.ids:
        reporters = ctx.reporters(node_id, "fail")
        if not reporters:
            continue
        entry = ctx.entry(node_id)
        listed = ctx.listings.get(node_id, ())
        evidence = [
            f"flagged fail in {len(reporters)} of {plural(len(listed), 'view')}: "
            + ", ".join(s.address for s in reporters[:8])
        ]
        owned = ctx.owned_slots(node_id)
        if owned:
            evidence.append(f"it still owns {slots_text(owned)} in most views: no replica has taken them over")
        elif entry is not None and entry.is_primary:
            evidence.append("it owns no slots any more (a replica took them over, or it never had any)")
        if node_id in ctx.answers_at:
            evidence.append(f"yet it answers rcdoctor at {ctx.address(node_id)}")
        yield Issue(
            title=f"{role(entry)} {ctx.name(node_id)} is marked FAIL by {plural(len(reporters), 'node')}",
            nodes=(ctx.ref(node_id),),
            evidence=tuple(evidence),
            severity="critical" if owned else "warning",
        )


CHECK = Check(
    code="M001",
    name="node-failed",
    family="membership",
    severity="critical",
    summary="Nodes flag a node FAIL: a majority of primaries agreed it is down.",
    explanation=(
        "A node is flagged `fail?` (PFAIL) by a peer that got no pong for node-timeout; when the reports of a "
        "majority of slot-owning primaries agree, it becomes `fail` and the news is broadcast. A failed primary "
        "with slots is failed over by one of its replicas if it can; a failed node that comes back clears the "
        "flag itself (replicas and empty primaries at once, primaries with slots after a while)."
    ),
    evidence="The `fail` flag in each answering node's CLUSTER NODES.",
    why="A failed primary's slots are unserved until a replica takes over; a failed replica is no backup.",
    fix=(
        "Bring the node back (see A001) or, if a replica took its slots and it is gone for good, "
        "`CLUSTER FORGET <id>` on every node within 60 s. A failed node that is back up and answering but "
        "still flagged: check the bus port (A002) from its peers."
    ),
    heal=(
        "Yes, once its slots are served (failover phase) and if it is gone for good (noaddr, replaced); a "
        "node only down is left to rejoin unless --forget-down."
    ),
    run=run,
    explains=("S002", "M009", "R001", "R004", "R005", "M008"),
)
