"""A round's report and heal plan, reduced to what the decision reads (pure).

A root cause is keyed by its code and the node ids it is about (not their addresses): a node that moves
again is the same finding, so anti-flapping holds; another node or another code is a new one. Its
witnesses are the answering nodes whose own view bears on it (the nodes it is about that answered, and
every answering node that lists one of them): one witness is a single point of view, not evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rcdoctor.analyze import Report
from rcdoctor.checks.base import Finding
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import FIX_ANNOUNCE, REBUILD, RISK_DISCARD, RISK_FORCE, RISK_TAKEOVER, HealPlan, Phase

# heal's switches a "not done" line may name: the command for a human gets them. (--forget takes a node id the
# operator must prove gone; a line naming it says so in words, and no command guesses the id.)
SWITCHES = frozenset({RISK_FORCE, RISK_TAKEOVER, RISK_DISCARD, REBUILD, FIX_ANNOUNCE, "--forget-down"})


@dataclass(frozen=True)
class Cause:
    code: str
    subjects: tuple[str, ...]  # node ids, sorted
    witnesses: int
    basis: str  # "seen" | "inferred"
    severity: str
    title: str

    @property
    def key(self) -> str:
        return f"{self.code}:{','.join(s[:12] for s in self.subjects)}"


@dataclass(frozen=True)
class Action:
    """One change the plan's phase would make, with the root causes it answers."""

    phase: str
    describe: str
    codes: tuple[str, ...]  # root-cause codes of the findings it answers
    keys: tuple[str, ...]  # those root causes' keys
    risk: str | None = None  # the flag naming the risk (never automatic)


@dataclass(frozen=True)
class PlanView:
    actions: tuple[Action, ...]  # the phase heal would run now (the later ones are planned after it)
    human: tuple[str, ...]  # what heal will not do without a flag or a human (the plan's blocked lines)
    flags: tuple[str, ...]  # the flags those lines name: the command a human would run

    @property
    def empty(self) -> bool:
        return not self.actions and not self.human


def witnesses(ctx: ClusterView, finding: Finding) -> int:
    subjects = set(finding.subjects) | {n.id for n in finding.nodes if n.id}
    seen = {i for i in subjects if i in ctx.answers_at}
    for node_id in subjects:
        seen.update(s.node_id for s, _ in ctx.listings.get(node_id, ()) if s.node_id)
    return len(seen)


def causes(report: Report, ctx: ClusterView) -> tuple[Cause, ...]:
    """The root causes above info, as keys the history can compare round to round."""
    found = []
    for finding in report.root_causes:
        if finding.severity in ("ok", "info"):
            continue
        subjects = tuple(sorted(set(finding.subjects) | {n.id for n in finding.nodes if n.id}))
        found.append(
            Cause(finding.code, subjects, witnesses(ctx, finding), finding.basis, finding.severity, finding.title)
        )
    return tuple(found)


def _roots(report: Report, codes: tuple[str, ...], cause_of: dict[str, Cause]) -> list[Cause]:
    """The root causes of the findings with these codes (a root cause is its own); a code no finding has
    stands for itself, keyed without subjects."""
    by_id = {f.id: f for f in report.findings}
    roots: list[Cause] = []
    for code in codes:
        matching = [f for f in report.findings if f.code == code]
        for finding in matching:
            while finding.explained_by is not None and finding.explained_by in by_id:
                finding = by_id[finding.explained_by]
            if finding.id in cause_of and cause_of[finding.id] not in roots:
                roots.append(cause_of[finding.id])
        if not matching:
            roots.append(Cause(code, (), 0, "seen", "warning", code))
    return roots


def _cause_map(report: Report, ctx: ClusterView) -> dict[str, Cause]:
    """finding id -> its Cause, for the root causes `causes` lists."""
    roots = [f for f in report.root_causes if f.severity not in ("ok", "info")]
    return {f.id: c for f, c in zip(roots, causes(report, ctx), strict=True)}


def plan_view(plan: HealPlan, report: Report, ctx: ClusterView) -> PlanView:
    phase = next((p for p in plan.phases if not p.empty), None)
    actions = phase_actions(phase, report, _cause_map(report, ctx)) if phase is not None else ()
    named = (f for line in plan.blocked for f in re.findall(r"--[a-z][a-z-]+", line))
    flags = tuple(dict.fromkeys(f for f in named if f in SWITCHES))
    return PlanView(actions, tuple(plan.blocked), flags)


def phase_actions(phase: Phase, report: Report, cause_of: dict[str, Cause]) -> tuple[Action, ...]:
    found: list[Action] = []

    def add(describe: str, answers: tuple[str, ...], risk: str | None) -> None:
        roots = _roots(report, answers, cause_of)
        codes = tuple(dict.fromkeys(c.code for c in roots))
        found.append(Action(phase.name, describe, codes, tuple(dict.fromkeys(c.key for c in roots)), risk))

    for step in phase.steps:
        add(step.describe(), step.answers, step.risk)
    for closing in phase.closings:
        if closing.action != "stuck":
            add(f"slot {closing.slot}: {closing.action} the migration ({closing.reason})", ("S004",), None)
    for stray in phase.strays:
        add(
            f"slot {stray.slot}: return stray keys from {stray.holder_address} to {stray.owner_address}",
            ("S003",),
            None,
        )
    return tuple(found)


def phase_view(phase: Phase, report: Report, ctx: ClusterView) -> tuple[Action, ...]:
    """A phase planned during a repair (heal re-plans between phases), for the gate."""
    return phase_actions(phase, report, _cause_map(report, ctx))
