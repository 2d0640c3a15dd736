"""The collector against real clusters: discovery, parallelism bounds, faults recorded as data."""

from __future__ import annotations

import pytest
from tests.conftest import LabFactory

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.collect import ConnectOptions, collect
from rcdoctor.lab import RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.status import build_status

pytestmark = pytest.mark.integration


def test_one_seed_finds_every_node_with_every_reply(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    snapshot = collect([lab.nodes[2].address], lab.options, complete=True)
    assert sorted(n.address for n in snapshot.nodes) == sorted(lab.addresses)
    assert snapshot.seeds == (lab.nodes[2].address,)
    for node in snapshot.nodes:
        assert node.answered and node.error is None
        assert node.origin == ("seed" if node.address == lab.nodes[2].address else "view")
        assert node.cluster_state == "ok" and node.version == redis_binary.version
        assert node.data_port is not None and node.data_port.ok
        assert node.bus_port is not None and node.bus_port.ok and node.bus_port_number == 16379
        assert node.ping_ms is not None and node.myself is not None
        assert len(node.announced_by) == 5  # every other node's view names it
        assert node.slots.ok and node.slots.value
        if redis_binary.version_tuple >= (7, 0):
            assert "CLUSTER SHARDS" in node.replies and "CLUSTER LINKS" in node.replies
        else:
            assert "CLUSTER SHARDS" in node.reply_errors
    report = build_status(snapshot)
    assert report.health == "ok", [p for row in report.rows for p in row.problems]
    # What the checks read, no more: the replies kept only for the record are not asked at all.
    checked = collect([lab.nodes[2].address], lab.options)
    for node in checked.nodes:
        assert node.answered and not {"CLUSTER SHARDS", "CLUSTER LINKS"} & {*node.replies, *node.reply_errors}
    found = [{(f.code, f.title) for f in analyze(s, default_registry()).findings} for s in (checked, snapshot)]
    assert found[0] == found[1]


def test_discovery_uses_the_union_of_views(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    isolated = lab.nodes[4]
    apply(lab, FaultOp("lose-nodes-conf", isolated.name))
    alone = collect([isolated.address], lab.options)
    assert [n.address for n in alone.nodes] == [isolated.address]  # it knows only itself
    both = collect([isolated.address, lab.nodes[0].address], lab.options)
    assert sorted(n.address for n in both.nodes) == sorted(lab.addresses)
    report = build_status(both)
    ids = {r.node_id for r in report.rows}
    assert isolated.node_id in ids  # the new id, answering
    old_id = lab.state.faults[-1]["details"]["old_ids"][isolated.name]
    assert old_id in ids  # and the old id its peers still list at the same address


def test_paused_nodes_cost_one_timeout_not_n(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary, node_timeout_ms=15000)  # long node timeout: the cluster stays ok meanwhile
    apply(lab, FaultOp("pause", ("n2", "n4", "n6")))
    options = ConnectOptions(timeout=2.0)
    snapshot = collect([lab.nodes[0].address], options)
    # Bound: timeout + grace (max(1, timeout/2)) plus scheduling slack. Three paused nodes asked one after
    # another would need 3 × 2 s at least.
    assert snapshot.duration_s < 2.0 + 1.0 + 1.5, snapshot.duration_s
    paused = {n.address: n for n in snapshot.nodes if n.address in {lab.node(x).address for x in ("n2", "n4", "n6")}}
    assert len(paused) == 3
    for node in paused.values():
        assert node.error is not None and node.error.kind in ("timeout", "deadline")
        assert node.data_port is not None and node.data_port.ok  # the kernel accepts; the server is silent
    assert all(n.answered for n in snapshot.nodes if n.address not in paused)


def test_killed_node_is_recorded_as_refused(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    apply(lab, FaultOp("kill", "n3"))
    snapshot = collect([lab.nodes[0].address], lab.options)
    dead = snapshot.node(lab.nodes[2].address)
    assert dead is not None and dead.error is not None and dead.error.kind == "refused"
    assert dead.data_port is not None and not dead.data_port.ok
    assert dead.bus_port is not None and not dead.bus_port.ok
    assert dead.data_port.kind == "refused" and dead.bus_port.kind == "refused"
    assert dead.origin == "view" and len(dead.announced_by) == 5
    assert len(snapshot.answered) == 5
    assert build_status(snapshot).exit_code == 2


def test_open_slot_key_counts_on_both_sides(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7)
    result = apply(lab, FaultOp("half-migrate", params={"slot": 300, "keys": 2}))
    snapshot = collect([lab.nodes[0].address], lab.options)
    source = snapshot.node(lab.node(result.details["source"]).address)
    target = snapshot.node(lab.node(result.details["target"]).address)
    assert source is not None and target is not None
    assert source.keys_in_slot() == {300: 2} and target.keys_in_slot() == {300: 2}


def test_seed_by_name_and_unresolvable_names(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, primaries=3, replicas=0, base_ip="127.0.0.1", port=7391, announce_hostnames=True)
    snapshot = collect(["localhost:7391", "no-such-node.rcdoctor.invalid:6379"], lab.options)
    # a seed name is dialled at every address it resolves to (where ::1 is localhost too, there as well)
    by_name = snapshot.node("127.0.0.1:7391")
    assert by_name is not None and by_name.answered and by_name.origin == "seed"
    local, missing = snapshot.sources
    assert (local.spec, local.kind) == ("localhost:7391", "dns") and "127.0.0.1:7391" in local.addresses
    assert "127.0.0.1" in snapshot.dns["localhost"]["addresses"]
    bad = snapshot.node("no-such-node.rcdoctor.invalid:6379")
    assert bad is not None and bad.error is not None and bad.error.kind == "dns"
    assert missing.kind == "dns" and missing.error and not missing.addresses
    # the host names the nodes announce are looked up, and the failures recorded as data
    announced = {f"{n.name}.{lab.state.name}.lab.invalid" for n in lab.nodes}
    assert set(snapshot.dns) == announced | {"localhost"}
    assert all(snapshot.dns[name]["addresses"] is None and snapshot.dns[name]["error"] for name in announced)
    assert {n.hostname for s in snapshot.answered for n in s.view.value} == announced
    silent = [a for a in local.addresses if not snapshot.node(a).answered]  # type: ignore[union-attr]
    # 3 node ids (whatever address they were reached at) + the bad name (+ ::1 where it is localhost)
    assert len(build_status(snapshot).rows) == 4 + len(silent)


def test_fewer_connections_at_once_than_nodes_gives_the_same_snapshot(
    redis_binary: RedisBinary, make_lab: LabFactory
) -> None:
    # The multiplexer queues the nodes past its limit: one at a time must find and ask every node alike.
    lab = make_lab(redis_binary)
    wide = collect([lab.nodes[0].address], lab.options)
    narrow = collect([lab.nodes[0].address], lab.options, max_workers=1)
    assert [n.address for n in narrow.nodes] == [n.address for n in wide.nodes]
    for a, b in zip(wide.nodes, narrow.nodes, strict=True):
        assert b.error is None and b.answered
        assert sorted(a.replies) == sorted(b.replies) and a.reply_errors == b.reply_errors
        assert a.announced_by == b.announced_by and a.node_id == b.node_id


def test_replies_have_the_shapes_redis_py_gives_them(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    # The collector speaks RESP2 and gives the replies RESP3 sends as maps that shape (snapshots recorded
    # through redis-py hold it); compared here with redis-py's own reading of the same commands.
    from rcdoctor.transport.redis_py import open_connection

    lab = make_lab(redis_binary)
    snapshot = collect([lab.nodes[0].address], lab.options, complete=True)
    node = snapshot.nodes[0]
    keys = [k for k in ("CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER LINKS") if k in node.replies]
    assert keys == (
        ["CLUSTER SLOTS"]
        if redis_binary.version_tuple < (7, 0)
        else ["CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER LINKS"]
    )
    connection = open_connection(node.endpoint, lab.options)  # a raw connection: no reply callbacks
    try:
        for key in keys:
            connection.send_command(*key.split())
            assert _shape(node.replies[key]) == _shape(connection.read_response()), key
    finally:
        connection.disconnect()


def _shape(value: object) -> object:
    # Types only, the first element of each list (the values change between two reads: times, offsets)
    if isinstance(value, dict):
        return {str(k): _shape(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_shape(value[0])] if value else []
    return type(value).__name__
