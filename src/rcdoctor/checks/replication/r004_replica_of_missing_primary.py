from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.ids:
        entry = ctx.entry(node_id)
        if entry is None or not entry.is_replica:
            continue
        primary = entry.primary_id
        if not primary:
            problem = "names no primary"
        elif primary not in ctx.ids:
            problem = f"replicates {primary[:8]}, which no node knows"
        elif (p := ctx.entry(primary)) is not None and p.is_replica:
            problem = f"replicates {ctx.name(primary)}, which is itself a replica (chained)"
        elif ctx.is_down(primary):
            problem = f"replicates {ctx.name(primary)}, which is down"
        else:
            continue
        yield Issue(
            title=f"replica {ctx.name(node_id)} {problem}",
            nodes=ctx.refs([i for i in (node_id, primary) if i and i in ctx.ids] or [node_id]),
            evidence=(f"{ctx.name(node_id)} is `slave {primary or '-'}` in its own view or most views",),
            subjects=frozenset(i for i in (node_id, primary) if i),
            severity="critical" if primary and ctx.is_down(primary) else "warning",
        )


CHECK = Check(
    code="R004",
    name="replica-of-missing-primary",
    family="replication",
    severity="warning",
    summary="A replica follows a primary that is unknown, down, or itself a replica.",
    explanation=(
        "A replica whose primary failed should be promoted (or re-pointed). One that follows an id nobody "
        "knows, a replica, or a primary that is down and will not be failed over, serves stale data and "
        "protects nothing."
    ),
    evidence="The `slave <primary-id>` field of the replica's entry, and that primary's state.",
    why="The shard it was meant to protect is a single point of failure; reads from it are stale.",
    fix="Point it at the shard's current primary: `CLUSTER REPLICATE <primary-id>` on the replica.",
    heal="Yes (replicas phase): re-pointed to the primary with the fewest replicas once its old primary owns no slots.",
    run=run,
)
