from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import noaddr_outlook, plural, slots_text
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import GHOST_FLAGS, ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    seen: dict[tuple[str, str], list[tuple[NodeSample, ClusterNode]]] = {}
    first: dict[tuple[str, str], tuple[int, int]] = {}  # (viewer, line) where first seen: the order of issues
    position = {id(s): i for i, s in enumerate(ctx.viewers)}
    for node_id in ctx.index.listed:  # each distinct line once, not every line of every view
        for item in ctx.listed(node_id):
            entry = item.entry
            flags = entry.flags & GHOST_FLAGS
            # A noaddr entry of a node that answers rcdoctor is a live node whose address its peer lost
            # (a PONG from another id at its old IP, when pods reuse each other's IPs): A003's, not a ghost.
            if flags and not ("noaddr" in flags and entry.id in ctx.answers_at):
                kind = "handshake" if "handshake" in flags else "noaddr"
                seen.setdefault((entry.id, kind), []).extend((s, entry) for s in item.viewers)
                where = (position[id(item.viewers[0])], item.viewers[0].view.value.index(entry))
                first[(entry.id, kind)] = min(first.get((entry.id, kind), where), where)
    for listed in seen.values():
        listed.sort(key=lambda pair: position[id(pair[0])])
    seen = dict(sorted(seen.items(), key=lambda kv: first[kv[0]]))
    for (node_id, kind), listed in seen.items():
        viewers = [s for s, _ in listed]
        refs = (*(ctx.sample_ref(s) for s in viewers), ctx.ref(node_id))
        names = ", ".join(s.address for s in viewers[:6])
        if kind == "handshake":
            address = listed[0][1].address
            yield Issue(
                title=f"{plural(len(viewers), 'node')} hold a handshake with {address} that never completed",
                nodes=refs,
                evidence=(
                    f"{names}: entry {node_id[:8]} at {address} flagged handshake: a CLUSTER MEET (or gossip about "
                    "a new address) that nothing at that address has answered",
                ),
            )
            continue
        owned = ctx.owned_slots(node_id)
        evidence = [f"{names}: {node_id[:8]} flagged noaddr, its address is empty"]
        if owned:
            evidence += [
                f"it still owns {slots_text(owned)}: clients are given no address for them, while cluster_state "
                "can stay ok",
                noaddr_outlook(ctx.noaddr_failover),
            ]
        yield Issue(
            title=f"{plural(len(viewers), 'node')} list {node_id[:8]} with no address (noaddr)"
            + (f", and it owns {plural(sum(len(r) for r in owned), 'slot')}" if owned else ""),
            nodes=refs,
            evidence=tuple(evidence),
            severity="critical" if owned else "warning",
        )


CHECK = Check(
    code="M003",
    name="ghost-node",
    family="membership",
    severity="warning",
    summary="Nodes list a `handshake` entry or a member with no address (`noaddr`); critical if it owns slots.",
    explanation=(
        "A `handshake` entry is a node this one was asked to meet (CLUSTER MEET, or gossip about a new "
        "address) but has not completed a handshake with; it is dropped after node-timeout if nothing answers. "
        "One that keeps coming back means something keeps introducing a dead address. `noaddr` marks a member "
        "whose address was lost, e.g. when another node (one that lost its nodes.conf, with a new id) answered "
        "at its address. Redis (6.2 to 8.2) skips failure detection for noaddr nodes, so a noaddr primary "
        "that owns slots is never failed over: its slots are unreachable while cluster_state can stay ok. "
        "Valkey 8.1 marks it FAIL after node-timeout and its replica takes over."
    ),
    evidence="Flags of every entry in every answering node's CLUSTER NODES; the slots the entry owns.",
    why="A noaddr primary with slots is a silent partial outage; ghosts inflate cluster_known_nodes.",
    fix=(
        "A noaddr primary with slots: promote its replica with `CLUSTER FAILOVER FORCE` on the replica, or "
        "`CLUSTER MEET <ip> <port>` the node at its real address if it still exists. Gone for good: "
        "`CLUSTER FORGET <id>` on every node within 60 s, once its slots have a new owner. A repeating "
        "handshake: find who introduces the address (scripts, a node with a stale nodes.conf)."
    ),
    heal=(
        "Yes: a noaddr primary replaced by a new id hands it its slots (rejoin phase); a slotless ghost is "
        "forgotten on every node at once (forget phase)."
    ),
    run=run,
    explains=("M005", "A006", "S002", "R004", "R002", "R005"),
)
