"""Faults as data (Jepsen's nemesis ops): `FaultOp(f, targets, params)`, each applied fault records its undo.

    apply(lab, FaultOp("new-address", "all"))   # the seed's incident: every pod back at a new IP
    heal(lab)                                   # undo every applied fault, newest first

Fault kinds live in small modules (process.py, slots.py, network.py) and register themselves in `KINDS`.
"""

from __future__ import annotations

from rcdoctor.lab.faults import network as _network  # noqa: F401  (registers kinds)
from rcdoctor.lab.faults import process as _process  # noqa: F401  (registers kinds)
from rcdoctor.lab.faults import slots as _slots  # noqa: F401  (registers kinds)
from rcdoctor.lab.faults.base import KINDS, FaultKind, FaultOp, FaultResult, apply, heal, resolve_targets

__all__ = ["KINDS", "FaultKind", "FaultOp", "FaultResult", "apply", "heal", "resolve_targets"]
