from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.config.c006_announce_mismatch import from_config
from rcdoctor.checks.words import plural
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    moved: dict[str, Counter[str]] = {}
    for node_id, addresses in ctx.answers_at.items():
        own = ctx.own[node_id]
        # Listed where its own cluster-announce-ip/-port say is not a move: its configuration puts it
        # there (C006), and a MEET would be undone by its next gossip packet.
        stale: Counter[str] = Counter()
        for item in ctx.listed(node_id):  # each distinct line once, counted for every view that has it
            e = item.entry
            if e.endpoint is None or (e.address not in addresses and not from_config(own, e.ip, e.port)):
                stale[e.address if e.endpoint is not None else "no address (noaddr)"] += len(item.viewers)
        if stale:
            moved[node_id] = stale
    if not moved:
        return
    evidence = []
    for node_id, stale in moved.items():
        olds = []
        for address, count in stale.most_common():
            if address.startswith("no address"):
                # Redis drops the address when a PONG at it comes from another id (an IP now reused)
                olds.append(f"{address} ({plural(count, 'peer')}: it lost the address)")
                continue
            sample = ctx.snapshot.node(address)
            there = (
                f"from here: {sample.error}" if sample is not None and sample.error else "nothing answers there as it"
            )
            olds.append(f"{address} ({plural(count, 'peer')}; {there})")
        evidence.append(f"{node_id[:8]} answers at {ctx.address(node_id)}; its peers dial {', '.join(olds)}")
    everyone = len(moved) == len(ctx.answers_at) and len(moved) > 1
    if everyone:
        title = f"all {len(moved)} nodes came back at new addresses; their peers still dial the old ones"
    else:
        title = f"{plural(len(moved), 'node')} answer at a new address; peers still dial the old one"
    yield Issue(title=title, nodes=ctx.refs(moved), evidence=tuple(evidence), fix=_commands(ctx, list(moved)))


def _commands(ctx: ClusterView, moved: list[str]) -> str:
    """The MEETs for this cluster: from a node that did not move (else the first moved one) to each new address."""
    steady = [i for i in ctx.answers_at if i not in moved]
    sender = steady[0] if steady else moved[0]
    origin = parse_hostport(ctx.address(sender) or "")
    meets = []
    for node_id in moved:
        if node_id == sender:
            continue
        target = parse_hostport(ctx.address(node_id) or "")
        meets.append(f"`redis-cli -h {origin.host} -p {origin.port} CLUSTER MEET {target.host} {target.port}`")
    if sender in moved and len(moved) > 1:
        # A node learns its own new address only from a MEET it receives (checked in the lab: the sender
        # of the other MEETs keeps its old IP in its own line otherwise).
        back = parse_hostport(ctx.address(moved[1]) or "")
        meets.append(f"`redis-cli -h {back.host} -p {back.port} CLUSTER MEET {origin.host} {origin.port}`")
    shown = "; ".join(meets[:6]) + (f"; … ({len(meets)} in all)" if len(meets) > 6 else "")
    return (
        f"Tell the cluster the new addresses, from one node that answers: {shown}. The handshake matches each "
        "node id and the new addresses spread by gossip; then check `CLUSTER NODES` on every node, and on any "
        "replica whose INFO replication still shows master_link_status:down run `CLUSTER REPLICATE "
        "<primary-id>` (Redis 6.2 replicas keep dialing the old address). For the "
        "future: rewrite old IPs in nodes.conf at pod start (as the Bitnami chart does), or announce stable "
        "names (Redis 7 `cluster-announce-hostname` + `cluster-preferred-endpoint-type hostname`)."
    )


CHECK = Check(
    code="A003",
    name="stale-peer-address",
    family="addresses",
    severity="critical",
    summary="A node answers at a new address, but its peers still list (and dial) its old one.",
    explanation=(
        "Nodes are matched by id across views. A node that answers rcdoctor at one address while other nodes "
        "list the same id at another address, where nothing answers as it, has moved: typically a Kubernetes "
        "pod that restarted with a new IP and kept its nodes.conf. When one pod moves its peers usually learn "
        "the new address from its gossip; when every pod moves at once nobody can reach anybody at the old "
        "addresses, failure reports never reach a quorum, and every node ends in cluster_state:fail with "
        "fail? flags everywhere, even though all data is intact."
    ),
    evidence="The address where each node id answered; the addresses its peers list for that id in CLUSTER NODES.",
    why=(
        "Gossip, failure detection and failover all go to the stale address. Clients (ioredis, Lettuce, "
        "redis-py) get a slot map with dead addresses: ClusterAllFailedError / CLUSTERDOWN."
    ),
    fix=(
        "Tell the cluster the new addresses: on one node that answers, run `CLUSTER MEET <new-ip> <port>` for "
        "every moved node; the handshake matches the node id and the new address spreads by gossip. Check "
        "with `CLUSTER NODES` on every node. For the future: start pods with a script that rewrites the old "
        "IPs in nodes.conf (the Bitnami chart does this), or announce stable names (Redis 7 "
        "`cluster-announce-hostname` + `cluster-preferred-endpoint-type hostname`)."
    ),
    heal=(
        "Yes (meet phase): every node that lists a moved node elsewhere MEETs it at its new address, with "
        "replica failovers held meanwhile."
    ),
    run=run,
    explains=(
        "A004",
        "A006",
        "M001",
        "M002",
        "M009",
        "M008",
        "S002",
        "E004",
        "S005",
        "R001",
        "R002",
        "R004",
        "R005",
    ),
)
