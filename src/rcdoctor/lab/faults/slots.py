"""Slot faults, made with the real cluster commands an operator or a crashed tool would have run.

- half-migrate: a slot left MIGRATING on its owner and IMPORTING on another primary, some keys moved
  (what an interrupted `redis-cli --cluster reshard` leaves behind);
- drop-slot-owner: every node forgets who owns a slot (CLUSTER DELSLOTS): the slot is uncovered and
  its keys sit on a node that no longer claims them;
- assign-twice: a second primary holds keys of a slot another primary owns. (Two *claims* on one
  slot do not last in a connected cluster: within a ping the higher configEpoch wins and the loser
  deletes its keys of that slot. What lasts, and what `redis-cli --cluster check` reports as a slot
  with multiple owners, is keys on two nodes; that is what this fault leaves.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rcdoctor.errors import FaultError
from rcdoctor.lab.cluster import owner_in_view
from rcdoctor.lab.faults.base import FaultOp, register, wait_until
from rcdoctor.model.server import replicates_setslot
from rcdoctor.model.slots import SLOT_COUNT, key_hash_slot
from rcdoctor.transport.errors import ServerError, TransportError
from rcdoctor.transport.redis_py import NodeClient

if TYPE_CHECKING:
    from rcdoctor.lab.cluster import Lab
    from rcdoctor.lab.state import LabNode

Outcome = tuple[FaultOp | None, dict[str, Any]]

SETSLOT_TIMEOUT_MS = 2000  # Valkey's own default wait for replicas; said explicitly so a report can name it
WAITING_CLIENT = SETSLOT_TIMEOUT_MS / 1000 + 3.0  # a socket timeout that outlasts the server's own wait


def _setslot(lab: Lab, c: NodeClient, node: LabNode, slot: int, *state: str) -> None:
    """CLUSTER SETSLOT on a lab node. Valkey 8+ applies it only once the node's replicas acknowledge it:
    there it carries TIMEOUT, and a NOREPLICAS answer (a paused replica, say) is a one-line FaultError
    instead of a hang or a half-made fault."""
    tail = ("TIMEOUT", SETSLOT_TIMEOUT_MS) if replicates_setslot(lab.identity) else ()
    try:
        c.execute_command("CLUSTER", "SETSLOT", slot, *state, *tail)
    except ServerError as exc:
        if "NOREPLICAS" not in str(exc).upper():
            raise
        raise FaultError(
            f"{node.name}: CLUSTER SETSLOT {slot} {state[0]} was not acknowledged by its replicas within "
            f"{SETSLOT_TIMEOUT_MS} ms (NOREPLICAS): resume or restart a paused or stopped replica first"
        ) from None


def _slot(params: Mapping[str, Any]) -> int:
    slot = params.get("slot", 0)
    if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOT_COUNT:
        raise FaultError(f"slot must be a number from 0 to {SLOT_COUNT - 1}")
    return slot


def _other_primary(lab: Lab, owner: LabNode, params: Mapping[str, Any]) -> LabNode:
    if params.get("to"):
        node = lab.node(str(params["to"]))
        if node.name == owner.name:
            raise FaultError(f"{node.name} already owns the slot; name another primary with 'to'")
        return node
    roles = lab.live_roles()
    for node in lab.nodes:
        if roles[node.name] == "primary" and node.name != owner.name:
            return node
    raise FaultError("the lab has no second primary")


def ensure_keys(lab: Lab, owner: LabNode, slot: int, count: int) -> list[str]:
    """At least `count` keys of `slot` on its owner: its own first, topped up with new hash-tagged keys."""
    with lab.client(owner) as c:
        keys = [str(k) for k in c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, max(count, 1))]
        if len(keys) >= count:
            return keys[:count] if count else keys
        tag = tag_for_slot(slot)
        extra = [f"rcdoctor:{{{tag}}}:{i}" for i in range(count)]
        extra = [k for k in extra if k not in keys][: count - len(keys)]
        for key in extra:
            c.set(key, f"value-of-{key}")
        return keys + extra


def tag_for_slot(slot: int) -> str:
    """A hash tag whose keys land in `slot` (search over short strings; at most a few thousand tries)."""
    for number in range(1_000_000):
        tag = f"t{number}"
        if key_hash_slot(tag) == slot:
            return tag
    raise FaultError(f"no hash tag found for slot {slot}")  # pragma: no cover - every slot has one


def _migrate(lab: Lab, source: LabNode, target: LabNode, keys: list[str]) -> None:
    if not keys:
        return
    args: list[Any] = ["MIGRATE", target.ip, target.port, "", 0, 5000]
    secret = lab.password
    if secret:
        args += ["AUTH", secret.reveal()]
    with lab.client(source) as c:
        c.execute_command(*args, "KEYS", *keys)


@register(
    "half-migrate",
    "leave a slot MIGRATING on its owner and IMPORTING on another primary, with "
    "params.keys of its keys already moved (params: slot, to, keys)",
    needs_targets=False,
)
def half_migrate(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    slot = _slot(params)
    source = lab.slot_owner(slot)
    target = _other_primary(lab, source, params)
    move = int(params.get("keys", 5))
    keys = ensure_keys(lab, source, slot, max(move * 2, 2))  # keys on both sides once `move` have moved
    with lab.client(target, WAITING_CLIENT) as t, lab.client(source, WAITING_CLIENT) as s:
        _setslot(lab, t, target, slot, "IMPORTING", str(source.node_id))
        try:
            _setslot(lab, s, source, slot, "MIGRATING", str(target.node_id))
        except FaultError:
            with contextlib.suppress(TransportError, FaultError):
                _setslot(lab, t, target, slot, "STABLE")  # not half a fault: the target's side undone
            raise
    moved = keys[:move]
    _migrate(lab, source, target, moved)
    undo = FaultOp("close-migration", (), {"slot": slot, "owner": source.name, "other": target.name})
    return undo, {"slot": slot, "source": source.name, "target": target.name, "moved_keys": moved}


@register(
    "close-migration",
    "move a half-migrated slot's keys back to its owner and mark it stable on both (the undo of half-migrate)",
    needs_targets=False,
    undo_only=True,
)
def close_migration(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    slot = _slot(params)
    owner, other = lab.node(str(params["owner"])), lab.node(str(params["other"]))
    # The owner first: while MIGRATING it answers RESTORE of a key it lacks with ASK. The other side
    # stays IMPORTING until its keys are gone, because MIGRATE only works on keys of an open slot.
    with lab.client(owner, WAITING_CLIENT) as c:
        _setslot(lab, c, owner, slot, "STABLE")
    with lab.client(other) as c:
        keys = [str(k) for k in c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000)]
    _migrate(lab, other, owner, keys)
    with lab.client(other, WAITING_CLIENT) as c:
        _setslot(lab, c, other, slot, "STABLE")
    return None, {"moved_back": len(keys)}


@register(
    "drop-slot-owner",
    "CLUSTER DELSLOTS a slot on every node: it becomes uncovered while its keys stay on the old owner (params: slot)",
    needs_targets=False,
)
def drop_slot_owner(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    slot = _slot(params)
    owner = lab.slot_owner(slot)
    roles = lab.live_roles()
    # The owner first, then its replicas (their pings carry their primary's slots), then the rest.
    ordered = sorted(
        (n for n in lab.nodes if lab.is_running(n) and not n.paused),
        key=lambda n: (n.name != owner.name, roles[n.name] == "primary"),
    )

    def everyone_forgot() -> bool:
        done = True
        for node in ordered:
            with lab.client(node) as c:
                if owner_in_view(c, slot) is not None:
                    done = False
                    with contextlib.suppress(ServerError):  # already unassigned there
                        c.execute_command("CLUSTER", "DELSLOTS", slot)
        return done

    if not wait_until(everyone_forgot, timeout=10 + lab.state.node_timeout_ms / 500, interval=0.1):
        raise FaultError(f"slot {slot} kept an owner in some view after DELSLOTS on every node")
    return FaultOp("restore-slot-owner", (), {"slot": slot, "owner": owner.name}), {
        "slot": slot,
        "former_owner": owner.name,
    }


@register(
    "restore-slot-owner",
    "CLUSTER ADDSLOTS a dropped slot back on its former owner (the undo of drop-slot-owner)",
    needs_targets=False,
    undo_only=True,
)
def restore_slot_owner(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    slot = _slot(params)
    owner = lab.node(str(params["owner"]))
    with lab.client(owner) as c:
        c.execute_command("CLUSTER", "ADDSLOTS", slot)

    def everyone_knows() -> bool:
        for node in lab.nodes:
            if lab.is_running(node) and not node.paused:
                with lab.client(node) as c:
                    if owner_in_view(c, slot) != owner.node_id:
                        return False
        return True

    # Later undos (and clients) need the cluster up again: wait for the claim to reach every view.
    if not wait_until(everyone_knows, timeout=10 + lab.state.node_timeout_ms / 500, interval=0.05):
        raise FaultError(f"slot {slot}: not every node learned that {owner.name} owns it again")
    return None, {}


@register(
    "assign-twice",
    "copy keys of a slot onto a second primary that does not own it, so two nodes "
    "hold the slot's keys (params: slot, to, keys)",
    needs_targets=False,
)
def assign_twice(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    slot = _slot(params)
    owner = lab.slot_owner(slot)
    other = _other_primary(lab, owner, params)
    keys = ensure_keys(lab, owner, slot, int(params.get("keys", 5)))
    with lab.client(owner) as o:
        dumps = [(k, o.execute_command("PTTL", k), o.dump(k)) for k in keys]
    _on_foreign_slot(
        lab,
        other,
        owner,
        slot,
        [
            ("RESTORE", key, max(int(pttl), 0), payload, "REPLACE")
            for key, pttl, payload in dumps
            if payload is not None
        ],
    )
    undo = FaultOp("unassign-twice", (), {"slot": slot, "owner": owner.name, "other": other.name, "keys": keys})
    return undo, {"slot": slot, "owner": owner.name, "also_on": other.name, "keys": keys}


@register(
    "unassign-twice",
    "delete the copied keys from the node that does not own the slot (the undo of assign-twice)",
    needs_targets=False,
    undo_only=True,
)
def unassign_twice(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    slot = _slot(params)
    owner, other = lab.node(str(params["owner"])), lab.node(str(params["other"]))
    keys = [str(k) for k in params.get("keys", [])]
    _on_foreign_slot(lab, other, owner, slot, [("DEL", key) for key in keys])
    return None, {"deleted": len(keys)}


def _on_foreign_slot(lab: Lab, node: LabNode, owner: LabNode, slot: int, commands: list[tuple[Any, ...]]) -> None:
    """Run key commands on `node` for a slot `owner` owns: it accepts them only while IMPORTING the slot
    and for a connection that sent ASKING just before each one."""
    with lab.client(node, WAITING_CLIENT) as c:
        _setslot(lab, c, node, slot, "IMPORTING", str(owner.node_id))
        try:
            for command in commands:
                pipe = c.pipeline(transaction=False)  # one connection: ASKING covers the next command only
                pipe.execute_command("ASKING")
                pipe.execute_command(*command)
                pipe.execute()
        finally:
            _setslot(lab, c, node, slot, "STABLE")
