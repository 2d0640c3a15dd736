"""The split-brain checker on histories shaped like a partition (pure)."""

from __future__ import annotations

from rcdoctor.rehearsal.checker import check
from rcdoctor.rehearsal.history import FAIL, OK, UNKNOWN, Op, Phases

PHASES = Phases(partition_start=1.0, partition_end=6.0)


def w(client: str, key: str, value: str, start: float, outcome: str = OK) -> Op:
    return Op(client, "write", key, value, start, start + 0.01, outcome)


def test_minority_writes_after_the_partition_are_lost_and_counted_in_the_window() -> None:
    ops = [
        w("b", "b:1", "1", 0.5),  # before the partition: replicated, kept
        w("b", "b:2", "2", 1.2),  # accepted by the cut-off primary: lost
        w("b", "b:3", "3", 2.9),  # accepted, last one before it refused: lost
        w("b", "b:4", "4", 3.5, FAIL),  # refused (CLUSTERDOWN): not a loss
        w("a", "a:1", "1", 4.0),  # majority side after failover: kept
    ]
    final = {"b:1": "1", "b:2": None, "b:3": None, "b:4": None, "a:1": "1"}
    verdict = check(ops, final, PHASES)
    assert [op.key for op in verdict.lost] == ["b:2", "b:3"]
    assert verdict.window_writes == 2 and verdict.window_lost == 2
    assert abs(verdict.window_s - 1.91) < 1e-6
    assert verdict.acknowledged == 4


def test_a_later_acknowledged_write_by_another_client_is_not_a_loss() -> None:
    ops = [w("a", "k", "x", 0.1), w("b", "k", "y", 0.5)]
    assert check(ops, {"k": "y"}, PHASES).lost == ()
    # but a value nobody wrote last is
    assert [op.value for op in check(ops, {"k": "x"}, PHASES).lost] == ["y"]


def test_conflicting_key_written_on_both_sides() -> None:
    ops = [w("a", "Key_A", "abc", 2.0), w("b", "Key_A", "def", 1.5), w("a", "other", "1", 2.0)]
    verdict = check(ops, {"Key_A": "abc", "other": "1"}, PHASES)
    assert len(verdict.conflicts) == 1
    conflict = verdict.conflicts[0]
    assert conflict.key == "Key_A" and dict(conflict.values) == {"a": ("abc",), "b": ("def",)}
    assert conflict.final == "abc"
    # b's def came first, a's abc later: a register may legitimately end at abc, so not provably lost
    assert verdict.lost == ()
    # the other order: b wrote def after a's abc was acknowledged, and def vanished: lost
    later = [w("a", "Key_A", "abc", 1.2), w("b", "Key_A", "def", 2.5)]
    assert [op.value for op in check(later, {"Key_A": "abc"}, PHASES).lost] == ["def"]


def test_unavailability_is_measured_per_client() -> None:
    ops = [
        w("a", "a:1", "1", 0.0),
        w("a", "a:2", "2", 1.5, UNKNOWN),
        w("a", "a:3", "3", 2.0, FAIL),
        w("a", "a:4", "4", 3.5),
        w("b", "b:1", "1", 0.0),
    ]
    verdict = check(ops, {"a:1": "1", "a:2": None, "a:3": None, "a:4": "4", "b:1": "1"}, PHASES)
    outage = {o.client: o for o in verdict.outages}
    assert outage["a"].longest_s == 2.0 and outage["a"].failed == 1 and outage["a"].unknown == 1
    assert outage["b"].longest_s == 0.0
    assert verdict.lost == ()  # an unknown write that did not land is not a lost acknowledged write


def test_json_has_every_field() -> None:
    verdict = check([w("b", "b:2", "2", 1.2)], {"b:2": None}, PHASES).to_dict()
    assert verdict["lost"] == 1 and verdict["minority_window"]["writes_acknowledged"] == 1
    assert verdict["lost_writes"][0]["key"] == "b:2" and verdict["phases"]["partition_start"] == 1.0


def test_a_later_unknown_write_may_have_landed_so_the_earlier_one_is_not_lost() -> None:
    ops = [w("b", "Key_A", "def", 2.0), w("a", "Key_A", "abc", 7.0, UNKNOWN)]
    assert check(ops, {"Key_A": "abc"}, PHASES).lost == ()
    failed = [w("b", "Key_A", "def", 2.0), w("a", "Key_A", "abc", 7.0, FAIL)]
    assert [op.value for op in check(failed, {"Key_A": "abc"}, PHASES).lost] == ["def"]


def test_overlapping_writes_of_one_key_may_land_in_either_order() -> None:
    # Both clients wrote Key_A at once (the second began before the first was acknowledged): the server
    # may apply either last, so whichever value survives, neither acknowledged write is provably lost.
    a = Op("a", "write", "Key_A", "a-1", 7.000, 7.004, OK, "n2")
    b = Op("b", "write", "Key_A", "b-1", 7.002, 7.003, OK, "n2")
    assert check([a, b], {"Key_A": "a-1"}, PHASES).lost == ()
    assert check([a, b], {"Key_A": "b-1"}, PHASES).lost == ()
    # a value neither of them wrote still shows both as lost
    assert {op.value for op in check([a, b], {"Key_A": "x"}, PHASES).lost} == {"a-1", "b-1"}
    # and once one was acknowledged before the other began, the order is known again
    c = Op("b", "write", "Key_A", "b-2", 7.005, 7.006, OK, "n2")
    assert [op.value for op in check([a, c], {"Key_A": "a-1"}, PHASES).lost] == ["b-2"]
