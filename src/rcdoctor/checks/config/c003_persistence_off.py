from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    off = [
        i
        for i in ctx.answers_at
        if ctx.config(i, "appendonly") == "no"
        and (ctx.config(i, "save") or "").strip() == ""
        and ctx.config(i, "save") is not None
    ]
    if not off:
        return
    primaries = [i for i in off if i in ctx.slot_primaries]
    yield Issue(
        title=f'persistence is off (appendonly no, save "") on {len(off)} node(s)',
        nodes=ctx.refs(off),
        evidence=(
            f"no AOF and no RDB snapshots on {ctx.names(off)}",
            "a primary that restarts before it is failed over comes back empty, and its replicas resync to "
            "the empty dataset"
            if primaries
            else "a restarted replica resyncs fully from its primary",
        ),
        severity="critical" if primaries else "warning",
    )


CHECK = Check(
    code="C003",
    name="persistence-off",
    family="config",
    severity="warning",
    summary="A node has neither AOF nor RDB persistence: a restart loses its data.",
    explanation=(
        "Without persistence a restarted node has an empty dataset. For a primary that restarts faster than "
        "node-timeout (a pod restart), no failover happens: it comes back empty, still owning its slots, and "
        "its replicas copy the empty dataset. Critical on slot-owning primaries."
    ),
    evidence="CONFIG GET appendonly and save on every node.",
    why="A routine pod restart can wipe a shard, replicas included.",
    fix=(
        "`CONFIG SET appendonly yes` (and `CONFIG REWRITE`), or RDB `save` points; if persistence is off on "
        "purpose (pure cache), make restarts slower than node-timeout so replicas take over first."
    ),
    heal="No: a policy choice.",
    run=run,
)
