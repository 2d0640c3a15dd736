from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.context import Context
from rcdoctor.model.address import BUS_PORT_OFFSET
from rcdoctor.model.info import as_int


def run(ctx: Context) -> Iterator[Issue]:
    answered = {s.address: s.node_id for s in ctx.answered}
    for node_id, sample in ctx.own.items():
        config = sample.config
        port = as_int(config.get("tls-port")) or as_int(config.get("port")) or sample.endpoint.port
        problems = []
        ip = (config.get("cluster-announce-ip") or "").strip()
        if ip and ip != sample.endpoint.host:
            announced_port = as_int(config.get("cluster-announce-port")) or port
            if answered.get(f"{ip}:{announced_port}") != node_id:
                problems.append(
                    f"cluster-announce-ip {ip}: the node answers at {sample.address}, nothing answers as it at "
                    f"{ip}:{announced_port}"
                )
        announce_port = as_int(config.get("cluster-announce-port")) or 0
        if (
            announce_port
            and announce_port != port
            and answered.get(f"{ip or sample.endpoint.host}:{announce_port}") != node_id
        ):
            problems.append(f"cluster-announce-port {announce_port}, but it listens on {port}")
        listening_bus = as_int(config.get("cluster-port")) or port + BUS_PORT_OFFSET
        announce_bus = as_int(config.get("cluster-announce-bus-port")) or 0
        if announce_bus and announce_bus != listening_bus:
            dialed = {e.cport for _, e in ctx.listings.get(node_id, ()) if e.cport}
            if announce_bus in dialed:
                effect = "its peers list (and dial) the announced port"
            else:
                # Redis 6.2 keeps announcing the old port after a runtime CONFIG SET, until a restart.
                effect = f"not in effect yet (peers still dial {', '.join(map(str, sorted(dialed))) or '?'}): it "
                effect += "will be after the next restart if it is in the config file"
            problems.append(
                f"cluster-announce-bus-port {announce_bus}, but its bus listens on {listening_bus}: {effect}"
            )
        if problems:
            yield Issue(
                title=f"{sample.address} announces an address or port where it does not listen",
                nodes=(ctx.ref(node_id),),
                evidence=tuple(problems),
            )


CHECK = Check(
    code="C006",
    name="announce-mismatch",
    family="config",
    severity="warning",
    summary="cluster-announce-ip/-port/-bus-port name an address or port where the node cannot be reached.",
    explanation=(
        "`cluster-announce-*` override what a node tells its peers (and, through CLUSTER SLOTS, clients) about "
        "where to reach it: needed behind NAT or Docker port mappings, harmful when stale. rcdoctor compares "
        "the announced values with the ports the node listens on and where it answered. Behind real NAT an "
        "announced address can be right for the peers and unreachable from rcdoctor: check from a pod."
    ),
    evidence="CONFIG GET cluster-announce-*, port, tls-port, cluster-port; where the node answered; the bus probe.",
    why="Peers dial the announced bus port, clients the announced address: if wrong, the node is failed and unusable.",
    fix=(
        "Fix or clear the setting: `CONFIG SET cluster-announce-bus-port 0` (0 = the real bus port), "
        '`CONFIG SET cluster-announce-ip ""`, and the same in the config file or pod spec.'
    ),
    heal="Planned: heal can clear announce settings that point nowhere.",
    run=run,
    explains=("A002", "A004", "A006", "M002", "M009"),
)
