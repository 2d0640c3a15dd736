"""Keys a primary holds in a slot another primary owns (S003): returned to the owner, never dropped.

The holder accepts commands on a slot it does not own only while IMPORTING it and for a connection that
sent ASKING just before each command. So: SETSLOT s IMPORTING owner on the holder; for each of its keys
there, compare with the owner's copy (DUMP): none there -> MIGRATE it over (the holder's copy is
removed by MIGRATE itself); identical -> delete the holder's copy; different -> leave both and report
(which one is right is a human decision). Then SETSLOT s STABLE on the holder.

On a holder that replicates SETSLOT (Valkey 8+) each SETSLOT waits for its replicas: it goes with TIMEOUT,
and a NOREPLICAS answer (nothing applied on the holder, but its replicas may have applied it) stops the run
with the lagging replicas named, after a STABLE that clears what those replicas applied.

Only for a slot stable on both nodes, checked live first: the plan leaves open slots to the migration
engine, but one may have opened since (another tool, an operator). There SETSLOT would overwrite the real
migration's state and STABLE erase it, and the owner would answer -ASK for the keys it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rcdoctor.errors import DoctorError
from rcdoctor.model.address import Endpoint
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.info import parse_info
from rcdoctor.model.replication import lagging_text
from rcdoctor.model.server import replicates_setslot, server_identity
from rcdoctor.plan.steps import Stray
from rcdoctor.transport.errors import ServerError
from rcdoctor.transport.link import Command, Link, migrate_auth, text
from rcdoctor.transport.options import ConnectOptions

BATCH = 500
SETSLOT_TIMEOUT_MS = 2000  # Valkey's own default wait for the replicas' acknowledgement


class StrayError(DoctorError):
    """Returning a slot's stray keys stopped: a node refused, or its replicas did not acknowledge."""


@dataclass
class Returned:
    moved: int = 0
    identical_dropped: int = 0
    conflicts: list[str] = field(default_factory=list)  # key names (decoded for the report)
    skipped: str | None = None  # why nothing was done (the slot is open now)


def open_on(link: Link, slot: int) -> str | None:
    """How `slot` is open on the node at the end of `link` ("MIGRATING to ID" / "IMPORTING from ID"), live."""
    for node in parse_cluster_nodes(text(link.one("CLUSTER", "NODES"))).value:
        if "myself" in node.flags:
            for direction, pairs in (("MIGRATING to", node.migrating), ("IMPORTING from", node.importing)):
                peer = next((p for s, p in pairs if s == slot), None)
                if peer is not None:
                    return f"{direction} {peer[:8]}"
    return None


def return_keys(stray: Stray, holder: Endpoint, owner: Endpoint, options: ConnectOptions) -> Returned:
    result = Returned()
    auth = migrate_auth(options)
    src = Link(holder, options, timeout=options.timeout_for("bulk"))
    dst = Link(owner, options, timeout=options.timeout_for("bulk"))
    try:
        for link in (src, dst):
            state = open_on(link, stray.slot)
            if state is not None:
                result.skipped = f"slot {stray.slot} is {state} on {link.endpoint} now: the migration engine's to close"
                return result
        waits = replicates_setslot(server_identity(parse_info(text(src.one("INFO", "server"))).value.get("server", {})))
        tail: tuple[Any, ...] = ("TIMEOUT", SETSLOT_TIMEOUT_MS) if waits else ()
        _setslot(src, ("CLUSTER", "SETSLOT", stray.slot, "IMPORTING", stray.owner, *tail), tail)
        try:
            skip: set[bytes] = set()
            while True:
                keys = [k for k in src.one("CLUSTER", "GETKEYSINSLOT", stray.slot, BATCH + len(skip)) if k not in skip]
                if not keys:
                    break
                ours = src.run([c for k in keys for c in (("ASKING",), ("DUMP", k))])[1::2]
                theirs = dst.run([("DUMP", k) for k in keys])
                commands: list[tuple[Any, ...]] = []
                for key, mine, other in zip(keys, ours, theirs, strict=True):
                    # An error stops the run before this batch changes anything (an -ASK from the owner:
                    # its slot opened after the check above).
                    if isinstance(mine, ServerError) or isinstance(other, ServerError):
                        raise StrayError(f"slot {stray.slot}: {mine if isinstance(mine, ServerError) else other}")
                    if mine is None:
                        continue  # expired meanwhile
                    if other is None:
                        e = owner
                        commands += [("ASKING",), ("MIGRATE", e.host, e.port, key, 0, 10_000, *auth)]
                        result.moved += 1
                    elif other == mine:
                        commands += [("ASKING",), ("DEL", key)]
                        result.identical_dropped += 1
                    else:
                        skip.add(key)
                        result.conflicts.append(key.decode("utf-8", "replace"))
                for reply in src.run(commands)[1::2]:
                    if isinstance(reply, ServerError):
                        raise StrayError(f"slot {stray.slot}: {reply}")
                if not commands:
                    break  # only conflicts are left
        finally:
            _setslot(src, ("CLUSTER", "SETSLOT", stray.slot, "STABLE", *tail), tail)
    finally:
        src.close()
        dst.close()
    return result


def _setslot(link: Link, command: Command, tail: tuple[Any, ...]) -> None:
    """SETSLOT on the holder; NOREPLICAS (its replicas did not acknowledge within TIMEOUT) -> StrayError
    naming them, after clearing what they applied anyway (a STABLE that is itself not waited for)."""
    (reply,) = link.run([command])
    if not isinstance(reply, ServerError):
        return
    if "NOREPLICAS" not in str(reply).upper():
        raise StrayError(f"{' '.join(map(str, command[:4]))} on {link.endpoint}: {reply}")
    if command[3] != "STABLE":
        link.run([("CLUSTER", "SETSLOT", command[2], "STABLE", *tail)])  # best effort: the replicas applied it
    behind = lagging_text(text(link.one("INFO", "replication")))
    raise StrayError(
        f"{link.endpoint} waited {SETSLOT_TIMEOUT_MS} ms for its replicas to acknowledge CLUSTER SETSLOT "
        f"{command[2]} {command[3]} and applied nothing (NOREPLICAS); behind: {behind}. Bring that replica back "
        "(resume or restart it) or remove it, then run heal again"
    )
