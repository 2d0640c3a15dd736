"""One index over every answering node's CLUSTER NODES view, built once and shared by every check (pure).

N nodes have N views of N lines: a check that walks every line of every view does N² steps, a million on
1,000 nodes, and the analysis did that in a dozen places (issue 17). Views are therefore grouped: two
views are in one group when they hold the same lines, each viewer's own `myself` line counted as its
peers have it (`ParseCache.peer_form`; the parser hands out one object per distinct line, so comparing
views is comparing sets of object ids, C-fast). A settled cluster is one group, however big; a split
or a half-spread change makes a few. Per group the work is one walk of its lines, so how every node is
listed, and by whom, costs about N per group instead of N².
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.snapshot import NodeSample


@dataclass(frozen=True)
class Listed:
    """One way the other answering nodes list a node: the line, and the views that have it (viewer order)."""

    entry: ClusterNode
    viewers: tuple[NodeSample, ...]


@dataclass(frozen=True)
class ViewGroup:
    """Viewers whose views agree: `entries` are the lines of every one of them (each viewer's own line as
    its peers have it), in the first viewer's order."""

    viewers: tuple[NodeSample, ...]
    entries: tuple[ClusterNode, ...]


class ViewIndex:
    def __init__(self, viewers: Sequence[NodeSample]) -> None:
        self.viewers = tuple(viewers)
        self._position = {id(s): i for i, s in enumerate(self.viewers)}
        self.groups = self._group()
        self._group_of = {id(s): g for g in self.groups for s in g.viewers}
        self.listed = self._listed()

    def group_of(self, sample: NodeSample) -> ViewGroup | None:
        return self._group_of.get(id(sample))

    def _group(self) -> tuple[ViewGroup, ...]:
        keyed: dict[frozenset[int], list[NodeSample]] = {}
        canonical: dict[frozenset[int], tuple[ClusterNode, ...]] = {}
        singles: list[tuple[int, ViewGroup]] = []
        for position, sample in enumerate(self.viewers):
            view = sample.view.value
            mine = sample.myself
            objects = set(map(id, view))  # C-level: no step of Python per line
            twin = sample.parse_cache.peer_form(mine) if mine is not None else None
            if mine is not None and twin is not None:
                objects.discard(id(mine))
                objects.add(id(twin))
            # A view with a line twice, or a second `myself` line, is not a set of peers: judged alone.
            if len(objects) != len(view) or not objects.isdisjoint(sample.parse_cache.myself_lines):
                singles.append((position, ViewGroup((sample,), view)))
                continue
            key = frozenset(objects)
            if key not in keyed:
                keyed[key] = []
                canonical[key] = tuple(twin if e is mine and twin is not None else e for e in view)
            keyed[key].append(sample)
        groups = [(self._position[id(v[0])], ViewGroup(tuple(v), canonical[k])) for k, v in keyed.items()]
        return tuple(g for _, g in sorted([*groups, *singles], key=lambda pg: pg[0]))

    def _listed(self) -> Mapping[str, tuple[Listed, ...]]:
        # node id -> id(entry) -> (entry, viewer tuples): most entries get one tuple, shared by every
        # line of the group (no copy), or that tuple less the one viewer whose own line it is.
        found: dict[str, dict[int, tuple[ClusterNode, list[tuple[NodeSample, ...]]]]] = {}
        for group in self.groups:
            if len(group.viewers) == 1:
                viewer = group.viewers
                for entry in group.viewers[0].view.value:
                    if not entry.is_myself:
                        found.setdefault(entry.id, {}).setdefault(id(entry), (entry, []))[1].append(viewer)
                continue
            own: dict[int, list[int]] = {}  # id(twin) -> the viewers (index in the group) whose own line it is
            for index, sample in enumerate(group.viewers):
                if sample.myself is not None:
                    own.setdefault(id(sample.parse_cache.peer_form(sample.myself)), []).append(index)
            for entry in group.entries:
                skip = own.get(id(entry))
                viewers = group.viewers
                if skip is not None and len(skip) == 1:
                    viewers = viewers[: skip[0]] + viewers[skip[0] + 1 :]  # a C copy, not N steps per line
                elif skip is not None:
                    viewers = tuple(v for i, v in enumerate(viewers) if i not in skip)
                if viewers:
                    found.setdefault(entry.id, {}).setdefault(id(entry), (entry, []))[1].append(viewers)
        result: dict[str, tuple[Listed, ...]] = {}
        for node_id, entries in found.items():
            listed = [Listed(entry, self._merge(parts)) for entry, parts in entries.values()]
            listed.sort(key=lambda item: self._position[id(item.viewers[0])])
            result[node_id] = tuple(listed)
        return result

    def _merge(self, parts: list[tuple[NodeSample, ...]]) -> tuple[NodeSample, ...]:
        if len(parts) == 1:
            return parts[0]
        return tuple(sorted((s for part in parts for s in part), key=lambda s: self._position[id(s)]))

    def pairs(self, node_id: str) -> tuple[tuple[NodeSample, ClusterNode], ...]:
        """(viewer, line) for every view that lists `node_id`, in viewer order: the long form, N per node."""
        listed = self.listed.get(node_id, ())
        if len(listed) == 1:
            entry = listed[0].entry
            return tuple((s, entry) for s in listed[0].viewers)
        pairs = [(s, item.entry) for item in listed for s in item.viewers]
        return tuple(sorted(pairs, key=lambda p: self._position[id(p[0])]))


class Listings(Mapping[str, tuple[tuple[NodeSample, ClusterNode], ...]]):
    """node id -> (viewer, line) pairs, made when first asked for (a check that reads every pair of every
    node does N² steps: the hot ones read ViewIndex.listed instead)."""

    def __init__(self, index: ViewIndex) -> None:
        self._index = index
        self._made: dict[str, tuple[tuple[NodeSample, ClusterNode], ...]] = {}

    def __getitem__(self, node_id: str) -> tuple[tuple[NodeSample, ClusterNode], ...]:
        if node_id not in self._index.listed:
            raise KeyError(node_id)
        made = self._made.get(node_id)
        if made is None:
            made = self._made[node_id] = self._index.pairs(node_id)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.listed)

    def __len__(self) -> int:
        return len(self._index.listed)
