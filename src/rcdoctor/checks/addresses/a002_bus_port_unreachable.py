from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for sample in ctx.viewers:
        probe = sample.bus_port
        if probe is None or probe.ok or sample.node_id is None:
            continue
        listed = ctx.listings.get(sample.node_id, ())
        down = [s for s, e in listed if e.link_state != "connected" or e.failed or e.suspected]
        host = sample.endpoint.host
        evidence = [
            f"TCP connect from here to {host}:{sample.bus_port_number}: {probe.kind or 'failed'} ({probe.error})",
            f"its data port {sample.address} answers (PING {sample.ping_ms} ms)",
        ]
        if listed:
            evidence.append(f"{len(down)} of {len(listed)} peers see its bus link down or flag it")
        yield Issue(
            title=f"{sample.address}: data port answers but cluster bus port {sample.bus_port_number} does not",
            nodes=(ctx.sample_ref(sample),),
            evidence=tuple(evidence),
            # Peers that still talk to it prove the bus works between pods; only rcdoctor is cut off.
            severity="critical" if down or not listed else "warning",
        )


CHECK = Check(
    code="A002",
    name="bus-port-unreachable",
    family="addresses",
    severity="critical",
    summary="A node answers on its data port, but its cluster bus port refuses or drops connections.",
    explanation=(
        "Cluster nodes gossip, detect failures and vote over the cluster bus: the data port + 10000 (16379) "
        "unless `cluster-port` (7.0+) or `cluster-announce-bus-port` says otherwise. rcdoctor dials the bus "
        "port each node announces. When it fails while the data port answers, either the bus is blocked "
        "(NetworkPolicy/firewall/Service without the bus port) or the announced bus port is wrong. If the "
        "peers' links to the node are still connected, only rcdoctor's path is blocked (a warning)."
    ),
    evidence="The collector's TCP probe of the announced bus port; the peers' link state for the node.",
    why=(
        "A node its peers cannot reach on the bus is flagged fail? and then fail, and a replica takes over "
        "its slots, while it still serves clients: the start of a split brain."
    ),
    fix=(
        "Open TCP 16379 (or the configured bus port) between all pods: NetworkPolicy ingress/egress, the "
        "headless Service's ports, host firewalls. Check `CONFIG GET cluster-announce-bus-port` and "
        "`CONFIG GET cluster-port` match the port the node listens on (`ss -ltnp`)."
    ),
    heal="No: the network or the configuration has to be fixed; rcdoctor verifies it afterwards.",
    run=run,
    explains=("M001", "M002", "M009", "M008", "S002", "E004", "E003"),
)
