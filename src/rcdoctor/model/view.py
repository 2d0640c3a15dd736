"""ClusterView: one snapshot indexed once, for every check to read (pure, computed lazily, cached).

Nodes are identified by id across views: the same node may answer at one address and be listed by
its peers at another (a pod that came back with a new IP). Consensus values (role, slots, primary)
come from the node's own view when it answered, else from what most of its peers say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.cluster_slots import SlotsEntry
from rcdoctor.model.domains import domain_for
from rcdoctor.model.info import as_int
from rcdoctor.model.journals import LocalJournals
from rcdoctor.model.node_ref import NodeRef
from rcdoctor.model.replication import SyncState, sync_state
from rcdoctor.model.server import ServerIdentity, fails_noaddr_nodes
from rcdoctor.model.slot_migrations import AtomicMove, fold
from rcdoctor.model.slots import SLOT_COUNT, SlotRange, to_ranges
from rcdoctor.model.snapshot import NodeSample, Snapshot
from rcdoctor.model.view_index import Listed, Listings, ViewIndex

GHOST_FLAGS = frozenset({"handshake", "noaddr"})
# A handshake entry carries a random id that disappears when the handshake completes or times out: it
# is not a member. A noaddr entry is a real member whose address was lost, and stays one.
HANDSHAKE = frozenset({"handshake"})
Ownership = tuple[tuple[SlotRange, str], ...]  # (range, owner id), sorted by range


@dataclass(frozen=True)
class AnalysisSettings:
    """Inputs to the analysis beyond the snapshot."""

    # address or host -> failure domain (Kubernetes node, rack, zone); default: the host part of the address
    domains: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    replica_lag_seconds: int = 3  # replicas ACK every second; 3 s without one is lag, not jitter
    replica_lag_bytes: int = 1 << 20
    # rcdoctor's own journals on the machine diagnose runs on (read by the CLI): S004 names the run that
    # left slots open. None: not looked at (the exporter, a library caller), so nothing is claimed.
    journals: LocalJournals | None = None


class ClusterView:
    def __init__(self, snapshot: Snapshot, settings: AnalysisSettings | None = None) -> None:
        self.snapshot = snapshot
        self.settings = settings or AnalysisSettings()
        self._entries: dict[str, ClusterNode | None] = {}

    # Who answered, and as whom

    @cached_property
    def answered(self) -> tuple[NodeSample, ...]:
        return self.snapshot.answered

    @cached_property
    def answers_at(self) -> Mapping[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        for sample in self.answered:
            if sample.node_id:
                found.setdefault(sample.node_id, set()).add(sample.address)
        return {k: frozenset(v) for k, v in found.items()}

    @cached_property
    def index(self) -> ViewIndex:
        """The viewers' views grouped and indexed once (see view_index): what checks read instead of
        walking every line of every view."""
        return ViewIndex(self.viewers)

    @cached_property
    def listings(self) -> Mapping[str, tuple[tuple[NodeSample, ClusterNode], ...]]:
        """node id -> (viewer, entry) for every *other* answering node whose view lists it (N pairs per
        node, made when asked: `listed` has the same grouped by line)."""
        return Listings(self.index)

    @cached_property
    def slots_replies(self) -> tuple[tuple[tuple[SlotsEntry, ...], tuple[NodeSample, ...]], ...]:
        """Each distinct CLUSTER SLOTS reply of the viewers (parsed once: see ParseCache) with the viewers
        that gave it, in viewer order: a settled cluster gives one reply, read once instead of N times."""
        found: dict[int, tuple[tuple[SlotsEntry, ...], list[NodeSample]]] = {}
        for sample in self.viewers:
            parsed = sample.slots
            found.setdefault(id(parsed), (parsed.value, []))[1].append(sample)
        return tuple((entries, tuple(samples)) for entries, samples in found.values())

    def listed(self, node_id: str) -> tuple[Listed, ...]:
        """How the other answering nodes list `node_id`: each distinct line with the views that have it."""
        return self.index.listed.get(node_id, ())

    @cached_property
    def viewers(self) -> tuple[NodeSample, ...]:
        """One sample per answering node id (a node reached at two addresses has one vote)."""
        return tuple(self.own[i] for i in self.answers_at)

    @cached_property
    def own(self) -> Mapping[str, NodeSample]:
        """node id -> the sample where it answered (of several, the one at the address peers use)."""
        result: dict[str, NodeSample] = {}
        by_id: dict[str, list[NodeSample]] = {}
        for sample in self.answered:
            if sample.node_id:
                by_id.setdefault(sample.node_id, []).append(sample)
        # Only a node reached at several addresses needs its peers' lines read (one walk of every view).
        twice = {i for i, samples in by_id.items() if len(samples) > 1}
        peer_addresses: dict[str, set[str]] = {}
        for sample in self.answered if twice else ():
            for entry in sample.view.value:
                if not entry.is_myself and entry.id in twice:
                    peer_addresses.setdefault(entry.id, set()).add(entry.address)
        for node_id, samples in by_id.items():
            used = peer_addresses.get(node_id, set())
            result[node_id] = next((s for s in samples if s.address in used), samples[0])
        return result

    @cached_property
    def ids(self) -> tuple[str, ...]:
        """Every node id known: answering ones first, then the ones only listed (ghosts left out)."""
        listed = [i for i, items in self.index.listed.items() if not all(x.entry.flags & HANDSHAKE for x in items)]
        return tuple(dict.fromkeys([*self.answers_at, *listed]))

    def entry(self, node_id: str) -> ClusterNode | None:
        """The node as the cluster knows it: its own line, else the line most of its peers have."""
        if node_id not in self._entries:
            self._entries[node_id] = self._consensus_entry(node_id)
        return self._entries[node_id]

    def _consensus_entry(self, node_id: str) -> ClusterNode | None:
        sample = self.own.get(node_id)
        if sample is not None and sample.myself is not None:
            return sample.myself
        listed = self.listed(node_id)
        if not listed:
            return None
        votes: Counter[tuple[object, ...]] = Counter()
        for item in listed:  # in the order of each line's first view: ties go to the line seen first
            e = item.entry
            votes[(e.address, e.primary_id, e.slots, e.is_primary)] += len(item.viewers)
        key = votes.most_common(1)[0][0]
        return next(
            x.entry for x in listed if (x.entry.address, x.entry.primary_id, x.entry.slots, x.entry.is_primary) == key
        )

    def address(self, node_id: str) -> str | None:
        return self._addresses.get(node_id)

    @cached_property
    def _addresses(self) -> Mapping[str, str | None]:
        return {i: self._address(i) for i in self.ids}

    def _address(self, node_id: str) -> str | None:
        sample = self.own.get(node_id)
        if sample is not None:
            return sample.address
        listed: Counter[str] = Counter()
        for item in self.listed(node_id):
            if item.entry.endpoint is not None:
                listed[item.entry.address] += len(item.viewers)
        return listed.most_common(1)[0][0] if listed else None  # None: no view has an address for it

    def ref(self, node_id: str) -> NodeRef:
        return NodeRef(node_id, self.address(node_id))

    def refs(self, node_ids: Iterable[str]) -> tuple[NodeRef, ...]:
        return tuple(self.ref(i) for i in dict.fromkeys(node_ids))

    def sample_ref(self, sample: NodeSample) -> NodeRef:
        return NodeRef(sample.node_id, sample.address)

    def name(self, node_id: str) -> str:
        return str(self.ref(node_id))

    def names(self, node_ids: Iterable[str], limit: int = 8) -> str:
        items = [self.name(i) for i in dict.fromkeys(node_ids)]
        more = len(items) - limit
        return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")

    # Roles and shards (consensus)

    def is_primary(self, node_id: str) -> bool:
        entry = self.entry(node_id)
        return entry is not None and entry.is_primary

    @cached_property
    def slot_primaries(self) -> tuple[str, ...]:
        """Primaries that own slots in the slot map most nodes share: the voters of failure detection and
        failover. A node claiming slots no one else gives it (a node that lost its nodes.conf) is not one."""
        owners = {owner for _, owner in self.consensus}
        return tuple(i for i in self.ids if i in owners and (e := self.entry(i)) is not None and e.is_primary)

    @cached_property
    def quorum(self) -> int:
        return len(self.slot_primaries) // 2 + 1

    @cached_property
    def replicas_of(self) -> Mapping[str, tuple[str, ...]]:
        result: dict[str, list[str]] = {}
        for node_id in self.ids:
            entry = self.entry(node_id)
            if entry is not None and entry.is_replica and entry.primary_id:
                result.setdefault(entry.primary_id, []).append(node_id)
        return {k: tuple(v) for k, v in result.items()}

    def reporters(self, node_id: str, flag: str) -> tuple[NodeSample, ...]:
        """The answering nodes whose view gives `node_id` this flag."""
        found = [x.viewers for x in self.listed(node_id) if flag in x.entry.flags]
        if len(found) == 1:
            return found[0]
        return tuple(s for s, e in self.listings.get(node_id, ()) if flag in e.flags) if found else ()

    def primary_reporters(self, node_id: str, flag: str) -> tuple[NodeSample, ...]:
        voters = set(self.slot_primaries)
        return tuple(s for s in self.reporters(node_id, flag) if s.node_id in voters)

    @cached_property
    def unreachable(self) -> frozenset[str]:
        """Ids listed by peers that answered us at no address."""
        return frozenset(i for i in self.ids if i not in self.answers_at)

    # Where nodes are: moved nodes and what rcdoctor cannot see

    @cached_property
    def moved(self) -> Mapping[str, tuple[str, ...]]:
        """Answering node id -> the addresses recorded for it (its own `myself` line, its peers' lines)
        where it does not answer: it came back at a new address (a pod recreated with a new IP).

        An address its own cluster-announce-ip/-port name is left out: that is a setting, not a move (C006)."""
        found: dict[str, tuple[str, ...]] = {}
        for node_id, sample in self.own.items():
            here = self.answers_at[node_id]
            recorded = [x.entry.address for x in self.listed(node_id) if x.entry.endpoint is not None]
            mine = sample.myself
            if mine is not None and mine.endpoint is not None:
                recorded.append(mine.address)
            stale = tuple(dict.fromkeys(a for a in recorded if a not in here and not _announced(sample, a)))
            if stale:
                found[node_id] = stale
        return MappingProxyType(found)

    @cached_property
    def proven_gone(self) -> frozenset[str]:
        """Unreachable ids proven not to be behind any address: a complete Kubernetes inventory was
        given (every pod listed, each with an IP) and every pod answered as some other node."""
        inventories = [src for src in self.snapshot.sources if src.kind == "k8s" and src.complete]
        if not inventories:
            return frozenset()
        answered = {s.address for s in self.answered}
        for src in inventories:
            if not src.addresses or any(a not in answered for a in src.addresses):
                return frozenset()
        return frozenset(self.unreachable)

    def may_be_elsewhere(self, node_id: str) -> bool:
        """A node that answers nowhere rcdoctor dialled may still be alive at an address it was not given:
        when any node is seen to have moved, the others may have moved too (every pod recreated at once).
        Nothing is forgotten, failed over or given away on that guess."""
        return (
            node_id in self.unreachable
            and node_id not in self.proven_gone
            and bool(self.moved)
            and not self._accounted_for
        )

    @cached_property
    def _accounted_for(self) -> bool:
        """Every member that answers nowhere is matched by a node that answers knowing only itself (a pod
        back without nodes.conf gets a new id): as many pods answer as the cluster has members, so none is
        hiding at an address rcdoctor was not given."""
        lone = [s for s in self.viewers if s.myself is not None and len(s.view.value) == 1]
        missing = [i for i in self.unreachable if not all(x.entry.flags & HANDSHAKE for x in self.listed(i))]
        return len(missing) <= len(lone)

    def is_down(self, node_id: str) -> bool:
        """Flagged fail by any view, or fail? by most, or not answering us at all."""
        return node_id in self._down

    @cached_property
    def _down(self) -> frozenset[str]:
        return frozenset(i for i in self.ids if self._judge_down(i))

    def _judge_down(self, node_id: str) -> bool:
        listed = self.listed(node_id)
        failing = sum(len(x.viewers) for x in listed if x.entry.failed or x.entry.suspected)
        views = sum(len(x.viewers) for x in listed)
        return node_id in self.unreachable or any(x.entry.failed for x in listed) or (views > 0 and failing * 2 > views)

    # Slots

    def ownership(self, sample: NodeSample) -> Ownership:
        return self._ownership[sample.address]

    @cached_property
    def _ownership(self) -> Mapping[str, Ownership]:
        result: dict[str, Ownership] = {}
        by_group: dict[int, Ownership] = {}  # views that agree own the same: computed once per group
        for sample in self.answered:
            group = self.index.group_of(sample)
            made = by_group.get(id(group)) if group is not None else None
            if made is None:
                view = group.entries if group is not None else sample.view.value
                pairs = [(r, e.id) for e in view if e.is_primary for r in e.slots]
                made = tuple(sorted(pairs, key=lambda p: p[0].start))
                if group is not None:
                    by_group[id(group)] = made
            result[sample.address] = made
        return result

    @cached_property
    def view_groups(self) -> tuple[tuple[Ownership, tuple[NodeSample, ...]], ...]:
        """Viewers grouped by identical slot ownership, largest group first."""
        groups: dict[Ownership, list[NodeSample]] = {}
        for sample in self.viewers:
            groups.setdefault(self.ownership(sample), []).append(sample)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1][0].address))
        return tuple((own, tuple(samples)) for own, samples in ordered)

    @cached_property
    def consensus(self) -> Ownership:
        return self.view_groups[0][0] if self.view_groups else ()

    @cached_property
    def open_slots(self) -> frozenset[int]:
        """Slots MIGRATING or IMPORTING on any answering node (its own view): a migration in flight or left
        behind, whose keys may sit on both sides and on their replicas. One finding (S004), one repair (the
        migration engine's closing): no stray-key finding or step for them."""
        found: set[int] = set()
        for sample in self.viewers:
            mine = sample.myself
            if mine is not None:
                found.update(slot for slot, _ in (*mine.migrating, *mine.importing))
        return frozenset(found)

    @cached_property
    def atomic_moves(self) -> tuple[AtomicMove, ...]:
        """Server-side atomic slot migrations (Valkey 9.0+, Redis 8.4+), one per job, finished ones too."""
        return fold((s.node_id, job) for s in self.viewers if s.node_id for job in s.slot_migrations.value)

    @cached_property
    def atomic_slots(self) -> frozenset[int]:
        """Slots an atomic migration is moving right now: the server copies their keys to the target (and
        trims them from the source after the hand-off), so keys on both sides are expected, not strays."""
        return frozenset(slot for m in self.atomic_moves if m.active for r in m.slots for slot in r)

    @cached_property
    def servers(self) -> frozenset[ServerIdentity]:
        """The servers the answering nodes run (one, unless the cluster is mid-upgrade)."""
        return frozenset(i for i in (s.identity for s in self.own.values()) if i is not None)

    @cached_property
    def noaddr_failover(self) -> bool | None:
        """True: every answering node fails a noaddr primary over by itself (Valkey 8.1); False: none does
        (Redis); None: a mix, or nothing answered."""
        found = {fails_noaddr_nodes(i) for i in self.servers}
        return found.pop() if len(found) == 1 else None

    def owned_slots(self, node_id: str) -> tuple[SlotRange, ...]:
        return tuple(r for r, owner in self.consensus if owner == node_id)

    def sync(self, node_id: str) -> SyncState | None:
        """Where an answering replica is in its sync with its primary (None: not an answering replica)."""
        sample = self.own.get(node_id)
        mine = sample.myself if sample is not None else None
        if sample is None or mine is None or not mine.is_replica:
            return None
        primary = self.own.get(mine.primary_id or "")
        return sync_state(sample.info, sample.address, primary.info if primary is not None else None)

    # Configuration and info

    def config(self, node_id: str, key: str) -> str | None:
        sample = self.own.get(node_id)
        return sample.config.get(key) if sample else None

    def config_int(self, node_id: str, key: str) -> int | None:
        return as_int(self.config(node_id, key))

    def info(self, node_id: str, section: str) -> Mapping[str, str]:
        sample = self.own.get(node_id)
        return sample.info.get(section, {}) if sample else {}

    @cached_property
    def node_timeout_ms(self) -> int:
        values = [v for i in self.answers_at if (v := self.config_int(i, "cluster-node-timeout")) is not None]
        return Counter(values).most_common(1)[0][0] if values else 15000

    def domain(self, node_id: str) -> str | None:
        """Failure domain: the configured label for its address or host, else the host itself."""
        addresses = [a for a in [self.address(node_id), *self.answers_at.get(node_id, ())] if a]
        return domain_for(addresses, self.settings.domains)


def _announced(sample: NodeSample, address: str) -> bool:
    """The address is the one the node's cluster-announce-ip/-port make it give (NAT, Docker port maps):
    a setting (C006 judges it), not a move."""
    ip = (sample.config.get("cluster-announce-ip") or "").strip()
    port = (sample.config.get("cluster-announce-port") or "0").strip()
    host, _, given = address.rpartition(":")
    return bool(ip and host.strip("[]") == ip) or (port not in ("", "0") and given == port)


def components(ids: Iterable[str], links: Iterable[tuple[str, str]]) -> list[set[str]]:
    """Connected groups of `ids` under undirected `links` (pairs naming other ids are ignored), largest first."""
    return joined(ids, links)  # each pair is a set of two linked members


def joined(ids: Iterable[str], together: Iterable[Iterable[str]]) -> list[set[str]]:
    """Connected groups of `ids` when the members of each set in `together` are linked to one another
    (names outside `ids` ignored), largest first: what `components` gives for all the pairs of each set,
    in about one step per member instead of one per pair."""
    parent = {i: i for i in ids}

    def find(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for members in together:
        root: str | None = None
        for member in members:
            if member not in parent:
                continue
            if root is None:
                root = find(member)
            else:
                parent[find(member)] = root
    found: dict[str, set[str]] = {}
    for i in parent:
        found.setdefault(find(i), set()).add(i)
    return sorted(found.values(), key=lambda g: (-len(g), min(g)))


def slot_array(ownership: Ownership) -> list[str | None]:
    owners: list[str | None] = [None] * SLOT_COUNT
    for slot_range, owner in ownership:
        owners[slot_range.start : slot_range.end + 1] = [owner] * (slot_range.end - slot_range.start + 1)
    return owners


def runs(owners_a: list[str | None], owners_b: list[str | None]) -> list[tuple[SlotRange, str | None, str | None]]:
    """Ranges where two slot maps differ, with the owner in each (consecutive slots with the same pair merged)."""
    found: list[tuple[SlotRange, str | None, str | None]] = []
    start = None
    for slot in range(SLOT_COUNT + 1):
        pair = (owners_a[slot], owners_b[slot]) if slot < SLOT_COUNT else None
        differs = pair is not None and pair[0] != pair[1]
        if start is not None and (not differs or pair != (owners_a[start], owners_b[start])):
            found.append((SlotRange(start, slot - 1), owners_a[start], owners_b[start]))
            start = None
        if differs and start is None:
            start = slot
    return found


def uncovered(ownership: Ownership) -> tuple[SlotRange, ...]:
    covered: set[int] = set()
    for slot_range, _ in ownership:
        covered.update(range(slot_range.start, slot_range.end + 1))
    return to_ranges(s for s in range(SLOT_COUNT) if s not in covered)
