from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.slot_primaries:
        domain = ctx.domain(node_id)
        replicas = ctx.replicas_of.get(node_id, ())
        if not replicas or domain is None:
            continue
        together = [r for r in replicas if ctx.domain(r) == domain]
        if not together:
            continue
        alone = len(together) == len(replicas)
        yield Issue(
            title=(
                f"primary {ctx.name(node_id)} and {'all its replicas' if alone else 'a replica'} "
                f"share failure domain {domain}"
            ),
            nodes=ctx.refs([node_id, *together]),
            evidence=(
                f"domain {domain}: {ctx.names([node_id, *together])}",
                "losing that host/node takes the shard down with no replica left to fail over"
                if alone
                else "losing that host/node removes the primary and one of its copies at once",
            ),
            severity="warning",
        )


CHECK = Check(
    code="Q002",
    name="primary-replica-same-domain",
    family="placement",
    severity="warning",
    summary="A primary and its replica run in the same failure domain (host, Kubernetes node, zone).",
    explanation=(
        "Failure domains come from `--domains FILE` (a JSON object mapping an address or IP to a label, e.g. "
        "the Kubernetes node of each pod: `kubectl get pods -o wide`), else each IP is its own domain. A "
        "replica on the same host as its primary dies with it."
    ),
    evidence="The failure domain of every primary and of its replicas.",
    why="A single host failure then takes a whole shard down: no failover candidate survives.",
    fix=(
        "Spread shards: pod anti-affinity by hostname/zone for the StatefulSet, then move replicas: "
        "`CLUSTER REPLICATE <other-primary-id>` on replicas so that each shard spans domains."
    ),
    heal="No: placement is scheduling; rcdoctor checks it.",
    run=run,
)
