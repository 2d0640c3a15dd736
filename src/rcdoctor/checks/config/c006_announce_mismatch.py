"""C006 announce-mismatch: a `cluster-announce-*` setting that names an address or port where the node
cannot be reached.

When the setting is in effect (the node's own `myself` line, its CLUSTER SLOTS reply or its peers give
the announced address) it is the root cause of what follows: peers dial a dead address (links down,
A003/A004/M009), replicas cannot sync (R002), clients are sent nowhere (A006). It is also why a CLUSTER
MEET does not help: the node puts the configured value in the header of every gossip packet it sends
and its peers take that over, so a MEET is undone by the next ping. `misannounced` is shared with the
heal planner, which never MEETs such a node and plans the configuration fix instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.address import BUS_PORT_OFFSET, is_ip
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.info import as_int
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import ClusterView

ANNOUNCE_IP = "cluster-announce-ip"
ANNOUNCE_PORT = "cluster-announce-port"
ANNOUNCE_BUS_PORT = "cluster-announce-bus-port"


@dataclass(frozen=True)
class Misannounce:
    """One announce setting of one node that names a place where the node cannot be reached."""

    node_id: str
    address: str  # where the node answered rcdoctor
    setting: str  # cluster-announce-ip | cluster-announce-port | cluster-announce-bus-port
    value: str  # its value (CONFIG GET)
    announced: str  # the address (ip:port) or bus port the setting makes the node give out
    given: tuple[str, ...]  # who gives the announced value out: its own line, its CLUSTER SLOTS, its peers
    unusable: bool  # the peers listing it there cannot connect (or no peer does and nothing answers there)
    there: str  # what was found at the announced place
    fix_value: str  # the value heal sets with --fix-announce-config
    fix_reason: str  # why that value
    # A setting heal does not change at runtime (bind-source-addr: what the node dials from): for a human
    human: bool = False

    @property
    def in_effect(self) -> bool:
        return bool(self.given)

    @property
    def critical(self) -> bool:
        """Peers or clients are actually given the unusable address: the cause of the damage, now."""
        return self.in_effect and self.unusable

    def fix_command(self) -> str:
        value = self.fix_value or '""'  # an empty value must be typed as "" to redis-cli
        return f"CONFIG SET {self.setting} {value}"


def announce_values(config: Mapping[str, str]) -> tuple[str, int, int]:
    """(cluster-announce-ip or "", cluster-announce-port or 0, cluster-announce-bus-port or 0)."""
    ip = (config.get(ANNOUNCE_IP) or "").strip()
    return ip, as_int(config.get(ANNOUNCE_PORT)) or 0, as_int(config.get(ANNOUNCE_BUS_PORT)) or 0


def from_config(sample: NodeSample, host: str, port: int) -> bool:
    """True when a node listed at host:port is listed there because its own announce settings say so
    (not because it moved): the configuration, not the peers' memory, keeps that address alive."""
    ip, announce_port, _ = announce_values(sample.config)
    if ip:
        return host == ip and (not announce_port or port == announce_port)
    return bool(announce_port) and port == announce_port and port != _data_port(sample)


def _data_port(sample: NodeSample) -> int:
    config = sample.config
    return as_int(config.get("tls-port")) or as_int(config.get("port")) or sample.endpoint.port


def misannounced(ctx: ClusterView) -> Mapping[str, tuple[Misannounce, ...]]:
    """node id -> its announce settings that point where it cannot be reached (only nodes that answered
    and whose CONFIG GET was read: the setting is seen, never guessed)."""
    answered = {s.address: s.node_id for s in ctx.answered}
    found: dict[str, tuple[Misannounce, ...]] = {}
    for node_id, sample in ctx.own.items():
        problems = [
            *_ip(ctx, node_id, sample, answered),
            *_port(ctx, node_id, sample, answered),
            *_bus_port(ctx, node_id, sample),
            *_source(ctx, node_id, sample, answered),
        ]
        if problems:
            found[node_id] = tuple(problems)
    return found


def _ip(
    ctx: ClusterView, node_id: str, sample: NodeSample, answered: Mapping[str, str | None]
) -> Iterator[Misannounce]:
    ip, announce_port, _ = announce_values(sample.config)
    port = announce_port or _data_port(sample)
    if not ip or ip == sample.endpoint.host or answered.get(f"{ip}:{port}") == node_id:
        return
    given, peers = _given(ctx, node_id, sample, lambda host, _: host == ip)
    yield Misannounce(
        node_id,
        sample.address,
        ANNOUNCE_IP,
        ip,
        f"{ip}:{port}",
        given,
        _unusable(peers),
        _there(ctx, f"{ip}:{port}"),
        *_ip_fix(sample),
    )


def _ip_fix(sample: NodeSample) -> tuple[str, str]:
    """The value that makes the node announce where it answers.

    Cleared ("") when the node already listens at that IP (its `bind` names it) and dials its peers from
    it: Redis then announces what the peers see its bus connections come from, the same IP, and no
    hard-coded address is left to go stale when the pod gets a new IP. Otherwise the IP where rcdoctor
    reached it, written out: what Redis would detect by itself is not known (a wildcard bind, several
    interfaces, Redis 7 dialing from 127.0.0.1 without bind-source-addr)."""
    host = sample.endpoint.host
    bind = (sample.config.get("bind") or "").split()
    source = (sample.config.get("bind-source-addr") or "").strip()
    if is_ip(host) and host in bind and source in ("", host):
        return "", f"it listens at {host} already (bind {' '.join(bind)}) and Redis then announces that address itself"
    if is_ip(host):
        return host, f"the address where it answers; bind {' '.join(bind) or '(any)'} does not pin it"
    resolved = [a for a in sample.resolved or () if is_ip(a)]
    if len(resolved) == 1:
        return resolved[0], f"what {host} resolves to (cluster-announce-ip takes an IP)"
    return "", "cleared: Redis announces the address its peers see its connections come from"


def _port(
    ctx: ClusterView, node_id: str, sample: NodeSample, answered: Mapping[str, str | None]
) -> Iterator[Misannounce]:
    ip, announce_port, _ = announce_values(sample.config)
    port = _data_port(sample)
    host = ip or sample.endpoint.host
    if not announce_port or announce_port == port or answered.get(f"{host}:{announce_port}") == node_id:
        return
    given, peers = _given(ctx, node_id, sample, lambda _, p: p == announce_port)
    there = _there(ctx, f"{host}:{announce_port}")
    yield Misannounce(
        node_id,
        sample.address,
        ANNOUNCE_PORT,
        str(announce_port),
        f"{host}:{announce_port}",
        given,
        # The bus port is another one: the peers' links say nothing about the data port. Its replicas
        # dial the data port (what the announced port breaks), and nothing answering from here counts.
        _replicas_cut(ctx, node_id, announce_port) or (not peers and "nothing answers" in there),
        there,
        "0",
        f"0 = the port it listens on, {port}",
    )


def _bus_port(ctx: ClusterView, node_id: str, sample: NodeSample) -> Iterator[Misannounce]:
    _, _, announce_bus = announce_values(sample.config)
    listening_bus = as_int(sample.config.get("cluster-port")) or _data_port(sample) + BUS_PORT_OFFSET
    if not announce_bus or announce_bus == listening_bus:
        return
    # Redis 6.2 keeps announcing the old bus port after a runtime CONFIG SET, until a restart: then no
    # peer dials the new one yet and it is not in effect.
    peers = [(v, e) for v, e in ctx.listings.get(node_id, ()) if e.cport == announce_bus]
    given = (_peers(peers),) if peers else ()
    dialed = sorted({e.cport for _, e in ctx.listings.get(node_id, ()) if e.cport})
    there = (
        f"its bus listens on {listening_bus}"
        if peers
        else f"not in effect yet (peers still dial {', '.join(map(str, dialed)) or '?'}): it will be after the next "
        "restart if it is in the config file"
    )
    yield Misannounce(
        node_id,
        sample.address,
        ANNOUNCE_BUS_PORT,
        str(announce_bus),
        f"bus port {announce_bus}",
        given,
        _unusable(peers),
        there,
        "0",
        f"0 = the bus port it listens on, {listening_bus}",
    )


def _source(
    ctx: ClusterView, node_id: str, sample: NodeSample, answered: Mapping[str, str | None]
) -> Iterator[Misannounce]:
    """Redis 7 `bind-source-addr` with no cluster-announce-ip: the peers take the source address of its
    bus connections as its address, so an IP it does not listen at is re-taught with every ping."""
    ip, _, _ = announce_values(sample.config)
    source = (sample.config.get("bind-source-addr") or "").strip()
    port = _data_port(sample)
    bind = (sample.config.get("bind") or "").split()
    if ip or not source or source == sample.endpoint.host or source in bind:
        return
    if answered.get(f"{source}:{port}") == node_id:
        return
    given, peers = _given(ctx, node_id, sample, lambda host, _: host == source)
    if not any(not g.startswith("its ") for g in given):
        return  # no peer lists it there: the source address does no harm
    yield Misannounce(
        node_id,
        sample.address,
        "bind-source-addr",
        source,
        f"{source}:{port}",
        given,
        _unusable(peers),
        _there(ctx, f"{source}:{port}"),
        sample.endpoint.host,
        f"the IP it answers at; its bind ({' '.join(bind) or 'any'}) does not include {source}",
        human=True,
    )


def _given(
    ctx: ClusterView, node_id: str, sample: NodeSample, matches: Callable[[str, int], bool]
) -> tuple[tuple[str, ...], list[tuple[NodeSample, ClusterNode]]]:
    """Where the announced value is given out: the node's own CLUSTER NODES line, its CLUSTER SLOTS reply
    (what clients read), and the peers that list it there."""
    given: list[str] = []
    mine = sample.myself
    if mine is not None and mine.endpoint is not None and matches(mine.ip, mine.port):
        given.append("its own CLUSTER NODES line (myself)")
    for entry in sample.slots.value:
        owners = (entry.primary, *entry.replicas)
        if any(
            o.node_id == node_id and o.endpoint is not None and matches(o.endpoint.host, o.endpoint.port)
            for o in owners
        ):
            given.append("its CLUSTER SLOTS reply")
            break
    peers: list[tuple[NodeSample, ClusterNode]] = [
        (v, e) for v, e in ctx.listings.get(node_id, ()) if e.endpoint is not None and matches(e.ip, e.port)
    ]
    if peers:
        given.append(_peers(peers))
    return tuple(given), peers


def _replicas_cut(ctx: ClusterView, node_id: str, port: int) -> bool:
    """A replica of the node that dials it at `port` and has no link (master_link_status:down)."""
    for replica in ctx.replicas_of.get(node_id, ()):
        replication = ctx.info(replica, "replication")
        if replication.get("master_port") == str(port) and replication.get("master_link_status") == "down":
            return True
    return False


def _peers(peers: list[tuple[NodeSample, ClusterNode]]) -> str:
    more = ", …" if len(peers) > 4 else ""
    return plural(len(peers), "peer") + " (" + ", ".join(v.address for v, _ in peers[:4]) + more + ")"


def _unusable(peers: list[tuple[NodeSample, ClusterNode]]) -> bool:
    """Peers that list it at the announced place and cannot connect there prove it is unusable; when all
    of them are connected, the address may be right for them (NAT) and only unreachable from rcdoctor."""
    if not peers:
        return True
    return any(e.link_state != "connected" for _, e in peers)


def _there(ctx: ClusterView, address: str) -> str:
    sample = ctx.snapshot.node(address)
    if sample is not None and sample.error is not None:
        return f"nothing answers there as it (from here: {sample.error})"
    if sample is not None and sample.answered:
        return f"another node ({(sample.node_id or '?')[:8]}) answers there"
    return "nothing answers there as it"


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id, problems in misannounced(ctx).items():
        sample = ctx.own[node_id]
        critical = [p for p in problems if p.critical]
        evidence: list[str] = []
        for p in problems:
            bind = (sample.config.get("bind") or "").strip()
            evidence.append(
                f"CONFIG GET {p.setting} on {p.address}: {p.value}; the node answers at {p.address}"
                + (f" (bind {bind})" if bind and p.setting == ANNOUNCE_IP else "")
            )
            if p.in_effect:
                evidence.append(f"{' and '.join(p.given)} give {p.announced}: {p.there}")
                evidence.append(
                    f"a CLUSTER MEET to {p.address} will not stick: "
                    + (
                        f"its bus connections come from {p.value} and its peers take that over at the next ping"
                        if p.human
                        else f"the node puts {p.setting} {p.value} in every gossip packet it sends and its peers "
                        "take that over at the next ping"
                    )
                )
                if not p.unusable:
                    evidence.append(
                        f"every peer that lists it at {p.announced} is connected there: behind NAT that may be "
                        "right for them and unreachable only from here; check from a pod"
                    )
            else:
                evidence.append(f"{p.announced}: {p.there}")
        if critical:
            p = critical[0]
            title = (
                f"{sample.address} announces {p.setting} {p.value}: peers and clients are sent to "
                f"{p.announced}, where it cannot be reached"
            )
        else:
            title = f"{sample.address} announces an address or port where it does not listen"
        fixes = "; ".join(f"`{p.fix_command()}` ({p.fix_reason})" for p in problems)
        yield Issue(
            title=title,
            nodes=(ctx.ref(node_id),),
            evidence=tuple(evidence),
            severity="critical" if critical else "warning",
            fix=(
                f"On {sample.address}: {fixes}; and the same in the config file or the pod spec (an env variable "
                "or argument feeding the setting), else the wrong value comes back at the next restart. The "
                "peers learn the right address from the node's next gossip packet. `rcdoctor heal "
                "--fix-announce-config` does the CONFIG SET (the runtime value only)."
            ),
            basis="seen",
        )


CHECK = Check(
    code="C006",
    name="announce-mismatch",
    family="config",
    severity="warning",
    summary=(
        "cluster-announce-ip/-port/-bus-port name an address or port where the node cannot be reached (critical "
        "when peers or clients are given it)."
    ),
    explanation=(
        "`cluster-announce-*` override what a node tells its peers (and, through CLUSTER SLOTS, clients) about "
        "where to reach it: needed behind NAT or Docker port mappings, harmful when stale. rcdoctor compares "
        "the announced values (CONFIG GET) with where the node answered and the ports it listens on. When the "
        "node's own CLUSTER NODES line, its CLUSTER SLOTS reply or its peers give the announced address and "
        "the peers cannot connect there, the setting is the root cause (critical): the peers' stale address "
        "(A003/A004), down bus links (M009), replicas that cannot sync (R002) and unreachable client endpoints "
        "(A006) follow from it. A CLUSTER MEET does not repair it: the node puts the configured value in every "
        "gossip packet and its peers take it over at the next ping. A Redis 7 `bind-source-addr` the node does "
        "not listen at (with no cluster-announce-ip) does the same: the peers take the source address of its bus "
        "connections. Behind real NAT an announced address can "
        "be right for the peers and unreachable from rcdoctor: when every peer is connected there it stays a "
        "warning; check from a pod."
    ),
    evidence=(
        "CONFIG GET cluster-announce-*, bind, port, tls-port, cluster-port; where the node answered; its own "
        "CLUSTER NODES line and CLUSTER SLOTS reply; where its peers list it and whether their links connect."
    ),
    why="Peers dial the announced bus port, clients the announced address: if wrong, the node is failed and unusable.",
    fix=(
        'Fix or clear the setting: `CONFIG SET cluster-announce-ip ""` (or the IP where the node answers), '
        "`CONFIG SET cluster-announce-port 0` / `cluster-announce-bus-port 0` (0 = the real port), and the same "
        "in the config file or pod spec, else it comes back at the next restart."
    ),
    heal=(
        "With --fix-announce-config: a config phase runs the CONFIG SET (runtime only: the config file / pod "
        "spec is for a human) before any MEET; without it, heal plans no MEET for the node (it would be undone) "
        "and prints what a human must change (always, for bind-source-addr). If the setting comes back after "
        "heal changed it, heal stops at once naming it."
    ),
    run=run,
    explains=("A002", "A003", "A004", "A006", "M001", "M002", "M008", "M009", "R002", "R005", "S002"),
)
