from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    strict = [i for i in ctx.answers_at if ctx.config(i, "cluster-require-full-coverage") == "yes"]
    if not strict:
        return
    yield Issue(
        title=f"cluster-require-full-coverage is yes on {len(strict)} node(s): one shard down stops every shard",
        nodes=ctx.refs(strict),
        evidence=(
            "with yes (the default) a node refuses all commands as soon as one slot has no working owner",
            "with no, only the keys of the uncovered slots fail",
        ),
    )


CHECK = Check(
    code="C001",
    name="full-coverage-required",
    family="config",
    severity="info",
    summary="cluster-require-full-coverage yes: losing one shard makes the whole cluster refuse commands.",
    explanation=(
        "The default. It favours consistency of multi-shard operations over availability: an application that "
        "can live with some keys failing for a while should set it to no."
    ),
    evidence="CONFIG GET cluster-require-full-coverage on every node.",
    why="It turns a one-shard outage into a full outage (`Cluster state changed: fail` on every node).",
    fix=(
        "If partial availability is acceptable: `CONFIG SET cluster-require-full-coverage no` on every node "
        "and in the config."
    ),
    heal="No: a policy choice.",
    run=run,
)
