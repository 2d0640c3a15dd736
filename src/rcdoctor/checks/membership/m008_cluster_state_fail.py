from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    failing = [s for s in ctx.viewers if s.cluster_state is not None and s.cluster_state != "ok"]
    if not failing:
        return
    subjects: set[str] = set()
    evidence = []
    for sample in failing:
        info = sample.cluster_info
        for entry in sample.view.value:
            if entry.is_primary and (entry.failed or entry.suspected):
                subjects.add(entry.id)
        evidence.append(
            f"{sample.address}: cluster_state:{sample.cluster_state} "
            f"slots_assigned:{info.get('cluster_slots_assigned')} "
            f"slots_pfail:{info.get('cluster_slots_pfail')} slots_fail:{info.get('cluster_slots_fail')}"
        )
    total = len(ctx.viewers)
    who = f"all {total} nodes" if len(failing) == total else f"{len(failing)} of {total} nodes"
    yield Issue(
        title=f"{who} report cluster_state:fail: they refuse commands (CLUSTERDOWN)",
        nodes=tuple(ctx.sample_ref(s) for s in failing),
        evidence=tuple(evidence),
        subjects=frozenset(subjects) | {s.node_id for s in failing if s.node_id},
    )


CHECK = Check(
    code="M008",
    name="cluster-state-fail",
    family="membership",
    severity="critical",
    summary="Nodes report cluster_state:fail and refuse queries.",
    explanation=(
        "A node sets cluster_state:fail when some slot has no working owner in its view (with "
        "cluster-require-full-coverage yes), or when it cannot reach a majority of the primaries (it is on the "
        "minority side of a partition). The logs show `Cluster state changed: fail`. It is the symptom "
        "clients see; rcdoctor folds it under the cause it finds (stale addresses, failed primaries, uncovered "
        "slots, a partition)."
    ),
    evidence="cluster_state and cluster_slots_* in each answering node's CLUSTER INFO; failing primaries in its view.",
    why="A node in fail state answers CLUSTERDOWN to every command (reads too, unless cluster-allow-reads-when-down).",
    fix="Fix the cause listed with it. The state returns to ok by itself once every slot has a working owner.",
    heal="Through its cause only.",
    run=run,
)
