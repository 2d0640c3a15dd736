from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.context import Context, components
from rcdoctor.checks.words import plural


def groups(ctx: Context) -> list[set[str]]:
    """Answering nodes linked when each lists the other without a failure flag: who sees whom."""
    sees = {
        s.node_id: {e.id for e in s.view.value if not (e.failed or e.suspected) and not e.is_myself}
        for s in ctx.viewers
        if s.node_id
    }
    return components(sees, ((a, b) for a, seen in sees.items() for b in seen if a in sees.get(b, ())))


def run(ctx: Context) -> Iterator[Issue]:
    parts = groups(ctx)
    if len(parts) < 2:
        return
    primaries = set(ctx.slot_primaries)
    evidence = []
    for index, group in enumerate(parts, 1):
        held = len(group & primaries)
        side = "majority" if held >= ctx.quorum else "minority"
        evidence.append(
            f"group {index} ({side}: {held} of {len(primaries)} slot-owning primaries): {ctx.names(sorted(group), 6)}"
        )
    silent = ctx.unreachable
    if silent:
        evidence.append(f"{plural(len(silent), 'node')} did not answer rcdoctor: their side is unknown")
    yield Issue(
        title=f"the cluster is split into {len(parts)} groups of nodes that do not see each other",
        nodes=ctx.refs(i for g in parts for i in sorted(g)),
        evidence=tuple(evidence),
    )


CHECK = Check(
    code="E004",
    name="partition",
    family="epochs",
    severity="critical",
    summary="Answering nodes form groups that see each other but flag (or do not reach) the rest: a partition.",
    explanation=(
        "Two nodes see each other when each lists the other without fail/fail?. rcdoctor groups the answering "
        "nodes by that relation and names each group with the share of slot-owning primaries it holds. Only "
        "the side with a majority of primaries can fail over; primaries on the other side refuse writes once "
        "node-timeout has passed. A group of one is a single isolated node."
    ),
    evidence="Failure flags between every pair of answering nodes in their CLUSTER NODES.",
    why="Writes accepted on the minority side during the first node-timeout are lost; see E003.",
    fix=(
        "Find the network cut between the groups (NetworkPolicy, bus port, node or zone network) and restore "
        "it. The minority's primaries rejoin as replicas; save their recent writes first (see E002)."
    ),
    heal="No: the network has to be fixed; rcdoctor verifies convergence afterwards.",
    run=run,
    explains=("E003", "E002", "S005", "M002", "M001", "M009", "M008", "R001", "R002", "R004", "R005", "S002"),
)
