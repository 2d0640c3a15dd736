from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView

LOW_MS = 1000
HIGH_MS = 60000


def run(ctx: ClusterView) -> Iterator[Issue]:
    low = [i for i in ctx.answers_at if (v := ctx.config_int(i, "cluster-node-timeout")) is not None and v < LOW_MS]
    high = [i for i in ctx.answers_at if (v := ctx.config_int(i, "cluster-node-timeout")) is not None and v > HIGH_MS]
    if low:
        yield Issue(
            title=f"cluster-node-timeout below {LOW_MS} ms on {len(low)} node(s): failovers on any hiccup",
            nodes=ctx.refs(low),
            evidence=tuple(
                f"{ctx.name(i)}: cluster-node-timeout {ctx.config(i, 'cluster-node-timeout')} ms" for i in low
            ),
        )
    if high:
        yield Issue(
            title=f"cluster-node-timeout above {HIGH_MS} ms on {len(high)} node(s): failover takes minutes",
            nodes=ctx.refs(high),
            evidence=tuple(
                f"{ctx.name(i)}: cluster-node-timeout {ctx.config(i, 'cluster-node-timeout')} ms" for i in high
            ),
        )


def _values(ctx: ClusterView, ids: list[str]) -> tuple[str, ...]:
    return tuple(f"{ctx.name(i)}: cluster-node-timeout {ctx.config(i, 'cluster-node-timeout')} ms" for i in ids)


CHECK = Check(
    code="C002",
    name="node-timeout-extreme",
    family="config",
    severity="warning",
    summary=f"cluster-node-timeout is below {LOW_MS} ms or above {HIGH_MS} ms.",
    explanation=(
        "node-timeout is how long a peer may be silent before it is suspected; a failover follows after about "
        "twice that. Too low and a fork for persistence, a GC pause of the host or a short network blip fails "
        "over healthy primaries; too high and a dead primary's slots stay down for minutes, and a minority "
        "primary accepts doomed writes for that long. The default is 15000."
    ),
    evidence="CONFIG GET cluster-node-timeout on every node.",
    why="It bounds both the outage of a failover and the split-brain write window.",
    fix="`CONFIG SET cluster-node-timeout 5000` (or your chosen value) on every node, and in the config file.",
    heal="No: a policy choice.",
    run=run,
)
