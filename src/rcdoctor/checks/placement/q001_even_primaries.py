from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    count = len(ctx.slot_primaries)
    if count < 2 or count % 2:
        return
    tolerated = count - ctx.quorum
    yield Issue(
        title=f"{count} slot-owning primaries: an even number adds no failure tolerance",
        nodes=ctx.refs(ctx.slot_primaries),
        evidence=(
            f"failover needs a majority of {ctx.quorum} of {count} primaries: the cluster survives the loss of "
            f"{tolerated} primary(ies), as {count - 1} primaries would",
            "with 2 primaries, losing either one leaves no majority: no failover at all"
            if count == 2
            else "a partition into two equal halves leaves neither side able to fail over",
        ),
        severity="warning" if count == 2 else "info",
    )


CHECK = Check(
    code="Q001",
    name="even-primaries",
    family="placement",
    severity="info",
    summary="The number of slot-owning primaries is even (a warning with 2: no failover is possible).",
    explanation=(
        "Failure detection and failover elections need a majority of the slot-owning primaries. With 2N "
        "primaries the majority is N+1, so the cluster tolerates N-1 lost primaries, no more than 2N-1 "
        "primaries would; an even split of a partition leaves no side with a majority. The seed document's "
        "remedy is an odd number of shards."
    ),
    evidence="The primaries that own slots in the consensus view.",
    why="Hardware spent for no extra tolerance; with 2 primaries a single failure stops failover.",
    fix="Add (or remove) one shard: `rcdoctor add-node NEW --to ADDR` then `rcdoctor rebalance ADDR "
    "--use-empty-primaries` (or `rcdoctor remove-node ID --from ADDR`).",
    heal="No: topology is a capacity decision.",
    run=run,
)
