"""The heal plan: diagnose's picture of the cluster turned into ordered phases of steps (pure).

Phases run in this order, because each one's facts depend on the ones before:
  0. rebuild    no cluster left (every node knows only itself): create it again around the keys the
                nodes hold, behind --rebuild-from-keys (rebuild.py)
  1. config     an announce setting sends peers where a node cannot be reached (C006): CONFIG SET it,
                behind --fix-announce-config; until then no MEET is planned for that node, as it would be
                undone by the node's next gossip packet (config.py)
  2. meet       nodes back at new addresses: MEET them at the address where they answer now (A003/A004)
  3. rejoin     nodes that know only themselves while the others form the cluster: restarted without
                nodes.conf (M006) or empty replacements (rejoin.py); a stale copy's claim on
                slots a live primary serves (E002) ends with its keys merged or kept in a file
  4. failover   a failed primary with slots whose replica did not take over (S002/R005), or a replica with
                the only copy of uncovered slots: FORCE/TAKEOVER, only behind the flag that names the risk
  5. replicas   replicas following a primary that is gone, or whose link is down (R004/R002)
  6. forget     ghosts and failed nodes that own nothing: FORGET on every node at once (M003/M001);
                phases 4-6: roles.py
  7. slots      open slots closed in the direction of the keys (S004); uncovered slots given to the node
                holding their keys, else spread over the primaries (S001); stray keys returned to their
                slot's owner (S003): slots.py
What a plan is made of (steps, preconditions, risks, flags, facts) is in steps.py.
The executor runs the first phase, waits for the cluster to settle, collects again and plans again, so a
later phase is always planned from facts, not from a guess of what the earlier one changed. A dry run
prints every phase as planned from the facts now.

Facts that need I/O beyond the snapshot (keys per slot for open and uncovered slots) are passed in.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from rcdoctor.model.view import ClusterView
from rcdoctor.plan.addresses import meets
from rcdoctor.plan.conditions import Condition
from rcdoctor.plan.config import FIX_ANNOUNCE, config_fixes, undoing
from rcdoctor.plan.rebuild import rebuild
from rcdoctor.plan.rejoin import rejoins
from rcdoctor.plan.roles import failovers, forgets, replicas
from rcdoctor.plan.slots import orphan_copies, slots
from rcdoctor.plan.steps import (
    REBUILD,
    RISK_DISCARD,
    RISK_FORCE,
    RISK_TAKEOVER,
    Facts,
    Flags,
    HealPlan,
    HoldFailovers,
    Phase,
    Step,
)

__all__ = [
    "FIX_ANNOUNCE",
    "REBUILD",
    "RISK_DISCARD",
    "RISK_FORCE",
    "RISK_TAKEOVER",
    "Condition",
    "Facts",
    "Flags",
    "HealPlan",
    "HoldFailovers",
    "Phase",
    "Step",
    "plan",
    "plan_dict",
    "step_dict",
]


def plan(ctx: ClusterView, facts: Facts, flags: Flags) -> HealPlan:
    blocked: list[str] = []
    rejoin, adopted = rejoins(ctx, facts, flags, blocked)
    undone = undoing(ctx)
    phases = [
        Phase("rebuild", tuple(rebuild(ctx, facts, flags, blocked))),
        Phase("config", tuple(config_fixes(ctx, flags, blocked))),
        Phase("meet", tuple(meets(ctx)), parallel=True, hold=_replicas_held(ctx)),
        Phase("rejoin", tuple(rejoin)),
        Phase("failover", tuple(failovers(ctx, facts, flags, blocked, adopted)), promotes=True),
        # A replica of a primary that announces an unusable address would re-dial that address: re-pointing
        # it waits for the config phase (the setting is the cause, not the replica).
        Phase(
            "replicas",
            tuple(s for s in replicas(ctx, set(orphan_copies(ctx, facts))) if not _toward(s, undone)),
        ),
        Phase("forget", tuple(forgets(ctx, flags, blocked)), parallel=True),
        slots(ctx, facts, blocked),
    ]
    return HealPlan(tuple(p for p in phases if not p.empty), tuple(blocked))


def _replicas_held(ctx: ClusterView) -> HoldFailovers:
    """Every replica that answered (by its own view), for a phase that makes nodes reconnect."""
    return HoldFailovers(
        tuple(s.address for s in ctx.snapshot.nodes if s.answered and s.myself is not None and not s.myself.is_primary)
    )


def _toward(step: Step, nodes: Collection[str]) -> bool:
    """A CLUSTER REPLICATE to one of `nodes`."""
    return step.command[:2] == ("CLUSTER", "REPLICATE") and len(step.command) > 2 and step.command[2] in nodes


def step_dict(step: Step) -> dict[str, Any]:
    """A step as the JSON plan shows it."""
    return {
        "node": step.node,
        "command": list(step.command),
        "why": step.why,
        "answers": list(step.answers),
        "preconditions": [e.describe() for e in step.expect],
        "risk": step.risk,
        "resolves_name": step.resolves_name,
        "salvage": None
        if step.salvage is None
        else {
            "owner": step.salvage.owner,
            "owner_address": step.salvage.owner_address,
            "slots": len(step.salvage.slots),
            "allow_conflicts": step.salvage.allow_conflicts,
        },
    }


def plan_dict(plan: HealPlan) -> dict[str, Any]:
    """The plan as heal's JSON document carries it: every phase, step, closing and stray-key return."""
    return {
        "phases": [
            {
                "name": p.name,
                "parallel": p.parallel,
                "hold_failovers": p.hold_failovers,
                "hold_failovers_on": list(p.hold.replicas) if p.hold is not None else [],
                "steps": [step_dict(s) for s in p.steps],
                "open_slots": [c.__dict__ for c in p.closings],
                "stray_keys": [s.__dict__ for s in p.strays],
            }
            for p in plan.phases
        ],
        "blocked": list(plan.blocked),
    }
