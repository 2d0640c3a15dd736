from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import slots_text
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    viewers = ctx.viewers
    for sample in viewers:
        mine = sample.myself
        if mine is None or not mine.is_primary or not mine.slots or sample.cluster_state != "fail":
            continue
        others = [s for s in viewers if s is not sample and s.cluster_state is not None]
        ok = [s for s in others if s.cluster_state == "ok"]
        if not others or len(ok) * 2 <= len(others):
            continue
        reachable = sum(
            1
            for e in sample.view.value
            if e.is_primary and e.slots and not e.is_myself and not (e.failed or e.suspected)
        )
        known = sum(1 for e in sample.view.value if e.is_primary and e.slots and not e.is_myself)
        if known and reachable * 2 > known:
            # It reaches most primaries: not a minority side. Its state is fail for a reason in its own
            # view (a slot nobody owns there, e.g. it was IMPORTING from a node that became a replica),
            # which S001/S004 name.
            continue
        yield Issue(
            title=f"primary {sample.address} is on the minority side: its own state is fail while {len(ok)} of "
            f"{len(others)} other nodes are ok",
            nodes=(ctx.sample_ref(sample),),
            evidence=(
                f"its own view: cluster_state:fail, {reachable} of {known} other slot-owning primaries reachable",
                f"it still claims {slots_text(mine.slots)} (configEpoch {mine.config_epoch})",
                f"it refuses writes now; for about node-timeout ({ctx.node_timeout_ms} ms) after it lost the "
                "majority it accepted writes the majority side never saw",
            ),
        )


CHECK = Check(
    code="E003",
    name="minority-primary",
    family="epochs",
    severity="critical",
    summary="A primary that still claims slots sees cluster_state:fail while the majority is ok.",
    explanation=(
        "A primary cut off from the majority of primaries keeps serving writes until node-timeout passes "
        "without reaching them; then it marks the cluster failed in its own view and refuses writes. Meanwhile "
        "the majority promotes one of its replicas. This is the signature of the minority side of a partition "
        "(or of a node isolated by a lost nodes.conf)."
    ),
    evidence="cluster_state and the reachable primaries in the node's own CLUSTER INFO/NODES; the others' states.",
    why="Writes it acknowledged during the window are lost when it rejoins and becomes a replica of the new primary.",
    fix=(
        "Restore its connectivity (bus port, network policy). Before it rejoins, compare its keys with the new "
        "primary of its slots and save the ones written during the window."
    ),
    heal="No automatic data decision; see E002.",
    run=run,
    explains=("M008",),
)
