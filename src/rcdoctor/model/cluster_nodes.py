"""Parser for the `CLUSTER NODES` reply (one line per node the answering node knows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from rcdoctor.model.address import Endpoint
from rcdoctor.model.parsed import Parsed
from rcdoctor.model.slots import SlotRange, count_slots


@dataclass(frozen=True)
class ClusterNode:
    """One line of CLUSTER NODES: how the answering node sees `id`."""

    id: str
    ip: str
    port: int
    cport: int | None
    hostname: str | None
    flags: frozenset[str]
    primary_id: str | None
    ping_sent: int
    pong_recv: int
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
    nodes: list[ClusterNode] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            nodes.append(_parse_line(line))
        except (ValueError, IndexError) as exc:
            errors.append(f"line {number}: {exc}: {line[:120]!r}")
    return Parsed(tuple(nodes), tuple(errors))


def _parse_line(line: str) -> ClusterNode:
    fields = line.split()
    if len(fields) < 8:
        raise ValueError(f"expected at least 8 fields, got {len(fields)}")
    node_id, address, flags, primary, ping_sent, pong_recv, epoch, link = fields[:8]
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
        ping_sent=int(ping_sent),
        pong_recv=int(pong_recv),
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
