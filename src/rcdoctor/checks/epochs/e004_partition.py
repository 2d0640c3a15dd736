from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.view import ClusterView, components, joined


def groups(ctx: ClusterView) -> list[set[str]]:
    """Answering nodes linked when each lists the other without a failure flag: who sees whom."""
    fast = _by_view_groups(ctx)
    if fast is not None:
        return fast
    sees = {
        s.node_id: {e.id for e in s.view.value if not (e.failed or e.suspected) and not e.is_myself}
        for s in ctx.viewers
        if s.node_id
    }
    return components(sees, ((a, b) for a, seen in sees.items() for b in seen if a in sees.get(b, ())))


def _by_view_groups(ctx: ClusterView) -> list[set[str]] | None:
    """The same groups, from the groups of agreeing views (see view_index) instead of every pair of
    viewers. The viewers of one view group all see the same nodes; when each of them is among the nodes
    its group sees unflagged (always, but for a node flagged in its own peers' lines), they all see each
    other, and two view groups are linked when some viewer of each is seen by the other. None when that
    does not hold: the pairwise walk then decides."""
    view_groups = ctx.index.groups
    seen: list[set[str]] = []
    members: list[set[str]] = []
    for group in view_groups:
        ids = {s.node_id for s in group.viewers if s.node_id}
        sees = {e.id for e in group.entries if not (e.failed or e.suspected) and not e.is_myself}
        if len(group.viewers) > 1 and not ids <= sees:
            return None
        seen.append(sees)
        members.append(ids)
    pairs = [
        (members[a], members[b])
        for a in range(len(view_groups))
        for b in range(a + 1, len(view_groups))
        if members[a] & seen[b] and members[b] & seen[a] and _mutual(members[a], seen[a], members[b], seen[b])
    ]
    together = [*members, *(x | y for x, y in pairs)]
    return joined((i for m in members for i in m), together)


def _mutual(ids_a: set[str], sees_a: set[str], ids_b: set[str], sees_b: set[str]) -> bool:
    """Some viewer of one group and some viewer of the other see each other (a one-viewer group of an
    irregular view may see itself: not a link)."""
    return any(x != y for x in ids_a & sees_b for y in ids_b & sees_a)


def run(ctx: ClusterView) -> Iterator[Issue]:
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
