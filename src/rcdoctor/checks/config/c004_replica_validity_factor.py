from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    zero = [i for i in ctx.answers_at if ctx.config_int(i, "cluster-replica-validity-factor") == 0]
    if zero:
        yield Issue(
            title=(
                f"cluster-replica-validity-factor is 0 on {len(zero)} node(s): replicas with any data age "
                "may be promoted"
            ),
            nodes=ctx.refs(zero),
            evidence=tuple(f"{ctx.name(i)}: cluster-replica-validity-factor 0" for i in zero),
        )


CHECK = Check(
    code="C004",
    name="replica-validity-factor",
    family="config",
    severity="warning",
    summary="cluster-replica-validity-factor is 0: a replica disconnected for hours can still be promoted.",
    explanation=(
        "A replica refuses to fail over when its link to the primary has been down longer than node-timeout x "
        "validity-factor (default 10). With 0 it always tries, favouring availability: a long-disconnected "
        "replica can become primary and the writes it missed are gone."
    ),
    evidence="CONFIG GET cluster-replica-validity-factor on every node.",
    why="Availability bought with silent data loss on failover.",
    fix="`CONFIG SET cluster-replica-validity-factor 10` on every node, unless availability matters more than data.",
    heal="No: a policy choice.",
    run=run,
)
