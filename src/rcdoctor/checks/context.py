"""Context: one snapshot indexed once, for every check to read (pure, computed lazily, cached).

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

from rcdoctor.checks.base import NodeRef
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.domains import domain_for
from rcdoctor.model.info import as_int
from rcdoctor.model.slots import SLOT_COUNT, SlotRange, to_ranges
from rcdoctor.model.snapshot import NodeSample, Snapshot

GHOST_FLAGS = frozenset({"handshake", "noaddr"})
# A handshake entry carries a random id that disappears when the handshake completes or times out: it
# is not a member. A noaddr entry is a real member whose address was lost, and stays one.
HANDSHAKE = frozenset({"handshake"})
Ownership = tuple[tuple[SlotRange, str], ...]  # (range, owner id), sorted by range


@dataclass(frozen=True)
class Settings:
    """Inputs to the analysis beyond the snapshot."""

    # address or host -> failure domain (Kubernetes node, rack, zone); default: the host part of the address
    domains: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    replica_lag_seconds: int = 3  # replicas ACK every second; 3 s without one is lag, not jitter
    replica_lag_bytes: int = 1 << 20


class Context:
    def __init__(self, snapshot: Snapshot, settings: Settings | None = None) -> None:
        self.snapshot = snapshot
        self.settings = settings or Settings()
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
    def listings(self) -> Mapping[str, tuple[tuple[NodeSample, ClusterNode], ...]]:
        """node id -> (viewer, entry) for every *other* answering node whose view lists it."""
        found: dict[str, list[tuple[NodeSample, ClusterNode]]] = {}
        for sample in self.viewers:
            for entry in sample.view.value:
                if not entry.is_myself:
                    found.setdefault(entry.id, []).append((sample, entry))
        return {k: tuple(v) for k, v in found.items()}

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
        peer_addresses: dict[str, set[str]] = {}
        for sample in self.answered:
            for entry in sample.view.value:
                if not entry.is_myself:
                    peer_addresses.setdefault(entry.id, set()).add(entry.address)
        for node_id, samples in by_id.items():
            used = peer_addresses.get(node_id, set())
            result[node_id] = next((s for s in samples if s.address in used), samples[0])
        return result

    @cached_property
    def ids(self) -> tuple[str, ...]:
        """Every node id known: answering ones first, then the ones only listed (ghosts left out)."""
        listed = [i for i, items in self.listings.items() if not all(e.flags & HANDSHAKE for _, e in items)]
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
        entries = [e for _, e in self.listings.get(node_id, ())]
        if not entries:
            return None
        key = Counter((e.address, e.primary_id, e.slots, e.is_primary) for e in entries).most_common(1)[0][0]
        return next(e for e in entries if (e.address, e.primary_id, e.slots, e.is_primary) == key)

    def address(self, node_id: str) -> str | None:
        return self._addresses.get(node_id)

    @cached_property
    def _addresses(self) -> Mapping[str, str | None]:
        return {i: self._address(i) for i in self.ids}

    def _address(self, node_id: str) -> str | None:
        sample = self.own.get(node_id)
        if sample is not None:
            return sample.address
        listed = Counter(e.address for _, e in self.listings.get(node_id, ()) if e.endpoint is not None)
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
        return tuple(s for s, e in self.listings.get(node_id, ()) if flag in e.flags)

    def primary_reporters(self, node_id: str, flag: str) -> tuple[NodeSample, ...]:
        voters = set(self.slot_primaries)
        return tuple(s for s in self.reporters(node_id, flag) if s.node_id in voters)

    @cached_property
    def unreachable(self) -> frozenset[str]:
        """Ids listed by peers that answered us at no address."""
        return frozenset(i for i in self.ids if i not in self.answers_at)

    def is_down(self, node_id: str) -> bool:
        """Flagged fail by any view, or fail? by most, or not answering us at all."""
        return node_id in self._down

    @cached_property
    def _down(self) -> frozenset[str]:
        return frozenset(i for i in self.ids if self._judge_down(i))

    def _judge_down(self, node_id: str) -> bool:
        listed = self.listings.get(node_id, ())
        failing = sum(1 for _, e in listed if e.failed or e.suspected)
        return (
            node_id in self.unreachable
            or any(e.failed for _, e in listed)
            or (bool(listed) and failing * 2 > len(listed))
        )

    # Slots

    def ownership(self, sample: NodeSample) -> Ownership:
        return self._ownership[sample.address]

    @cached_property
    def _ownership(self) -> Mapping[str, Ownership]:
        result: dict[str, Ownership] = {}
        for sample in self.answered:
            pairs = [(r, e.id) for e in sample.view.value if e.is_primary for r in e.slots]
            result[sample.address] = tuple(sorted(pairs, key=lambda p: p[0].start))
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

    def owned_slots(self, node_id: str) -> tuple[SlotRange, ...]:
        return tuple(r for r, owner in self.consensus if owner == node_id)

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


def components(ids: Iterable[str], links: Iterable[tuple[str, str]]) -> list[set[str]]:
    """Connected groups of `ids` under undirected `links` (pairs naming other ids are ignored), largest first."""
    parent = {i: i for i in ids}

    def find(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
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
