"""Heal step preconditions decided on what recorded nodes answered (pure, no server).

Each Sample is built from a node of a snapshot recorded from a real cluster: its id, its CLUSTER NODES
(parsed by model/, as execute/preconditions.py reads it) and its settings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rcdoctor.model.snapshot import NodeSample, Snapshot
from rcdoctor.plan.conditions import (
    FAILED,
    HOLDS,
    SKIPPED,
    Alone,
    AnswersAs,
    ConfigIs,
    Knows,
    OwnsNone,
    ReplicaOf,
    Sample,
    Silent,
)

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")
OTHER_ID = "f" * 40


def answered(node: NodeSample, as_id: str | None = None) -> Sample:
    node_id = as_id or node.node_id
    assert node_id is not None
    return Sample(node.address, node_id, view=node.view.value, config=node.config)


def nodes(name: str) -> list[NodeSample]:
    return [n for n in Snapshot.load(DATA / f"{name}.json").nodes if n.node_id]


def roles(version: str) -> tuple[NodeSample, NodeSample]:
    """A replica of the healthy recording and its primary."""
    every = nodes(f"healthy-{version}")
    replica = next(n for n in every if n.myself is not None and n.myself.primary_id)
    primary = next(n for n in every if n.node_id == replica.myself.primary_id)  # type: ignore[union-attr]
    return replica, primary


@pytest.mark.parametrize("version", VERSIONS)
def test_answers_as_holds_only_for_the_expected_node(version: str) -> None:
    replica, primary = roles(version)
    assert AnswersAs(replica.address, str(replica.node_id)).holds(answered(replica)).outcome == HOLDS
    moved = AnswersAs(replica.address, str(primary.node_id)).holds(answered(replica))
    assert moved.outcome == FAILED and f"is {str(replica.node_id)[:8]} now" in moved.reason


def test_a_node_that_does_not_answer_fails_every_check_but_silent() -> None:
    gone = Sample("10.0.0.9:6379", error="no answer within the timeout")
    verdict = AnswersAs("10.0.0.9:6379", OTHER_ID).holds(gone)
    assert verdict.outcome == FAILED and "does not answer (no answer within the timeout)" in verdict.reason
    assert Silent("10.0.0.9:6379", OTHER_ID).holds(gone).outcome == HOLDS
    # noaddr: its peers list it with no address; silent by construction, anything else cannot be checked
    nowhere = Sample("", error="no address")
    assert Silent("", OTHER_ID).holds(nowhere).holds
    assert "has no address to check" in Knows("", OTHER_ID, OTHER_ID).holds(nowhere).reason


@pytest.mark.parametrize("version", VERSIONS)
def test_silent_is_moot_once_the_node_answers_again(version: str) -> None:
    _, primary = roles(version)
    back = Silent(primary.address, str(primary.node_id)).holds(answered(primary))
    assert back.outcome == SKIPPED and "answers again" in back.reason
    # another node at that address now: the one expected is still gone
    assert Silent(primary.address, OTHER_ID).holds(answered(primary)).holds


@pytest.mark.parametrize("version", VERSIONS)
def test_replica_of_follows_the_nodes_own_line(version: str) -> None:
    replica, primary = roles(version)
    rid, pid = str(replica.node_id), str(primary.node_id)
    assert ReplicaOf(replica.address, rid, pid).holds(answered(replica)).holds
    elsewhere = ReplicaOf(replica.address, rid, OTHER_ID).holds(answered(replica))
    assert elsewhere.outcome == SKIPPED and "no longer replicates" in elsewhere.reason
    assert ReplicaOf(primary.address, pid, pid).holds(answered(primary)).outcome == SKIPPED  # a primary


@pytest.mark.parametrize("version", VERSIONS)
def test_owns_none_reads_the_viewers_slots(version: str) -> None:
    replica, primary = roles(version)
    owner = OwnsNone(replica.address, str(primary.node_id)).holds(answered(replica))
    assert owner.outcome == FAILED and "still owns slots" in owner.reason
    assert OwnsNone(primary.address, str(replica.node_id)).holds(answered(primary)).holds
    forgotten = OwnsNone(primary.address, OTHER_ID).holds(answered(primary))
    assert forgotten == replace(forgotten, outcome=SKIPPED, reason="already forgotten")
    assert OwnsNone.settles_by_gossip and Knows.settles_by_gossip and not AnswersAs.settles_by_gossip


@pytest.mark.parametrize("version", VERSIONS)
def test_alone_holds_for_a_node_that_knows_only_itself(version: str) -> None:
    lone = nodes(f"scenario-all_alone-{version}")[0]
    assert Alone(lone.address, str(lone.node_id)).holds(answered(lone)).holds
    replica, _ = roles(version)
    joined = Alone(replica.address, str(replica.node_id)).holds(answered(replica))
    assert joined.outcome == SKIPPED and "has joined already" in joined.reason
    assert Alone(lone.address, OTHER_ID).holds(answered(lone)).outcome == FAILED


@pytest.mark.parametrize("version", VERSIONS)
def test_knows_waits_past_the_handshake(version: str) -> None:
    replica, primary = roles(version)
    pid = str(primary.node_id)
    assert Knows(replica.address, str(replica.node_id), pid).holds(answered(replica)).holds
    assert Knows(replica.address, str(replica.node_id), OTHER_ID).holds(answered(replica)).outcome == FAILED
    sample = answered(replica)
    shaking = tuple(replace(e, flags=e.flags | {"handshake"}) if e.id == pid else e for e in sample.view)
    verdict = Knows(replica.address, str(replica.node_id), pid).holds(replace(sample, view=shaking))
    assert verdict.outcome == FAILED and f"does not list {pid[:8]} yet" in verdict.reason


@pytest.mark.parametrize("version", VERSIONS)
def test_config_is_skips_a_setting_fixed_meanwhile(version: str) -> None:
    replica, _ = roles(version)
    rid = str(replica.node_id)
    timeout = replica.config["cluster-node-timeout"]
    sample = answered(replica)
    assert ConfigIs(replica.address, rid, "cluster-node-timeout", timeout).holds(sample).holds
    fixed = ConfigIs(replica.address, rid, "cluster-node-timeout", "1").holds(sample)
    assert fixed.outcome == SKIPPED and f"cluster-node-timeout is {timeout} now" in fixed.reason
    unset = ConfigIs(replica.address, rid, "cluster-announce-ip", "10.9.9.9").holds(replace(sample, config={}))
    assert "cluster-announce-ip is (unset) now" in unset.reason
    assert ConfigIs(replica.address, OTHER_ID, "cluster-node-timeout", timeout).holds(sample).outcome == FAILED
    assert ConfigIs("a:1", rid, "x", "y").setting == "x" and AnswersAs("a:1", rid).setting is None


def test_each_condition_says_what_it_checks() -> None:
    a, b = "1" * 40, "2" * 40
    assert AnswersAs("h:1", a).describe() == "h:1 answers as 11111111"
    assert Silent("h:1", a).describe() == "11111111 still does not answer at h:1"
    assert ReplicaOf("h:1", a, b).describe() == "h:1 still replicates 22222222"
    assert OwnsNone("h:1", a).describe() == "11111111 owns no slots in h:1's view"
    assert Alone("h:1", a).describe() == "h:1 is 11111111 and still knows only itself"
    assert Knows("h:1", a, b).describe() == "h:1 lists 22222222 (waits up to 15 s for gossip)"
    assert ConfigIs("h:1", a, "cluster-announce-ip", "10.0.0.1").describe() == (
        "h:1 is 11111111 and its cluster-announce-ip is still 10.0.0.1"
    )
