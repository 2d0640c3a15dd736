"""Carrying out one phase's steps and stray-key returns, each journaled before and after.

Every step's precondition is read from the live node right before it acts (the plan may be seconds old,
and a node may have moved or come back since): one that says the step is done or moot skips it, and the
first step that fails stops the phase (StepFailed). A fencing check (`Fence`), when given, is asked last,
right before each change is sent. Slot closings are the migration engine's and are run by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rcdoctor.errors import EXIT_CRITICAL, DoctorError
from rcdoctor.execute import salvage, strays
from rcdoctor.execute.journal import Journal
from rcdoctor.execute.preconditions import check
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.command import brief
from rcdoctor.plan.heal import RISK_DISCARD, Phase, Step
from rcdoctor.plan.steps import Stray
from rcdoctor.transport.errors import ServerError, TransportError, classify
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.ports import meet_ip
from rcdoctor.transport.redis_py import node_client

# Asked right before each change is sent (a fencing check): None to go on, else why not (the step fails).
Fence = Callable[[], str | None]
Log = Callable[[str], None]


class StepFailed(DoctorError):
    """A step failed, or a fencing check refused it; the phase stopped there (the cluster is still
    unhealthy: exit 2, not 3)."""

    exit_code = EXIT_CRITICAL


@dataclass
class Carried:
    """What a phase's steps did: a line per step done, and per step its precondition skipped."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def run_phase(
    phase: Phase, options: ConnectOptions, journal: Journal, log: Log, keep: Path, fence: Fence | None = None
) -> Carried:
    """The phase's steps (all at once when the phase says so, else in order), then its stray-key
    returns. `keep`: where salvaged copies are written."""
    carried = Carried()
    if phase.parallel:
        _all_at_once(phase, options, journal, log, keep, fence, carried)
    else:
        for number, step in enumerate(phase.steps, 1):
            status, detail = journaled(step, phase.name, options, journal, keep, fence)
            _record(phase, number, step, status, detail, log, carried)
            if status == "failed":
                raise StepFailed(f"{step.describe()}: {detail}")
    for stray in phase.strays:
        _return_strays(stray, options, journal, log, fence, carried)
    return carried


def _all_at_once(
    phase: Phase, options: ConnectOptions, journal: Journal, log: Log, keep: Path, fence: Fence | None, carried: Carried
) -> None:
    # Its steps are sent at once: one fencing check right before the batch stands for each of them.
    refused = fence() if fence is not None else None
    if refused is not None:
        raise StepFailed(f"phase {phase.name}: {refused}")
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda s: attempt(s, options, keep), phase.steps))
    for number, (step, (status, detail)) in enumerate(zip(phase.steps, results, strict=True), 1):
        journal.write("step", phase=phase.name, step=step.describe(), status=status, detail=detail)
        _record(phase, number, step, status, detail, log, carried)
    failed = [d for s, d in results if s == "failed"]
    if failed:
        raise StepFailed(f"phase {phase.name}: {failed[0]}")


def _record(phase: Phase, number: int, step: Step, status: str, detail: str, log: Log, carried: Carried) -> None:
    log(f"  {status:<7} {number}/{len(phase.steps)} {step.describe()}{'  (' + detail + ')' if detail else ''}")
    if status != "failed":
        (carried.done if status == "ok" else carried.skipped).append(step.describe())


def journaled(
    step: Step, phase: str, options: ConnectOptions, journal: Journal, keep: Path, fence: Fence | None = None
) -> tuple[str, str]:
    """attempt(), written to the journal before (step-start) and after (step, with its outcome)."""
    journal.write("step-start", phase=phase, step=step.describe())
    status, detail = attempt(step, options, keep, fence)
    journal.write("step", phase=phase, step=step.describe(), status=status, detail=detail)
    return status, detail


def attempt(step: Step, options: ConnectOptions, keep: Path, fence: Fence | None = None) -> tuple[str, str]:
    """("ok" | "skipped" | "failed", detail). Skipped: the precondition says it is done or moot."""
    for expect in step.expect:
        verdict = check(expect, options)
        if verdict is not None:
            return verdict
    refused = fence() if fence is not None else None  # last, right before the change: nothing slower after it
    if refused is not None:
        return "failed", refused
    kept = ""
    if step.salvage is not None:
        try:
            saved = salvage.run(step.node, step.salvage, options, keep)
        except (DoctorError, OSError) as exc:  # salvage and transport errors are DoctorErrors
            return "failed", f"salvage before {brief(step.command)}: {exc}"
        if saved.conflicts and not step.salvage.allow_conflicts:
            return "failed", f"{saved.summary()}; dropping the copy's values needs {RISK_DISCARD}"
        kept = saved.summary()
    command = list(step.command)
    if step.resolves_name is not None:
        command[2] = meet_ip(step.resolves_name)  # as the plan says: MEET takes an IP only
    try:
        with node_client(parse_hostport(step.node), options, timeout=options.timeout_for("admin")) as c:
            c.execute_command(*command)
        return "ok", kept
    except ServerError as exc:
        if command[:2] == ["CLUSTER", "FORGET"] and "unknown node" in str(exc).lower():
            return "skipped", "already forgotten"
        return "failed", str(exc)
    except (TransportError, OSError) as exc:
        return "failed", classify(exc).message


def _return_strays(
    stray: Stray, options: ConnectOptions, journal: Journal, log: Log, fence: Fence | None, carried: Carried
) -> None:
    refused = fence() if fence is not None else None
    if refused is not None:
        raise StepFailed(f"slot {stray.slot}: {refused}")
    try:
        returned = strays.return_keys(
            stray, parse_hostport(stray.holder_address), parse_hostport(stray.owner_address), options
        )
    except (strays.StrayError, TransportError, OSError) as exc:
        journal.write("strays-failed", slot=stray.slot, holder=stray.holder, owner=stray.owner, reason=str(exc))
        raise StepFailed(f"slot {stray.slot}: returning its stray keys to {stray.owner[:8]}: {exc}") from None
    if returned.skipped:  # the next round plans the open slot's closing instead
        journal.write("strays-skipped", slot=stray.slot, holder=stray.holder, owner=stray.owner)
        log(f"  skipped {returned.skipped}")
        carried.skipped.append(returned.skipped)
        return
    line = (
        f"slot {stray.slot}: {returned.moved} stray key(s) moved from {stray.holder[:8]} to its owner "
        f"{stray.owner[:8]}, {returned.identical_dropped} identical copies dropped"
    )
    journal.write(
        "strays",
        slot=stray.slot,
        holder=stray.holder,
        owner=stray.owner,
        moved=returned.moved,
        identical=returned.identical_dropped,
        conflicts=len(returned.conflicts),
    )
    log(f"  ok      {line}")
    carried.done.append(line)
    if returned.conflicts:
        names = ", ".join(returned.conflicts[:5])
        raise StepFailed(
            f"slot {stray.slot}: {len(returned.conflicts)} key(s) exist on {stray.holder_address} and on the owner "
            f"{stray.owner_address} with different values ({names}): both kept; which is right is a human decision"
        )
