from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.view import HANDSHAKE, ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.ids:
        listed = [x for x in ctx.listed(node_id) if not x.entry.flags & HANDSHAKE]
        if all(x.entry.link_state == "connected" or "noaddr" in x.entry.flags for x in listed):
            continue  # each distinct line judged once; the views are walked only for a link that is down
        views = sum(len(x.viewers) for x in listed)
        down = [
            s
            for s, e in ctx.listings[node_id]
            if not e.flags & HANDSHAKE and e.link_state != "connected" and "noaddr" not in e.flags
        ]
        yield Issue(
            title=f"bus link to {ctx.name(node_id)} is down in {len(down)} of {plural(views, 'view')}",
            nodes=(ctx.ref(node_id),),
            evidence=(f"link-state disconnected in the CLUSTER NODES of {', '.join(s.address for s in down[:8])}",),
        )


CHECK = Check(
    code="M009",
    name="bus-link-down",
    family="membership",
    severity="warning",
    summary="Some nodes have no connected cluster-bus link to a node.",
    explanation=(
        "The last field of a CLUSTER NODES line is the state of the bus link to that peer. A link that stays "
        "disconnected means the peer's bus port cannot be reached from that node: it is down, moved, or the "
        "network between them drops packets."
    ),
    evidence="link-state in every answering node's CLUSTER NODES.",
    why="Without the link no pings are exchanged: the peer is suspected, then failed.",
    fix="Check the peer and the path from the reporting nodes to its bus port (`nc -vz <ip> 16379` from their pods).",
    heal="Through its cause only.",
    run=run,
)
