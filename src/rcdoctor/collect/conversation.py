"""One node's sample as a conversation: the steps, in order, with every failure kept as data.

The steps are a generator driven by transport/multiplex.py (which does all the waiting), so the
collector asks hundreds of nodes at once from one thread. Two round trips per node at most:

1. the TCP connect (which is also the data port's probe: "refused" and "timed out" differ from "open,
   and the server is silent"), then AUTH, the connection's name, PING and every command of a sample
   with the key-sample SCAN, in one write;
2. what those answers call for, in one more write: the server's newer commands, exact key counts of
   its own slots, and key counts of its open slots and of slots it holds keys of without serving them.

Then a TCP connect to the cluster bus port the node gave itself.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rcdoctor.model.address import BUS_PORT_OFFSET, Endpoint, is_ip
from rcdoctor.model.cluster_nodes import ClusterNode, parse_entry, parse_myself
from rcdoctor.model.cluster_slots import pairs_to_dict
from rcdoctor.model.info import server_section
from rcdoctor.model.parse_cache import ParseCache
from rcdoctor.model.server import ServerIdentity, server_identity
from rcdoctor.model.slot_migrations import commands_for
from rcdoctor.model.slot_stats import SLOT_STATS, SLOT_STATS_COMMAND, has_slot_stats, with_keys
from rcdoctor.model.slots import key_hash_slot
from rcdoctor.model.snapshot import (
    CLUSTER_INFO,
    CLUSTER_LINKS,
    CLUSTER_MYID,
    CLUSTER_NODES,
    CLUSTER_SHARDS,
    CLUSTER_SLOTS,
    CONFIG_PREFIX,
    COUNTKEYSINSLOT_PREFIX,
    DBSIZE,
    INFO,
    SAMPLED_SLOTS,
    NodeError,
    NodeSample,
    PortCheck,
)
from rcdoctor.transport.failures import aborting_reply, auth_refused, classify, classify_with, reply_text
from rcdoctor.transport.multiplex import Answers, Ask, Broken, Dial, Knock, Lookup, Request
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.resp import ReplyError

# CONFIG GET takes one pattern per call on 6.2, so each is its own command (pipelined anyway).
CONFIG_PATTERNS = (
    "cluster-*",
    "appendonly",
    "appendfsync",
    "save",
    "bind",
    "bind-source-addr",
    "port",
    "tls-port",
    "tls-cluster",
    "tcp-keepalive",
    "min-replicas-*",
    "replica-announce-*",
    "maxmemory",
    "maxmemory-policy",
    "protected-mode",
)
# Never copied into a snapshot even if a pattern above ever matched them.
SECRET_CONFIG_WORDS = ("pass", "auth", "secret", "token")

Keyed = tuple[str, tuple[str, ...]]
COMMANDS: tuple[Keyed, ...] = (
    (CLUSTER_MYID, ("CLUSTER", "MYID")),
    (CLUSTER_NODES, ("CLUSTER", "NODES")),
    (CLUSTER_INFO, ("CLUSTER", "INFO")),
    (INFO, ("INFO",)),
    (DBSIZE, ("DBSIZE",)),
    (CLUSTER_SLOTS, ("CLUSTER", "SLOTS")),
    *((CONFIG_PREFIX + p, ("CONFIG", "GET", p)) for p in CONFIG_PATTERNS),
)
# Read by no check, only by people and tools reading a saved snapshot (`rcdoctor collect`): asked only for
# a complete sample. On a 60-node cluster they are half of every node's reply bytes (two LINKS entries per
# peer), parsed by us and built by the servers on every diagnose, heal re-read and exporter round.
FOR_THE_RECORD: tuple[Keyed, ...] = (
    (CLUSTER_SHARDS, ("CLUSTER", "SHARDS")),  # 7.0+
    (CLUSTER_LINKS, ("CLUSTER", "LINKS")),  # 7.0+
)

# Keys sampled per node to find keys left in slots the node does not serve (one SCAN call: O(n) on the
# server, well under a millisecond for 1,000 keys).
KEY_SAMPLE = 1000
SCAN_KEY = "SCAN"
CLIENT_NAME = "rcdoctor"  # as every connection of rcdoctor's is named (ConnectOptions.connection_kwargs)


def identity_of(info: object) -> ServerIdentity | None:
    return server_identity(server_section(info)) if isinstance(info, str) else None


@dataclass
class _Learnt:
    """What one node's sample learnt so far: kept when a later step fails."""

    replies: dict[str, Any] = field(default_factory=dict)
    reply_errors: dict[str, str] = field(default_factory=dict)
    scanned: dict[str, Any] = field(default_factory=dict)  # key names: never in `replies`
    error: NodeError | None = None
    ping_ms: float | None = None
    myself: ClusterNode | None = None

    def take(self, keyed: Sequence[Keyed], replies: Sequence[Any], into: dict[str, Any] | None = None) -> bool:
        """Record replies in order; False at the first one that fails the whole node (what follows it
        is not read, as a client that raised there would not have)."""
        for (key, _), reply in zip(keyed, replies, strict=False):
            if isinstance(reply, ReplyError):
                aborting = aborting_reply(reply)
                if aborting is not None:
                    self.error = aborting
                    return False
                self.reply_errors[key] = reply_text(reply)
                continue
            (self.replies if into is None else into)[key] = _jsonable(key, reply)
        return True


def sample_node(
    address: str,
    origin: str,
    options: ConnectOptions,
    deadline: float,
    count_open_slot_keys: bool,
    bus_port_hint: int | None,
    cache: ParseCache,
    complete: bool = False,
) -> Generator[Request, Any, NodeSample]:
    """Talk to one node; every failure becomes data (the sample is the generator's return value).
    `complete`: ask FOR_THE_RECORD too (a snapshot to keep), not only what the checks read."""
    started = time.monotonic()
    endpoint = Endpoint(*_split(address))
    resolved: tuple[str, ...] | None = None
    host = endpoint.host
    if not is_ip(host):
        resolved, dns_error = yield Lookup(host)
        if resolved is None:
            return NodeSample(
                address,
                origin,
                error=NodeError("dns", f"{endpoint.host} does not resolve ({dns_error})"),
                duration_ms=_ms(started),
            )
        host = resolved[0]

    def budget() -> float:
        return min(options.timeout, deadline - time.monotonic())

    learnt = _Learnt()
    data_probe = PortCheck(False, None, "not probed", "error")
    try:
        server_name = options.server_names.get(host) if options.tls else None
        data_probe = PortCheck(True, (yield Dial(Endpoint(host, endpoint.port), budget(), server_name)))
        commands = COMMANDS + FOR_THE_RECORD if complete else COMMANDS
        yield from _ask(options, count_open_slot_keys, learnt, budget, commands)
    except Broken as broken:
        data_probe = broken.probe
        if not broken.probe.ok:
            learnt.error = NodeError(broken.probe.kind or "unreachable", broken.probe.error or "unreachable")
        elif learnt.error is None:
            learnt.error = classify_with(broken.cause, options, broken.connecting)
    except Exception as exc:  # a reply of a shape nobody expected: data about this node, not a crash
        learnt.error = learnt.error or classify(exc)

    myself = learnt.myself
    bus_number = (myself.cport if myself and myself.cport else None) or bus_port_hint or endpoint.port + BUS_PORT_OFFSET
    bus_probe = yield Knock(Endpoint(host, bus_number), budget())
    return NodeSample(
        address=address,
        origin=origin,
        error=learnt.error,
        data_port=data_probe,
        bus_port=bus_probe,
        bus_port_number=bus_number,
        resolved=resolved,
        ping_ms=learnt.ping_ms,
        duration_ms=_ms(started),
        replies=MappingProxyType(learnt.replies),
        reply_errors=MappingProxyType(learnt.reply_errors),
        parse_cache=cache,
    )


def _ask(
    options: ConnectOptions, count_open_slot_keys: bool, learnt: _Learnt, budget: Any, commands: tuple[Keyed, ...]
) -> Generator[Request, Any, None]:
    """The two writes of a sample. Replies that arrived before a failure (Broken) are kept."""
    hello: list[tuple[str, ...]] = []
    with_auth = options.password is not None
    if options.password is not None:
        secret = options.password.reveal()
        hello.append(("AUTH", options.username, secret) if options.username else ("AUTH", secret))
    # RESP2, which every server speaks; hiredis parses it 2-3 times faster than RESP3's maps. The replies
    # that RESP3 would give as maps are given that shape here (_as_resp3), as snapshots hold them.
    # The name only shows rcdoctor in CLIENT LIST: an ACL user without CLIENT is no blind spot.
    hello += [("CLIENT", "SETNAME", CLIENT_NAME), ("PING",)]
    scan: tuple[Keyed, ...] = ((SCAN_KEY, ("SCAN", "0", "COUNT", str(KEY_SAMPLE))),) if count_open_slot_keys else ()
    asked = (*commands, *scan)
    try:
        answers: Answers = yield Ask((*hello, *(args for _, args in asked)), budget())
    except Broken as broken:
        if _greeted(broken.partial, with_auth, learnt, None):
            learnt.take(asked, broken.partial[len(hello) :])
        raise
    if not _greeted(answers.replies, with_auth, learnt, answers) or not learnt.take(
        commands, answers.replies[len(hello) :]
    ):
        return
    learnt.take(scan, answers.replies[len(hello) + len(commands) :], into=learnt.scanned)
    follow = _follow_up(count_open_slot_keys, learnt)
    if follow:
        try:
            more: Answers = yield Ask(tuple(args for _, args in follow), budget())
        except Broken as broken:
            learnt.take(follow, broken.partial)
            raise
        if learnt.take(follow, more.replies) and SLOT_STATS in learnt.replies:
            learnt.replies[SLOT_STATS] = with_keys(learnt.replies[SLOT_STATS])
    # A node whose essential commands failed is an error as a whole (e.g. cluster support disabled).
    learnt.error = learnt.error or _node_level_error(learnt.reply_errors)


def _greeted(replies: Sequence[Any], with_auth: bool, learnt: _Learnt, answers: Answers | None) -> bool:
    """AUTH, CLIENT SETNAME and PING answered as a client library's connect would accept (a refused
    AUTH or a failed PING fails the node; a SETNAME refused by ACL does not)."""
    count = 3 if with_auth else 2
    for index, reply in enumerate(replies[:count]):
        last = index == count - 1
        if isinstance(reply, ReplyError):
            if index == 0 and with_auth:
                learnt.error = aborting_reply(reply) or auth_refused(reply.message)
                return False
            aborting = aborting_reply(reply)
            if aborting is not None or last:  # PING refused: nothing else will be answered either
                learnt.error = aborting or classify(reply)
                return False
        if last and answers is not None:
            learnt.ping_ms = round((answers.arrived[index] - answers.sent_at) * 1000, 3)
    return len(replies) >= count


def _follow_up(count_open_slot_keys: bool, learnt: _Learnt) -> list[Keyed]:
    """The second write: what the first one's answers call for."""
    replies = learnt.replies
    info = replies.get(INFO)
    # Atomic slot migrations only where the server has them (Valkey 9.0+, Redis 8.4+), known from
    # its INFO: older servers would answer every snapshot with an "unknown subcommand" error.
    follow = list(commands_for(server_section(info)) if isinstance(info, str) else ())
    myself = learnt.myself = _myself(replies.get(CLUSTER_NODES))
    if myself is not None and myself.is_primary and myself.slots and has_slot_stats(identity_of(info)):
        # Exact key counts of its own slots: DBSIZE minus their sum is what it holds elsewhere (S003)
        follow.append((SLOT_STATS, SLOT_STATS_COMMAND))
    if count_open_slot_keys and myself is not None:
        to_count = _slots_to_count(myself, learnt.scanned, replies)
        follow += [(COUNTKEYSINSLOT_PREFIX + str(s), ("CLUSTER", "COUNTKEYSINSLOT", str(s))) for s in to_count]
    return follow


def _slots_to_count(myself: ClusterNode, scanned: dict[str, Any], replies: dict[str, Any]) -> list[int]:
    """Slots whose keys are worth counting here: the open ones, and those of a sample of keys that
    fall outside the slots this node serves (keys left on a node that does not own them).

    One `SCAN 0 COUNT n` gives the sample; only the slots of its keys are kept, never key names
    (snapshots are shared, key names can be personal data).
    """
    sampled: Counter[int] = Counter()
    reply = scanned.get(SCAN_KEY)
    if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):
        sampled.update(key_hash_slot(k) for k in reply[1] if isinstance(k, str))
        replies[SAMPLED_SLOTS] = {str(slot): n for slot, n in sorted(sampled.items())}
    served = _served_slots(myself, replies.get(CLUSTER_NODES))
    open_slots = {slot for slot, _ in myself.migrating} | {slot for slot, _ in myself.importing}
    foreign = {slot for slot in sampled if slot not in served}
    return sorted(open_slots | foreign)


def _served_slots(myself: ClusterNode, view_text: Any) -> set[int]:
    """The slots this node serves in its own view: its own, or its primary's when it is a replica."""
    ranges = myself.slots
    if myself.is_replica and myself.primary_id and isinstance(view_text, str):
        # Only the primary's line is parsed: the whole view is parsed once, later, for discovery.
        primary = parse_entry(view_text, myself.primary_id)
        ranges = primary.slots if primary else ()
    return {slot for r in ranges for slot in range(r.start, r.end + 1)}


def _jsonable(key: str, reply: Any) -> Any:
    # Replies are kept as parsed (str, int, None, lists of them); Snapshot.to_json converts anything else.
    if key.startswith(CONFIG_PREFIX):
        pairs = pairs_to_dict(reply)
        return {k: str(v) for k, v in pairs.items() if not any(w in k.lower() for w in SECRET_CONFIG_WORDS)}
    if key in _MAPS and isinstance(reply, list):
        return _MAPS[key](reply)
    return reply


def _map(value: Any) -> Any:
    """A RESP2 flat [k1, v1, k2, v2, ...] array as the map RESP3 sends (anything else as it is)."""
    if isinstance(value, list) and not len(value) % 2:
        pairs = iter(value)
        return dict(zip(pairs, pairs))  # noqa: B905  (even length checked: the one iterator pairs itself)
    return value


def _shard(value: Any) -> Any:
    shard = _map(value)
    if isinstance(shard, dict) and isinstance(shard.get("nodes"), list):
        shard["nodes"] = [_map(n) for n in shard["nodes"]]
    return shard


def _slots_range(value: Any) -> Any:
    # [start, end, [ip, port, id, {metadata}], ...]: the metadata (7.0+) is a map
    if not isinstance(value, list):
        return value
    nodes = [[*n[:3], _map(n[3]), *n[4:]] if isinstance(n, list) and len(n) > 3 else n for n in value[2:]]
    return [*value[:2], *nodes]


def _slot_stat(value: Any) -> Any:
    return [value[0], _map(value[1])] if isinstance(value, list) and len(value) == 2 else value


# The replies RESP3 sends as maps, in the shape the snapshots recorded through redis-py (RESP3) hold.
_MAPS: dict[str, Callable[[list[Any]], Any]] = {
    CLUSTER_LINKS: lambda reply: [_map(link) for link in reply],
    CLUSTER_SHARDS: lambda reply: [_shard(shard) for shard in reply],
    CLUSTER_SLOTS: lambda reply: [_slots_range(entry) for entry in reply],
    SLOT_STATS: lambda reply: [_slot_stat(entry) for entry in reply],
}


def _node_level_error(reply_errors: dict[str, str]) -> NodeError | None:
    """A node whose essential commands failed is an error as a whole (e.g. cluster disabled)."""
    for key in (CLUSTER_NODES, CLUSTER_INFO):
        if key in reply_errors:
            return classify(ReplyError(reply_errors[key]))
    return None


def _myself(cluster_nodes_text: Any) -> ClusterNode | None:
    """The node's own line only (the full view is parsed once, later, for discovery)."""
    return parse_myself(cluster_nodes_text) if isinstance(cluster_nodes_text, str) else None


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
