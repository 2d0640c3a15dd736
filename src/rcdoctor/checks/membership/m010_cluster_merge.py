"""M010: a node of another cluster met into this one (a reused pod IP plus a stray CLUSTER MEET).

Measured on real servers (Redis 7.0 and 6.2, a 3+3 cluster meeting a 1+0 or 3+0 one holding keys): the
two slot maps settle by configEpoch within about 0.6-1.5 s at cluster-node-timeout 2000 and 0.6-6 s at the
default 15000 (a one-node foreign cluster is absorbed fastest), and the losers full-resync as replicas of
the winners, their keys wiped. Afterwards a single snapshot looks healthy, so the check can only report the
merge while it is visible. What stays visible longest, on both versions, are primaries that each claim
the same slots in their own views although neither was ever the other's replica: two unrelated
histories, while the views still list different members (the newcomers spreading by gossip). A
failover's stale primary, by contrast, still lists the replica that replaced it as its own replica, and a
slot assigned twice inside one settled cluster has every view listing the same members: both stay E002.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.slots import to_ranges
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import HANDSHAKE, ClusterView, joined, slot_array


@dataclass(frozen=True)
class Clash:
    """Two primaries claiming the same slots, with no replication link between them in either view."""

    claimant: str  # claims `slots` in its own view
    rival: str  # claims them in its own view, or is their owner in most views
    slots: tuple[int, ...]


def _claims(sample: NodeSample) -> set[int]:
    mine = sample.myself
    if mine is None or not mine.is_primary:
        return set()
    return {s for r in mine.slots for s in range(r.start, r.end + 1)}


def _open(entry: ClusterNode | None) -> set[int]:
    # A slot being migrated is claimed twice for a moment by design (SETSLOT NODE reaches the target first).
    if entry is None:
        return set()
    return {slot for slot, _ in (*entry.migrating, *entry.importing)}


def _lookup(sample: NodeSample | None, node_id: str) -> ClusterNode | None:
    if sample is None:
        return None
    return next((e for e in sample.view.value if e.id == node_id), None)


def _own_epoch(ctx: ClusterView, node_id: str) -> int | None:
    sample = ctx.own.get(node_id)
    mine = sample.myself if sample is not None else None
    return mine.config_epoch if mine is not None else _epoch(ctx, node_id)


def _related(ctx: ClusterView, a: str, b: str) -> bool:
    """The newer claimant (higher configEpoch in its own view) was the older one's replica in some answering
    view: a failover or a split-brain, one history (the stale primary still lists its old replica as its
    own). The other way round, the older listed as the newer one's replica, is how a merge *ends*: the
    loser turns replica of the winner, and a snapshot read while that spreads shows it in some views while
    the loser's own view still claims the slots (seen on Valkey 8.1 under load). With equal epochs either
    direction counts."""
    epoch_a, epoch_b = _own_epoch(ctx, a), _own_epoch(ctx, b)
    # (replica, primary) pairs that prove one history: the newer was the older's replica
    if epoch_a is not None and epoch_b is not None and epoch_a != epoch_b:
        older, newer = (a, b) if epoch_a < epoch_b else (b, a)
        links: tuple[tuple[str, str], ...] = ((newer, older),)
    else:
        links = ((a, b), (b, a))
    samples = [ctx.own.get(a), ctx.own.get(b), *(s for n in (a, b) for s, _ in ctx.listings.get(n, ()))]
    for replica, primary in links:
        for sample in samples:
            entry = _lookup(sample, replica)
            if entry is not None and entry.primary_id == primary:
                return True
    return False


def _knows(ctx: ClusterView, viewer_id: str, other: str) -> bool:
    entry = _lookup(ctx.own.get(viewer_id), other)
    return entry is not None and not entry.flags & HANDSHAKE


def _groups(ctx: ClusterView) -> dict[str, str]:
    """node id -> the first id of its group: nodes joined by an answering view that lists one from the
    other (handshakes left out), directly or through other nodes. A node nobody links is in no group.

    Read per group of agreeing views (see view_index): each of its viewers lists the same nodes, so the
    viewers and the nodes they list are one set, unless all they list is the viewer itself."""
    together: list[set[str]] = []
    for view_group in ctx.index.groups:
        listed = {e.id for e in view_group.entries if not e.flags & HANDSHAKE}
        for sample in view_group.viewers:
            if sample.node_id and listed - {sample.node_id}:
                together.append(listed | {sample.node_id})
                if len(view_group.viewers) > 1:
                    together.append({s.node_id for s in view_group.viewers if s.node_id} | listed)
                    break
    group: dict[str, str] = {}
    for members in joined({i for m in together for i in m}, together):
        first = min(members)
        group.update(dict.fromkeys(members, first))
    return group


def clashes(ctx: ClusterView) -> list[Clash]:
    """Unrelated primaries that claim the same slots while their clusters have met: some view links the
    two, directly or through other members. Right after the MEET the two claimants often do not list
    each other yet (gossip is still spreading the newcomers: seen on Valkey 8.1, where a 3+3 cluster
    meeting a 3+0 one had a pair of claimants that neither knew the other while their peers knew both);
    the higher configEpoch still wins as soon as they meet.

    Two clusters that never met (M007) are not linked by any view and are left out."""
    claims = {s.node_id: _claims(s) for s in ctx.viewers if s.node_id}
    claims = {i: c for i, c in claims.items() if c}
    order = {i: n for n, i in enumerate(claims)}
    claimed_by: dict[int, list[str]] = {}  # slot -> who claims it: only overlapping claims are compared
    for claimant, slots in claims.items():
        for slot in slots:
            claimed_by.setdefault(slot, []).append(claimant)
    majority = slot_array(ctx.consensus)
    found: dict[tuple[str, str], set[int]] = {}
    groups: dict[str, str] | None = None
    for claimant, slots in claims.items():
        mine = ctx.own[claimant].myself
        rivals: dict[str, set[int]] = {}
        overlapping = {o for slot in slots for o in claimed_by[slot] if o != claimant}
        for other in sorted(overlapping, key=order.__getitem__):
            rivals[other] = slots & claims[other]
        for slot in slots:
            owner = majority[slot]
            if owner is not None and owner != claimant and owner not in claims:
                rivals.setdefault(owner, set()).add(slot)  # the rival does not answer: most views speak for it
        for rival, shared in rivals.items():
            shared -= _open(mine) | _open(ctx.entry(rival))
            key = (min(claimant, rival), max(claimant, rival))
            if not shared or key in found:
                continue
            if groups is None:
                groups = _groups(ctx)  # only when two claims meet: it reads every group of views
            if groups.get(claimant) is None or groups.get(claimant) != groups.get(rival):
                continue
            if _related(ctx, claimant, rival):
                continue
            found[key] = shared
    return [Clash(a, b, tuple(sorted(s))) for (a, b), s in sorted(found.items())]


def _own_peers(ctx: ClusterView, node_id: str, others: set[str]) -> list[str]:
    """Members in `node_id`'s view that no view on the other side lists: the peers it brought along."""
    sample = ctx.own.get(node_id)
    if sample is None:
        return []
    known_elsewhere = {
        e.id for i in others if (s := ctx.own.get(i)) is not None for e in s.view.value if not e.flags & HANDSHAKE
    }
    return [e.id for e in sample.view.value if not e.flags & HANDSHAKE and e.id not in known_elsewhere]


def _keys_in(sample: NodeSample | None, slots: set[int]) -> int:
    if sample is None:
        return 0
    counts = {**sample.sampled_slots(), **sample.keys_in_slot()}  # exact counts where the collector made them
    return sum(n for slot, n in counts.items() if slot in slots)


def _epoch(ctx: ClusterView, node_id: str) -> int | None:
    entry = ctx.entry(node_id)
    return entry.config_epoch if entry is not None else None


def member_lists(ctx: ClusterView) -> int:
    """How many different member lists the answering nodes' views hold (handshakes left out)."""
    # One list per group of agreeing views (see view_index): its viewers all list the same members.
    return len({frozenset(e.id for e in g.entries if not e.flags & HANDSHAKE) for g in ctx.index.groups})


def run(ctx: ClusterView) -> Iterator[Issue]:
    found = clashes(ctx)
    # A merge brings members the cluster did not have: until gossip has spread them, the views list
    # different members (seen in every merge measured). Two primaries of one settled cluster claiming
    # the same slots (a slot assigned twice by hand) is E002 alone.
    lists = member_lists(ctx)
    if not found or lists < 2:
        return
    evidence: list[str] = []
    peers_seen: list[str] = []
    for clash in found:
        a, b = clash.claimant, clash.rival
        slots = set(clash.slots)
        ranges = to_ranges(clash.slots)
        shown = ", ".join(str(r) for r in ranges[:6]) + (" …" if len(ranges) > 6 else "")
        evidence.append(
            f"{ctx.name(a)} (configEpoch {_epoch(ctx, a)}) and {ctx.name(b)} (configEpoch {_epoch(ctx, b)}) "
            f"both claim {plural(len(slots), 'slot')} ({shown}); neither lists the other as its replica or "
            "primary in any view"
        )
        for node_id in (a, b):
            keys = _keys_in(ctx.own.get(node_id), slots)
            if keys:
                evidence.append(
                    f"{ctx.name(node_id)} holds at least {plural(keys, 'key')} (sampled) in those slots: deleted "
                    "if it loses them (the higher configEpoch wins; of equal ones, the lower node id takes a "
                    "new, higher epoch)"
                )
        for node_id, other in ((a, b), (b, a)):
            side = {other, *(i for i in ctx.answers_at if _knows(ctx, other, i) and not _knows(ctx, node_id, i))}
            peers = [p for p in _own_peers(ctx, node_id, side) if p != node_id]
            if peers:
                evidence.append(
                    f"{ctx.name(node_id)} knows {plural(len(peers), 'node')} that {ctx.name(other)}'s side does "
                    f"not (its own cluster): {ctx.names(peers, 4)}"
                )
                peers_seen.extend(peers)
    epochs: dict[int, list[str]] = {}
    for node_id in ctx.answers_at:
        entry = ctx.own[node_id].myself
        if entry is not None and entry.is_primary and entry.slots:
            epochs.setdefault(entry.config_epoch, []).append(node_id)
    for epoch, holders in sorted(epochs.items()):
        if len(holders) > 1:
            evidence.append(
                f"configEpoch {epoch} is held by {ctx.names(holders, 4)}: clusters created the same way "
                "(epochs 1..N) collide when merged"
            )
    evidence.append(
        f"the answering nodes' views list {lists} different sets of members: new members are still spreading"
    )
    evidence.append(
        "visible for seconds only (measured on Redis 7.0 and 6.2: 0.6-6 s after the MEET); once the slot maps "
        "settle the losers are replicas that resynced, and nothing in one snapshot shows what was lost"
    )
    claimants = list(dict.fromkeys(i for c in found for i in (c.claimant, c.rival)))
    yield Issue(
        title=(
            f"possible cluster merge: primaries of unrelated histories claim the same slots ({ctx.names(claimants, 4)})"
        ),
        nodes=ctx.refs([*claimants, *peers_seen]),  # the claimants first: they are what to look at
        evidence=tuple(evidence),
        basis="inferred",
        confirm=(
            "the servers' logs: 'configEpoch collision' / 'Configuration change detected' / 'MASTER <-> REPLICA "
            "sync' lines right after a MEET of an address the cluster never had; CLUSTER INFO "
            "cluster_stats_messages_meet_received rising on the foreign node; keys of the other cluster "
            "(`rcdoctor split-brain diff`) on one side"
        ),
    )


CHECK = Check(
    code="M010",
    name="cluster-merge",
    family="membership",
    severity="critical",
    summary="A node of another cluster was met into this one: two slot maps are merging and one side's keys are "
    "being deleted.",
    explanation=(
        "A CLUSTER MEET to a node of another cluster (a pod IP reused by a pod of a second cluster, an init "
        "script or operator meeting whatever answers) merges the two clusters: every slot claimed by both "
        "goes to the higher configEpoch, and a losing primary deletes its keys in those slots or becomes a "
        "replica of the winner and full-resyncs, its data wiped. Measured on Redis 7.0 and 6.2 this settles "
        "0.6-6 s after the MEET (sooner with a short cluster-node-timeout), after which the cluster looks "
        "healthy. rcdoctor reports it while it is visible, from three signals that all hold in every merge "
        "measured: two primaries claim the same slots in their own views and their clusters have met (a view "
        "links the two, directly or through other members: right after the MEET the claimants themselves may "
        "not list each other yet); neither lists the "
        "other as its replica or primary in any view (a failover's stale primary still lists the replica "
        "that replaced it: that split-brain is E002); and the views do not yet list the same members (the "
        "newcomers are still spreading; two primaries of one settled cluster claiming a slot twice stay "
        "E002). As support it names the nodes each side knows that the other does not, the keys each holds "
        "in the contested slots, and equal configEpochs. An empty node joining (add-node) claims nothing "
        "and brings nothing: it never fires this. M007 is the "
        "case before any MEET: separate clusters that do not know each other."
    ),
    evidence=(
        "Each answering primary's own CLUSTER NODES claims and every view's primary/replica links, the "
        "consensus slot map, the peers each view lists, configEpochs, and the sampled key slots."
    ),
    why=(
        "Acknowledged writes of the losing cluster are deleted within seconds, and the surviving cluster now "
        "serves another application's data (or the other application writes into this one)."
    ),
    fix=(
        "Now: stop whatever sends the MEETs (init script, operator, a person). Save the losing side's data "
        "before it is flushed: `rcdoctor split-brain diff ADDR… -o DIR` while both claimants answer, or DUMP "
        "its keys (`redis-cli -h <node> --rdb <file>`) before it resyncs. Then `CLUSTER FORGET <id>` every "
        "foreign node id on every node of this cluster within 60 s (FORGET bans an id for 60 s; a node that "
        "still knows it gossips it back). Once the foreign nodes' keys are safe, `CLUSTER RESET HARD` on each "
        "and rebuild their own cluster. Restore this cluster's lost keys from the saved data (`rcdoctor "
        "split-brain restore`)."
    ),
    heal="No: heal never acts on a suspected merge; which data is whose and what to forget is a human decision.",
    run=run,
    explains=("E001", "E002", "E003", "E004", "M003", "M004", "M005", "M008", "M009", "S001", "S003", "S005", "R004"),
    basis="inferred",
)
