"""Parser for the `CLUSTER NODES` reply (one line per node the answering node knows).

A cluster of N nodes has N views of N lines, and most lines are the same in every view: node X's line
differs between viewers only in its ping-sent and pong-received times (and where the viewers disagree,
which is what diagnose looks for). `ViewParser` parses each distinct line once for all views and gives
every view the same `ClusterNode` object for it: N² lines cost about N parses and N² dict look-ups, and
the parsed views of a 1,000-node cluster take a few megabytes instead of gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from rcdoctor.model.address import Endpoint
from rcdoctor.model.parsed import Parsed
from rcdoctor.model.slots import SlotRange, count_slots


@dataclass(frozen=True)
class ClusterNode:
    """One line of CLUSTER NODES: how the answering node sees `id`.

    The line's ping-sent and pong-received times are not kept: nothing judges them, and they differ in
    every view, so keeping them would make every line of every view a distinct object (see ViewParser)."""

    id: str
    ip: str
    port: int
    cport: int | None
    hostname: str | None
    flags: frozenset[str]
    primary_id: str | None
    config_epoch: int
    link_state: str
    slots: tuple[SlotRange, ...] = ()
    migrating: tuple[tuple[int, str], ...] = ()  # (slot, destination node id)
    importing: tuple[tuple[int, str], ...] = ()  # (slot, source node id)
    aux: tuple[tuple[str, str], ...] = field(default=())

    # Cached: the analysis reads these for every entry of every view (a million on a 1,000-node cluster).
    @cached_property
    def endpoint(self) -> Endpoint | None:
        """Where this node is said to listen, or None for `noaddr` / port 0."""
        if not self.ip or self.port == 0:
            return None
        return Endpoint(self.ip, self.port)

    @cached_property
    def address(self) -> str:
        endpoint = self.endpoint
        return str(endpoint) if endpoint else f"{self.ip or '?'}:{self.port}"

    @property
    def bus_endpoint(self) -> Endpoint | None:
        if not self.ip or not self.cport:
            return None
        return Endpoint(self.ip, self.cport)

    @property
    def is_myself(self) -> bool:
        return "myself" in self.flags

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def is_replica(self) -> bool:
        return "slave" in self.flags

    @property
    def failed(self) -> bool:
        return "fail" in self.flags

    @property
    def suspected(self) -> bool:
        return "fail?" in self.flags

    @property
    def slot_count(self) -> int:
        return count_slots(self.slots)


def parse_cluster_nodes(text: str) -> Parsed[tuple[ClusterNode, ...]]:
    """Parse every line it can; each line it cannot read becomes an error record."""
    return ViewParser().parse(text)


def parse_myself(text: str) -> ClusterNode | None:
    """The node's own entry only: its line found by the `myself` flag and parsed alone (the collector's
    shortcut: the whole view is parsed once, later)."""
    for line in text.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) > 2 and "myself" in fields[2].split(","):
            return next(iter(parse_cluster_nodes(line).value), None)
    return None


def parse_entry(text: str, node_id: str) -> ClusterNode | None:
    """The entry of `node_id` only, its line parsed alone."""
    lines = (line for line in text.splitlines() if line.startswith(node_id + " "))
    return next((n for line in lines for n in parse_cluster_nodes(line).value), None)


def _key(line: str) -> str | tuple[str, ...]:
    """The line without fields 5 and 6 (ping-sent, pong-received): what differs between two views of a
    settled node. A line whose times are not plain numbers is its own key (and is refused when parsed);
    a key is a tuple, so it never equals some other raw line."""
    parts = line.split(" ", 6)
    if len(parts) == 7 and all(p.isascii() and p.isdigit() for p in (parts[4], parts[5])):
        return (parts[0], parts[1], parts[2], parts[3], parts[6])
    return line


class ViewParser:
    """Parses CLUSTER NODES replies, each distinct line once, and hands out one ClusterNode per distinct
    line (without its ping/pong times) to every view that has it. A memo: the result never depends on
    which views were parsed before, so one parser may serve any number of snapshots."""

    def __init__(self) -> None:
        # The exact line first (a view of a settled cluster read twice, lines whose times agree), then the
        # line without its times; only lines new to the second dict enter the first, so the first holds
        # about one entry per node however many views repeat it with other times.
        self._by_line: dict[str, ClusterNode] = {}
        self._by_key: dict[str | tuple[str, ...], ClusterNode] = {}
        # By value: two lines that read the same (extra spaces, "-" or no primary) share one object, and
        # a `myself` line's twin (see peer_form) is the very object the other views hold.
        self._by_value: dict[ClusterNode, ClusterNode] = {}
        self._myself: set[int] = set()
        self._myself_entries: dict[int, ClusterNode] = {}
        # id() of a myself entry -> (that entry, its twin): holding the entry keeps its id() its own, even
        # for an entry another parser made
        self._peer_form: dict[int, tuple[ClusterNode, ClusterNode]] = {}

    def myself_of(self, view: tuple[ClusterNode, ...]) -> ClusterNode | None:
        """The view's `myself` line, found by a C-level set look-up instead of a walk of its lines; the
        walk when that is not certain (no such line of this parser's, or more than one)."""
        found = self._myself.intersection(map(id, view))
        if len(found) == 1:  # a view is parsed by one parser: no other `myself` line can hide in it
            return self._myself_entries[found.pop()]
        return next((n for n in view if n.is_myself), None)

    def peer_form(self, entry: ClusterNode) -> ClusterNode:
        """The line as the node's peers would have it: the same without the `myself` flag (one object
        per value, so views that agree are sets of the same objects)."""
        if not entry.is_myself:
            return entry
        known = self._peer_form.get(id(entry))
        if known is not None and known[0] is entry:
            return known[1]
        plain = replace(entry, flags=entry.flags - {"myself"})
        twin = self._by_value.setdefault(plain, plain)
        self._peer_form[id(entry)] = (entry, twin)
        return twin

    @property
    def myself_lines(self) -> set[int]:
        """id() of every distinct line with the `myself` flag handed out so far (read, never changed, by
        the caller: a view holds a second `myself` line when its ids meet this set more than once)."""
        return self._myself

    def parse(self, text: str) -> Parsed[tuple[ClusterNode, ...]]:
        lines = text.splitlines()
        # Every line looked up in one C-level map(); only the ones not seen before (a view's own `myself`
        # line, lines whose times changed) go the long way, found by a C-level search for None's id.
        known: list[ClusterNode | None] = list(map(self._by_line.get, lines))
        ids = list(map(id, known))
        errors: list[str] = []
        dropped = False
        start = 0
        while True:
            try:
                index = ids.index(_NONE, start)
            except ValueError:
                break
            start = index + 1
            known[index] = self._line(lines[index], index + 1, errors)
            dropped = dropped or known[index] is None
        return Parsed(tuple(n for n in known if n is not None) if dropped else tuple(known), tuple(errors))  # type: ignore[arg-type]

    def _line(self, line: str, number: int, errors: list[str]) -> ClusterNode | None:
        """A line not seen before: by its key without the times, else parsed. None: blank or unreadable
        (recorded in `errors`)."""
        if not line.strip():
            return None
        key = _key(line)
        node = self._by_key.get(key)
        if node is None:
            try:
                node = _parse_line(line)
            except (ValueError, IndexError) as exc:
                errors.append(f"line {number}: {exc}: {line[:120]!r}")
                return None
            node = self._by_value.setdefault(node, node)
            if node.is_myself:
                self._myself.add(id(node))
                self._myself_entries[id(node)] = node
            self._by_key[key] = node
            self._by_line[line] = node
        return node


_NONE = id(None)


def _parse_line(line: str) -> ClusterNode:
    fields = line.split()
    if len(fields) < 8:
        raise ValueError(f"expected at least 8 fields, got {len(fields)}")
    node_id, address, flags, primary, ping_sent, pong_recv, epoch, link = fields[:8]
    _times = (int(ping_sent), int(pong_recv))  # not kept (see ClusterNode); unreadable ones refuse the line
    ip, port, cport, hostname, aux = _parse_address(address)
    migrating: list[tuple[int, str]] = []
    importing: list[tuple[int, str]] = []
    ranges: list[SlotRange] = []
    for item in fields[8:]:
        if item.startswith("["):
            slot, direction, peer = _parse_open_slot(item)
            (migrating if direction == "->" else importing).append((slot, peer))
        else:
            start_text, _, end_text = item.partition("-")
            start, end = _slot(start_text), _slot(end_text or start_text)
            if end < start:
                raise ValueError(f"slot range {item!r} ends before it starts")
            ranges.append(SlotRange(start, end))
    return ClusterNode(
        id=node_id,
        ip=ip,
        port=port,
        cport=cport,
        hostname=hostname,
        flags=frozenset(f for f in flags.split(",") if f and f != "noflags"),
        primary_id=None if primary == "-" else primary,
        config_epoch=int(epoch),
        link_state=link,
        slots=tuple(sorted(ranges)),
        migrating=tuple(migrating),
        importing=tuple(importing),
        aux=tuple(aux),
    )


def _parse_address(text: str) -> tuple[str, int, int | None, str | None, list[tuple[str, str]]]:
    # ip:port@cport[,hostname][,key=value]*  (hostname since 7.0, aux fields since 7.2)
    first, *extras = text.split(",")
    hostname: str | None = None
    aux: list[tuple[str, str]] = []
    for extra in extras:
        if "=" in extra:
            key, _, value = extra.partition("=")
            aux.append((key, value))
        elif hostname is None:
            hostname = extra or None
    hostport, at, cport_text = first.partition("@")
    ip, colon, port_text = hostport.rpartition(":")
    if not colon:
        raise ValueError(f"address {text!r} has no port")
    port = int(port_text)
    cport = int(cport_text) if at else None
    if not 0 <= port < 65536 or (cport is not None and not 0 <= cport < 65536):
        raise ValueError(f"port out of range in {text!r}")
    return ip, port, cport, hostname, aux


def _parse_open_slot(item: str) -> tuple[int, str, str]:
    body = item.strip("[]")
    for direction in ("->-", "-<-"):
        slot_text, sep, peer = body.partition(direction)
        if sep:
            if not peer:
                raise ValueError(f"open slot {item!r} names no peer")
            return _slot(slot_text), direction[:2] if direction == "->-" else "<-", peer
    raise ValueError(f"unreadable open slot {item!r}")


def _slot(text: str) -> int:
    value = int(text)
    if not 0 <= value < 16384:
        raise ValueError(f"slot {value} out of range")
    return value
