from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.node_ref import NodeRef
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    # 1. '?' endpoints: preferred endpoint type is hostname (or unknown-endpoint) but the node has none.
    question: dict[str, set[str]] = {}
    first: dict[str, tuple[int, int]] = {}  # where each was first seen, viewer by viewer: the order of issues
    position = {id(s): i for i, s in enumerate(ctx.viewers)}
    for entries, samples in ctx.slots_replies:  # each distinct reply once
        unnamed = [
            (index, owner)
            for index, entry in enumerate(entries)
            for owner in (entry.primary, *entry.replicas)
            if owner.node_id and owner.endpoint is None
        ]
        for sample in samples if unnamed else ():
            # The viewer's own line for the node: when it has no address there ("noaddr" after a PONG from
            # another id at its old IP, or a ghost) the '?' is an address problem (A003/M003), not a hostname.
            lost = {e.id for e in sample.view.value if e.endpoint is None or "noaddr" in e.flags}
            for index, owner in unnamed:
                owner_entry = ctx.entry(owner.node_id) if owner.node_id else None
                # no address at all (noaddr) is M003's; '?' for a node with an address is a missing hostname
                if owner.node_id in lost:
                    continue
                if owner.node_id and owner_entry and owner_entry.endpoint is not None:
                    question.setdefault(owner.node_id, set()).add(sample.address)
                    first[owner.node_id] = min(
                        first.get(owner.node_id, (len(position), 0)), (position[id(sample)], index)
                    )
    question = dict(sorted(question.items(), key=lambda kv: first[kv[0]]))
    for node_id, handed_by in question.items():
        endpoint_type = {ctx.config(i, "cluster-preferred-endpoint-type") for i in ctx.answers_at} - {None}
        yield Issue(
            title=f"CLUSTER SLOTS gives '?' as the endpoint of {ctx.name(node_id)}",
            nodes=(ctx.ref(node_id),),
            evidence=(
                f"{plural(len(handed_by), 'node')} hand out '?' for it: {', '.join(sorted(handed_by))}",
                f"cluster-preferred-endpoint-type: {', '.join(sorted(t for t in endpoint_type if t)) or 'unknown'}",
                "clients receive no usable address for this node's slots",
            ),
            severity="critical",
        )
    # 2. Hostnames that do not resolve, or resolve away from the node.
    hostnames: dict[str, set[str]] = {}
    for node_id in ctx.index.listed:  # every distinct line once (the viewers' own lines below)
        for item in ctx.listed(node_id):
            if item.entry.hostname:
                hostnames.setdefault(item.entry.hostname, set()).add(node_id)
    for sample in ctx.viewers:
        mine = sample.myself
        if mine is not None and mine.hostname:
            hostnames.setdefault(mine.hostname, set()).add(mine.id)
    for name, ids in sorted(hostnames.items()):
        answer = ctx.snapshot.dns.get(name)
        dialed = [n for n in ctx.snapshot.nodes if n.endpoint.host == name]
        refs = tuple(ctx.ref(i) for i in sorted(ids))
        if answer is not None and not answer.get("addresses"):
            error = answer.get("error") or "no address"
            yield Issue(
                title=f"hostname {name} of {ctx.names(ids)} does not resolve from here",
                nodes=refs,
                evidence=(f"DNS lookup of {name}: {error}", _clients(ctx)),
            )
        elif answer is not None:
            addresses = set(answer.get("addresses") or [])
            ips = {ctx.entry(i).ip for i in ids if ctx.entry(i) is not None}  # type: ignore[union-attr]
            if ips and not addresses & ips:
                yield Issue(
                    title=f"hostname {name} resolves to {', '.join(sorted(addresses))}, not to the node's IP",
                    nodes=refs,
                    evidence=(f"the cluster lists {ctx.names(ids)} at {', '.join(sorted(ips))}", _clients(ctx)),
                )
        for sample in dialed:
            if sample.error is not None and sample.error.kind == "dns":
                yield Issue(
                    title=f"hostname {name} does not resolve from here",
                    nodes=(NodeRef(None, sample.address), *refs),
                    evidence=(str(sample.error),),
                )


def _clients(ctx: ClusterView) -> str:
    types = {ctx.config(i, "cluster-preferred-endpoint-type") for i in ctx.answers_at}
    if "hostname" in types:
        return "cluster-preferred-endpoint-type is hostname: clients are given this name and cannot connect"
    return "clients are given IPs (cluster-preferred-endpoint-type ip), but tools and TLS checks that use the name fail"


CHECK = Check(
    code="A005",
    name="hostname-problem",
    family="addresses",
    severity="warning",
    summary="A node's announced hostname is '?', does not resolve, or resolves somewhere else.",
    explanation=(
        "Redis 7 nodes can announce a hostname (`cluster-announce-hostname`) and hand it to clients instead of "
        "the IP (`cluster-preferred-endpoint-type hostname`). A node without a hostname is then given as '?' "
        "in CLUSTER SLOTS, and a name that DNS does not know (or that points to an old pod IP) leaves clients "
        "with an address they cannot use. rcdoctor resolves every hostname it finds in the views from where "
        "it runs."
    ),
    evidence="CLUSTER SLOTS endpoints, hostnames in CLUSTER NODES, rcdoctor's DNS lookups.",
    why="Clients that are handed '?' or an unresolvable name fail to connect to those slots' owners.",
    fix=(
        "Set a resolvable name on every node: `CONFIG SET cluster-announce-hostname <pod>.<service>.<ns>.svc` "
        "(and in the config/pod spec); check the headless Service publishes not-ready addresses "
        "(`publishNotReadyAddresses: true`); or go back to IPs: `CONFIG SET cluster-preferred-endpoint-type ip` "
        "on every node."
    ),
    heal="No: names and DNS are configuration; rcdoctor verifies them.",
    run=run,
    explains=("A006",),
    needs="Redis 7.0+ (hostnames); never fires on 6.2",
)
