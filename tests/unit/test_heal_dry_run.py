"""The heal dry run shows what the run does around its steps, not only the steps."""

from __future__ import annotations

import io

from rich.console import Console
from tests.conftest import DATA

from rcdoctor.cli.heal import plan_dict, render_plan
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import Facts, Flags, plan


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
