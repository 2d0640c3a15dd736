"""What the migration engine needs to know of a cluster, read from a Snapshot (pure).

A Topology is the consensus slot map, every primary with its endpoint, slots, key count and memory, the
slots left open (MIGRATING / IMPORTING) by an earlier move, and the reasons it is not safe to move slots
now. Moving slots in a cluster whose nodes disagree is how keys get lost, so `problems` is checked
before any plan is made (as `redis-cli --cluster check` does before a rebalance, but with causes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rcdoctor.model.address import Endpoint
from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.slots import format_ranges, to_ranges
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView, slot_array, uncovered


@dataclass(frozen=True)
class Node:
    node_id: str
    endpoint: Endpoint
    primary: bool
    primary_id: str | None  # for replicas
    slots: tuple[int, ...]
    keys: int | None
    memory: int | None  # used_memory_dataset (bytes), else used_memory
    server: ServerIdentity | None

    @property
    def address(self) -> str:
        return str(self.endpoint)

    @property
    def short(self) -> str:
        return f"{self.node_id[:8]} ({self.endpoint})"


@dataclass(frozen=True)
class OpenSlot:
    """A slot some node has in MIGRATING or IMPORTING state."""

    slot: int
    owner: str | None  # consensus owner
    migrating: tuple[tuple[str, str], ...]  # (node id, destination id)
    importing: tuple[tuple[str, str], ...]  # (node id, source id)

    def describe(self) -> str:
        parts = [f"{n[:8]} migrating to {d[:8]}" for n, d in self.migrating]
        parts += [f"{n[:8]} importing from {s[:8]}" for n, s in self.importing]
        return f"slot {self.slot}: " + ", ".join(parts)


@dataclass(frozen=True)
class Topology:
    nodes: Mapping[str, Node]
    owners: tuple[str | None, ...]  # slot -> owner id (consensus)
    open_slots: tuple[OpenSlot, ...] = ()
    silent: Mapping[str, Node] = field(default_factory=dict)  # listed by peers, not answering us
    problems: tuple[str, ...] = ()  # reasons moving slots now is unsafe
    versions: tuple[str, ...] = field(default=())  # "Redis 7.0.15", "Valkey 8.1.8": what the nodes run

    @property
    def primaries(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.primary]

    def replicas_of(self, node_id: str) -> list[Node]:
        return [n for n in self.nodes.values() if not n.primary and n.primary_id == node_id]

    def find(self, text: str, silent: bool = False) -> Node | None:
        """A node by id, unique id prefix (6+ characters) or address; `silent`: also the nodes that did not
        answer (known from their peers' views)."""
        pool: list[Node] = [*self.nodes.values(), *(self.silent.values() if silent else ())]
        exact = [n for n in pool if text in (n.node_id, n.address)]
        if exact:
            return exact[0]
        if len(text) >= 6:
            prefixed = [n for n in pool if n.node_id.startswith(text)]
            if len(prefixed) == 1:
                return prefixed[0]
        return None


def topology(snapshot: Snapshot) -> Topology:
    ctx = ClusterView(snapshot)
    problems: list[str] = []
    for sample in snapshot.nodes:
        if not sample.answered:
            problems.append(f"{sample.address} did not answer ({sample.error})")
    for node_id in ctx.ids:
        if node_id in ctx.unreachable:
            problems.append(f"node {node_id[:8]} ({ctx.address(node_id)}) is listed by peers but did not answer")
        elif ctx.is_down(node_id):
            problems.append(f"node {node_id[:8]} ({ctx.address(node_id)}) is flagged as failing by its peers")
    if len(ctx.view_groups) > 1:
        problems.append(f"the nodes disagree on the slot map ({len(ctx.view_groups)} different maps)")
    holes = uncovered(ctx.consensus)
    if holes:
        problems.append(f"slots {format_ranges(holes)} have no owner")

    owners = slot_array(ctx.consensus)
    nodes: dict[str, Node] = {}
    for node_id, sample in ctx.own.items():
        me = sample.myself
        if me is None:
            continue
        memory = sample.info.get("memory", {})
        used = memory.get("used_memory_dataset") or memory.get("used_memory")
        nodes[node_id] = Node(
            node_id=node_id,
            endpoint=sample.endpoint,
            primary=me.is_primary,
            primary_id=me.primary_id,
            slots=tuple(s for s, o in enumerate(owners) if o == node_id),
            keys=sample.keys,
            memory=int(used) if used and used.isdigit() else None,
            server=sample.identity,
        )
    silent = {}
    for node_id in ctx.unreachable:
        entry = ctx.entry(node_id)
        if entry is not None and entry.endpoint is not None:
            silent[node_id] = Node(
                node_id=node_id,
                endpoint=entry.endpoint,
                primary=entry.is_primary,
                primary_id=entry.primary_id,
                slots=tuple(s for s, o in enumerate(owners) if o == node_id),
                keys=None,
                memory=None,
                server=None,
            )
    return Topology(
        nodes=nodes,
        silent=silent,
        owners=tuple(owners),
        open_slots=_open_slots(ctx, owners),
        problems=tuple(problems),
        versions=tuple(sorted({str(n.server) for n in nodes.values() if n.server})),
    )


def _open_slots(ctx: ClusterView, owners: list[str | None]) -> tuple[OpenSlot, ...]:
    migrating: dict[int, list[tuple[str, str]]] = {}
    importing: dict[int, list[tuple[str, str]]] = {}
    for node_id, sample in ctx.own.items():
        me = sample.myself
        if me is None:
            continue
        for slot, destination in me.migrating:
            migrating.setdefault(slot, []).append((node_id, destination))
        for slot, source in me.importing:
            importing.setdefault(slot, []).append((node_id, source))
    return tuple(
        OpenSlot(slot, owners[slot], tuple(migrating.get(slot, ())), tuple(importing.get(slot, ())))
        for slot in sorted(set(migrating) | set(importing))
    )


def describe_slots(slots: tuple[int, ...] | list[int]) -> str:
    return format_ranges(to_ranges(slots)) if slots else "none"
