"""verify's step 1 reads the cluster again for a moment when every node answered but it was not whole."""

from __future__ import annotations

import pytest
from tests.conftest import DATA

from rcdoctor.model.snapshot import Snapshot
from rcdoctor.verify import run


def test_a_whole_second_read_is_judged_and_the_first_is_named() -> None:
    first = Snapshot.load(DATA / "half-migrate-redis7.json")  # every node answers, one slot open
    whole = Snapshot.load(DATA / "healthy-redis7.json")
    reads: list[int] = []

    def again() -> Snapshot:
        reads.append(1)
        return whole

    judged, _, report = run._step_one(first, again)
    assert judged is whole and reads == [1] and report.ok
    state = next(r for r in report.results if r.name == run.STATE_OK)
    assert "a first read a moment before was not" in state.detail and "no slot open" in state.detail


def test_a_cluster_that_stays_broken_is_judged_on_the_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "MOMENTARY_S", 0.6)
    first = Snapshot.load(DATA / "half-migrate-redis7.json")
    reads: list[int] = []

    def again() -> Snapshot:
        reads.append(1)
        return first

    judged, _, report = run._step_one(first, again)
    assert judged is first and not report.ok and 1 <= len(reads) <= 3


def test_a_node_that_did_not_answer_is_not_waited_for() -> None:
    first = Snapshot.load(DATA / "scenario-primary_down_no_failover-redis7.json")
    assert not all(s.answered for s in first.nodes)

    def again() -> Snapshot:
        raise AssertionError("read again although a node did not answer")

    judged, _, report = run._step_one(first, again)
    assert judged is first and not report.ok
