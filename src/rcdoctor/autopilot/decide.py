"""The autopilot's decision, pure: (history, findings, plan, clock, policy) -> a decision with reasons.

A repair runs only when every one of these holds (each refusal is named, and counted by its reason):
  - every change of the phase heal would run now answers root causes in the allowed set, and none can
    lose data (a risky step is never automatic: it is "needs a human", with the command);
  - each of those root causes was seen in `confirm_rounds` consecutive rounds, and by more than one node;
  - no repair ran within `block_period`, unless the last one succeeded and this is a new finding;
  - not a dry run.
The lease, the pre-repair hook and heal's own live preconditions come after, in pilot.py: they need I/O.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rcdoctor.autopilot.evidence import Action, Cause, PlanView

# Repairs that lose nothing: re-MEET moved nodes (A003 peers list it at an old address, A004 it lists
# itself there, A007 the pods moved), re-point replicas (R002 link down, R004 primary gone), close open
# slots towards their keys (S004), forget ghosts proven gone (M003 ghost, M001 failed).
DEFAULT_ALLOW = frozenset({"A003", "A004", "A007", "R002", "R004", "S004", "M003", "M001"})

# The reasons a repair is not made, as counted in rcdoctor_autopilot_blocked_total{reason}
NOT_ALLOWED = "not-allowed"
NEEDS_HUMAN = "needs-human"
UNCONFIRMED = "unconfirmed"
ONE_WITNESS = "one-witness"
BLOCK_PERIOD = "block-period"
DRY_RUN = "dry-run"
LEASE = "lease"  # pilot.py: another autopilot holds the lease
HOOK_VETO = "hook-veto"  # pilot.py: the pre-repair hook exited non-zero
REASONS = (NOT_ALLOWED, NEEDS_HUMAN, UNCONFIRMED, ONE_WITNESS, BLOCK_PERIOD, DRY_RUN, LEASE, HOOK_VETO)


@dataclass(frozen=True)
class Policy:
    allow: frozenset[str] = DEFAULT_ALLOW
    confirm_rounds: int = 2
    block_period: float = 300.0
    dry_run: bool = False
    command: str = "rcdoctor heal SEEDS --apply"  # what a human runs (seeds without secrets)


@dataclass(frozen=True)
class Repair:
    """The last repair this cluster had (kept in the lease record, so a new actor knows it too)."""

    at: float
    keys: tuple[str, ...]
    result: str  # "ok" | "failed" | "stopped" | "vetoed"


@dataclass(frozen=True)
class History:
    rounds: tuple[tuple[str, ...], ...] = ()  # previous rounds' root-cause keys, oldest first
    last_repair: Repair | None = None

    def after(self, keys: Sequence[str], keep: int) -> History:
        """This history with one more round (only the last `keep` are needed)."""
        rounds = (*self.rounds, tuple(keys))
        return History(rounds[-keep:] if keep > 0 else (), self.last_repair)


@dataclass(frozen=True)
class Decision:
    state: str  # "healthy" | "act" | "wait" | "blocked" | "dry-run"
    reasons: tuple[str, ...]  # why, in words
    blocked: tuple[str, ...] = ()  # the REASONS that apply (each counted once per round)
    actions: tuple[Action, ...] = ()  # what would run (state act or dry-run)
    keys: tuple[str, ...] = ()  # the root causes it answers
    codes: tuple[str, ...] = ()
    human: tuple[str, ...] = field(default_factory=tuple)  # "needs a human" lines, each with the command


def human_lines(plan: PlanView, policy: Policy) -> tuple[str, ...]:
    lines = [f"needs a human: {line}" for line in plan.human]
    risky = [a for a in plan.actions if a.risk]
    lines += [f"needs a human: {a.describe} can lose data ({a.risk})" for a in risky]
    flags = list(dict.fromkeys([*plan.flags, *(a.risk for a in risky if a.risk)]))
    if lines:
        lines.append(f"run, once the evidence is checked: {' '.join([policy.command, *flags])}")
    return tuple(lines)


def permitted(actions: Sequence[Action], policy: Policy) -> str | None:
    """None when every action may run unattended; else why not (the first that may not)."""
    for action in actions:
        if action.risk:
            return f"{action.describe} can lose data ({action.risk}): never automatic"
        outside = [c for c in action.codes if c not in policy.allow]
        if outside or not action.codes:
            return f"{action.describe} answers {', '.join(outside) or 'no finding'}, not in the allowed set"
    return None


def decide(history: History, findings: Sequence[Cause], plan: PlanView, now: float, policy: Policy) -> Decision:
    human = human_lines(plan, policy)
    if not findings and plan.empty:
        return Decision("healthy", ("no root cause above info",))
    if not plan.actions:
        why = "nothing heal may do without a flag or a human" if human else "nothing heal can repair"
        return Decision("blocked", (why,), (NEEDS_HUMAN,) if human else (), human=human)
    actions = plan.actions
    keys = tuple(dict.fromkeys(k for a in actions for k in a.keys))
    codes = tuple(dict.fromkeys(c for a in actions for c in a.codes))

    def blocked(reason: str, why: str) -> Decision:
        return Decision("blocked", (why,), (reason,), actions, keys, codes, human)

    refused = permitted(actions, policy)
    if refused is not None:
        return blocked(NEEDS_HUMAN if any(a.risk for a in actions) else NOT_ALLOWED, refused)
    # Confirmed: every key in this round and in the confirm_rounds - 1 before it.
    earlier = history.rounds[-(policy.confirm_rounds - 1) :] if policy.confirm_rounds > 1 else ()
    if len(earlier) < policy.confirm_rounds - 1 or any(not set(keys) <= set(r) for r in earlier):
        seen = 1 + sum(1 for _ in _streak(history.rounds, keys))
        return Decision(
            "wait",
            (f"seen in {seen} of {policy.confirm_rounds} consecutive rounds: waiting for confirmation",),
            (UNCONFIRMED,),
            actions,
            keys,
            codes,
            human,
        )
    by_key = {c.key: c for c in findings}
    lone = [k for k in keys if k in by_key and by_key[k].witnesses < 2]
    if lone:
        return blocked(
            ONE_WITNESS,
            f"{', '.join(lone)}: seen from one node only; give every node (a headless Service name, k8s:)",
        )
    last = history.last_repair
    if last is not None and now - last.at < policy.block_period:
        new = not set(keys) & set(last.keys)
        if not (last.result == "ok" and new):
            # The repair's own time, not its age: the reason stays the same round after round (one journal line)
            when = time.strftime("%H:%M:%S", time.gmtime(last.at))
            why = "it did not succeed" if last.result != "ok" else "the same finding"
            return blocked(
                BLOCK_PERIOD,
                f"a repair ran at {when} UTC ({last.result}), within the block period of {policy.block_period:g}s, "
                f"and this is {why}",
            )
    if policy.dry_run:
        return Decision(
            "dry-run", ("would repair; --dry-run changes nothing",), (DRY_RUN,), actions, keys, codes, human
        )
    return Decision(
        "act", (f"{', '.join(codes)} confirmed in {policy.confirm_rounds} rounds",), (), actions, keys, codes, human
    )


def _streak(rounds: Sequence[tuple[str, ...]], keys: Sequence[str]) -> list[int]:
    """The consecutive most recent rounds that saw every key (for the message)."""
    found = []
    for index in range(len(rounds) - 1, -1, -1):
        if not set(keys) <= set(rounds[index]):
            break
        found.append(index)
    return found
