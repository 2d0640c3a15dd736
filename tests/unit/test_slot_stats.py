"""CLUSTER SLOT-STATS replies as the servers send them: RESP2 flat pairs (Valkey 8.1.8 and Redis 8.2.3,
read raw by the collector) and the map redis-py builds with RESP3."""

from __future__ import annotations

from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.slot_stats import has_slot_stats, parse_slot_stats


def test_both_reply_shapes_give_the_key_counts() -> None:
    resp2 = [[0, ["key-count", 3]], [1, ["key-count", 0, "cpu-usec", 12]]]
    resp3 = [[0, {b"key-count": 3}], [1, {b"key-count": 0}]]
    assert parse_slot_stats(resp2).value == parse_slot_stats(resp3).value == {0: 3, 1: 0}
    assert parse_slot_stats(resp2).ok


def test_unreadable_entries_are_errors_not_guesses() -> None:
    parsed = parse_slot_stats([[0, ["cpu-usec", 1]], "junk", [5, ["key-count", 2]]])
    assert parsed.value == {5: 2} and len(parsed.errors) == 2
    assert not parse_slot_stats("ERR unknown subcommand").ok


def test_only_servers_that_have_it_are_asked() -> None:
    assert has_slot_stats(ServerIdentity("valkey", "8.0.0")) and has_slot_stats(ServerIdentity("redis", "8.2.3"))
    assert not has_slot_stats(ServerIdentity("redis", "7.0.15")) and not has_slot_stats(
        ServerIdentity("redis", "8.0.2")
    )
    assert not has_slot_stats(None)


def test_a_snapshot_keeps_only_the_slots_that_hold_keys() -> None:
    """A primary answers one entry per slot it owns, nearly all 0 on a small data set. Kept are the ones
    with keys (and any entry that cannot be read), so the sum S003 uses is the same. On the replies of a
    recording from Valkey 8.1 (stored that way), with the zero entries of the other owned slots put back."""
    import json
    from pathlib import Path

    from rcdoctor.model.slot_stats import SLOT_STATS, with_keys

    name = "scenario-cluster_merge_late-valkey8.json"
    data = json.loads((Path(__file__).parent.parent / "data" / name).read_text())
    stored = [n["replies"][SLOT_STATS] for n in data["nodes"] if SLOT_STATS in n.get("replies", {})]
    assert stored, "the recording has CLUSTER SLOT-STATS replies"
    for kept in stored:
        counts = parse_slot_stats(kept).value
        assert counts and all(n > 0 for n in counts.values())
        full = sorted([*kept, *([s, ["key-count", 0]] for s in range(5461) if s not in counts)], key=lambda e: e[0])
        assert with_keys(full) == sorted(kept, key=lambda e: e[0])
        assert sum(parse_slot_stats(full).value.values()) == sum(counts.values())
    assert with_keys([[0, ["key-count", 0]], "junk"]) == ["junk"]
    assert with_keys("ERR unknown subcommand") == "ERR unknown subcommand"
