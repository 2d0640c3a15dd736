"""The Snapshot: everything collected from every node at one moment, as immutable data.

A snapshot holds the raw replies (decoded to JSON values) rather than parsed objects, so a bundle
recorded today is re-read by tomorrow's parsers. Parsed views are derived on demand and cached.
Never holds a secret: seeds are stored as `host:port`, credentials are not stored at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rcdoctor.errors import SnapshotError
from rcdoctor.model.address import Endpoint, parse_hostport
from rcdoctor.model.cluster_nodes import ClusterNode, parse_cluster_nodes
from rcdoctor.model.cluster_slots import SlotsEntry, parse_cluster_slots
from rcdoctor.model.info import as_int, parse_info, parse_keyspace, parse_kv
from rcdoctor.model.parsed import Parsed

SNAPSHOT_FORMAT = "rcdoctor.snapshot"
SNAPSHOT_VERSION = 1

# Reply keys, one per command the collector sends (CONFIG GET is one key per pattern).
CLUSTER_NODES = "CLUSTER NODES"
CLUSTER_INFO = "CLUSTER INFO"
CLUSTER_SLOTS = "CLUSTER SLOTS"
CLUSTER_SHARDS = "CLUSTER SHARDS"
CLUSTER_LINKS = "CLUSTER LINKS"
CLUSTER_MYID = "CLUSTER MYID"
INFO = "INFO"
DBSIZE = "DBSIZE"
CONFIG_PREFIX = "CONFIG GET "
COUNTKEYSINSLOT_PREFIX = "CLUSTER COUNTKEYSINSLOT "
# Not a reply: the slots of the keys one `SCAN 0 COUNT 1000` returned, {slot: keys in the sample}.
# Key names are never stored.
SAMPLED_SLOTS = "SCAN sampled slots"

ERROR_KINDS = (
    "refused",  # TCP connection refused: nothing listens there
    "timeout",  # connect or reply timed out (down host, SIGSTOPped server, packet drop)
    "unreachable",  # other socket error (no route, host unreachable)
    "dns",  # name did not resolve
    "auth",  # NOAUTH / WRONGPASS / ACL refused
    "tls",  # TLS handshake failed or TLS mismatch
    "not-cluster",  # cluster support disabled on that server
    "loading",  # server is loading its dataset
    "protocol",  # it answered, but not as Redis does
    "deadline",  # the collection's overall deadline ran out before this node was asked
    "error",  # anything else
)


@dataclass(frozen=True)
class PortProbe:
    """A TCP connect made by the collector itself: can rcdoctor, from where it runs, reach it?"""

    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    kind: str | None = None  # one of ERROR_KINDS when not ok: "refused" and "timeout" mean different things


@dataclass(frozen=True)
class NodeError:
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class NodeSample:
    """One endpoint the collector dialed, and everything it learned there."""

    address: str
    origin: str  # "seed" or "view" (found in some node's CLUSTER NODES)
    announced_by: tuple[str, ...] = ()  # addresses of the nodes whose view listed this endpoint
    error: NodeError | None = None
    data_port: PortProbe | None = None
    bus_port: PortProbe | None = None
    bus_port_number: int | None = None
    resolved: tuple[str, ...] | None = None  # DNS answers when the host is a name
    ping_ms: float | None = None
    duration_ms: float | None = None
    replies: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    reply_errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def endpoint(self) -> Endpoint:
        return parse_hostport(self.address)

    @property
    def answered(self) -> bool:
        return self.error is None and CLUSTER_NODES in self.replies

    # Parsed views, derived from the raw replies and cached.

    @cached_property
    def view(self) -> Parsed[tuple[ClusterNode, ...]]:
        text = self.replies.get(CLUSTER_NODES)
        if not isinstance(text, str):
            return Parsed(())
        return parse_cluster_nodes(text)

    @cached_property
    def myself(self) -> ClusterNode | None:
        return next((n for n in self.view.value if n.is_myself), None)

    @property
    def node_id(self) -> str | None:
        if self.myself is not None:
            return self.myself.id
        myid = self.replies.get(CLUSTER_MYID)
        return myid if isinstance(myid, str) else None

    @cached_property
    def cluster_info(self) -> dict[str, str]:
        text = self.replies.get(CLUSTER_INFO)
        return parse_kv(text).value if isinstance(text, str) else {}

    @cached_property
    def info(self) -> dict[str, dict[str, str]]:
        text = self.replies.get(INFO)
        return parse_info(text).value if isinstance(text, str) else {}

    @cached_property
    def config(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for key, reply in self.replies.items():
            if key.startswith(CONFIG_PREFIX) and isinstance(reply, dict):
                merged.update({str(k): str(v) for k, v in reply.items()})
        return merged

    @cached_property
    def slots(self) -> Parsed[tuple[SlotsEntry, ...]]:
        if CLUSTER_SLOTS not in self.replies:
            return Parsed(())
        return parse_cluster_slots(self.replies[CLUSTER_SLOTS])

    @property
    def cluster_state(self) -> str | None:
        return self.cluster_info.get("cluster_state")

    @property
    def version(self) -> str | None:
        return self.info.get("server", {}).get("redis_version")

    @property
    def role(self) -> str | None:
        return self.info.get("replication", {}).get("role")

    @property
    def keys(self) -> int | None:
        dbsize = self.replies.get(DBSIZE)
        if isinstance(dbsize, int):
            return dbsize
        keyspace = self.info.get("keyspace")
        return sum(parse_keyspace(keyspace).values()) if keyspace is not None else None

    @property
    def current_epoch(self) -> int | None:
        return as_int(self.cluster_info.get("cluster_current_epoch"))

    def sampled_slots(self) -> dict[int, int]:
        raw = self.replies.get(SAMPLED_SLOTS)
        if not isinstance(raw, dict):
            return {}
        return {int(k): v for k, v in raw.items() if str(k).isdigit() and isinstance(v, int)}

    def keys_in_slot(self) -> dict[int, int]:
        """Key counts per slot, for the slots the collector counted on this node."""
        counts: dict[int, int] = {}
        for key, value in self.replies.items():
            if key.startswith(COUNTKEYSINSLOT_PREFIX) and isinstance(value, int):
                counts[int(key.removeprefix(COUNTKEYSINSLOT_PREFIX))] = value
        return counts


@dataclass(frozen=True)
class Snapshot:
    collected_at: str  # ISO 8601, UTC
    duration_s: float
    seeds: tuple[str, ...]
    timeout_s: float
    nodes: tuple[NodeSample, ...]
    tool_version: str = ""
    tls: bool = False
    auth: bool = False
    # DNS answers for host names found in views: {name: {"addresses": [...] | None, "error": str | None}}
    dns: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))

    def node(self, address: str) -> NodeSample | None:
        return next((n for n in self.nodes if n.address == address), None)

    @property
    def answered(self) -> tuple[NodeSample, ...]:
        return tuple(n for n in self.nodes if n.answered)

    @property
    def failed(self) -> tuple[NodeSample, ...]:
        return tuple(n for n in self.nodes if not n.answered)

    # JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "tool_version": self.tool_version,
            "collected_at": self.collected_at,
            "duration_s": self.duration_s,
            "seeds": list(self.seeds),
            "timeout_s": self.timeout_s,
            "tls": self.tls,
            "auth": self.auth,
            "dns": {name: dict(answer) for name, answer in self.dns.items()},
            "nodes": [_node_to_dict(n) for n in self.nodes],
        }

    def to_json(self) -> str:
        # Compact on purpose: with `indent` json falls back to its pure-Python encoder, 7x slower on the
        # multi-megabyte snapshot of a 60-node cluster. `jq .` pretty-prints it.
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)

    @classmethod
    def from_dict(cls, data: object) -> Snapshot:
        return _snapshot_from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise SnapshotError(f"not a snapshot: not valid JSON ({exc})") from None
        return _snapshot_from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> Snapshot:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(f"{path}: not a snapshot: not UTF-8 text") from None
        try:
            return cls.from_json(text)
        except SnapshotError as exc:
            raise SnapshotError(f"{path}: {exc}") from None


def _json_default(value: object) -> object:
    """Reply values json cannot write itself (bytes, tuples from other parsers, exotic types)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def _probe_to_dict(probe: PortProbe | None) -> dict[str, Any] | None:
    if probe is None:
        return None
    return {"ok": probe.ok, "latency_ms": probe.latency_ms, "error": probe.error, "kind": probe.kind}


def _node_to_dict(node: NodeSample) -> dict[str, Any]:
    return {
        "address": node.address,
        "origin": node.origin,
        "announced_by": list(node.announced_by),
        "error": None if node.error is None else {"kind": node.error.kind, "message": node.error.message},
        "data_port": _probe_to_dict(node.data_port),
        "bus_port": _probe_to_dict(node.bus_port),
        "bus_port_number": node.bus_port_number,
        "resolved": None if node.resolved is None else list(node.resolved),
        "ping_ms": node.ping_ms,
        "duration_ms": node.duration_ms,
        "replies": dict(node.replies),
        "reply_errors": dict(node.reply_errors),
    }


# Loading with validation: every field is checked, and the first problem is named by its path.


class _Reader:
    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise SnapshotError(f"not a snapshot: {path or 'top level'} is not an object")
        self.data = data
        self.path = path

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise SnapshotError(f"not a snapshot: {self._where(key)} is missing")
        value = self.data[key]
        if value is None and optional:
            return None
        # bool is an int in Python; a JSON true where a number belongs is still wrong
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise SnapshotError(f"not a snapshot: {self._where(key)} has the wrong type")
        if not isinstance(value, kind):
            raise SnapshotError(f"not a snapshot: {self._where(key)} has the wrong type")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        items = self.get(key, list)
        if not all(isinstance(i, str) for i in items):
            raise SnapshotError(f"not a snapshot: {self._where(key)} must be a list of strings")
        return tuple(items)

    def reader(self, key: str, optional: bool = True) -> _Reader | None:
        value = self.get(key, dict, optional=optional)
        return None if value is None else _Reader(value, self._where(key))


def _probe_from(reader: _Reader | None) -> PortProbe | None:
    if reader is None:
        return None
    return PortProbe(
        ok=reader.get("ok", bool),
        latency_ms=reader.get("latency_ms", (int, float), optional=True),
        error=reader.get("error", str, optional=True),
        kind=reader.get("kind", str, optional=True),
    )


def _snapshot_from_dict(data: object) -> Snapshot:
    top = _Reader(data, "")
    fmt = top.get("format", str, optional=True)
    if fmt != SNAPSHOT_FORMAT:
        raise SnapshotError(f"not a snapshot: format is {fmt!r}, expected {SNAPSHOT_FORMAT!r}")
    version = top.get("version", int)
    if version != SNAPSHOT_VERSION:
        raise SnapshotError(
            f"snapshot version {version} is not supported (this rcdoctor reads version {SNAPSHOT_VERSION})"
        )
    nodes_raw = top.get("nodes", list)
    nodes = []
    for index, raw in enumerate(nodes_raw):
        r = _Reader(raw, f"nodes[{index}]")
        address = r.get("address", str)
        try:
            parse_hostport(address)
        except Exception:
            raise SnapshotError(f"not a snapshot: nodes[{index}].address {address!r} is not host:port") from None
        err = r.reader("error")
        error = None if err is None else NodeError(err.get("kind", str), err.get("message", str))
        replies = r.get("replies", dict)
        reply_errors = r.get("reply_errors", dict)
        if not all(isinstance(v, str) for v in reply_errors.values()):
            raise SnapshotError(f"not a snapshot: nodes[{index}].reply_errors must map to strings")
        resolved = r.get("resolved", list, optional=True)
        nodes.append(
            NodeSample(
                address=address,
                origin=r.get("origin", str),
                announced_by=r.strings("announced_by"),
                error=error,
                data_port=_probe_from(r.reader("data_port")),
                bus_port=_probe_from(r.reader("bus_port")),
                bus_port_number=r.get("bus_port_number", int, optional=True),
                resolved=None if resolved is None else tuple(str(x) for x in resolved),
                ping_ms=r.get("ping_ms", (int, float), optional=True),
                duration_ms=r.get("duration_ms", (int, float), optional=True),
                replies=MappingProxyType(dict(replies)),
                reply_errors=MappingProxyType(dict(reply_errors)),
            )
        )
    return Snapshot(
        collected_at=top.get("collected_at", str),
        duration_s=float(top.get("duration_s", (int, float))),
        seeds=top.strings("seeds"),
        timeout_s=float(top.get("timeout_s", (int, float))),
        nodes=tuple(nodes),
        tool_version=top.get("tool_version", str, optional=True) or "",
        tls=bool(top.get("tls", bool, optional=True)),
        auth=bool(top.get("auth", bool, optional=True)),
        dns=MappingProxyType(_dns_from(top.get("dns", dict, optional=True) or {})),
    )


def _dns_from(raw: dict[str, Any]) -> dict[str, Mapping[str, Any]]:
    answers: dict[str, Mapping[str, Any]] = {}
    for name, value in raw.items():
        r = _Reader(value, f"dns.{name}")
        addresses = r.get("addresses", list, optional=True)
        answers[name] = {
            "addresses": None if addresses is None else [str(a) for a in addresses],
            "error": r.get("error", str, optional=True),
        }
    return answers
