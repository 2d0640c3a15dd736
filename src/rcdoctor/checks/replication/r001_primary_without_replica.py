from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import slots_text
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.slot_primaries:
        replicas = ctx.replicas_of.get(node_id, ())
        working = [r for r in replicas if not ctx.is_down(r)]
        if working:
            continue
        entry = ctx.entry(node_id)
        owned = ctx.owned_slots(node_id) or (entry.slots if entry is not None else ())
        detail = (
            "it has no replica" if not replicas else f"its {len(replicas)} replica(s) are down: {ctx.names(replicas)}"
        )
        yield Issue(
            title=f"primary {ctx.name(node_id)} has no working replica",
            nodes=ctx.refs([node_id, *replicas]),
            evidence=(f"{detail}; it owns {slots_text(owned)}", "if it fails, those slots stay down until it returns"),
            # Explained by what took its replicas down. With none listed, by a cause about the primary
            # itself (pods moved: the one view rcdoctor has may not list its replica yet); a primary that
            # never had one and nothing wrong with it stays a root cause.
            subjects=frozenset(replicas) if replicas else frozenset({node_id}),
        )


CHECK = Check(
    code="R001",
    name="primary-without-replica",
    family="replication",
    severity="warning",
    summary="A slot-owning primary has no working replica: no failover is possible for its slots.",
    explanation=(
        "Failover promotes a replica of the failed primary. Without one (none configured, all down, or all "
        "migrated away by replica migration) the primary is a single point of failure for its slots."
    ),
    evidence="Replica entries (`slave <primary-id>`) in the views and their failure state.",
    why="One pod restart or node loss makes its slots (and with full coverage the whole cluster) unavailable.",
    fix=(
        "Add a replica: start an empty node, `CLUSTER MEET <ip> <port>` from a cluster node, then on the new "
        "node `CLUSTER REPLICATE <primary-id>` (or `redis-cli --cluster add-node NEW EXISTING --cluster-slave "
        "--cluster-master-id <id>`)."
    ),
    heal="Planned: heal can attach a spare empty node as its replica.",
    run=run,
)
