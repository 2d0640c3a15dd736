"""The autopilot's loop: the exporter's collection, then decide and, when everything allows it, repair.

Each round (one per --interval, after the exporter's own collection and analysis): the heal plan is made
from that snapshot by heal's own planner (no risk flag is ever given), reduced to root causes and the
changes of the phase heal would run first, and handed to `decide` with the history. On "act": the lease,
then the pre-repair hook (may veto), then heal's session runs the plan from that same snapshot; a gate
refuses any later phase (heal re-plans between phases) holding a change outside the allowed set, and the
lease's fence is checked right before every change. A repair holds the loop: no round runs meanwhile,
while /metrics and /status keep answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rcdoctor.analyze import Report, analyze
from rcdoctor.autopilot.audit import Audit
from rcdoctor.autopilot.decide import HOOK_VETO, LEASE, Decision, History, Policy, Repair, decide, permitted
from rcdoctor.autopilot.evidence import Cause, PlanView, causes, phase_view, plan_view
from rcdoctor.autopilot.hooks import run_hook
from rcdoctor.autopilot.lease import Lease
from rcdoctor.autopilot.metrics import Counts, families
from rcdoctor.exporter.server import Clock, Exporter, render
from rcdoctor.heal import session
from rcdoctor.model.address import Seed
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings, ClusterView
from rcdoctor.plan.heal import Flags, HealPlan, Phase
from rcdoctor.transport.options import ConnectOptions

STATUS_FORMAT = "rcdoctor.autopilot.status"
# A round that found a repair waiting for confirmation is followed by the next one this soon (or after
# --interval if shorter): the confirmation is K independent collections, and waiting a whole interval
# between them would let the node timeout pass, after which peers flag the moved primaries FAIL and
# clearing that takes two more node timeouts.
CONFIRM_SPACING_S = 1.0
STATUS_VERSION = 1


@dataclass(frozen=True)
class Config:
    policy: Policy
    lease: Lease
    audit: Audit
    hook: str | None = None


class Autopilot(Exporter):
    def __init__(
        self,
        seeds: Sequence[Seed],
        options: ConnectOptions,
        config: Config,
        *,
        interval: float,
        settings: AnalysisSettings | None = None,
        seeds_file: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(seeds, options, interval=interval, settings=settings, seeds_file=seeds_file, clock=clock)
        self.config = config
        self.policy = config.policy
        self.history = History()
        self.counts = Counts(dry_run=config.policy.dry_run)
        self.repairing = threading.Event()
        self._known: set[str] = set()  # root-cause keys of the last round: what is new is "detected"
        self._said: tuple[str, tuple[str, ...]] | None = None  # the last decision journaled
        self._status: dict[str, Any] = {}
        self._status_lock = threading.Lock()
        self._set_status(Decision("starting", ("first round under way",)), (), PlanView((), (), ()), clock())

    # The round

    def refresh(self) -> None:
        super().refresh()
        try:
            self.round(self.observed)
        except Exception as exc:  # a bug here must not stop the loop (nor the exporter's metrics)
            self.config.audit.record("error", reason=f"{type(exc).__name__}: {exc}")

    def round(self, observed: tuple[Snapshot, Report] | None) -> None:
        now = self.clock()
        keep = max(1, self.policy.confirm_rounds)
        if observed is None:  # no node answered: nothing is confirmed across this round
            self.history = self.history.after((), keep)
            nothing = Decision("blocked", ("no node answered this round",))
            self._journal(nothing, ())
            self._set_status(nothing, (), PlanView((), (), ()), now)
            return
        snapshot, report = observed
        if self.config.lease.token is not None:  # leading: renew the lease every round (it may have been lost)
            self.counts.leader = self.config.lease.acquire() is None
        ctx = ClusterView(snapshot, self.settings)
        found = causes(report, ctx)
        plan = HealPlan(()) if not found else session.plan_for(snapshot, self.options, Flags())
        view = plan_view(plan, report, ctx)
        self._detected(found, view)
        last = self.history.last_repair
        if view.actions:  # the lease's record knows the last repair of whichever autopilot made it
            shared = self.config.lease.last_repair()
            if shared is not None and (last is None or shared.at > last.at):
                last = shared
        decision = decide(History(self.history.rounds, last), found, view, now, self.policy)
        self.history = History(self.history.after([c.key for c in found], keep).rounds, last)
        for reason in decision.blocked:
            self.counts.blocked[reason] += 1
        if decision.state == "act":
            decision = self.act(decision, snapshot, plan, found, view)
        else:
            self._journal(decision, found)
        self._set_status(decision, found, view, self.clock())

    def _detected(self, found: Sequence[Cause], view: PlanView) -> None:
        new = [c for c in found if c.key not in self._known]
        self._known = {c.key for c in found}
        if not new:
            return
        fields = {"codes": [c.code for c in new], "findings": [_cause(c) for c in new]}
        self.config.audit.record("detected", **fields)
        self._hook("detected", new, view.actions, result="", reason="; ".join(c.title for c in new))

    def _journal(self, decision: Decision, found: Sequence[Cause]) -> None:
        """One line per change of decision (a cluster blocked for an hour is one line, not 720)."""
        said = (decision.state, decision.reasons)
        if said == self._said:
            return
        self._said = said
        event = {"healthy": "healthy", "wait": "confirming", "dry-run": "planned"}.get(decision.state, "blocked")
        fields: dict[str, Any] = {"state": decision.state, "reasons": list(decision.reasons)}
        if decision.blocked:
            fields["blocked"] = list(decision.blocked)
        if decision.actions:
            fields["codes"] = list(decision.codes)
            fields["steps"] = [a.describe for a in decision.actions]
        if decision.human:
            fields["needs_human"] = list(decision.human)
        if decision.state == "dry-run":
            fields["dry_run"] = True
        self.config.audit.record(event, **fields)

    def next_interval(self) -> float:
        with self._status_lock:
            confirming = self._status.get("state") == "wait"
        return min(self.interval, CONFIRM_SPACING_S) if confirming else self.interval

    # Acting

    def act(
        self, decision: Decision, snapshot: Snapshot, plan: HealPlan, found: Sequence[Cause], view: PlanView
    ) -> Decision:
        audit, lease = self.config.audit, self.config.lease
        held = lease.acquire()
        self.counts.leader = held is None
        if held is not None:
            self.counts.blocked[LEASE] += 1
            reasons = (f"not the leader: {held}",)
            blocked = Decision("blocked", reasons, (LEASE,), decision.actions, decision.keys, decision.codes)
            self._journal(blocked, found)
            return blocked
        steps = [a.describe for a in decision.actions]
        audit.record("planned", codes=list(decision.codes), keys=list(decision.keys), steps=steps, token=lease.token)
        self._said = None
        concerned = [c for c in found if c.key in decision.keys]
        pre = self._hook("pre-repair", concerned, decision.actions, result="", reason="; ".join(decision.reasons))
        if pre is not None and not pre[0]:
            self.counts.blocked[HOOK_VETO] += 1
            self._finish(Repair(self.clock(), decision.keys, "vetoed"), decision, concerned, pre[1], count=False)
            reasons = (f"the pre-repair hook vetoed: {pre[1]}",)
            return Decision("blocked", reasons, (HOOK_VETO,), decision.actions, decision.keys, decision.codes)
        self.repairing.set()
        result, detail = "ok", ""
        try:
            outcome = session.run(
                self.current_seeds(),
                self.options,
                Flags(),
                audit.journal,
                lambda line: audit.log("heal", line=line),
                first=(snapshot, plan),
                gate=self._gate,
                fence=lease.fence,
            )
            report = outcome.final_report
            detail = "healthy" if report is not None and report.healthy else "repaired; diagnose still finds more"
        except session.HealStopped as exc:
            result, detail = "stopped", str(exc)
        except Exception as exc:  # HealFailed, a node gone mid-way, a bug: the repair failed, the loop goes on
            result, detail = "failed", str(exc) or type(exc).__name__
        finally:
            self.repairing.clear()
        self._finish(Repair(self.clock(), decision.keys, result), decision, concerned, detail)
        # A repair starts a new history: the next one needs confirming from fresh rounds.
        self.history = History((), self.history.last_repair)
        state = "repaired" if result == "ok" else "failed"
        return Decision(state, (detail,), (), decision.actions, decision.keys, decision.codes, decision.human)

    def _finish(
        self, repair: Repair, decision: Decision, concerned: Sequence[Cause], detail: str, count: bool = True
    ) -> None:
        self.config.lease.record_repair(repair)
        self.history = History(self.history.rounds, repair)
        if count:
            for code in decision.codes:
                self.counts.actions[(code, repair.result)] += 1
            self.counts.last_action = repair.at
        event = {"ok": "applied", "vetoed": "vetoed"}.get(repair.result, "failed")
        self.config.audit.record(
            event, codes=list(decision.codes), keys=list(decision.keys), result=repair.result, detail=detail
        )
        if repair.result != "vetoed":
            self._hook("post-repair", concerned, decision.actions, result=repair.result, reason=detail)

    def _gate(self, phase: Phase, snapshot: Snapshot) -> str | None:
        """A later phase, planned by heal from the live cluster: the same allowed set, no risk."""
        report = analyze(snapshot, self.registry, settings=self.settings)
        return permitted(phase_view(phase, report, ClusterView(snapshot, self.settings)), self.policy)

    def _hook(
        self, event: str, concerned: Sequence[Cause], actions: Sequence[Any], *, result: str, reason: str
    ) -> tuple[bool, str] | None:
        if not self.config.hook:
            return None
        values = {
            "RCDOCTOR_CODES": ",".join(dict.fromkeys(c.code for c in concerned)),
            "RCDOCTOR_FINDINGS": "\n".join(f"{c.code} {c.title}" for c in concerned),
            "RCDOCTOR_NODES": ",".join(sorted({s for c in concerned for s in c.subjects})),
            "RCDOCTOR_PLAN": "\n".join(a.describe for a in actions),
            "RCDOCTOR_RESULT": result,
            "RCDOCTOR_REASON": reason,
            "RCDOCTOR_DRY_RUN": "1" if self.policy.dry_run else "0",
            "RCDOCTOR_LEASE": self.config.lease.spec,
            "RCDOCTOR_JOURNAL": str(self.config.audit.path),
        }
        outcome = run_hook(self.config.hook, event, values)
        self.config.audit.record("hook", hook_event=event, exit=outcome.code, output=outcome.detail)
        return outcome.ok, outcome.detail or f"exit {outcome.code}"

    # What the endpoints show

    def _set_status(self, decision: Decision, found: Sequence[Cause], view: PlanView, now: float) -> None:
        last = self.history.last_repair
        status = {
            "format": STATUS_FORMAT,
            "version": STATUS_VERSION,
            "updated": round(now, 3),
            "state": decision.state,
            "reasons": list(decision.reasons),
            "blocked": list(decision.blocked),
            "codes": list(decision.codes),
            "actions": [a.describe for a in decision.actions],
            "needs_human": list(decision.human),
            "findings": [_cause(c) for c in found],
            "confirm_rounds": self.policy.confirm_rounds,
            "rounds": [list(r) for r in self.history.rounds],
            "last_repair": asdict(last) if last is not None else None,
            "dry_run": self.policy.dry_run,
            "allow": sorted(self.policy.allow),
            "block_period_s": self.policy.block_period,
            "lease": self.config.lease.spec,
            "leader": self.counts.leader,
            "journal": str(self.config.audit.path),
        }
        with self._status_lock:
            self._status = status

    def status(self) -> dict[str, Any]:
        with self._status_lock:
            return {**self._status, "repairing": self.repairing.is_set()}

    def extra_metrics(self) -> bytes:
        return render(families(self.counts))

    def routes(self) -> dict[str, Any]:
        import json

        def status() -> tuple[int, str, bytes]:
            return 200, "application/json", json.dumps(self.status(), indent=1).encode() + b"\n"

        return {"/status": status}

    def health(self) -> tuple[bool, str]:
        ok, text = super().health()
        if not ok and self.repairing.is_set():  # a repair holds the loop for a while: not stuck
            return True, "repairing"
        return ok, text


def _cause(c: Cause) -> dict[str, Any]:
    return {
        "code": c.code,
        "title": c.title,
        "severity": c.severity,
        "basis": c.basis,
        "witnesses": c.witnesses,
        "nodes": list(c.subjects),
        "key": c.key,
    }
