"""The autopilot's decision (pure) on snapshots recorded from real clusters, and its history rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcdoctor.analyze import analyze
from rcdoctor.autopilot.decide import (
    BLOCK_PERIOD,
    DEFAULT_ALLOW,
    DRY_RUN,
    NEEDS_HUMAN,
    NOT_ALLOWED,
    ONE_WITNESS,
    UNCONFIRMED,
    Decision,
    History,
    Policy,
    Repair,
    decide,
)
from rcdoctor.autopilot.evidence import Action, Cause, PlanView, causes, plan_view
from rcdoctor.checks import default_registry
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import RISK_FORCE, Facts, Flags, plan

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")
NOW = 1_800_000_000.0


def observe(name: str) -> tuple[tuple[Cause, ...], PlanView]:
    snapshot = Snapshot.load(DATA / f"{name}.json")
    ctx = ClusterView(snapshot)
    report = analyze(snapshot, default_registry())
    return causes(report, ctx), plan_view(plan(ctx, Facts(), Flags()), report, ctx)


def rounds(name: str, count: int, policy: Policy, last: Repair | None = None) -> Decision:
    """The decision after `count` consecutive rounds seeing the same snapshot."""
    found, view = observe(name)
    history = History((), last)
    decision = decide(history, found, view, NOW, policy)
    for _ in range(count - 1):
        history = History(history.after([c.key for c in found], 5).rounds, last)
        decision = decide(history, found, view, NOW, policy)
    return decision


@pytest.mark.parametrize("name", ["healthy-redis6", "healthy-redis7", "healthy-redis8", "healthy-valkey8"])
def test_a_healthy_cluster_is_left_alone(name: str) -> None:
    assert rounds(name, 3, Policy()).state == "healthy"


@pytest.mark.parametrize("version", VERSIONS)
def test_nodes_at_new_addresses_are_met_once_confirmed(version: str) -> None:
    first = rounds(f"new-address-{version}", 1, Policy())
    assert first.state == "wait" and first.blocked == (UNCONFIRMED,)
    second = rounds(f"new-address-{version}", 2, Policy())
    assert second.state == "act", second.reasons
    assert second.codes == ("A003",)
    assert second.actions and all("CLUSTER MEET" in a.describe and a.risk is None for a in second.actions)
    # Three rounds asked for: the second is not enough.
    assert rounds(f"new-address-{version}", 2, Policy(confirm_rounds=3)).state == "wait"
    assert rounds(f"new-address-{version}", 1, Policy(confirm_rounds=1)).state == "act"


@pytest.mark.parametrize("version", VERSIONS)
def test_dry_run_decides_and_reports_the_meets(version: str) -> None:
    decision = rounds(f"new-address-{version}", 2, Policy(dry_run=True))
    assert decision.state == "dry-run" and decision.blocked == (DRY_RUN,)
    assert all("CLUSTER MEET" in a.describe for a in decision.actions)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_root_cause_outside_the_allowed_set_is_blocked(version: str) -> None:
    decision = rounds(f"new-address-{version}", 2, Policy(allow=frozenset({"S004"})))
    assert decision.state == "blocked" and decision.blocked == (NOT_ALLOWED,)
    assert "A003" in decision.reasons[0] and "not in the allowed set" in decision.reasons[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_suspected_merge_is_never_met_even_with_its_symptom_allowed(version: str) -> None:
    """heal plans a MEET answering M004, whose root cause is M010 (a cluster merge): allowing M004 is not
    allowing M010."""
    decision = rounds(f"scenario-cluster_merge-{version}", 3, Policy(allow=DEFAULT_ALLOW | {"M004"}))
    assert decision.state == "blocked" and decision.blocked == (NOT_ALLOWED,)
    assert decision.codes == ("M010",)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_pod_moved_seen_through_one_seed_is_left_for_a_human(version: str) -> None:
    decision = rounds(f"scenario-moved_one_seed-{version}", 3, Policy(command="rcdoctor heal 10.0.0.1:6379 --apply"))
    assert decision.state == "blocked" and decision.blocked == (NEEDS_HUMAN,)
    assert not decision.actions
    assert any("may be alive" in line for line in decision.human), decision.human


@pytest.mark.parametrize("version", VERSIONS)
def test_a_dead_primary_without_failover_needs_a_human_with_the_command(version: str) -> None:
    policy = Policy(command="rcdoctor heal redis-main:6379 --apply")
    decision = rounds(f"scenario-primary_down_no_failover-{version}", 3, policy)
    assert decision.state == "blocked" and decision.blocked == (NEEDS_HUMAN,) and not decision.actions
    assert decision.human[-1].endswith("rcdoctor heal redis-main:6379 --apply --allow-failover-force")


def _one(witnesses: int = 3, code: str = "A003", risk: str | None = None) -> tuple[list[Cause], PlanView]:
    cause = Cause(code, ("aaaa", "bbbb"), witnesses, "seen", "critical", "moved")
    action = Action("meet", "10.0.0.1:6379: CLUSTER MEET 10.0.0.2 6379", (code,), (cause.key,), risk)
    return [cause], PlanView((action,), (), ())


def _confirmed(found: list[Cause], last: Repair | None = None) -> History:
    return History(((found[0].key,),), last)


def test_evidence_from_one_node_only_is_not_enough() -> None:
    found, view = _one(witnesses=1)
    decision = decide(_confirmed(found), found, view, NOW, Policy())
    assert decision.state == "blocked" and decision.blocked == (ONE_WITNESS,)
    found, view = _one(witnesses=2)
    assert decide(_confirmed(found), found, view, NOW, Policy()).state == "act"


def test_a_step_that_can_lose_data_is_never_automatic() -> None:
    found, view = _one(code="S002", risk=RISK_FORCE)
    policy = Policy(allow=frozenset({"S002"}), command="rcdoctor heal x:6379 --apply")
    decision = decide(_confirmed(found), found, view, NOW, policy)
    assert decision.state == "blocked" and decision.blocked == (NEEDS_HUMAN,)
    assert decision.human[-1].endswith("--apply --allow-failover-force")


def test_the_block_period_holds_back_the_same_finding_and_a_failed_repair() -> None:
    found, view = _one()
    policy = Policy(block_period=300)
    same = Repair(NOW - 100, (found[0].key,), "ok")
    decision = decide(_confirmed(found, same), found, view, NOW, policy)
    assert decision.state == "blocked" and decision.blocked == (BLOCK_PERIOD,)
    assert "the same finding" in decision.reasons[0]
    # A new finding after a repair that worked: allowed.
    other = Repair(NOW - 100, ("M003:cccc",), "ok")
    assert decide(_confirmed(found, other), found, view, NOW, policy).state == "act"
    # A new finding after a repair that failed: held back.
    failed = Repair(NOW - 100, ("M003:cccc",), "failed")
    assert decide(_confirmed(found, failed), found, view, NOW, policy).blocked == (BLOCK_PERIOD,)
    # Once the period is over: allowed again.
    assert decide(_confirmed(found, Repair(NOW - 301, same.keys, "failed")), found, view, NOW, policy).state == "act"


def test_a_round_without_the_finding_restarts_the_confirmation() -> None:
    found, view = _one()
    history = History(((found[0].key,), ()), None)  # seen, then not seen, now seen again
    assert decide(history, found, view, NOW, Policy()).state == "wait"


def test_the_same_node_moving_again_is_the_same_finding() -> None:
    """Keys name node ids, not addresses: a node that keeps moving does not escape the block period."""
    found, _ = observe("new-address-redis7")
    assert all(":" in c.key and "127." not in c.key for c in found)


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.stem)
def test_no_recorded_snapshot_leads_to_a_risky_or_unallowed_action(path: Path) -> None:
    """Whatever is recorded, an `act` decision only holds changes that lose nothing, answering allowed
    root causes; a snapshot where a node may have moved unseen never acts on a FORGET or a failover."""
    decision = rounds(path.stem, 3, Policy())
    if decision.state != "act":
        return
    for action in decision.actions:
        assert action.risk is None and set(action.codes) <= DEFAULT_ALLOW, action
        assert "FAILOVER" not in action.describe, action
    snapshot = Snapshot.load(path)
    ctx = ClusterView(snapshot)
    if any(ctx.may_be_elsewhere(i) for i in ctx.unreachable):
        assert not any("FORGET" in a.describe for a in decision.actions)


@pytest.mark.parametrize("version", VERSIONS)
def test_an_open_slot_is_closed_towards_its_keys_once_confirmed(version: str) -> None:
    """The slots phase with the closing heal's session reads live (migrate.resume's decision)."""
    from rcdoctor.plan.resume import Closing

    snapshot = Snapshot.load(DATA / f"half-migrate-{version}.json")
    ctx = ClusterView(snapshot)
    report = analyze(snapshot, default_registry())
    (slot,) = ctx.open_slots
    facts = Facts(closings=(Closing(slot, "forward", "a", "b", "keys on both sides"),))
    found, view = causes(report, ctx), plan_view(plan(ctx, facts, Flags()), report, ctx)
    history = History((tuple(c.key for c in found),))
    decision = decide(history, found, view, NOW, Policy())
    assert decision.state == "act" and decision.codes == ("S004",), decision.reasons
    assert decision.actions[0].describe.startswith(f"slot {slot}: forward")


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("scenario-moved_one_seed-redis7", "rcdoctor heal S --apply"),  # give every address; never a guessed --forget
        ("scenario-all_alone-redis7", "rcdoctor heal S --apply --rebuild-from-keys"),
        ("scenario-announce_ip-redis7", "rcdoctor heal S --apply --fix-announce-config"),
        ("scenario-primary_down_no_failover-redis6", "rcdoctor heal S --apply --allow-failover-force"),
    ],
)
def test_the_command_for_a_human_names_the_risk_flags_only(name: str, command: str) -> None:
    decision = rounds(name, 3, Policy(command="rcdoctor heal S --apply"))
    assert decision.human[-1] == f"run, once the evidence is checked: {command}"
