"""Atomic slot migration in rebalance/reshard: the commands sent, the reading of the status replies, and
the choice of method.

No Valkey 9 or Redis 8.4 server can be installed for this project's tests, so the status replies are the
shapes the servers' documentation and sources give (see test_slot_migrations.py, where they are named),
the COMMAND INFO replies are the shape every server gives (nil for a command it does not have, as the
real Valkey 8.1 and Redis 7.0 answer in tests/integration/test_atomic_method.py), and the topologies are
a recorded Redis 7.0 cluster's with the server versions changed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_slot_migrations import SOURCE, TARGET, _flat, _redis_task, _valkey_job

from rcdoctor.errors import UsageError
from rcdoctor.migrate import atomic_protocol as proto
from rcdoctor.migrate.atomic import behind
from rcdoctor.migrate.method import choose
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.plan.topology import Node, Topology, topology

DATA = Path(__file__).parent.parent / "data"
VALKEY9 = ServerIdentity("valkey", "9.0.0", "cluster")
REDIS84 = ServerIdentity("redis", "8.4.0", "cluster")
REDIS82 = ServerIdentity("redis", "8.2.3", "cluster")
VALKEY81 = ServerIdentity("valkey", "8.1.8", "cluster")
# COMMAND INFO cluster|sub: the command's own description when present (abridged), nil when not.
PRESENT: list[Any] = [[b"cluster|migrateslots", -6, [b"admin"], 0, 0, 0, [b"@admin"], [], [], []]]
ABSENT: list[Any] = [None]


def _top(*servers: ServerIdentity) -> Topology:
    top = topology(Snapshot.load(DATA / "healthy-redis7.json"))
    primaries = sorted(n.node_id for n in top.primaries)
    nodes: dict[str, Node] = {}
    for node_id, node in top.nodes.items():
        index = primaries.index(node_id) if node_id in primaries else primaries.index(node.primary_id or "")
        nodes[node_id] = replace(node, server=servers[index % len(servers)])
    return replace(top, nodes=nodes)


def test_valkey_starts_on_the_source_with_ranges_and_the_target() -> None:
    side, command = proto.start("valkey", TARGET, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21])
    assert side == "source"
    assert command == ("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", "0", "10", "20", "21", "NODE", TARGET)
    assert proto.started_id("valkey", b"OK") is None
    assert proto.cancel("valkey", None) == ("source", ("CLUSTER", "CANCELSLOTMIGRATIONS"))


def test_redis_imports_on_the_target_and_follows_its_task_id() -> None:
    side, command = proto.start("redis", TARGET, [7000, 7001, 9000])
    assert side == "target" and command == ("CLUSTER", "MIGRATION", "IMPORT", "7000", "7001", "9000", "9000")
    task = proto.started_id("redis", b"24cf41718b20f7f05901743dffc40bc9b15db339")
    assert task == "24cf41718b20f7f05901743dffc40bc9b15db339"
    assert proto.status("redis", task) == ("target", ("CLUSTER", "MIGRATION", "STATUS", "ID", task))
    assert proto.cancel("redis", task) == ("target", ("CLUSTER", "MIGRATION", "CANCEL", "ID", task))


def test_valkey_job_is_the_new_export_of_exactly_our_ranges() -> None:
    slots = [*range(0, 11), *range(20, 31)]
    older = _valkey_job(name="old", state="success")
    ours = _valkey_job(name="new", state="replicating")
    other_target = _valkey_job(name="elsewhere", target_node=SOURCE, state="failed")
    known = proto.job_names("valkey", [_flat(older)])
    assert known == frozenset({"old"})
    reply = [_flat(older), _flat(other_target), _flat(ours)]
    seen = proto.judge("valkey", reply, TARGET, slots, None, known)
    assert seen.state == "running" and seen.detail == "replicating"
    done = proto.judge("valkey", [_flat(older), _flat({**ours, "state": "success"})], TARGET, slots, None, known)
    assert done.state == "done"
    failed = _flat({**ours, "state": "failed", "message": "Target node is not a primary"})
    verdict = proto.judge("valkey", [failed], TARGET, slots, None, known)
    assert verdict.state == "failed" and "Target node is not a primary" in verdict.detail
    # The older job with the same ranges does not count as ours, nor one of other ranges.
    assert proto.judge("valkey", [_flat(older)], TARGET, slots, None, known).state == "missing"
    assert proto.judge("valkey", [_flat(ours)], TARGET, [0, 1], None, known).state == "missing"


def test_redis_task_states() -> None:
    task = "24cf41718b20f7f05901743dffc40bc9b15db339"
    slots = [7000, 7001]
    assert proto.judge("redis", [_redis_task()], TARGET, slots, task).state == "done"
    running = proto.judge("redis", [_redis_task(state="accumulating-buffer")], TARGET, slots, task)
    assert running.state == "running"
    retrying = proto.judge(
        "redis", [_redis_task(state="failed", last_error="connection lost", retries=3)], TARGET, slots, task
    )
    assert retrying.state == "running" and retrying.retries == 3 and "connection lost" in retrying.detail
    assert proto.judge("redis", [_redis_task(state="canceled")], TARGET, slots, task).state == "failed"
    assert proto.judge("redis", [_redis_task(id="another")], TARGET, slots, task).state == "missing"
    assert proto.judge("redis", [], TARGET, slots, task).state == "missing"


def test_probe_reply_reading() -> None:
    assert proto.lists_command(PRESENT)
    assert not proto.lists_command(ABSENT)
    assert not proto.lists_command(b"ERR unknown command")
    assert proto.command_info_query("valkey") == ("COMMAND", "INFO", "cluster|migrateslots")
    assert proto.command_info_query("redis") == ("COMMAND", "INFO", "cluster|migration")


@pytest.mark.parametrize(
    ("servers", "expected"),
    [((VALKEY9,), "valkey"), ((REDIS84,), "redis"), ((VALKEY9, VALKEY81), None), ((REDIS84, REDIS82), None),
     ((VALKEY9, REDIS84), None), ((VALKEY81,), None)],
)  # fmt: skip
def test_one_dialect_for_the_whole_cluster(servers: tuple[ServerIdentity, ...], expected: str | None) -> None:
    top = _top(*servers)
    assert proto.common_dialect({n.node_id: n.server for n in top.primaries}) == expected


def test_auto_picks_atomic_only_when_every_primary_lists_the_command() -> None:
    top = _top(VALKEY9)
    asked: list[tuple[str, tuple[str, ...]]] = []

    def everywhere(node: Node, command: tuple[str, ...]) -> object:
        asked.append((node.node_id, command))
        return PRESENT

    chosen = choose(top, None, "auto", everywhere)  # type: ignore[arg-type]
    assert chosen.name == "atomic" and chosen.dialect == "valkey"
    assert sorted(n for n, _ in asked) == sorted(n.node_id for n in top.primaries)
    renamed = top.primaries[0].node_id

    def one_lacks(node: Node, command: tuple[str, ...]) -> object:
        return ABSENT if node.node_id == renamed else PRESENT

    fallback = choose(top, None, "auto", one_lacks)  # type: ignore[arg-type]
    assert fallback.name == "keys" and renamed[:8] in fallback.why
    with pytest.raises(UsageError, match="COMMAND INFO"):
        choose(top, None, "atomic", one_lacks)  # type: ignore[arg-type]


def test_old_or_mixed_servers_move_key_by_key_and_keys_is_always_honoured() -> None:
    def never(node: Node, command: tuple[str, ...]) -> object:
        raise AssertionError("no probe is needed to refuse")

    mixed = _top(VALKEY9, VALKEY81)
    chosen = choose(mixed, None, "auto", never)  # type: ignore[arg-type]
    assert chosen.name == "keys" and "Valkey 8.1.8" in chosen.why and "Valkey 9.0.0" in chosen.why
    with pytest.raises(UsageError, match="--method atomic"):
        choose(mixed, None, "atomic", never)  # type: ignore[arg-type]
    assert choose(_top(VALKEY9), None, "keys", never).name == "keys"  # type: ignore[arg-type]


def test_behind_lists_slots_a_view_still_maps_elsewhere() -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    sample = next(s for s in snapshot.nodes if s.answered)
    view = parse_cluster_nodes(str(sample.replies["CLUSTER NODES"])).value
    assert behind(view, {0: SOURCE, 1: SOURCE}) == []
    assert behind(view, {0: TARGET, 1: SOURCE, 6000: SOURCE}) == [0, 6000]
