"""Key reads and writes outside the migration engine on a slot left open (Redis 7.0 and 6.2) must
follow the slot's state. A node MIGRATING a slot answers a key it no longer holds with -ASK (the key is on
the importing node, readable there only after ASKING); a node IMPORTING it answers MOVED without ASKING.

The case: a primary comes back without nodes.conf holding a stale copy of its shard (its replica took
over), and one slot of that shard is half-way to another primary. The salvage that runs before the copy
is emptied must compare the copy's keys of that slot with where they are now (partly on the importing
node) and write the ones only the copy holds where the slot's keys live. The stray-key step, which opens a
slot itself, must leave alone a slot that opened after it was planned; verify's digest must tell a key
moved away since SCAN (-ASK) from one it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.healing import prepared
from tests.integration.helpers import cluster_nodes, node_timeouts, read_keys, wait_for

from rcdoctor.divergence import report
from rcdoctor.execute.strays import return_keys
from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.faults.slots import tag_for_slot
from rcdoctor.lab.state import LabNode
from rcdoctor.plan.steps import Stray
from rcdoctor.transport.link import Link
from rcdoctor.verify.digest import SlotDigest, digest_keys

pytestmark = pytest.mark.integration


def _role_of(lab: Lab, node: LabNode) -> str:
    with lab.client(node, timeout=1) as c:
        return str(c.info("replication")["role"])


def _asking(lab: Lab, node: LabNode, *command: str) -> object:
    """One command after ASKING on the same connection (a pipeline is one connection)."""
    with lab.client(node) as c:
        pipe = c.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.execute_command(*command)
        return pipe.execute()[1]


def test_salvage_of_a_stale_copy_follows_a_half_migrated_slot(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, _, env = prepared(make_lab, redis_binary, tmp_path)
    primary = next(n for n in lab.nodes if lab.live_roles()[n.name] == "primary")
    (replica,) = lab.followers({primary.node_id or ""})
    with lab.client(primary) as c:
        # A slot with no key of the data set: the half-migration below moves keys in the order the server
        # lists them (GETKEYSINSLOT), which differs between servers; only this test's keys may be there.
        slot = next(
            s
            for s in range(16384)
            if lab.slot_owner(s).name == primary.name and c.execute_command("CLUSTER", "COUNTKEYSINSLOT", s) == 0
        )
        tag = tag_for_slot(slot)
        keys = [f"asking:{{{tag}}}:{i}" for i in range(6)]
        for key in keys:
            c.set(key, f"before-{key}")
        assert c.execute_command("WAIT", 1, 5000) == 1  # the replica has them before the primary dies
    apply(lab, FaultOp("kill", primary.name))
    wait_for(lambda: _role_of(lab, replica) == "master", node_timeouts(lab, 10), "the replica to take over")
    wait_for(lambda: lab.slot_owner(slot).name == replica.name, node_timeouts(lab, 5), "views of the new owner")
    roles = lab.live_roles()
    other = next(n for n in lab.nodes if n not in (primary, replica) and roles[n.name] == "primary")
    moved = apply(lab, FaultOp("half-migrate", (), {"slot": slot, "to": other.name, "keys": 3})).details["moved_keys"]
    assert set(moved) <= set(keys)
    apply(lab, FaultOp("lose-nodes-conf", primary.name))  # back with every key, knowing only itself
    # On the importing side, after the move: one key deleted (the stale copy is its only holder now) and
    # one rewritten (a conflict: the copy's value goes to the salvage file, the cluster's value stays).
    lost, changed = moved[0], moved[1]
    assert _asking(lab, other, "DEL", lost) == 1
    assert _asking(lab, other, "SET", changed, "written after the move") is True

    run = rcdoctor(
        "heal", *lab.addresses, "--apply", "--allow-discard-replica-copy", "--format", "json", env=env, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["healthy"] is True
    verified = rcdoctor("verify", *lab.addresses, env=env)
    assert verified.returncode == 0, verified.stdout
    values = dict(zip(keys, read_keys(lab, keys), strict=True))
    assert values[lost] == f"before-{lost}"  # only the copy held it: written where the slot's keys live
    assert values[changed] == "written after the move"  # the cluster's value wins
    assert all(values[k] == f"before-{k}" for k in keys if k != changed)
    (kept,) = sorted((tmp_path / "state").rglob("salvage-*.jsonl"))
    _, diffs = report.read(kept)
    assert {(d.key.decode(), d.kind) for d in diffs if d.slot == slot} == {(lost, "only-a"), (changed, "differ")}


def _open_markers(lab: Lab, node: LabNode, slot: int) -> list[str]:
    mine = next(f for f in cluster_nodes(lab, node) if "myself" in f[2])
    return [p for p in mine[8:] if p.startswith(f"[{slot}-")]


def test_stray_keys_are_left_alone_in_a_slot_opened_after_the_plan(
    redis_binary: RedisBinary, make_lab: LabFactory
) -> None:
    """A stale plan (the slot was stable when planned, a migration opened it since): returning strays
    would overwrite the holder's IMPORTING state, then erase it with STABLE, and the owner answers -ASK for
    the keys already moved. The live check leaves the slot to the migration engine, untouched."""
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    slot = 1234
    owner = lab.slot_owner(slot)
    holder = next(n for n in lab.nodes if n.name != owner.name)
    moved = apply(lab, FaultOp("half-migrate", (), {"slot": slot, "to": holder.name, "keys": 3})).details["moved_keys"]
    with lab.client(owner) as c:
        left = [str(k) for k in c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)]
    stray = Stray(slot, holder.node_id or "", holder.address, owner.node_id or "", owner.address, len(moved))

    returned = return_keys(stray, holder.endpoint, owner.endpoint, lab.options)

    assert returned.skipped and f"IMPORTING from {(owner.node_id or '')[:8]}" in returned.skipped, returned
    assert (returned.moved, returned.identical_dropped, returned.conflicts) == (0, 0, [])
    assert _open_markers(lab, holder, slot) == [f"[{slot}-<-{owner.node_id}]"]
    assert _open_markers(lab, owner, slot) == [f"[{slot}->-{holder.node_id}]"]
    # Every key where the migration left it: one at a time (several keys of an open slot are TRYAGAIN)
    assert all(read_keys(lab, [key]) != [None] for key in [*moved, *left])
    with lab.client(holder) as c:
        assert sorted(str(k) for k in c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)) == sorted(moved)


def test_digest_counts_a_key_moved_since_scan_as_gone_not_unreadable(
    redis_binary: RedisBinary, make_lab: LabFactory
) -> None:
    """SCAN listed a key, then a migration moved it: the MIGRATING node answers DUMP with -ASK. That key is
    counted by the importing node, not reported as a stray this node cannot read (S003)."""
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    slot = 2345
    owner = lab.slot_owner(slot)
    moved = apply(lab, FaultOp("half-migrate", (), {"slot": slot, "keys": 3})).details["moved_keys"]
    with lab.client(owner) as c:
        left = [bytes(k, "utf-8") for k in c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)]
    digest = SlotDigest()
    link = Link(owner.endpoint, lab.options, timeout=5)
    try:
        digest_keys(link, [k.encode() for k in moved] + left, digest)  # as if SCAN had listed them all
    finally:
        link.close()
    assert digest.unreadable == 0
    assert digest.counts[slot] == len(left) > 0
