from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    # Every primary that claims slots (its own line, else its peers'), not only the consensus owners:
    # a collision matters most between claimants that do not agree.
    by_epoch: dict[int, list[str]] = {}
    for node_id in ctx.ids:
        entry = ctx.entry(node_id)
        if entry is not None and entry.is_primary and entry.slots:
            by_epoch.setdefault(entry.config_epoch, []).append(node_id)
    for epoch, ids in sorted(by_epoch.items()):
        if len(ids) < 2:
            continue
        yield Issue(
            title=f"{len(ids)} primaries share configEpoch {epoch}: {ctx.names(ids, 4)}",
            nodes=ctx.refs(ids),
            evidence=(
                f"configEpoch {epoch} on {ctx.names(ids)} (their own CLUSTER NODES lines, else their peers')",
                "nodes that see each other resolve this within a ping; a collision that stays means they do not",
            ),
        )


CHECK = Check(
    code="E001",
    name="config-epoch-collision",
    family="epochs",
    severity="warning",
    summary="Two slot-owning primaries have the same configEpoch.",
    explanation=(
        "configEpoch versions a primary's slot claims: when two claims conflict, the higher epoch wins. Each "
        "slot-owning primary must have a unique one. Redis resolves a collision by itself (the node with the "
        "smaller id takes a new epoch) as soon as the two exchange a ping; one that persists means the two do "
        "not talk (partition, separate clusters) or it was just created (CLUSTER ADDSLOTS without "
        "SET-CONFIG-EPOCH)."
    ),
    evidence="The configEpoch field of each slot-owning primary's CLUSTER NODES line.",
    why="With equal epochs the winner of a conflicting claim is arbitrary: slots can flip owners.",
    fix="Restore connectivity between them; or run `CLUSTER BUMPEPOCH` on one of them.",
    heal="Planned: heal bumps the epoch of one of the two.",
    run=run,
)
