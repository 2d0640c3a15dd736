from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue, NodeRef
from rcdoctor.checks.context import GHOST_FLAGS, Context


def run(ctx: Context) -> Iterator[Issue]:
    for sample in ctx.viewers:
        for entry in sample.view.value:
            flags = entry.flags & GHOST_FLAGS
            if not flags or entry.is_myself:
                continue
            kind = "handshake" if "handshake" in flags else "noaddr"
            meaning = (
                "a CLUSTER MEET (or a gossip about a new node) whose handshake never completed"
                if kind == "handshake"
                else "a node whose address is unknown (its address was lost, or it was forgotten elsewhere)"
            )
            yield Issue(
                title=f"{sample.address} lists a {kind} entry {entry.id[:8]} at {entry.address}",
                nodes=(ctx.sample_ref(sample), NodeRef(entry.id, entry.address)),
                evidence=(
                    f"{sample.address}: `{entry.id} {entry.address} {','.join(sorted(entry.flags))}`: {meaning}",
                ),
            )


CHECK = Check(
    code="M003",
    name="ghost-node",
    family="membership",
    severity="warning",
    summary="A node lists a `handshake` or `noaddr` entry: a half-known node.",
    explanation=(
        "A `handshake` entry is a node this one was asked to meet (CLUSTER MEET, or gossip about a new "
        "address) but has not completed a handshake with; it is dropped after node-timeout if nothing answers. "
        "One that keeps coming back means something keeps introducing a dead address (a stale address in "
        "gossip, an operator script). `noaddr` marks a node whose address is unknown."
    ),
    evidence="Flags of every entry in every answering node's CLUSTER NODES.",
    why="Ghosts inflate cluster_known_nodes, confuse tools, and point at stale addresses still circulating.",
    fix=(
        "Find who introduces the address (scripts running CLUSTER MEET, a node with a stale nodes.conf). A "
        "noaddr node that is gone: `CLUSTER FORGET <id>` on every node within 60 s."
    ),
    heal="Planned: forget noaddr ghosts on every node at once.",
    run=run,
    explains=("M005", "M004"),
)
