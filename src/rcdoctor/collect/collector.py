"""The parallel collector: from seeds to one Snapshot of every node in every view.

Discovery is event driven: each node is dialed as soon as some answer names it, so a hung node
delays only its own record. The whole collection has one deadline (timeout + grace); whatever is not
done by then is recorded as a `deadline` error and the snapshot is returned anyway.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from rcdoctor import __version__
from rcdoctor.collect.probe import resolve, tcp_probe
from rcdoctor.collect.sources import expand
from rcdoctor.errors import SourceError
from rcdoctor.model.address import BUS_PORT_OFFSET, Endpoint, Seed, is_ip, parse_seed
from rcdoctor.model.cluster_nodes import ClusterNode, parse_cluster_nodes
from rcdoctor.model.cluster_slots import pairs_to_dict
from rcdoctor.model.info import parse_info
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
    Snapshot,
)
from rcdoctor.transport.errors import ServerError, classify, classify_with
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import open_connection

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

COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (CLUSTER_MYID, ("CLUSTER", "MYID")),
    (CLUSTER_NODES, ("CLUSTER", "NODES")),
    (CLUSTER_INFO, ("CLUSTER", "INFO")),
    (INFO, ("INFO",)),
    (DBSIZE, ("DBSIZE",)),
    (CLUSTER_SLOTS, ("CLUSTER", "SLOTS")),
    (CLUSTER_SHARDS, ("CLUSTER", "SHARDS")),  # 7.0+
    (CLUSTER_LINKS, ("CLUSTER", "LINKS")),  # 7.0+
    *((CONFIG_PREFIX + p, ("CONFIG", "GET", p)) for p in CONFIG_PATTERNS),
)

# Keys sampled per node to find keys left in slots the node does not serve (one SCAN call: O(n) on the
# server, well under a millisecond for 1,000 keys).
KEY_SAMPLE = 1000
SCAN_KEY = "SCAN"
CLIENT_NAME = "rcdoctor"  # as every connection of rcdoctor's is named (ConnectOptions.connection_kwargs)

Progress = Callable[[int, int], None]  # (done, known)


@dataclass
class _Pending:
    origin: str
    announced_by: set[str] = field(default_factory=set)
    bus_port: int | None = None


def identity_of(info: object) -> ServerIdentity | None:
    return server_identity(parse_info(info).value.get("server", {})) if isinstance(info, str) else None


def collect(
    seeds: Sequence[Seed | str],
    options: ConnectOptions | None = None,
    *,
    grace: float | None = None,
    max_workers: int = 64,
    count_open_slot_keys: bool = True,
    progress: Progress | None = None,
) -> Snapshot:
    """Collect every node reachable from `seeds` (and every node any of them knows) in parallel.

    Seeds are expanded first, within the same deadline: a DNS name to every address it resolves to, a
    `k8s:` selector to its pods' IPs, `@FILE` to its lines; so each collection follows pods that moved.
    Raises SourceError only when no seed gave any address and a k8s:/file source failed (a name that does
    not resolve is a "dns" node record, as before).
    """
    options = options or ConnectOptions()
    given = [parse_seed(s) if isinstance(s, str) else s for s in seeds]
    for seed in given:
        options = options.with_seed(seed)
    grace = max(1.0, options.timeout / 2) if grace is None else grace
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    deadline = started + options.timeout + grace
    expansion = expand(given, started + options.timeout, kube_context=options.kube_context)
    failed = [s for s in expansion.sources if s.error and s.kind in ("k8s", "file")]
    if not expansion.seeds and not expansion.unresolved and failed:
        raise SourceError(failed[0].error if len(failed) == 1 else "; ".join(f"{s.spec}: {s.error}" for s in failed))
    parsed = list(expansion.seeds)
    for seed in parsed:
        options = options.with_seed(seed)
    if expansion.server_names:
        options = replace(options, server_names=MappingProxyType({**options.server_names, **expansion.server_names}))

    crawl = _Crawl(options, deadline, count_open_slot_keys, progress)
    crawl.run(parsed, expansion.unresolved, max_workers, options.timeout + grace)
    samples, pending = crawl.samples, crawl.pending
    _probe_bus_ports_peers_use(samples, deadline)
    nodes = tuple(_with_announcers(samples[address], pending[address].announced_by) for address in sorted(pending))
    dns: dict[str, Any] = dict(expansion.answers)  # the seeds' names, resolved once above
    dns.update(_resolve_names(crawl.hostnames - {n.endpoint.host for n in nodes} - set(dns), deadline))
    return Snapshot(
        collected_at=started_wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        duration_s=round(time.monotonic() - started, 4),
        seeds=tuple(dict.fromkeys([*(str(s.endpoint) for s in parsed), *expansion.unresolved])),
        timeout_s=options.timeout,
        nodes=nodes,
        tool_version=__version__,
        tls=options.tls,
        auth=options.password is not None,
        dns=MappingProxyType(dns),
        sources=expansion.sources,
    )


class _Crawl:
    """Discovery: every seed sampled in parallel, then every node a view lists, until none is new or the
    deadline passes (a node still unanswered then is recorded as such, not waited for)."""

    def __init__(
        self, options: ConnectOptions, deadline: float, count_open_slot_keys: bool, progress: Progress | None
    ) -> None:
        self.options = options
        self.deadline = deadline
        self.count_open_slot_keys = count_open_slot_keys
        self.progress = progress
        self.pending: dict[str, _Pending] = {}
        self.samples: dict[str, NodeSample] = {}
        self.hostnames: set[str] = set()
        self._futures: dict[Future[NodeSample], str] = {}
        # One parse cache for every sample (the Snapshot keeps it): discovery reads each view as it comes,
        # and a line every view has is parsed once for the whole cluster, not once per view. Its memo dicts
        # are only ever filled with the same value for a key, so worker threads may share it.
        self.cache = ParseCache()

    def run(self, seeds: Sequence[Seed], unresolved: Mapping[str, str], max_workers: int, budget: float) -> None:
        executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rcdoctor-collect")
        for address, reason in unresolved.items():
            # Kept as a node record, as when the name itself was dialled: "nothing answered" then names it.
            self.pending[address] = _Pending("seed")
            self.samples[address] = NodeSample(address, "seed", error=NodeError("dns", reason), parse_cache=self.cache)
        try:
            for seed in seeds:
                address = str(seed.endpoint)
                if address not in self.pending:
                    self.pending[address] = _Pending("seed")
                    self._submit(executor, address)
            self._follow(executor)
            for future, address in self._futures.items():
                future.cancel()
                self.samples[address] = NodeSample(
                    address=address,
                    origin=self.pending[address].origin,
                    error=NodeError("deadline", f"no complete answer before the collection deadline ({budget:.1f}s)"),
                    parse_cache=self.cache,
                )
        finally:
            # Threads still blocked on a hung node end at their own socket timeout; don't wait for them.
            executor.shutdown(wait=False, cancel_futures=True)

    def _submit(self, executor: ThreadPoolExecutor, address: str) -> None:
        meta = self.pending[address]
        future = executor.submit(
            _sample_node,
            address,
            meta.origin,
            self.options,
            self.deadline,
            self.count_open_slot_keys,
            meta.bus_port,
            self.cache,
        )
        self._futures[future] = address

    def _follow(self, executor: ThreadPoolExecutor) -> None:
        """Take each answer as it comes and dial every node it lists that is not known yet."""
        while self._futures:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                break
            done, _ = wait(list(self._futures), timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                address = self._futures.pop(future)
                sample = future.result()
                self.samples[address] = sample
                for found, bus_port, hostname in _announced(sample):
                    if hostname:
                        self.hostnames.add(hostname)
                    meta = self.pending.get(found)
                    if meta is None:
                        meta = self.pending[found] = _Pending("view", bus_port=bus_port)
                        self._submit(executor, found)
                    meta.announced_by.add(address)
                if self.progress:
                    self.progress(len(self.samples), len(self.pending))


def _probe_bus_ports_peers_use(samples: dict[str, NodeSample], deadline: float) -> None:
    """Probe a node's bus where its peers dial it when that differs from the port it gave itself.

    A node's own line can keep its real bus port while it announces another one to its peers (Redis 6.2
    after `CONFIG SET cluster-announce-bus-port`); the peers' port is the one the cluster depends on.
    """
    listed: dict[str, set[int]] = {}
    for sample in samples.values():
        for found, bus_port, _ in _announced(sample):
            if bus_port and found != sample.address:
                listed.setdefault(found, set()).add(bus_port)
    for address, ports in listed.items():
        own = samples.get(address)
        probed = own.bus_port if own is not None else None
        if own is None or probed is None or not probed.ok or own.bus_port_number in ports or len(ports) != 1:
            continue
        port = next(iter(ports))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        probe = tcp_probe(Endpoint(own.endpoint.host, port), min(remaining, 1.0))
        if not probe.ok:  # its own port answers, the one its peers dial does not: that is what matters
            samples[address] = replace(own, bus_port=probe, bus_port_number=port)


def _announced(sample: NodeSample) -> Iterable[tuple[str, int | None, str | None]]:
    """Every (address, bus port, hostname) this node's view names, itself included."""
    for node in sample.view.value:
        endpoint = node.endpoint
        if endpoint is None:
            continue
        yield str(endpoint), node.cport, node.hostname


def _with_announcers(sample: NodeSample, announced_by: set[str]) -> NodeSample:
    return replace(sample, announced_by=tuple(sorted(announced_by - {sample.address})))


def _resolve_names(names: set[str], deadline: float) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    for name in sorted(n for n in names if not is_ip(n)):
        if time.monotonic() >= deadline:
            answers[name] = {"addresses": None, "error": "not resolved: deadline"}
            continue
        addresses, error = resolve(name)
        answers[name] = {"addresses": None if addresses is None else list(addresses), "error": error}
    return answers


def _sample_node(
    address: str,
    origin: str,
    options: ConnectOptions,
    deadline: float,
    count_open_slot_keys: bool,
    bus_port_hint: int | None,
    cache: ParseCache,
) -> NodeSample:
    """Talk to one node; every failure becomes data. Runs in a worker thread."""
    started = time.monotonic()
    endpoint = Endpoint(*_split(address))
    resolved: tuple[str, ...] | None = None
    if not is_ip(endpoint.host):
        resolved, dns_error = resolve(endpoint.host)
        if resolved is None:
            return NodeSample(
                address,
                origin,
                error=NodeError("dns", f"{endpoint.host} does not resolve ({dns_error})"),
                duration_ms=_ms(started),
            )

    def budget() -> float:
        return min(options.timeout, deadline - time.monotonic())

    replies: dict[str, Any] = {}
    reply_errors: dict[str, str] = {}
    error: NodeError | None = None
    asked = _Asked()
    # Our own TCP connect first: it tells "port closed" from "port open, server silent" (a paused node).
    data_probe = tcp_probe(endpoint, budget())
    if not data_probe.ok:
        error = NodeError(data_probe.kind or "unreachable", data_probe.error or "unreachable")
    conn = None
    connecting = True
    try:
        if error is None:
            # Round trips are most of a node's cost (CPU of syscalls and thread wake-ups, not only wait):
            # the name goes with the PING, the key sample with the commands.
            conn = open_connection(endpoint, options, timeout=max(0.05, budget()), named=False)
            connecting = False
            _ask(conn, count_open_slot_keys, replies, reply_errors, budget, asked)
            error = _node_level_error(reply_errors)
    except Exception as exc:  # every failure of one node is data, never a crashed collection
        error = classify_with(exc, options, connecting)
    finally:
        if conn is not None:
            conn.disconnect()

    myself = asked.myself
    bus_number = (myself.cport if myself and myself.cport else None) or bus_port_hint or endpoint.port + BUS_PORT_OFFSET
    bus_probe = tcp_probe(Endpoint(endpoint.host, bus_number), budget())
    return NodeSample(
        address=address,
        origin=origin,
        error=error,
        data_port=data_probe,
        bus_port=bus_probe,
        bus_port_number=bus_number,
        resolved=resolved,
        ping_ms=asked.ping_ms,
        duration_ms=_ms(started),
        replies=MappingProxyType(replies),
        reply_errors=MappingProxyType(reply_errors),
        parse_cache=cache,
    )


@dataclass
class _Asked:
    """What one node's sample learnt so far: kept when a later command fails."""

    ping_ms: float | None = None
    myself: ClusterNode | None = None


def _ask(
    conn: Any,
    count_open_slot_keys: bool,
    replies: dict[str, Any],
    reply_errors: dict[str, str],
    budget: Callable[[], float],
    asked: _Asked,
) -> None:
    """Every command of a sample on one open connection, in as few round trips as the answers allow.

    Fills `replies`, `reply_errors` and `asked` as it goes: what was learnt before a failure is kept."""
    ping_started = time.perf_counter()
    conn.send_packed_command(conn.pack_commands([("CLIENT", "SETNAME", CLIENT_NAME), ("PING",)]))
    # The name only shows rcdoctor in CLIENT LIST: an ACL user without CLIENT is no blind spot.
    with contextlib.suppress(ServerError):
        conn.read_response()
    conn.read_response()
    asked.ping_ms = round((time.perf_counter() - ping_started) * 1000, 3)
    scan = ((SCAN_KEY, ("SCAN", "0", "COUNT", str(KEY_SAMPLE))),) if count_open_slot_keys else ()
    _send(conn, (*COMMANDS, *scan))
    _read(conn, COMMANDS, replies, reply_errors, budget)
    scanned: dict[str, Any] = {}  # key names: never in `replies`, which a failure below still keeps
    _read(conn, scan, scanned, reply_errors, budget)
    # Atomic slot migrations only where the server has them (Valkey 9.0+, Redis 8.4+), known from
    # its INFO: older servers would answer every snapshot with an "unknown subcommand" error.
    info = replies.get(INFO)
    newer = commands_for(parse_info(info).value.get("server", {})) if isinstance(info, str) else ()
    if newer:
        _pipeline(conn, newer, replies, reply_errors, budget)
    myself = asked.myself = _myself(replies.get(CLUSTER_NODES))
    if myself is not None and myself.is_primary and myself.slots and has_slot_stats(identity_of(info)):
        # Exact key counts of its own slots: DBSIZE minus their sum is what it holds elsewhere (S003)
        _pipeline(conn, ((SLOT_STATS, SLOT_STATS_COMMAND),), replies, reply_errors, budget)
        if SLOT_STATS in replies:
            replies[SLOT_STATS] = with_keys(replies[SLOT_STATS])
    if count_open_slot_keys and myself is not None:
        to_count = _slots_to_count(myself, scanned, replies)
        if to_count:
            counts = tuple((COUNTKEYSINSLOT_PREFIX + str(s), ("CLUSTER", "COUNTKEYSINSLOT", str(s))) for s in to_count)
            _pipeline(conn, counts, replies, reply_errors, budget)


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
        lines = (line for line in view_text.splitlines() if line.startswith(myself.primary_id + " "))
        primary = next((n for line in lines for n in parse_cluster_nodes(line).value), None)
        ranges = primary.slots if primary else ()
    return {slot for r in ranges for slot in range(r.start, r.end + 1)}


def _pipeline(
    conn: Any,
    commands: Sequence[tuple[str, tuple[str, ...]]],
    replies: dict[str, Any],
    reply_errors: dict[str, str],
    budget: Callable[[], float],
) -> None:
    """Send all commands in one write, read every reply; an error reply is recorded, not raised."""
    _send(conn, commands)
    _read(conn, commands, replies, reply_errors, budget)


def _send(conn: Any, commands: Sequence[tuple[str, tuple[str, ...]]]) -> None:
    conn.send_packed_command(conn.pack_commands([args for _, args in commands]))


def _read(
    conn: Any,
    commands: Sequence[tuple[str, tuple[str, ...]]],
    replies: dict[str, Any],
    reply_errors: dict[str, str],
    budget: Callable[[], float],
) -> None:
    """Read the replies of `commands`, sent before, in order."""
    for key, _ in commands:
        remaining = budget()
        if remaining <= 0:
            raise TimeoutError("collection deadline reached while reading replies")
        if conn._sock is not None:  # keep the whole node within its budget, not one timeout per reply
            conn._sock.settimeout(remaining)
        try:
            reply = conn.read_response()
        except ServerError as exc:
            reply_errors[key] = str(exc)
            continue
        replies[key] = _jsonable(key, reply)


def _jsonable(key: str, reply: Any) -> Any:
    # Replies are kept as parsed (str, int, None, lists of them); Snapshot.to_json converts anything else.
    if key.startswith(CONFIG_PREFIX):
        pairs = pairs_to_dict(reply)
        return {k: str(v) for k, v in pairs.items() if not any(w in k.lower() for w in SECRET_CONFIG_WORDS)}
    return reply


def _node_level_error(reply_errors: dict[str, str]) -> NodeError | None:
    """A node whose essential commands failed is an error as a whole (e.g. cluster disabled)."""
    for key in (CLUSTER_NODES, CLUSTER_INFO):
        if key in reply_errors:
            return classify(ServerError(reply_errors[key]))
    return None


def _myself(cluster_nodes_text: Any) -> ClusterNode | None:
    """The node's own line only (the full view is parsed once, later, for discovery)."""
    if not isinstance(cluster_nodes_text, str):
        return None
    for line in cluster_nodes_text.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) > 2 and "myself" in fields[2].split(","):
            return next(iter(parse_cluster_nodes(line).value), None)
    return None


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
