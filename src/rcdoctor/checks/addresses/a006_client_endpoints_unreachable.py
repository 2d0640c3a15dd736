from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, slots_text
from rcdoctor.model.address import Endpoint
from rcdoctor.model.node_ref import NodeRef
from rcdoctor.model.slots import SlotRange
from rcdoctor.model.view import ClusterView


@dataclass
class _Handed:
    """One endpoint as clients receive it, and who hands it out."""

    endpoint: Endpoint | None  # None: the owner has no address at all (noaddr)
    ids: set[str] = field(default_factory=set)
    by: set[str] = field(default_factory=set)
    # the viewer addresses of each reply that hands it out: merged into `by` only for the few reported
    replies: dict[int, frozenset[str]] = field(default_factory=dict)
    primary_of: set[SlotRange] = field(default_factory=set)


def run(ctx: ClusterView) -> Iterator[Issue]:
    answered = {s.address for s in ctx.answered}
    endpoints: dict[str, _Handed] = {}
    for entries, samples in ctx.slots_replies:  # each distinct reply once, for all who gave it
        by = frozenset(s.address for s in samples)
        for entry in entries:
            for index, owner in enumerate((entry.primary, *entry.replicas)):
                known = ctx.entry(owner.node_id) if owner.node_id else None
                if owner.endpoint is None and (known is None or known.endpoint is not None):
                    continue  # '?' for a node that has an address: a missing hostname, A005's
                key = str(owner.endpoint) if owner.endpoint else f"(no address: {owner.node_id or '?'})"
                item = endpoints.setdefault(key, _Handed(owner.endpoint))
                if owner.node_id:
                    item.ids.add(owner.node_id)
                item.replies[id(by)] = by
                if index == 0:
                    item.primary_of.add(entry.range)
    dead = {a: item for a, item in endpoints.items() if not _reachable(ctx, item.endpoint, answered)}
    if not dead:
        return
    for item in dead.values():
        item.by = set().union(*item.replies.values())
    evidence = []
    for address, item in sorted(dead.items()):
        what = f"primary for {slots_text(sorted(item.primary_of))}" if item.primary_of else "replica"
        dialed = ctx.snapshot.node(address)
        seen = str(dialed.error) if dialed is not None and dialed.error else "no answer as a cluster node"
        evidence.append(f"{address} ({what}), handed out by {plural(len(item.by), 'node')}: {seen}")
    ids = {i for item in dead.values() for i in item.ids}
    nodes = tuple(ctx.ref(i) for i in sorted(ids)) or tuple(NodeRef(None, a) for a in sorted(dead))
    if len(dead) == len(endpoints):
        title = (
            f"none of the {plural(len(endpoints), 'endpoint')} CLUSTER SLOTS hands to clients is reachable from "
            "here: a cluster client fails with `ClusterAllFailedError: Failed to refresh slots cache`"
        )
    else:
        handed = plural(len(endpoints), "endpoint")
        title = f"{len(dead)} of {handed} CLUSTER SLOTS hands to clients are unreachable from here"
    primaries_dead = any(item.primary_of for item in dead.values())
    yield Issue(
        title=title, nodes=nodes, evidence=tuple(evidence), severity="critical" if primaries_dead else "warning"
    )


def _reachable(ctx: ClusterView, endpoint: Endpoint | None, answered: set[str]) -> bool:
    if endpoint is None:
        return False
    if str(endpoint) in answered:
        return True
    answer = ctx.snapshot.dns.get(endpoint.host)
    if answer is not None:
        return any(f"{ip}:{endpoint.port}" in answered for ip in answer.get("addresses") or [])
    return False


CHECK = Check(
    code="A006",
    name="client-endpoints-unreachable",
    family="addresses",
    severity="critical",
    summary="Endpoints that CLUSTER SLOTS gives to clients cannot be reached from where rcdoctor runs.",
    explanation=(
        "A cluster client (ioredis, Lettuce, go-redis, redis-py) connects to a seed, asks CLUSTER SLOTS, and "
        "from then on talks only to the endpoints in that reply. rcdoctor does the same and dials every "
        "endpoint. If none answers, a client here fails exactly like ioredis's "
        "`ClusterAllFailedError: Failed to refresh slots cache`; if some do not, the slots they serve fail. "
        "Common causes: pods moved (stale addresses), announced IPs that are not routable from the client's "
        "network (pod IPs seen from outside the Kubernetes cluster, NAT), wrong cluster-announce-ip."
    ),
    evidence="Every endpoint in every node's CLUSTER SLOTS, and whether rcdoctor reached a node there.",
    why="This is what the application sees: requests for those slots fail even if the servers are healthy.",
    fix=(
        "If the addresses are stale, fix the cause first (see A003/A004). If they are pod IPs not routable "
        "from the client, run the client inside the cluster network, or announce reachable addresses "
        "(`cluster-announce-ip`/`-port`/`-bus-port`, or hostnames with `cluster-preferred-endpoint-type "
        "hostname`), or use the client's NAT mapping option (ioredis `natMap`)."
    ),
    heal="Only through its causes (A003, A004); announced addresses are configuration.",
    run=run,
)
