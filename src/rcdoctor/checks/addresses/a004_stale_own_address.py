from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.address import Endpoint, is_ip
from rcdoctor.model.cluster_slots import SlotsEntry
from rcdoctor.model.view import ClusterView


def _endpoints_by_id(entries: tuple[SlotsEntry, ...]) -> dict[str, list[Endpoint]]:
    """node id -> every endpoint a CLUSTER SLOTS reply gives for it, in reply order."""
    found: dict[str, list[Endpoint]] = {}
    for entry in entries:
        for owner in (entry.primary, *entry.replicas):
            if owner.node_id and owner.endpoint is not None:
                found.setdefault(owner.node_id, []).append(owner.endpoint)
    return found


def run(ctx: ClusterView) -> Iterator[Issue]:
    # Each distinct reply indexed once (a settled cluster's nodes all give the same one).
    indexed: dict[int, dict[str, list[Endpoint]]] = {}
    for node_id, sample in ctx.own.items():
        answers = ctx.answers_at[node_id]
        wrong: dict[str, list[str]] = {}
        mine = sample.myself
        if mine is not None and mine.endpoint is not None and mine.address not in answers:
            wrong.setdefault(mine.address, []).append("its own CLUSTER NODES line (myself)")
        parsed = sample.slots
        by_id = indexed.get(id(parsed))
        if by_id is None:
            by_id = indexed[id(parsed)] = _endpoints_by_id(parsed.value)
        for endpoint in by_id.get(node_id, ()):
            # Hostnames are judged by A005; only IP endpoints can be compared with where it answers.
            if is_ip(endpoint.host) and str(endpoint) not in answers:
                places = wrong.setdefault(str(endpoint), [])
                if "its CLUSTER SLOTS reply" not in places:
                    places.append("its CLUSTER SLOTS reply")
        for address, places in wrong.items():
            there = ctx.snapshot.node(address)
            seen = (
                f"from here: {there.error}"
                if there is not None and there.error
                else (f"{address} answers as another node" if there is not None and there.answered else "not dialed")
            )
            yield Issue(
                title=f"{sample.address} advertises itself at {address}, where it does not answer",
                nodes=(ctx.sample_ref(sample),),
                evidence=(
                    f"{' and '.join(places)} on {sample.address} give {address}",
                    f"it answers at {', '.join(sorted(answers))}; {seen}",
                    "clients that refresh their slot map from this node are sent to " + address,
                ),
            )


CHECK = Check(
    code="A004",
    name="stale-own-address",
    family="addresses",
    severity="critical",
    summary="A node gives clients an address for itself where it cannot be reached.",
    explanation=(
        "A node's `myself` line in CLUSTER NODES and its entries in CLUSTER SLOTS name the address it believes "
        "it has. After a pod restarts with a new IP, Redis 6.2 and 7.0 keep the old IP there (peers learn the "
        "new one, the node itself does not) until something tells it, e.g. a CLUSTER MEET from a peer. A "
        "wrong `cluster-announce-ip` has the same effect."
    ),
    evidence="The node's own CLUSTER NODES myself line and CLUSTER SLOTS reply, against where it answered rcdoctor.",
    why=(
        "Cluster clients build their slot map from CLUSTER SLOTS (or CLUSTER SHARDS) of whichever node they "
        "ask: this node sends them to a dead address, so some clients fail to refresh their slot cache."
    ),
    fix=(
        "From a peer that lists the node at its right address: `CLUSTER MEET <ip> <port>` to the node's real "
        "address (Redis then learns its own address from the handshake). If `cluster-announce-ip` is set, "
        "correct it: `CONFIG SET cluster-announce-ip <ip>` (and in the config file / pod spec)."
    ),
    heal=(
        "Yes (meet phase): a peer MEETs it at the address where it answers; a node learns its own address "
        "from a MEET it receives."
    ),
    run=run,
    explains=("A006",),
)
