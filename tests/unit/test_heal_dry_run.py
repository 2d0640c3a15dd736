"""The heal dry run shows what the run does around its steps, not only the steps."""

from __future__ import annotations

import io

from rich.console import Console
from tests.conftest import DATA

from rcdoctor.cli.heal import render_plan
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING
from rcdoctor.heal.operation import Healing
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import Facts, Flags, plan, plan_dict


def _dry_run(name: str) -> tuple[str, dict[str, object]]:
    planned = plan(ClusterView(Snapshot.load(DATA / name)), Facts(), Flags())
    buffer = io.StringIO()
    render_plan(planned, apply=False, console=Console(file=buffer, width=120, color_system=None))
    return buffer.getvalue(), plan_dict(planned)


def test_the_dry_run_says_failovers_are_held_while_nodes_reconnect() -> None:
    # Every pod at a new IP (recorded on Redis 7.0): the MEET phase holds the replicas' failovers
    text, data = _dry_run("new-address-redis7.json")
    meet = text[text.index("phase 1: meet") :].splitlines()
    assert "cluster-replica-no-failover yes" in meet[1], meet[:3]
    phases = data["phases"]
    assert isinstance(phases, list) and phases[0]["name"] == "meet" and phases[0]["hold_failovers"] is True


def test_a_phase_without_the_hold_does_not_claim_it() -> None:
    text, data = _dry_run("scenario-moved_one_seed-redis7.json")
    phases = data["phases"]
    assert isinstance(phases, list)
    held = [p for p in phases if p["hold_failovers"] and (p["steps"] or p["open_slots"] or p["stray_keys"])]
    assert text.count("cluster-replica-no-failover yes") == len(held)


def _healing(name: str) -> Healing:
    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry

    snapshot = Snapshot.load(DATA / name)
    first = plan(ClusterView(snapshot), Facts(), Flags())
    return Healing(False, first, report=analyze(snapshot, default_registry()) if first.empty else None)


def test_a_healthy_cluster_heals_to_exit_0_with_the_documents_keys_in_order() -> None:
    healing = _healing("healthy-redis7.json")
    assert healing.first.empty and healing.exit_code == EXIT_OK
    data = healing.to_dict()
    assert list(data) == ["format", "version", "applied", "plan", "blocked", "healthy", "remaining"], list(data)
    assert (data["format"], data["version"], data["healthy"], data["remaining"]) == ("rcdoctor.heal", 1, True, [])


def test_a_dry_run_with_steps_planned_exits_2_and_names_no_verdict() -> None:
    healing = _healing("new-address-redis7.json")
    assert not healing.first.empty and healing.exit_code == EXIT_CRITICAL
    data = healing.to_dict()
    assert list(data) == ["format", "version", "applied", "plan", "blocked"], list(data)
    assert data["applied"] is False and data["blocked"] == list(healing.first.blocked)


def test_nothing_to_do_is_judged_by_what_diagnose_still_finds() -> None:
    # A migration in flight (recorded): heal leaves it alone, diagnose warns: exit 1, the warning named
    in_flight = _healing("scenario-migration_in_flight-redis7.json")
    assert in_flight.first.empty and in_flight.exit_code == EXIT_WARNING
    assert in_flight.to_dict()["remaining"] == in_flight.left_for_a_human
    assert any(line.startswith("S004 ") for line in in_flight.left_for_a_human)
    # A dead primary whose failover needs a flag: blocked, left for a human: exit 2
    blocked = _healing("scenario-primary_down_no_failover-redis7.json")
    assert blocked.first.empty and blocked.first.blocked and blocked.exit_code == EXIT_CRITICAL
    assert blocked.to_dict()["blocked"] == list(blocked.first.blocked)


def test_a_meet_of_a_name_says_the_name_is_resolved_first() -> None:
    # The headless-service case: peers known by DNS name; the server's MEET takes an IP only.
    from rcdoctor.plan.heal import HealPlan, Phase, Step

    by_name = Step("10.0.0.5:6379", ("CLUSTER", "MEET", "redis-1.redis.prod.svc", "6379"), "moved", ("A003",))
    by_ip = Step("10.0.0.5:6379", ("CLUSTER", "MEET", "10.0.0.6", "6379"), "moved", ("A003",))
    assert by_name.resolves_name == "redis-1.redis.prod.svc" and by_ip.resolves_name is None
    buffer = io.StringIO()
    planned = HealPlan((Phase("meet", (by_name, by_ip), parallel=True),))
    render_plan(planned, apply=False, console=Console(file=buffer, width=120, color_system=None))
    text = buffer.getvalue()
    assert text.count("is resolved to its IP") == 1 and "redis-1.redis.prod.svc is resolved" in text, text
    steps = plan_dict(planned)["phases"][0]["steps"]
    assert [s["resolves_name"] for s in steps] == ["redis-1.redis.prod.svc", None]
