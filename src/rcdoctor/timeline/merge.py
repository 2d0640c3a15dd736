"""Server logs of many nodes -> one time-ordered stream of cluster events. Pure: text in, events out.

Each input (a file, stdin, a lab node's redis.log) is split into streams: one per `kubectl logs --prefix`
pod, else the whole input. A stream is one node: its own lines say who it is ("I'm <id>", "IP address
for this node updated to …", "port=…"); a snapshot, when given, maps that id to the address the cluster
knows it by. Events of all streams are merged by time (stable: equal times keep input order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

from rcdoctor.timeline.events import CHILD_KINDS, FOLDABLE, Identity, classify, learn, named_ids
from rcdoctor.timeline.lines import parse_line

FOLD_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class Event:
    time: datetime
    node: str  # the name the user knows the node by: pod, lab node, file, else its address
    kind: str
    text: str
    source: str  # the input it came from (a path, "-")
    line: int  # 1-based line number in that input
    node_id: str | None = None  # of the node that logged it
    address: str | None = None
    count: int = 1  # repeats folded into this event
    last: datetime | None = None  # time of the last folded repeat

    def to_dict(self, names: Mapping[str, str]) -> dict[str, object]:
        data: dict[str, object] = {
            "time": self.time.isoformat(timespec="milliseconds"),
            "node": self.node,
            "kind": self.kind,
            "text": self.text,
            "node_id": self.node_id,
            "address": self.address,
            "source": f"{self.source}:{self.line}",
        }
        about = [names.get(i, i) for i in named_ids(self.text) if i != self.node_id]
        if about:
            data["about"] = about
        if self.count > 1:
            data["count"] = self.count
            data["last"] = self.last.isoformat(timespec="milliseconds") if self.last else None
        return data


@dataclass(frozen=True)
class KindSummary:
    events: int
    nodes: frozenset[str]
    first: datetime
    last: datetime

    def to_dict(self) -> dict[str, object]:
        return {
            "events": self.events,
            "nodes": len(self.nodes),
            "first": self.first.isoformat(timespec="milliseconds"),
            "last": self.last.isoformat(timespec="milliseconds"),
        }


@dataclass(frozen=True)
class Source:
    name: str  # as given: a path, "-" for stdin
    lines: Iterable[str]
    label: str | None = None  # the node name when known beforehand (a lab node)
    address: str | None = None


@dataclass
class Stream:
    """The lines of one node, as they are read."""

    source: str
    label: str | None
    address: str | None
    identity: Identity = field(default_factory=Identity)
    # (time, kind, text, line number): made Events once the stream's node is known (after its last line)
    events: list[tuple[datetime, str, str, int]] = field(default_factory=list)
    parsed: int = 0


@dataclass(frozen=True)
class Timeline:
    events: tuple[Event, ...]
    nodes: tuple[tuple[str, str | None, str | None], ...]  # (node, node_id, address) per stream
    lines: int  # lines read
    parsed: int  # of which server log lines
    names: Mapping[str, str]  # node id -> node name, for ids named in event texts

    def between(self, since: datetime | None, until: datetime | None) -> Timeline:
        kept = tuple(
            e for e in self.events if (since is None or e.time >= since) and (until is None or e.time <= until)
        )
        return replace(self, events=kept)

    def kinds(self) -> dict[str, KindSummary]:
        """Per kind, in order of first appearance: events (repeats counted), nodes, first and last time."""
        found: dict[str, KindSummary] = {}
        for event in self.events:
            last = event.last or event.time
            seen = found.get(event.kind)
            if seen is None:
                found[event.kind] = KindSummary(event.count, frozenset({event.node}), event.time, last)
            else:
                found[event.kind] = KindSummary(
                    seen.events + event.count, seen.nodes | {event.node}, seen.first, max(seen.last, last)
                )
        return found

    def to_dict(self) -> dict[str, object]:
        return {
            "format": "rcdoctor.timeline",
            "version": 1,
            "nodes": [{"node": n, "node_id": i, "address": a} for n, i, a in self.nodes],
            "lines": self.lines,
            "parsed": self.parsed,
            "kinds": {k: v.to_dict() for k, v in self.kinds().items()},
            "events": [e.to_dict(self.names) for e in self.events],
        }


def build(
    sources: Sequence[Source],
    tz: timezone = UTC,
    addresses: Mapping[str, str] | None = None,
    fold: bool = True,
    everything: bool = False,
) -> Timeline:
    """The merged timeline. `addresses`: node id -> address (from a snapshot); `everything`: also lines
    that are no cluster event (kind "other")."""
    addresses = addresses or {}
    streams: list[Stream] = []
    lines = 0
    for source in sources:
        by_pod: dict[str | None, Stream] = {}
        for number, raw in enumerate(source.lines, start=1):
            lines += 1
            parsed = parse_line(raw, tz)
            if parsed is None:
                continue
            stream = by_pod.get(parsed.pod)
            if stream is None:
                label = source.label or (_pod_name(parsed.pod) if parsed.pod else None)
                stream = by_pod[parsed.pod] = Stream(source.name, label, source.address)
                streams.append(stream)
            stream.parsed += 1
            stream.identity = learn(stream.identity, parsed.text)
            kind = classify(parsed.text)
            if kind is None and not everything:
                continue
            if parsed.role == "C" and kind not in CHILD_KINDS:
                continue
            stream.events.append((parsed.time, kind or "other", parsed.text, number))
    names = _names(streams, addresses)
    events: list[Event] = []
    nodes = []
    for stream in streams:
        node_id = stream.identity.node_id
        label = names[id(stream)]
        address = stream.address or (addresses.get(node_id) if node_id else None) or _own_address(stream.identity)
        nodes.append((label, node_id, address))
        mine = [Event(t, label, k, x, stream.source, n, node_id, address) for t, k, x, n in stream.events]
        events.extend(_fold(mine) if fold else mine)
    events.sort(key=lambda e: e.time)  # stable: a node's own order is kept for equal times
    id_names = {i: n for n, i, _ in nodes if i}
    return Timeline(tuple(events), tuple(nodes), lines, sum(s.parsed for s in streams), id_names)


def _pod_name(prefix: str) -> str:
    """`pod/redis-main-0/redis` -> `redis-main-0` (the container only when a pod has several)."""
    parts = prefix.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "pod" else prefix


def _own_address(identity: Identity) -> str | None:
    if identity.ip is None:
        return None
    return f"{identity.ip}:{identity.port}" if identity.port else identity.ip


def _stem(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".txt", ".log"):
        name = name.removesuffix(suffix)
    return name or path


def _suffix(path: str, others: Sequence[str]) -> str:
    """The shortest tail of `path` no other path ends with: `n1/redis.log` for …/lab/n1/redis.log."""
    parts = path.split("/")
    for size in range(1, len(parts) + 1):
        tail = "/".join(parts[-size:])
        if not any(o != path and (o == tail or o.endswith("/" + tail)) for o in others):
            return tail
    return path


def _names(streams: Sequence[Stream], addresses: Mapping[str, str]) -> dict[int, str]:
    """A unique, recognisable name per stream: its pod or lab name, else its file's name (`redis-main-1`
    for redis-main-1.log; the shortest distinct end of the path when files share a name, `n1/redis.log`),
    else the address the snapshot or its own lines give, else "-"."""
    stems = [_stem(s.source) for s in streams]
    paths = [s.source for s in streams if s.source != "-"]
    names: dict[int, str] = {}
    for stream, stem in zip(streams, stems, strict=True):
        if stream.label:
            names[id(stream)] = stream.label
        elif stream.source != "-":
            names[id(stream)] = stem if stems.count(stem) == 1 else _suffix(stream.source, paths)
        else:
            node_id = stream.identity.node_id
            names[id(stream)] = (
                (addresses.get(node_id) if node_id else None) or _own_address(stream.identity) or (node_id or "-")[:8]
            )
    return names


def _fold(events: Sequence[Event]) -> list[Event]:
    """One node's events with repeats of a looping kind folded into the first one: same kind and text,
    within FOLD_WINDOW of the previous repeat, and no other (non-looping) event of that node between."""
    out: list[Event] = []
    open_: dict[tuple[str, str], int] = {}  # (kind, text) -> index in out
    for event in events:
        if event.kind not in FOLDABLE:
            open_.clear()
            out.append(event)
            continue
        key = (event.kind, event.text)
        index = open_.get(key)
        if index is not None:
            first = out[index]
            if event.time - (first.last or first.time) <= FOLD_WINDOW:
                out[index] = replace(first, count=first.count + 1, last=event.time)
                continue
        open_[key] = len(out)
        out.append(event)
    return out
