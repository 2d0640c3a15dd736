"""The Snapshot: everything collected from every node at one moment, as immutable data.

A snapshot holds the raw replies (decoded to JSON values) rather than parsed objects, so a bundle
recorded today is re-read by tomorrow's parsers. Parsed views are derived on demand and cached.
Never holds a secret: seeds are stored as `host:port`, credentials are not stored at all.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rcdoctor.errors import SnapshotError
from rcdoctor.model.address import Endpoint, parse_hostport
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.cluster_slots import SlotsEntry
from rcdoctor.model.info import as_int, parse_info, parse_keyspace, parse_kv
from rcdoctor.model.parse_cache import ParseCache
from rcdoctor.model.parsed import Parsed
from rcdoctor.model.server import ServerIdentity, server_identity
from rcdoctor.model.slot_migrations import (
    REDIS_MIGRATION_STATUS,
    VALKEY_GETSLOTMIGRATIONS,
    SlotMigration,
    parse_redis,
    parse_valkey,
)
from rcdoctor.model.slot_stats import SLOT_STATS, parse_slot_stats
from rcdoctor.model.snapshot_reader import Unreadable, read_json
from rcdoctor.model.sources import Pod, SeedSource

GZIP_MAGIC = b"\x1f\x8b"
SNAPSHOT_FORMAT = "rcdoctor.snapshot"
SNAPSHOT_VERSION = 1
MAX_SNAPSHOT_BYTES = 768 * 1024**2

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
class PortCheck:
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
    data_port: PortCheck | None = None
    bus_port: PortCheck | None = None
    bus_port_number: int | None = None
    resolved: tuple[str, ...] | None = None  # DNS answers when the host is a name
    ping_ms: float | None = None
    duration_ms: float | None = None
    replies: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    reply_errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Not data: the parses this sample shares with the other samples of its snapshot (Snapshot sets one
    # cache on all of them), so a line every view has is parsed once.
    parse_cache: ParseCache = field(default_factory=ParseCache, compare=False, repr=False)

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
        return self.parse_cache.cluster_nodes(text)

    @cached_property
    def myself(self) -> ClusterNode | None:
        return self.parse_cache.myself_of(self.view.value)

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
        return self.parse_cache.cluster_slots(self.replies[CLUSTER_SLOTS])

    @cached_property
    def slot_migrations(self) -> Parsed[tuple[SlotMigration, ...]]:
        """Server-side atomic slot migrations (Valkey 9.0+, Redis 8.4+) this node reports, finished ones too."""
        if VALKEY_GETSLOTMIGRATIONS in self.replies:
            return parse_valkey(self.replies[VALKEY_GETSLOTMIGRATIONS])
        if REDIS_MIGRATION_STATUS in self.replies:
            return parse_redis(self.replies[REDIS_MIGRATION_STATUS])
        return Parsed(())

    @property
    def cluster_state(self) -> str | None:
        return self.cluster_info.get("cluster_state")

    @cached_property
    def identity(self) -> ServerIdentity | None:
        """Redis or Valkey, its own version and mode (None: no INFO server reply)."""
        return server_identity(self.info.get("server", {}))

    @property
    def version(self) -> str | None:
        """The server's own version ("8.1.8" on Valkey 8.1, never the redis_version:7.2.4 it also reports)."""
        return self.identity.version if self.identity else None

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

    def slot_stats(self) -> dict[int, int] | None:
        """Exact key counts of the slots this primary owns (CLUSTER SLOT-STATS), None where not asked or
        not readable."""
        if SLOT_STATS not in self.replies:
            return None
        parsed = parse_slot_stats(self.replies[SLOT_STATS])
        return parsed.value if parsed.ok else None

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
    # What the seeds were (address, DNS name, k8s selector, file, variable) and what each expanded to.
    sources: tuple[SeedSource, ...] = ()

    def __post_init__(self) -> None:
        # One parse cache for all the samples (see ParseCache): a memo keyed by the reply, so it is right
        # to share it even with samples that are also in another snapshot. The collector gives all its
        # samples one already (views it parsed for discovery stay parsed): kept.
        first = self.nodes[0].parse_cache if self.nodes else None
        same = first is not None and all(n.parse_cache is first for n in self.nodes)
        shared = first if same and first is not None else ParseCache()
        for sample in self.nodes:
            object.__setattr__(sample, "parse_cache", shared)

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
            "sources": [_source_to_dict(s) for s in self.sources],
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
        with _gc_paused():
            try:
                data = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise SnapshotError(f"not a snapshot: not valid JSON ({exc})") from None
            if isinstance(data, dict) and isinstance(data.get("nodes"), list):
                shared = _SharedReplies()
                data["nodes"] = [shared.node(n) for n in data["nodes"]]
            return _snapshot_from_dict(data)

    @classmethod
    def load(cls, path: str | Path, limit: int | None = None) -> Snapshot:
        """Read and validate a snapshot file: JSON, or JSON compressed with gzip (told by its first bytes,
        whatever its name). One larger than `limit` (default MAX_SNAPSHOT_BYTES) is refused before it is
        parsed (a 1 GiB file cost 3 GB and 14 s to fail; /dev/zero never ended), and one whose first bytes
        are neither JSON nor gzip at once. Read a piece at a time (snapshot_reader): the file is never held
        whole; a file that cannot be read so is read whole again (to the cap), for the error message that
        says what is wrong where."""
        cap = MAX_SNAPSHOT_BYTES if limit is None else limit
        too_big = SnapshotError(
            f"{path}: larger than {cap // 1024**2} MiB: not a snapshot rcdoctor wrote (one of a 1,000-node "
            "cluster is about 200 MiB, 26 MiB gzipped)"
        )
        try:
            with Path(path).open("rb") as stream:
                if os.fstat(stream.fileno()).st_size > cap:
                    raise too_big  # a regular file: refused from its size, nothing read
                head = stream.read(64 * 1024)
        except OSError as exc:
            raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
        if head[:2] != GZIP_MAGIC and head.lstrip()[:1] != b"{":
            if len(head) < 64 * 1024:  # the whole file: the parser's own words for what is wrong
                try:
                    cls.from_json(head.decode("utf-8", "replace"))
                except SnapshotError as exc:
                    raise SnapshotError(f"{path}: {exc}") from None
            # /dev/zero, a binary, a log: refused at its first bytes instead of read to the cap
            raise SnapshotError(f"{path}: not a snapshot: not a JSON object")
        with _gc_paused():
            try:
                data = read_json(path, _SharedReplies().node)
            except Unreadable:
                pass
            else:
                try:
                    return _snapshot_from_dict(data)
                except SnapshotError as exc:
                    raise SnapshotError(f"{path}: {exc}") from None
        try:
            with Path(path).open("rb") as stream:
                raw = stream.read(cap + 1)
        except OSError as exc:
            raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(raw) > cap:
            raise too_big
        if raw[:2] == GZIP_MAGIC:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise SnapshotError(f"{path}: not a snapshot: unreadable gzip data ({exc})") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(f"{path}: not a snapshot: not UTF-8 text") from None
        del raw
        try:
            return cls.from_json(text)
        except SnapshotError as exc:
            raise SnapshotError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write the snapshot as JSON, compressed with gzip when the name ends in `.gz` (a 1,000-node
        snapshot: 190 MB of JSON, 26 MB compressed; `zcat FILE | jq .` reads it). OSError is the caller's."""
        text = self.to_json() + "\n"
        if str(path).endswith(".gz"):
            # level 6 (gzip's default): 7x smaller on big clusters' repetitive views; mtime 0 so the same
            # snapshot gives the same bytes
            Path(path).write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))
        else:
            Path(path).write_text(text, encoding="utf-8")


class _SharedReplies:
    """A CLUSTER SLOTS (or SHARDS) reply several nodes gave identically (on a settled cluster the same 500
    ranges from every one of 1,000 nodes, 340 KB of Python objects each) is kept once, one object every
    sample shares; given each node as soon as it is read, so no more than one extra copy is ever held.
    Compared with the last few distinct replies (a C-level `==`, no copy made, that stops at the first
    difference: SHARDS replies differ as soon as replication offsets do). (`==` takes a JSON `true` for a
    `1`: only a hand-made file could differ so, and the parser refuses both alike.)"""

    SHARED = (CLUSTER_SLOTS, CLUSTER_SHARDS)
    KEPT = 2

    def __init__(self) -> None:
        self._seen: dict[str, list[object]] = {key: [] for key in self.SHARED}

    def node(self, node: Any) -> Any:
        replies = node.get("replies") if isinstance(node, dict) else None
        if not isinstance(replies, dict):
            return node
        for key in self.SHARED:
            value = replies.get(key)
            if isinstance(value, list) and value:
                seen = self._seen[key]
                same = next((s for s in seen if s == value), None)
                if same is not None:
                    replies[key] = same
                else:  # the newest first: views change by waves
                    self._seen[key] = [value, *seen][: self.KEPT]
        return node


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic GC runs every few hundred new containers and walks every object still alive:
    reading a big snapshot (millions of lists and dicts, none of them garbage) spent 80% of its time
    there, 3.8 s instead of 0.6 s for 1,000 nodes. Nothing made while parsing JSON is a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _json_default(value: object) -> object:
    """Reply values json cannot write itself (bytes, tuples from other parsers, exotic types)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def _port_to_dict(probe: PortCheck | None) -> dict[str, Any] | None:
    if probe is None:
        return None
    return {"ok": probe.ok, "latency_ms": probe.latency_ms, "error": probe.error, "kind": probe.kind}


def _pod_to_dict(pod: Pod) -> dict[str, Any]:
    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "ip": pod.ip,
        "port": pod.port,
        "phase": pod.phase,
        "ready": pod.ready,
        "restarts": pod.restarts,
        "node": pod.node,
        "zone": pod.zone,
    }


def _source_to_dict(source: SeedSource) -> dict[str, Any]:
    return {
        "spec": source.spec,
        "kind": source.kind,
        "addresses": list(source.addresses),
        "error": source.error,
        "pods": [_pod_to_dict(p) for p in source.pods],
        "complete": source.complete,
    }


def _node_to_dict(node: NodeSample) -> dict[str, Any]:
    return {
        "address": node.address,
        "origin": node.origin,
        "announced_by": list(node.announced_by),
        "error": None if node.error is None else {"kind": node.error.kind, "message": node.error.message},
        "data_port": _port_to_dict(node.data_port),
        "bus_port": _port_to_dict(node.bus_port),
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


def _port_from(reader: _Reader | None) -> PortCheck | None:
    if reader is None:
        return None
    return PortCheck(
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
    # The validation's parses are the samples' too: every distinct CLUSTER NODES line parsed once in all.
    cache = ParseCache()
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
        _check_replies(f"nodes[{index}].replies", replies, cache)
        resolved = r.get("resolved", list, optional=True)
        nodes.append(
            NodeSample(
                address=address,
                origin=r.get("origin", str),
                announced_by=r.strings("announced_by"),
                error=error,
                data_port=_port_from(r.reader("data_port")),
                bus_port=_port_from(r.reader("bus_port")),
                bus_port_number=r.get("bus_port_number", int, optional=True),
                resolved=None if resolved is None else tuple(str(x) for x in resolved),
                ping_ms=r.get("ping_ms", (int, float), optional=True),
                duration_ms=r.get("duration_ms", (int, float), optional=True),
                replies=MappingProxyType(dict(replies)),
                reply_errors=MappingProxyType(dict(reply_errors)),
                parse_cache=cache,
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
        sources=_sources_from(top.get("sources", list, optional=True) or []),
    )


# The type each reply the collector writes has (JSON of redis-py's answers); a file that differs was
# edited or damaged, and analysing it would invent findings (a garbled CLUSTER NODES reads as a node that
# knows nobody: a partition, 16384 uncovered slots). Keys not listed here are read as they come.
REPLY_TYPES: dict[str, type | tuple[type, ...]] = {
    CLUSTER_NODES: str,
    CLUSTER_INFO: str,
    CLUSTER_MYID: str,
    INFO: str,
    DBSIZE: int,
    CLUSTER_SLOTS: list,
    CLUSTER_SHARDS: list,
    CLUSTER_LINKS: list,
}


def _check_replies(where: str, replies: dict[str, Any], cache: ParseCache) -> None:
    """Refuse a damaged reply, naming it: wrong type, or a CLUSTER NODES/INFO no server would send."""
    for key, value in replies.items():
        field = f"{where}[{key!r}]"
        expected = REPLY_TYPES.get(key) or (dict if key.startswith(CONFIG_PREFIX) else None)
        if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            raise SnapshotError(f"not a snapshot: {field} is {type(value).__name__}, not {_type_name(expected)}")
        if key.startswith(CONFIG_PREFIX) and not all(isinstance(v, str) for v in value.values()):
            raise SnapshotError(f"not a snapshot: {field} must map setting names to strings")
    nodes = replies.get(CLUSTER_NODES)
    if isinstance(nodes, str):
        parsed = cache.cluster_nodes(nodes)
        if parsed.errors:
            raise SnapshotError(f"not a snapshot: {where}[{CLUSTER_NODES!r}] {parsed.errors[0]}")
        if sum(1 for n in parsed.value if n.is_myself) != 1:
            raise SnapshotError(
                f"not a snapshot: {where}[{CLUSTER_NODES!r}] has no `myself` line (every reply has one)"
            )
    info = replies.get(CLUSTER_INFO)
    if isinstance(info, str) and "cluster_state:" not in info:
        raise SnapshotError(f"not a snapshot: {where}[{CLUSTER_INFO!r}] has no cluster_state")
    myid = replies.get(CLUSTER_MYID)
    if isinstance(myid, str) and not re.fullmatch(r"[0-9a-f]{40}", myid):
        raise SnapshotError(f"not a snapshot: {where}[{CLUSTER_MYID!r}] {myid[:60]!r} is not a node id")


def _type_name(expected: type | tuple[type, ...]) -> str:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    names = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _sources_from(raw: list[Any]) -> tuple[SeedSource, ...]:
    """Snapshots written before sources were recorded have none: an empty tuple, not an error."""
    sources = []
    for index, value in enumerate(raw):
        r = _Reader(value, f"sources[{index}]")
        pods = []
        for pod_index, pod_raw in enumerate(r.get("pods", list, optional=True) or []):
            p = _Reader(pod_raw, f"sources[{index}].pods[{pod_index}]")
            pods.append(
                Pod(
                    name=p.get("name", str),
                    namespace=p.get("namespace", str),
                    ip=p.get("ip", str, optional=True),
                    port=p.get("port", int),
                    phase=p.get("phase", str),
                    ready=p.get("ready", bool),
                    restarts=p.get("restarts", int),
                    node=p.get("node", str, optional=True),
                    zone=p.get("zone", str, optional=True),
                )
            )
        sources.append(
            SeedSource(
                spec=r.get("spec", str),
                kind=r.get("kind", str),
                addresses=r.strings("addresses") if "addresses" in r.data else (),
                error=r.get("error", str, optional=True),
                pods=tuple(pods),
                complete=bool(r.get("complete", bool, optional=True)),
            )
        )
    return tuple(sources)


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
