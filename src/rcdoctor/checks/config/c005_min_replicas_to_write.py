from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.info import as_int
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    unguarded = []
    for node_id in ctx.slot_primaries:
        wanted = ctx.config_int(node_id, "min-replicas-to-write")
        if wanted is None:
            continue
        if wanted == 0:
            unguarded.append(node_id)
            continue
        good = as_int(ctx.info(node_id, "replication").get("min_slaves_good_slaves"))
        connected = as_int(ctx.info(node_id, "replication").get("connected_slaves")) or 0
        have = good if good is not None else connected
        if have < wanted:
            yield Issue(
                title=(
                    f"primary {ctx.name(node_id)} refuses writes: min-replicas-to-write {wanted}, "
                    f"{have} good replica(s)"
                ),
                nodes=(ctx.ref(node_id),),
                evidence=(
                    f"min-replicas-to-write {wanted}, "
                    f"min-replicas-max-lag {ctx.config(node_id, 'min-replicas-max-lag')}",
                    f"INFO replication: connected_slaves {connected}, good replicas {have}",
                    "writes get NOREPLICAS errors",
                ),
                severity="critical",
            )
    if unguarded and len(unguarded) == len(ctx.slot_primaries):
        yield Issue(
            title=(
                "min-replicas-to-write is 0: a primary cut off from the cluster keeps accepting writes "
                "until node-timeout"
            ),
            nodes=ctx.refs(unguarded),
            evidence=(
                f"on all {len(unguarded)} slot-owning primaries",
                f"those writes (up to node-timeout, {ctx.node_timeout_ms} ms, of them) are lost when it rejoins",
            ),
            severity="info",
        )


CHECK = Check(
    code="C005",
    name="min-replicas-to-write",
    family="config",
    severity="critical",
    summary=(
        "A primary refuses writes for lack of good replicas (critical), or no primary limits split-brain writes (info)."
    ),
    explanation=(
        "With min-replicas-to-write N a primary accepts writes only while N replicas have ACKed within "
        "min-replicas-max-lag seconds. That bounds how long a primary isolated from its replicas keeps taking "
        "writes that a failover will discard; the price is that losing replicas stops writes."
    ),
    evidence="CONFIG GET min-replicas-* and INFO replication (connected/good replicas) on each primary.",
    why="Either writes are refused now, or a partition's minority primary can accept writes that are then lost.",
    fix=(
        "Refusing writes: bring replicas back or lower the setting (`CONFIG SET min-replicas-to-write 0`). "
        "To bound split-brain loss: `CONFIG SET min-replicas-to-write 1` and `min-replicas-max-lag 10` on "
        "primaries that have replicas."
    ),
    heal="No: a policy choice.",
    run=run,
)
