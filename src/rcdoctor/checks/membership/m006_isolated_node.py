from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, slots_text
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    if len(ctx.viewers) < 2:
        return
    for sample in ctx.viewers:
        if sample.node_id is None or len(sample.view.value) != 1:
            continue
        mine = sample.myself
        claimed = {s for r in mine.slots for s in range(r.start, r.end + 1)} if mine is not None else set()
        # Who it used to be: an id the others list at its address, or (once a PONG from the new id made
        # them drop that address) a noaddr primary owning slots it now claims.
        old_ids = sorted(
            i
            for i, items in ctx.listings.items()
            if i != sample.node_id
            and any(
                e.address == sample.address
                or ("noaddr" in e.flags and any(s in claimed for r in e.slots for s in range(r.start, r.end + 1)))
                for _, e in items
            )
        )
        evidence = [f"{sample.address} answers as {sample.node_id[:8]} and knows only itself (cluster_known_nodes:1)"]
        if old_ids:
            for old in old_ids:
                flags = sorted({f for _, e in ctx.listings[old] for f in e.flags & {"fail", "fail?"}})
                evidence.append(
                    f"{plural(len(ctx.listings[old]), 'peer')} list {old[:8]} at "
                    f"{ctx.listings[old][0][1].address}" + (f" ({', '.join(flags)})" if flags else "")
                )
        if mine is not None and mine.slots:
            evidence.append(
                f"it claims {slots_text(mine.slots)} with configEpoch {mine.config_epoch} and holds "
                f"{sample.keys if sample.keys is not None else '?'} keys: a careless CLUSTER MEET makes it lose "
                "those claims to the cluster and delete the keys"
            )
        title = (
            f"{sample.address} lost its nodes.conf: it restarted as a new node that knows only itself"
            if old_ids
            else f"{sample.address} knows only itself: it is not part of the cluster"
        )
        yield Issue(
            title=title,
            nodes=ctx.refs([sample.node_id, *old_ids]),
            evidence=tuple(evidence),
            severity="critical" if old_ids or (mine is not None and mine.slots) else "warning",
        )


CHECK = Check(
    code="M006",
    name="isolated-node",
    family="membership",
    severity="critical",
    summary="A node knows only itself while the others still list its address under its old id.",
    explanation=(
        "A node whose nodes.conf was lost (an emptyDir instead of a PVC, a wiped data directory) starts with "
        "a new random id and a table with only itself. If it kept its data (AOF/RDB) it claims the slots it "
        "has keys for, with configEpoch 0. Its peers still list the old id at the same address, flag it fail "
        "and fail it over. It answers clients for its own slots with possibly stale data: a split brain of one."
    ),
    evidence="CLUSTER NODES of the node (one line) and the ids its peers list at its address.",
    why=(
        "Rejoining it with a plain CLUSTER MEET makes the cluster's higher epochs win: it drops its claims and "
        "deletes its keys in those slots. Any writes it accepted meanwhile are lost."
    ),
    fix=(
        "1. Compare its keys with the shard's current primary (DBSIZE, SCAN) and save any it alone has "
        "(MIGRATE ... COPY, or a dump). 2. On it: `CLUSTER RESET HARD` (only once its keys are safe "
        "elsewhere), then from a cluster node `CLUSTER MEET <ip> <port>` and on it `CLUSTER REPLICATE "
        "<primary-id>`. 3. On every node: `CLUSTER FORGET <old-id>`. Keep nodes.conf on a persistent volume."
    ),
    heal=(
        "Yes (rejoin phase): a former primary takes its old id's slots back with its keys (higher config "
        "epoch, MEET, FORGET the old id); a stale copy of slots a live primary serves is merged into it "
        "(keys only it holds restored there, differing ones kept in a salvage file) before it is emptied "
        "and replicates (differing values need --allow-discard-replica-copy); an empty replacement becomes "
        "a replica. Every node alone: --rebuild-from-keys."
    ),
    run=run,
    explains=(
        "A001",
        "M003",
        "M001",
        "M002",
        "M004",
        "M005",
        "M008",
        "M009",
        "S001",
        "S002",
        "S005",
        "E002",
        "E003",
        "E004",
        "R001",
        "R002",
        "R004",
        "R005",
        "A006",
    ),
)
