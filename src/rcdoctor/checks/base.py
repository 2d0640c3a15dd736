"""What a check is, what it finds, and the registry that holds them.

A check is data plus one pure function: a stable code (never reused), a name, a family, a default
severity, the text of its documentation, the codes of the symptoms it can be the cause of, and
`run(ctx)` yielding `Issue`s. The analyzer turns issues into `Finding`s and links causes to symptoms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from rcdoctor.model.node_ref import NodeRef

if TYPE_CHECKING:
    from rcdoctor.model.view import ClusterView

SEVERITIES = ("ok", "info", "warning", "critical")
FAMILIES = {
    "addresses": "Addresses & reachability",
    "membership": "Membership & failure",
    "slots": "Slots",
    "epochs": "Epochs & split-brain",
    "replication": "Replication",
    "placement": "Quorum & placement",
    "config": "Configuration",
}
# How a finding is known: "seen" (a node said so: a flag, a reply, a refused connection) or "inferred"
# (deduced from what other nodes said or from what is missing). Nothing is changed on an inference alone.
BASES = ("seen", "inferred")
CODE_RE = re.compile(r"^[A-Z][0-9]{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Issue:
    """What one run of a check yields: the check's code, fix and severity are added by the analyzer."""

    title: str
    nodes: tuple[NodeRef, ...] = ()
    evidence: tuple[str, ...] = ()
    severity: str | None = None  # None: the check's declared severity
    fix: str | None = None  # None: the check's declared fix
    # Node ids this issue is about for cause/symptom matching; None: the ids in `nodes`. A symptom is
    # folded under a cause only when their subjects meet.
    subjects: frozenset[str] | None = None
    basis: str | None = None  # "seen" | "inferred"; None: the check's declared basis
    confirm: str | None = None  # for an inferred issue: what would confirm (or refute) it


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    family: str
    severity: str
    summary: str  # one line: what it means when it fires
    explanation: str  # what is going on, for `explain`
    evidence: str  # which data it reads
    why: str  # why it matters
    fix: str  # manual fix, commands included
    heal: str  # can `rcdoctor heal` fix it
    run: Callable[[ClusterView], Iterable[Issue]]
    explains: tuple[str, ...] = ()  # codes of findings this one can be the cause of
    needs: str = ""  # server features it needs, e.g. "Redis 7.0+ (hostnames)"
    basis: str = "seen"  # how its findings are known unless an issue says otherwise (BASES)

    @property
    def module(self) -> str:
        return self.run.__module__


@dataclass(frozen=True)
class Finding:
    id: str  # CODE-n, stable within one report
    check: Check
    severity: str
    title: str
    nodes: tuple[NodeRef, ...]
    evidence: tuple[str, ...]
    fix: str
    subjects: frozenset[str]
    explains: tuple[str, ...] = ()
    explained_by: str | None = None
    crashed: bool = False  # the check itself failed: its verdict is unknown
    basis: str = "seen"  # "seen": a node said so; "inferred": deduced (see `confirm`)
    confirm: str | None = None  # for an inferred finding: what would confirm it

    @property
    def code(self) -> str:
        return self.check.code

    @property
    def root_cause(self) -> bool:
        return self.explained_by is None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.check.name,
            "family": self.check.family,
            "severity": self.severity,
            "title": self.title,
            "nodes": [n.to_dict() for n in self.nodes],
            "evidence": list(self.evidence),
            "fix": self.fix,
            "explains": list(self.explains),
            "explained_by": self.explained_by,
            "root_cause": self.root_cause,
            "unknown": self.crashed,
            "basis": self.basis,
            "confirm": self.confirm,
        }


@dataclass(frozen=True)
class Registry:
    """The catalogue of checks. Building it validates every declaration and refuses collisions."""

    checks: Mapping[str, Check] = field(default_factory=lambda: MappingProxyType({}))
    # code -> depth in the "explains" graph: 0 for checks nothing explains; causes sort before symptoms
    depth: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, checks: Iterable[Check]) -> Registry:
        by_code: dict[str, Check] = {}
        names: dict[str, str] = {}
        for check in checks:
            _validate(check)
            if check.code in by_code:
                raise ValueError(
                    f"check code {check.code} declared twice ({by_code[check.code].module}, {check.module})"
                )
            if check.name in names:
                raise ValueError(f"check name {check.name} declared twice ({names[check.name]}, {check.code})")
            by_code[check.code] = check
            names[check.name] = check.code
        for check in by_code.values():
            unknown = [c for c in check.explains if c not in by_code]
            if unknown:
                raise ValueError(f"{check.code} explains unknown code(s): {', '.join(unknown)}")
        order = _causal_order(by_code)
        return cls(MappingProxyType(dict(sorted(by_code.items()))), MappingProxyType(order))

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks.values())

    def __len__(self) -> int:
        return len(self.checks)

    def get(self, code_or_name: str) -> Check | None:
        wanted = code_or_name.strip()
        if wanted.upper() in self.checks:
            return self.checks[wanted.upper()]
        return next((c for c in self if c.name == wanted.lower()), None)

    def select(self, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> tuple[Check, ...]:
        """Checks matching any of `select` (all when empty) and none of `ignore`.

        A selector is a code (S001), a code prefix (S, S00), a check name or a family name.
        """
        chosen = [c for c in self if not select or any(self._matches(c, s) for s in select)]
        return tuple(c for c in chosen if not any(self._matches(c, s) for s in ignore))

    def validate_selectors(self, selectors: Iterable[str]) -> list[str]:
        return [s for s in selectors if not any(self._matches(c, s) for c in self)]

    @staticmethod
    def _matches(check: Check, selector: str) -> bool:
        s = selector.strip()
        return bool(s) and (check.code.startswith(s.upper()) or s.lower() in (check.name, check.family))


def _validate(check: Check) -> None:
    where = f"check {check.code!r} ({check.module})"
    if not CODE_RE.match(check.code):
        raise ValueError(f"{where}: a code is one capital letter and three digits")
    if not NAME_RE.match(check.name):
        raise ValueError(f"{where}: a name is lower-case words joined by '-'")
    if check.family not in FAMILIES:
        raise ValueError(f"{where}: unknown family {check.family!r}")
    if check.basis not in BASES:
        raise ValueError(f"{where}: basis must be one of {', '.join(BASES)}")
    if check.severity not in SEVERITIES[1:]:
        raise ValueError(f"{where}: severity must be info, warning or critical")
    for attr in ("summary", "explanation", "evidence", "why", "fix", "heal"):
        if not getattr(check, attr).strip():
            raise ValueError(f"{where}: {attr} is empty")


def _causal_order(checks: Mapping[str, Check]) -> dict[str, int]:
    """Depth of every check in the explains graph; refuses cycles (a cause cannot be its own symptom)."""
    depth: dict[str, int] = {}
    visiting: set[str] = set()
    explained_by: dict[str, list[str]] = {code: [] for code in checks}
    for check in checks.values():
        for symptom in check.explains:
            explained_by[symptom].append(check.code)

    def visit(code: str, path: tuple[str, ...]) -> int:
        if code in depth:
            return depth[code]
        if code in visiting:
            raise ValueError(f"checks explain each other in a cycle: {' -> '.join((*path, code))}")
        visiting.add(code)
        depth[code] = 1 + max((visit(c, (*path, code)) for c in explained_by[code]), default=-1)
        visiting.discard(code)
        return depth[code]

    for code in checks:
        visit(code, ())
    return depth
