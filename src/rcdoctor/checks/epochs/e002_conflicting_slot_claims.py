from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.slots import SLOT_COUNT, to_ranges
from rcdoctor.model.view import ClusterView, slot_array


def run(ctx: ClusterView) -> Iterator[Issue]:
    claims: dict[str, set[int]] = {}
    epochs: dict[str, int] = {}
    for sample in ctx.viewers:
        mine = sample.myself
        if sample.node_id and mine is not None and mine.is_primary and mine.slots:
            claims[sample.node_id] = {s for r in mine.slots for s in range(r.start, r.end + 1)}
            epochs[sample.node_id] = mine.config_epoch
    claimed_by: list[list[str]] = [[] for _ in range(SLOT_COUNT)]
    for node_id, slots in claims.items():
        for slot in slots:
            claimed_by[slot].append(node_id)
    pairs: dict[tuple[str, ...], list[int]] = {}
    for slot, claimants in enumerate(claimed_by):
        if len(claimants) > 1:
            pairs.setdefault(tuple(sorted(claimants)), []).append(slot)
    majority = slot_array(ctx.consensus)
    for who, contested in pairs.items():
        ranges = to_ranges(contested)
        winner = max(who, key=lambda i: (epochs[i], i))
        seen = majority[contested[0]]
        evidence = [
            f"{ctx.name(i)} claims {', '.join(str(r) for r in ranges[:6])} in its own view, configEpoch {epochs[i]}"
            for i in who
        ]
        evidence.append(f"most nodes give slot {contested[0]} to {ctx.name(seen) if seen else 'nobody'}")
        evidence.append(
            f"when they meet, the higher configEpoch ({ctx.name(winner)}) wins; the others drop the claim and "
            "delete their keys in those slots"
        )
        yield Issue(
            title=f"{len(who)} primaries each claim {len(contested)} slot(s) ({ranges[0]}…): {ctx.names(who, 3)}",
            nodes=ctx.refs(who),
            evidence=tuple(evidence),
        )


CHECK = Check(
    code="E002",
    name="conflicting-slot-claims",
    family="epochs",
    severity="critical",
    summary="Two primaries each claim the same slots in their own views: both may accept writes for them.",
    explanation=(
        "A primary serves the slots its own view gives it. Two primaries that both believe they own a slot "
        "both accept writes for its keys from the clients that reach them: the split-brain of the seed "
        "documents. It appears after a partition in which the majority failed over a primary that kept "
        "running on the minority side, or when a node that lost its nodes.conf re-claims its slots. When the "
        "two meet again, the higher configEpoch wins and the loser's writes are deleted."
    ),
    evidence="Slots in each answering primary's own (myself) CLUSTER NODES line, and their configEpochs.",
    why="Acknowledged writes on the losing side are silently lost when the views converge.",
    fix=(
        "Stop writes to the losing side (the lower configEpoch) first. Before it rejoins, save the keys it "
        "alone has (compare with the winner; `rcdoctor split-brain diff` is planned). Then let it rejoin as a "
        "replica: `CLUSTER REPLICATE <winner-id>` on it once it sees the cluster."
    ),
    heal=(
        "When one side knows only itself (back without nodes.conf after a failover): yes, the served side "
        "wins and the stale side's keys are merged or kept in a salvage file before it rejoins. Both sides "
        "in the cluster (a partition): no, save the losing side's keys first (split-brain diff)."
    ),
    run=run,
    explains=("S005", "E001"),
)
