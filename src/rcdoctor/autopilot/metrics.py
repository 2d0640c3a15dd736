"""rcdoctor_autopilot_* metrics (pure): counters kept by the loop, rendered at scrape time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from rcdoctor.autopilot.decide import REASONS


@dataclass
class Counts:
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (code, result) -> repairs
    blocked: Counter[str] = field(default_factory=Counter)  # reason -> rounds
    last_action: float | None = None
    leader: bool = False
    dry_run: bool = False


def families(counts: Counts) -> list[Metric]:
    actions = CounterMetricFamily(
        "rcdoctor_autopilot_actions",
        "Repairs the autopilot made, by root-cause code and result (ok, failed, stopped).",
        labels=["code", "result"],
    )
    for (code, result), n in sorted(counts.actions.items()):
        actions.add_metric([code, result], n)
    blocked = CounterMetricFamily(
        "rcdoctor_autopilot_blocked",
        "Rounds where a repair was not made, by reason (" + ", ".join(REASONS) + ").",
        labels=["reason"],
    )
    for reason in sorted(set(REASONS) | set(counts.blocked)):
        blocked.add_metric([reason], counts.blocked.get(reason, 0))
    last = GaugeMetricFamily(
        "rcdoctor_autopilot_last_action_timestamp_seconds",
        "Unix time of the autopilot's last repair (0: none yet).",
    )
    last.add_metric([], counts.last_action or 0.0)
    leader = GaugeMetricFamily(
        "rcdoctor_autopilot_leader", "1 while this autopilot holds the lease (the one that may act)."
    )
    leader.add_metric([], 1.0 if counts.leader else 0.0)
    dry = GaugeMetricFamily("rcdoctor_autopilot_dry_run", "1 when started with --dry-run (decides, changes nothing).")
    dry.add_metric([], 1.0 if counts.dry_run else 0.0)
    return [actions, blocked, last, leader, dry]
