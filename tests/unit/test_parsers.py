"""Reply parsers: real replies from recorded snapshots, hand-made edge cases, and garbage (hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import DATA

from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.cluster_slots import parse_cluster_links, parse_cluster_slots
from rcdoctor.model.info import parse_info, parse_keyspace, parse_kv
from rcdoctor.model.slots import SlotRange, key_hash_slot, to_ranges
from rcdoctor.model.snapshot import Snapshot

HEALTHY = ("healthy-redis7.json", "healthy-redis6.json")


def test_real_cluster_nodes_replies_parse_completely() -> None:
    for name in HEALTHY:
        snapshot = Snapshot.load(DATA / name)
        for node in snapshot.answered:
            parsed = node.view
            assert parsed.ok, parsed.errors
            assert len(parsed.value) == 6
            assert sum(n.slot_count for n in parsed.value if n.is_primary) == 16384
            assert sum(1 for n in parsed.value if n.is_myself) == 1
            assert node.myself is not None and node.myself.address == node.address


def test_real_half_migrated_slot_is_seen_on_both_sides() -> None:
    for tag in ("redis7", "redis6"):
        snapshot = Snapshot.load(DATA / f"half-migrate-{tag}.json")
        migrating = [n for n in snapshot.answered if n.myself and n.myself.migrating]
        importing = [n for n in snapshot.answered if n.myself and n.myself.importing]
        assert len(migrating) == 1 and len(importing) == 1
        source, target = migrating[0], importing[0]
        assert source.myself is not None and target.myself is not None
        assert source.myself.migrating == ((7, target.myself.id),)
        assert target.myself.importing == ((7, source.myself.id),)
        # the collector counted the open slot's keys on each side
        assert source.keys_in_slot()[7] >= 1 and target.keys_in_slot()[7] >= 1


def test_cluster_nodes_line_with_hostname_aux_fields_and_open_slots() -> None:
    text = (
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.1.2.3:6379@16379,redis-0.svc,shard-id=abc "
        "myself,master - 0 1700000000000 7 connected 0-100 105 [106->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f] "
        "[107-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n"
        "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f :0@0 master,fail?,noaddr - 1 2 3 disconnected\n"
    )
    parsed = parse_cluster_nodes(text)
    assert parsed.ok
    me, ghost = parsed.value
    assert me.hostname == "redis-0.svc" and dict(me.aux) == {"shard-id": "abc"}
    assert me.slots == (SlotRange(0, 100), SlotRange(105, 105))
    assert me.migrating == ((106, ghost.id),) and me.importing == ((107, ghost.id),)
    assert me.bus_endpoint is not None and me.bus_endpoint.port == 16379
    assert ghost.endpoint is None and ghost.suspected and "noaddr" in ghost.flags
    assert ghost.link_state == "disconnected"


def test_bad_lines_become_error_records_and_good_lines_survive() -> None:
    text = (
        "garbage\nabc 1.2.3.4:x@1 master - 0 0 0 connected\n"
        "abc 1.2.3.4:6379@16379 master - 0 0 1 connected 20000\n"
        "def 1.2.3.4:6380@16380 master - 0 0 1 connected 5-1\n"
        "ok1 1.2.3.4:6381@16381 master - 0 0 1 connected 1-2\n"
    )
    parsed = parse_cluster_nodes(text)
    assert [n.id for n in parsed.value] == ["ok1"]
    assert len(parsed.errors) == 4
    assert all(e.startswith("line ") for e in parsed.errors)


def test_info_sections_and_keyspace() -> None:
    parsed = parse_info(
        "# Server\r\nredis_version:7.0.15\r\n\r\n# Keyspace\r\ndb0:keys=12,expires=1,avg_ttl=0\r\n"
        "db3:keys=3,expires=0\r\nnot a field\r\n"
    )
    assert parsed.value["server"]["redis_version"] == "7.0.15"
    assert parse_keyspace(parsed.value["keyspace"]) == {"db0": 12, "db3": 3}
    assert parsed.errors == ("line 7: no 'key:value': 'not a field'",)
    assert parse_kv("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n").value["cluster_state"] == "ok"


def test_cluster_slots_reply_shapes() -> None:
    reply = [
        [0, 5460, ["10.0.0.1", 6379, "aaa", ["hostname", "redis-0"]], ["10.0.0.4", 6379, "ddd"]],
        [5461, 5460, ["x", 1, "b"]],
        "junk",
        [1, 2, ["?", 6379, "ccc"]],
    ]
    parsed = parse_cluster_slots(reply)
    assert len(parsed.value) == 2 and len(parsed.errors) == 2
    first = parsed.value[0]
    assert first.primary.hostname == "redis-0" and first.replicas[0].node_id == "ddd"
    assert parsed.value[1].primary.endpoint is None  # '?' means: no usable address
    assert parse_cluster_slots("nope").errors


def test_slot_helpers() -> None:
    assert to_ranges([5, 1, 2, 3, 7, 8]) == (SlotRange(1, 3), SlotRange(5, 5), SlotRange(7, 8))
    # Known values from the Redis cluster spec / redis-cli CLUSTER KEYSLOT
    assert key_hash_slot("foo") == 12182
    assert key_hash_slot("{user1000}.following") == key_hash_slot("user1000")
    assert key_hash_slot("foo{}{bar}") == key_hash_slot(b"foo{}{bar}")


# Garbage never raises: every parser returns an error record instead.

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_text_parsers_never_raise(text: str) -> None:
    parse_cluster_nodes(text)
    parse_info(text)
    parse_kv(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "a1",
                "10.0.0.1:6379@16379",
                "10.0.0.1:6379@16379,host",
                ":0@0",
                "master",
                "myself,slave",
                "-",
                "0",
                "99999999999999999999",
                "connected",
                "0-16383",
                "16384",
                "[5->-a1]",
                "[5-<-]",
                "[x]",
                "5-",
                "-5",
                "1-2-3",
            ]
        ),
        max_size=14,
    ).map(" ".join)
)
def test_cluster_nodes_parser_on_near_miss_lines(line: str) -> None:
    parsed = parse_cluster_nodes(line)
    assert len(parsed.value) + len(parsed.errors) == (1 if line.strip() else 0)
    for node in parsed.value:
        assert all(0 <= r.start <= r.end < 16384 for r in node.slots)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_array_parsers_never_raise(value: object) -> None:
    parse_cluster_slots(value)
    parse_cluster_links(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=16383), max_size=200))
def test_to_ranges_covers_exactly_the_slots(slots: list[int]) -> None:
    ranges = to_ranges(slots)
    assert [s for r in ranges for s in r] == sorted(set(slots))
    assert all(a.end + 1 < b.start for a, b in itertools.pairwise(ranges))


@pytest.mark.parametrize("name", ["healthy-redis7.json", "healthy-valkey8.json", "new-address-redis6.json"])
def test_one_entry_parsed_alone_is_the_entry_the_whole_view_has(name: str) -> None:
    # The collector's shortcuts (its own line; a replica's primary's line) read as the full parse does
    from rcdoctor.model.cluster_nodes import parse_entry, parse_myself
    from rcdoctor.model.snapshot import CLUSTER_NODES, Snapshot

    for sample in Snapshot.load(DATA / name).answered:
        text = sample.replies[CLUSTER_NODES]
        whole = parse_cluster_nodes(text).value
        mine = next(n for n in whole if n.is_myself)
        assert parse_myself(text) == mine
        assert all(parse_entry(text, n.id) == n for n in whole)
    assert parse_myself("") is None and parse_entry("", "0" * 40) is None
