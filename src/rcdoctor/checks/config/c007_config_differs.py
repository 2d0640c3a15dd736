from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView

# Settings that must agree across a cluster for failure handling and failover to behave the same everywhere.
SHARED = (
    "cluster-node-timeout",
    "cluster-require-full-coverage",
    "cluster-replica-validity-factor",
    "cluster-allow-reads-when-down",
    "cluster-allow-replica-migration",
    "cluster-migration-barrier",
    "cluster-preferred-endpoint-type",
    "cluster-allow-pubsubshard-when-down",
    "appendonly",
    "appendfsync",
    "maxmemory",
    "maxmemory-policy",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "tls-cluster",
)


def run(ctx: ClusterView) -> Iterator[Issue]:
    ids = list(ctx.answers_at)
    differing = []
    odd_nodes: set[str] = set()
    for key in SHARED:
        values = {i: v for i in ids if (v := ctx.config(i, key)) is not None}
        counts = Counter(values.values())
        if len(counts) < 2:
            continue
        usual = counts.most_common(1)[0][0]
        odd = [i for i, v in values.items() if v != usual]
        odd_nodes.update(odd)
        differing.append(
            f"{key}: {usual!r} on {counts[usual]} node(s); "
            + "; ".join(f"{values[i]!r} on {ctx.name(i)}" for i in odd[:6])
        )
    # "Valkey 8.1.8", not the bare version: mid-migration from Redis to Valkey both can read 7.2.4.
    versions = Counter(str(s.identity) for s in ctx.viewers if s.identity)
    if differing:
        evidence = differing + ([f"server versions: {dict(versions)}"] if len(versions) > 1 else [])
        yield Issue(
            title=f"{len(differing)} cluster setting(s) differ between nodes",
            nodes=ctx.refs(sorted(odd_nodes)),
            evidence=tuple(evidence),
        )


CHECK = Check(
    code="C007",
    name="config-differs",
    family="config",
    severity="warning",
    summary="Settings that should be the same on every node differ between nodes.",
    explanation=(
        "Failure detection, failover and coverage behave per node: a node with a different node-timeout, "
        "validity factor or full-coverage setting reacts differently to the same event. Usually a CONFIG SET "
        "run on some nodes only, or a config file change that some pods have not restarted with."
    ),
    evidence=f"CONFIG GET of {', '.join(SHARED)} on every node.",
    why="Different nodes reach different conclusions about the same failure; behaviour changes after a failover.",
    fix="Apply the intended value on every node (`CONFIG SET` + `CONFIG REWRITE`) and in the manifest.",
    heal="No: rcdoctor does not guess the intended value.",
    run=run,
)
