"""analyze: run the checks over a snapshot and link causes to the symptoms they explain (pure).

A check that crashes yields an "unknown" finding for its code, never a crashed run. A finding is
folded under a cause when the cause's check declares it can explain the finding's code and both are
about at least one common node; of several causes the most fundamental (smallest depth) wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from rcdoctor.checks.base import BASES, SEVERITIES, Check, Finding, Registry, severity_rank
from rcdoctor.errors import EXIT_CANNOT_RUN, EXIT_CRITICAL, EXIT_OK, EXIT_WARNING
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings, ClusterView

REPORT_FORMAT = "rcdoctor.diagnose"
REPORT_VERSION = 1


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]  # root causes first (worst first), each followed by what it explains
    checks: tuple[Check, ...]
    snapshot: Snapshot
    answered: int
    nodes: int

    @property
    def worst(self) -> str:
        if self.answered == 0:
            return "critical"
        return max((f.severity for f in self.findings), key=severity_rank, default="ok")

    @property
    def healthy(self) -> bool:
        return self.answered > 0 and severity_rank(self.worst) <= severity_rank("info")

    @property
    def exit_code(self) -> int:
        if self.answered == 0:
            return EXIT_CANNOT_RUN
        return {"ok": EXIT_OK, "info": EXIT_OK, "warning": EXIT_WARNING, "critical": EXIT_CRITICAL}[self.worst]

    @property
    def root_causes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.root_cause)

    @property
    def not_seen(self) -> tuple[str, ...]:
        """What this diagnosis could not see: its findings hold only for the rest."""
        return not_seen(self.snapshot)

    def children(self, finding: Finding) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.explained_by == finding.id)

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(f.severity for f in self.findings)
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "collected_at": self.snapshot.collected_at,
            "duration_s": self.snapshot.duration_s,
            "summary": {
                "healthy": self.healthy,
                "worst": self.worst,
                "exit_code": self.exit_code,
                "endpoints": len(self.snapshot.nodes),
                "answered": self.answered,
                "nodes": self.nodes,
                "findings": len(self.findings),
                "root_causes": len(self.root_causes),
                "by_severity": {s: counts.get(s, 0) for s in SEVERITIES[1:]},
            },
            "checks_run": [c.code for c in self.checks],
            "not_seen": list(self.not_seen),
            "findings": [f.to_dict() for f in self.findings],
        }


def analyze(
    snapshot: Snapshot,
    registry: Registry,
    checks: Iterable[Check] | None = None,
    settings: AnalysisSettings | None = None,
    context: ClusterView | None = None,
) -> Report:
    """`context`: a ClusterView of this snapshot the caller reads too (the report), so its cached views of
    every node are computed once."""
    ctx = context if context is not None else ClusterView(snapshot, settings)
    chosen = tuple(registry) if checks is None else tuple(checks)
    raw: list[Finding] = []
    for check in chosen:
        raw.extend(_run(check, ctx))
    linked = _link(raw, registry)
    return Report(_order(linked), chosen, snapshot, len(ctx.answers_at) if snapshot.answered else 0, len(ctx.ids))


def not_seen(snapshot: Snapshot) -> tuple[str, ...]:
    """Endpoints not reached, commands a node refused (an ACL user without CONFIG, a server without
    CLUSTER SHARDS), replies cut short by the deadline: each one line, worst first."""
    lines: list[str] = []
    for sample in snapshot.nodes:
        if sample.error is not None:
            lines.append(f"{sample.address}: not reached ({sample.error})")
    for sample in snapshot.nodes:
        if sample.error is not None:
            continue
        refused = [k for k, v in sample.reply_errors.items() if not _unsupported(v)]
        if refused:
            first = sample.reply_errors[refused[0]]
            more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
            lines.append(f"{sample.address}: {refused[0]} refused ({first.splitlines()[0][:120]}){more}")
    return tuple(lines)


def _unsupported(error: str) -> bool:
    # A command this server version does not have (CLUSTER SHARDS/LINKS on 6.2) is not a blind spot.
    lowered = error.lower()
    return "unknown subcommand" in lowered or "unknown command" in lowered


def _run(check: Check, ctx: ClusterView) -> list[Finding]:
    try:
        issues = list(check.run(ctx))
    except Exception as exc:  # a crashed check is an unknown verdict, not a crashed diagnosis
        return [
            Finding(
                id=f"{check.code}-1",
                check=check,
                severity="warning",
                title=f"check {check.code} ({check.name}) could not run: {type(exc).__name__}: {exc}",
                nodes=(),
                evidence=(),
                fix="report this as a bug in rcdoctor, with the snapshot (rcdoctor collect -o FILE)",
                subjects=frozenset(),
                crashed=True,
            )
        ]
    findings = []
    for index, issue in enumerate(issues, 1):
        basis = issue.basis if issue.basis in BASES else check.basis
        findings.append(
            Finding(
                id=f"{check.code}-{index}",
                check=check,
                severity=issue.severity or check.severity,
                title=issue.title,
                nodes=issue.nodes,
                evidence=issue.evidence,
                fix=issue.fix or check.fix,
                subjects=frozenset(n.id for n in issue.nodes if n.id) if issue.subjects is None else issue.subjects,
                basis=basis,
                confirm=issue.confirm if basis == "inferred" else None,
            )
        )
    return findings


def _link(findings: list[Finding], registry: Registry) -> list[Finding]:
    depth = registry.depth
    parent: dict[str, str] = {}
    for symptom in findings:
        if symptom.crashed:
            continue
        causes = [
            c
            for c in findings
            if c is not symptom and not c.crashed and symptom.code in c.check.explains and c.subjects & symptom.subjects
        ]
        if causes:
            best = min(causes, key=lambda c: (depth.get(c.code, 0), -severity_rank(c.severity), c.id))
            parent[symptom.id] = best.id
    explains: dict[str, list[str]] = {}
    for child, cause in parent.items():
        explains.setdefault(cause, []).append(child)
    return [replace(f, explained_by=parent.get(f.id), explains=tuple(explains.get(f.id, ()))) for f in findings]


def _order(findings: list[Finding]) -> tuple[Finding, ...]:
    kids: dict[str | None, list[Finding]] = {}
    for f in findings:
        kids.setdefault(f.explained_by, []).append(f)

    def key(f: Finding) -> tuple[int, int, str]:
        return (-severity_rank(f.severity), -_weight(f, kids), f.id)

    ordered: list[Finding] = []

    def walk(f: Finding) -> None:
        ordered.append(f)
        for child in sorted(kids.get(f.id, []), key=key):
            walk(child)

    for root in sorted(kids.get(None, []), key=key):
        walk(root)
    assert len(ordered) == len(findings)  # the explains links form a forest: every finding placed once
    return tuple(ordered)


def _weight(f: Finding, kids: dict[str | None, list[Finding]]) -> int:
    """How many findings a cause explains, transitively: the bigger cause is listed first."""
    return sum(1 + _weight(c, kids) for c in kids.get(f.id, []))
