"""Which log lines are cluster events, and of what kind: one table of patterns, pure.

The patterns are the messages Redis 6.2, 7.x, 8.x and Valkey 7.2/8.x write at their default log level
(`notice`), checked against logs recorded from the lab on each (tests/data/logs). Redis 8 and Valkey say
"primary" where older servers say "master"; both spellings are matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

NODE_ID = re.compile(r"\b[0-9a-f]{40}\b")

# (kind, pattern) in order: the first match wins. A kind is a stable name (documented in docs/timeline.md).
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        # cluster state
        ("state-fail", r"^Cluster state changed: fail"),
        ("state-ok", r"^Cluster state changed: ok"),
        ("down-reason", r"^Cluster is currently down: "),
        # failure detection
        ("pfail", r"^NODE [0-9a-f]{40} .*possibly failing"),
        ("pfail-report", r"^Node [0-9a-f]{40} .*reported node [0-9a-f]{40} .*as not reachable"),
        ("pfail-cleared", r"^Node [0-9a-f]{40} .*reported node [0-9a-f]{40} .*is back online"),
        ("fail-report", r"^FAIL message received from "),
        ("marked-fail", r"^Marking node [0-9a-f]{40} .*as failing \(quorum reached\)"),
        ("fail-cleared", r"^Clear FAIL state for node "),
        # failover elections
        ("election-delayed", r"^Start of election delayed for "),
        ("election-start", r"^Starting a failover election for epoch "),
        ("vote", r"^Failover auth granted to "),
        ("vote-denied", r"^Failover auth denied to "),
        ("votes", r"^Needed quorum: \d+\. Number of votes received so far: "),
        ("election-won", r"^Failover election won"),
        ("cannot-failover", r"^Currently unable to failover: "),
        ("manual-failover", r"^(Manual failover|Received (manual|replica) failover|Taking over the (master|primary))"),
        ("epoch-collision", r"^configEpoch collision with node "),
        ("config-epoch", r"^configEpoch set to "),
        ("failover", r"^(A failover occurred in shard |Setting myself to (master|primary) in shard )"),
        (
            "role-change",
            r"^(Configuration change detected\. Reconfiguring myself as a replica of |"
            r"Node [0-9a-f]{40} .*is now a replica of |Node [0-9a-f]{40} .*is no longer (master|primary) of shard |"
            r"Setting secondary replication ID to )",
        ),
        # membership and addresses
        ("meet", r"^(Cluster meet |Freeing outbound link to node .* after receiving a MEET packet)"),
        ("handshake", r"^(Successfully completed handshake with |Handshake )"),
        ("forget", r"^(Cluster forget |Node [0-9a-f]{40} .*forgotten|Removing node )"),
        ("address-changed", r"^(IP address for this node updated to |Address updated for node )"),
        ("no-nodes-conf", r"^No cluster configuration found, I'm "),
        # slots
        (
            "slot-migration",
            r"^(Migrating slot |Importing slot |Assigning slot |Marking slot \d+ stable|Slot \d+ is no longer being |"
            r"I have keys for slot |Deleting keys in dirty slot |.*[Ss]lot \d+.*(migrat|import))",
        ),
        # replication
        ("sync-start", r"^Connecting to (MASTER|PRIMARY) "),
        ("sync-requested", r"^Replica \S+ asks for synchronization"),
        ("sync-full", r"^(Full resync (from|requested by) |Partial resynchronization not (accepted|possible))"),
        (
            "sync-partial",
            r"^(Successful partial resynchronization|Partial resynchronization request from .* accepted|"
            r"(MASTER|PRIMARY) <-> REPLICA sync: (Master|Primary) accepted a Partial Resynchronization)",
        ),
        ("sync-done", r"^((MASTER|PRIMARY) <-> REPLICA sync: Finished with success|Synchronization with replica )"),
        (
            "link-lost",
            r"^(Connection with (master|primary|replica) .*lost|Error condition on socket for SYNC|"
            r"(Master|Primary) did not (respond|reply))",
        ),
        # a node's life: start, loading, restart, stop
        ("start", r"^oO0OoO0OoO0Oo (Redis|Valkey) is starting"),
        ("initialized", r"^Server initialized"),
        ("loading", r"^(Loading RDB produced by |Reading RDB (base file|preamble) )"),
        ("loaded", r"^(DB loaded from |Done loading RDB)"),
        ("ready", r"^Ready to accept connections"),
        ("shutdown", r"^(Received (SIGTERM|SIGINT)|User requested shutdown|(Redis|Valkey) is now ready to exit)"),
    )
)
KINDS: tuple[str, ...] = tuple(kind for kind, _ in RULES)

# Kinds that repeat in loops (a replica retrying its primary every second, peers re-reporting a node):
# their repeats are folded into the first. Never folded: a state change, an election, a restart — the
# order of those is the story.
FOLDABLE = frozenset(
    {"sync-start", "link-lost", "pfail", "pfail-report", "pfail-cleared", "down-reason", "cannot-failover"}
)
# Lines from a forked child (role C: RDB/AOF writers) are persistence noise, except the start banner.
CHILD_KINDS = frozenset({"start"})


@dataclass(frozen=True)
class Identity:
    """What a node says about itself in its own log."""

    node_id: str | None = None
    ip: str | None = None
    port: int | None = None


SELF_ID = re.compile(r"^(?:Node configuration loaded|No cluster configuration found), I'm ([0-9a-f]{40})")
SELF_IP = re.compile(r"^IP address for this node updated to (\S+)")
SELF_PORT = re.compile(r"^Running mode=cluster, port=(\d+)")


# Every rule in one pattern, one alternative each in RULES order (all are anchored at the start, so the
# first alternative that matches is the first rule that would): one search per line instead of ~40.
_ANY = re.compile("|".join(f"(?P<k{i}>{pattern.pattern})" for i, (_, pattern) in enumerate(RULES)))
_KIND_OF = {f"k{i}": kind for i, (kind, _) in enumerate(RULES)}


def classify(text: str) -> str | None:
    """The event kind of a log message, or None when it is not a cluster event."""
    match = _ANY.match(text)
    return _KIND_OF.get(match.lastgroup or "") if match else None


def learn(identity: Identity, text: str) -> Identity:
    """The identity after this line of the node's own log (the last id/IP/port it states wins)."""
    if match := SELF_ID.search(text):
        return Identity(match[1], identity.ip, identity.port)
    if match := SELF_IP.search(text):
        return Identity(identity.node_id, match[1], identity.port)
    if match := SELF_PORT.search(text):
        return Identity(identity.node_id, identity.ip, int(match[1]))
    return identity


def named_ids(text: str) -> list[str]:
    return NODE_ID.findall(text)


def short_ids(text: str, names: Mapping[str, str], own: str | None = None) -> str:
    """40-hex node ids cut to 8, with the node's name when known and not the logging node itself:
    `Marking node 72445114 (n2) as failing` (text output and the report)."""
    return NODE_ID.sub(lambda m: f"{m[0][:8]} ({names[m[0]]})" if m[0] in names and m[0] != own else m[0][:8], text)
