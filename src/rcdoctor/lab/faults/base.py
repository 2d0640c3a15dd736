"""Fault ops, the registry of fault kinds, target sets, and apply/heal."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rcdoctor.errors import FaultError
from rcdoctor.transport.errors import TransportError

if TYPE_CHECKING:
    from rcdoctor.lab.cluster import Lab
    from rcdoctor.lab.state import LabNode

TARGET_SETS = {
    "all": "every node",
    "primaries": "every node that is a primary now",
    "replicas": "every node that is a replica now",
    "primary": "one primary (the first)",
    "replica": "one replica (the first)",
    "random-primary": "one primary chosen at random (params.seed for a fixed choice)",
    "random": "one node chosen at random",
    "minority": "the largest minority of nodes, (N-1)//2, primaries first",
    "majority": "every node not in 'minority'",
    "minority-primaries": "the largest minority of the primaries, (P-1)//2",
}


@dataclass(frozen=True)
class FaultOp:
    """A fault as data: {"f": "pause", "targets": "primary", "params": {}}."""

    f: str
    targets: str | tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        targets = self.targets if isinstance(self.targets, str) else list(self.targets)
        return {"f": self.f, "targets": targets, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultOp:
        if not isinstance(data, Mapping) or not isinstance(data.get("f"), str):
            raise FaultError('a fault op is an object with a string "f" (e.g. {"f": "kill", "targets": "primary"})')
        targets = data.get("targets", ())
        if not isinstance(targets, str):
            if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
                raise FaultError("fault targets must be a string or a list of strings")
            targets = tuple(targets)
        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise FaultError("fault params must be an object")
        return cls(data["f"], targets, MappingProxyType(dict(params)))


@dataclass(frozen=True)
class FaultResult:
    op: FaultOp
    nodes: tuple[str, ...]  # names of the nodes it acted on
    undo: FaultOp | None  # the op that reverses it (None: nothing to undo)
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op.to_dict(),
            "nodes": list(self.nodes),
            "undo": None if self.undo is None else self.undo.to_dict(),
            "details": dict(self.details),
        }


Applier = Callable[["Lab", list["LabNode"], Mapping[str, Any]], tuple[FaultOp | None, dict[str, Any]]]


@dataclass(frozen=True)
class FaultKind:
    name: str
    summary: str
    apply: Applier
    needs_targets: bool = True
    undo_only: bool = False  # only used as the undo of another fault (hidden from listings)


KINDS: dict[str, FaultKind] = {}


def register(
    name: str, summary: str, needs_targets: bool = True, undo_only: bool = False
) -> Callable[[Applier], Applier]:
    def decorator(func: Applier) -> Applier:
        if name in KINDS:
            raise ValueError(f"fault kind {name!r} registered twice")
        KINDS[name] = FaultKind(name, summary, func, needs_targets, undo_only)
        return func

    return decorator


def resolve_targets(lab: Lab, targets: str | tuple[str, ...], params: Mapping[str, Any] | None = None) -> list[LabNode]:
    """Target sets and names (n1, 127.0.0.11:6379, node id or prefix) -> lab nodes, in lab order."""
    params = params or {}
    items = [t.strip() for t in (targets.split(",") if isinstance(targets, str) else targets) if t.strip()]
    if not items:
        raise FaultError("no targets given (a node name, address or id, or one of: " + ", ".join(TARGET_SETS) + ")")
    chosen: dict[str, LabNode] = {}
    roles: dict[str, str] | None = None
    rng = random.Random(params.get("seed"))
    for item in items:
        if item in TARGET_SETS:
            if roles is None:
                roles = lab.live_roles()
            for node in _target_set(lab, item, roles, rng):
                chosen[node.name] = node
        else:
            node = lab.node(item)
            chosen[node.name] = node
    order = {n.name: i for i, n in enumerate(lab.nodes)}
    return sorted(chosen.values(), key=lambda n: order[n.name])


def _target_set(lab: Lab, name: str, roles: dict[str, str], rng: random.Random) -> list[LabNode]:
    primaries = [n for n in lab.nodes if roles[n.name] == "primary"]
    replicas = [n for n in lab.nodes if roles[n.name] == "replica"]
    by_role = primaries + replicas
    minority = by_role[: (len(lab.nodes) - 1) // 2]
    sets: dict[str, Callable[[], list[LabNode]]] = {
        "all": lambda: list(lab.nodes),
        "primaries": lambda: primaries,
        "replicas": lambda: replicas,
        "primary": lambda: primaries[:1],
        "replica": lambda: replicas[:1],
        "random-primary": lambda: [rng.choice(primaries)] if primaries else [],
        "random": lambda: [rng.choice(lab.nodes)],
        "minority": lambda: minority,
        "majority": lambda: [n for n in lab.nodes if n not in minority],
        "minority-primaries": lambda: primaries[: (len(primaries) - 1) // 2],
    }
    nodes = sets[name]()
    if not nodes:
        raise FaultError(f"target set {name!r} is empty in this lab")
    return nodes


def apply(lab: Lab, op: FaultOp, record: bool = True) -> FaultResult:
    """Apply one fault; record it (with its undo) in the lab state unless it is itself an undo."""
    kind = KINDS.get(op.f)
    if kind is None:
        raise FaultError(
            f"unknown fault {op.f!r} (known: {', '.join(sorted(k for k in KINDS if not KINDS[k].undo_only))})"
        )
    nodes = resolve_targets(lab, op.targets, op.params) if kind.needs_targets else []
    try:
        undo, details = kind.apply(lab, nodes, op.params)
    except (TransportError, OSError) as exc:
        lab.save()
        raise FaultError(f"{op.f}: {exc}") from None
    result = FaultResult(op, tuple(n.name for n in nodes), undo, MappingProxyType(details))
    if record and undo is not None:
        lab.state.faults.append({**result.to_dict(), "at": datetime.now(UTC).isoformat(timespec="seconds")})
    lab.save()
    return result


def heal(lab: Lab) -> list[FaultResult]:
    """Undo every recorded fault, newest first (Jepsen's final heal). Stops at the first failure."""
    results = []
    while lab.state.faults:
        entry = lab.state.faults[-1]
        undo = FaultOp.from_dict(entry["undo"])
        results.append(apply(lab, undo, record=False))
        lab.state.faults.pop()
        lab.save()
    return results


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
