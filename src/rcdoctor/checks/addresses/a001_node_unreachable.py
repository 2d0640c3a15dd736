from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, role, slots_text
from rcdoctor.model.view import HANDSHAKE, ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.ids:
        if node_id not in ctx.unreachable:
            continue
        listed = [(s, e) for s, e in ctx.listings.get(node_id, ()) if not e.flags & HANDSHAKE]
        if not listed:
            continue
        entry = ctx.entry(node_id)
        evidence = []
        kinds = []
        for address, count in Counter(e.address for _, e in listed).most_common():
            sample = ctx.snapshot.node(address)
            if address.endswith(":0") or address.startswith("?"):
                seen = "no address at all (noaddr): rcdoctor cannot dial it"
            elif sample is None:
                seen = "not dialed (the collection's deadline or no usable address)"
            elif sample.error is not None:
                seen = str(sample.error)
                kinds.append(sample.error.kind)
            elif sample.node_id and sample.node_id != node_id:
                seen = f"it answers there, but as another node ({sample.node_id[:8]})"
                kinds.append("another node")
            else:
                seen = "no CLUSTER NODES reply"
            evidence.append(f"{plural(count, 'node')} list it at {address}; from here: {seen}")
        flags = Counter(f for _, e in listed for f in e.flags & {"fail", "fail?"})
        if flags:
            evidence.append(
                "its peers flag it " + ", ".join(f"{flag} ({plural(n, 'view')})" for flag, n in flags.items())
            )
        if entry is not None and entry.slots:
            evidence.append(f"it owns {slots_text(entry.slots)} in its peers' views")
        critical = entry is not None and entry.is_primary and bool(entry.slots)
        why = f" ({kinds[0]})" if kinds else ""
        yield Issue(
            title=f"{role(entry)} {ctx.name(node_id)} does not answer{why}",
            nodes=(ctx.ref(node_id),),
            evidence=tuple(evidence),
            severity="critical" if critical else "warning",
        )


CHECK = Check(
    code="A001",
    name="node-unreachable",
    family="addresses",
    severity="critical",
    summary="A node the cluster lists does not answer rcdoctor at any address.",
    explanation=(
        "Every node id in any node's CLUSTER NODES is dialed at the address its peers list. This check fires "
        "for ids that answered nowhere: the connection was refused (nothing listens: the process or pod is "
        "gone), timed out (host down, process paused, packets dropped), was refused for auth/TLS, or another "
        "node answers at that address (a node restarted with an empty nodes.conf gets a new id). Critical for "
        "a primary that owns slots, a warning for replicas and empty primaries."
    ),
    evidence="The collector's own TCP probe and command errors per address; the peers' CLUSTER NODES lines.",
    why=(
        "A primary that is down leaves its slots unserved until a replica is promoted (about node-timeout x 2) "
        "or it comes back; clients get CLUSTERDOWN or connection errors for those keys."
    ),
    fix=(
        "Find out why the process is not there: `redis-cli -h HOST -p PORT ping`, `kubectl get pod -o wide`, "
        "`kubectl logs` / the server log. Restart it with its data directory (nodes.conf, AOF/RDB) intact. "
        "If it is gone for good and a replica took over, remove it: `CLUSTER FORGET <id>` on every node "
        "within 60 s (or `redis-cli --cluster del-node HOST:PORT <id>`)."
    ),
    heal=(
        "Through its causes: heal fails over (with the risk flag) and forgets nodes gone for good; a node "
        "only down is left to rejoin."
    ),
    run=run,
    explains=("M001", "M002", "M009", "M008", "S002", "R001", "R002", "R003", "R004", "R005", "A006", "E004"),
)
