"""Parsed replies shared by every sample of a snapshot, so N views of a big cluster cost about N parses.

A memo, not data: what it returns depends only on the reply it is given, never on what it parsed before.
"""

from __future__ import annotations

import json

from rcdoctor.model.cluster_nodes import ClusterNode, ViewParser
from rcdoctor.model.cluster_slots import SlotsEntry, parse_cluster_slots
from rcdoctor.model.parsed import Parsed


class ParseCache:
    def __init__(self) -> None:
        self._views = ViewParser()
        self._slots: dict[str, Parsed[tuple[SlotsEntry, ...]]] = {}
        self._by_object: dict[int, tuple[object, Parsed[tuple[SlotsEntry, ...]]]] = {}

    def cluster_nodes(self, text: str) -> Parsed[tuple[ClusterNode, ...]]:
        return self._views.parse(text)

    @property
    def myself_lines(self) -> set[int]:
        return self._views.myself_lines

    def myself_of(self, view: tuple[ClusterNode, ...]) -> ClusterNode | None:
        return self._views.myself_of(view)

    def peer_form(self, entry: ClusterNode) -> ClusterNode:
        """A view's own (`myself`) line as its peers list it: see ViewParser.peer_form."""
        return self._views.peer_form(entry)

    def cluster_slots(self, reply: object) -> Parsed[tuple[SlotsEntry, ...]]:
        """CLUSTER SLOTS carries no times: every node of a settled cluster answers the same reply, parsed
        once (its JSON text is the key, C-fast to make; a reply json cannot write is parsed every time)."""
        shared = self._by_object.get(id(reply))
        if shared is not None and shared[0] is reply:
            return shared[1]  # the very reply another sample gave (Snapshot.load keeps identical ones once)
        try:
            key = json.dumps(reply, separators=(",", ":"))
        except (TypeError, ValueError):
            return parse_cluster_slots(reply)
        found = self._slots.get(key)
        if found is None:
            found = self._slots[key] = parse_cluster_slots(reply)
        self._by_object[id(reply)] = (reply, found)  # holding the reply keeps its id() its own
        return found
