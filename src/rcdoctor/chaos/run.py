"""The chaos rehearsal, run: rounds of drawn faults on a real lab built as users build theirs.

Each round, on a cluster that `redis-cli --cluster create` formed at server defaults with a data set
written first:
1. one writer per shard writes its own keys throughout (acknowledged only when a replica has them);
2. the round's faults are applied; kill/pause/partition last `hold_s`, then the infrastructure undoes
   them (the pod restarts, the node wakes, the network heals), as Kubernetes would; what they left behind
   (failovers, new ids, open slots, moved pods) stays for rcdoctor;
3. diagnose names the root causes; `rcdoctor heal --apply` runs with only the risk flags its own plan
   asks for (the first run may be interrupted by SIGTERM/SIGINT, as the round says); `rcdoctor verify`
   must pass;
4. keys lost: baseline keys missing or changed, plus acknowledged writes that did not survive. A round
   that needed a flag naming a data risk counts what it lost apart (`keys_lost_accepted`).

A round heal would not repair without a human's word (it asked for `--forget ID`, or said why not) is
refused, not failed: that is the doctor declining to guess. After a refused or failed round the lab is
replaced by a fresh one, so the next round starts healthy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcdoctor.analyze import analyze
from rcdoctor.chaos.generator import ON_NODES, Fault, RoundPlan, Shape, draw, resolve
from rcdoctor.chaos.writer import AckedWriter
from rcdoctor.checks import default_registry
from rcdoctor.collect import collect
from rcdoctor.errors import DoctorError, LabError
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.data import DataSet, fill, missing_or_wrong
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.slots import key_hash_slot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.steps import RISK_DISCARD, RISK_FORCE, RISK_TAKEOVER
from rcdoctor.rehearsal.checker import check
from rcdoctor.rehearsal.client import Plan, monotonic_clock
from rcdoctor.rehearsal.history import OK, UNKNOWN, Op, Phases
from rcdoctor.transport.errors import TransportError, as_client_says
from rcdoctor.transport.redis_py import app_cluster_client

# Flags heal's plan may ask for that a rehearsal can give on the plan's word. --forget ID is not one: it
# is the operator's proof that a node is gone, which the rehearsal must not invent.
ASKABLE = (RISK_FORCE, RISK_TAKEOVER, RISK_DISCARD, "--forget-down", "--fix-announce-config", "--rebuild-from-keys")
DATA_RISK = frozenset({RISK_FORCE, RISK_TAKEOVER, RISK_DISCARD, "--rebuild-from-keys"})
COMMAND_TIMEOUT_S = 400
WRITER_PACE_S = 0.02


@dataclass(frozen=True)
class ChaosSettings:
    seed: int
    rounds: int
    kinds: tuple[str, ...]
    only_round: int | None = None
    primaries: int = 3
    replicas: int = 1
    keys: int = 2000
    node_timeout_ms: int = 2000
    base_ip: str = "127.230.0.11"
    redis_server: str | None = None


@dataclass
class RoundResult:
    plan: RoundPlan
    applied: list[dict[str, Any]] = field(default_factory=list)
    root_causes: list[str] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)  # each root cause's code, severity and title
    flags_asked: list[str] = field(default_factory=list)
    interrupted: list[dict[str, Any]] = field(default_factory=list)
    healed: bool = False
    refused: bool = False
    why: list[str] = field(default_factory=list)  # refused or failed: heal's own lines, or the error
    keys_lost: int = 0
    keys_lost_accepted: int = 0
    keys_unread: int = 0  # the cluster could not be read at the end: not proven lost, not proven kept
    writes_acknowledged: int = 0
    seconds: float = 0.0
    time_to_healthy_s: float | None = None

    def problems(self) -> list[str]:
        """Why the round failed (empty: it did not). Heal must heal or refuse saying why, nothing may be
        lost outside a risk flag, and every interrupted run must exit cleanly: no traceback, and a
        signalled reshard exits 130/143 with no slot left open by it."""
        found = []
        if not (self.healed or self.refused):
            found.append("not healed: " + (self.why[0] if self.why else "no reason given"))
        if self.keys_lost:
            found.append(f"{self.keys_lost} keys lost")
        if self.keys_unread and not self.refused:
            found.append(f"{self.keys_unread} keys could not be read back")
        for run in self.interrupted:
            if run["traceback"]:
                found.append(f"{run['command']} printed a traceback")
            if run["command"] == "rcdoctor reshard" and run["signal"] is not None:
                # -2/-15: the signal came after the run had finished its work and dropped its handlers;
                # the default action ended it (a shell reports 130/143), nothing was left undone.
                if run["exit"] not in (130, 143, -signal.SIGINT, -signal.SIGTERM):
                    found.append(f"interrupted reshard exited {run['exit']}: {run['last_line']}")
                if run["left_open"]:
                    found.append(f"interrupted reshard left {run['left_open']} slot(s) open")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.plan.index,
            "faults": [f.to_dict() for f in self.plan.faults],
            "hold_s": self.plan.hold_s,
            "applied": self.applied,
            "root_causes": self.root_causes,
            "diagnosis": self.diagnosis,
            "flags_asked": self.flags_asked,
            "interrupted": self.interrupted,
            "healed": self.healed,
            "refused": self.refused,
            "why": self.why,
            "problems": self.problems(),
            "keys_lost": self.keys_lost,
            "keys_lost_accepted": self.keys_lost_accepted,
            "keys_unread": self.keys_unread,
            "writes_acknowledged": self.writes_acknowledged,
            "seconds": round(self.seconds, 2),
            "time_to_healthy_s": None if self.time_to_healthy_s is None else round(self.time_to_healthy_s, 2),
        }


@dataclass
class ChaosOutcome:
    settings: ChaosSettings
    version: str
    results: list[RoundResult]

    @property
    def keys_lost(self) -> int:
        return sum(r.keys_lost for r in self.results)

    @property
    def failed(self) -> list[RoundResult]:
        return [r for r in self.results if not r.ok]

    def replay(self, result: RoundResult) -> str:
        s = self.settings
        parts = ["rcdoctor lab rehearse chaos", f"--seed {s.seed}", f"--round {result.plan.index}"]
        parts.append(f"--faults {','.join(s.kinds)}")
        if s.redis_server:
            parts.append(f"--redis-server {s.redis_server}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.settings.seed,
            "rounds": len(self.results),
            "server": self.version,
            "faults": list(self.settings.kinds),
            "keys_lost": self.keys_lost,
            "keys_lost_accepted": sum(r.keys_lost_accepted for r in self.results),
            "rounds_healed": sum(r.healed for r in self.results),
            "rounds_refused": sum(r.refused for r in self.results),
            "rounds_failed": len(self.failed),
            "replay": [self.replay(r) for r in self.failed],
            "per_round": [r.to_dict() for r in self.results],
        }


class Rehearsal:
    """The lab, its data set and a place for rcdoctor's journals; replaced after a round it could not heal."""

    def __init__(self, settings: ChaosSettings, log: Callable[[str], None]) -> None:
        self.settings = settings
        self.log = log
        self.root = Path(tempfile.mkdtemp(prefix="rcdoctor-chaos-"))
        self.env = {**os.environ, "XDG_STATE_HOME": str(self.root / "state")}
        self.data = DataSet(settings.keys, 40, prefix="chaos:")
        self.labs = 0
        self.lab: Lab | None = None

    def close(self) -> None:
        if self.lab is not None:
            self.lab.down()
            self.lab = None
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh_lab(self) -> Lab:
        """Empty nodes at server defaults, joined by redis-cli --cluster create, the data set written."""
        if self.lab is not None:
            self.lab.down()
            self.lab = None
        redis_cli = shutil.which("redis-cli")
        if redis_cli is None:
            raise LabError("redis-cli is missing: the rehearsal forms its clusters as users do (Debian's redis-tools)")
        s = self.settings
        self.labs += 1
        spec = LabSpec(s.primaries, s.replicas, base_ip=s.base_ip, node_timeout_ms=s.node_timeout_ms, form=False)
        lab = Lab.up(spec, name="chaos", directory=self.root / f"lab{self.labs}", redis_server=s.redis_server)
        self.lab = lab
        created = subprocess.run(
            [redis_cli, "--cluster", "create", *lab.addresses, "--cluster-replicas", str(s.replicas), "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if created.returncode != 0:
            raise LabError(f"redis-cli --cluster create failed: {created.stdout[-300:]}{created.stderr[-300:]}")
        lab.wait_cluster_ok()
        fill(lab.nodes[0].endpoint, lab.options, self.data)
        lab.wait_cluster_ok()
        return lab

    # One round

    def run_round(self, plan: RoundPlan) -> RoundResult:
        lab = self.lab if self.lab is not None else self.fresh_lab()
        result = RoundResult(plan)
        started = time.monotonic()
        shape, slots = shape_of(lab)
        writers = self._writers(lab, shape, slots, plan.index)
        for writer in writers:
            writer.start()
        try:
            fault_end = self._apply(lab, plan, shape, slots, result)
            result.root_causes = self._diagnose(lab, result)
            self._heal(lab, plan, result)
            if result.healed:
                result.time_to_healthy_s = time.monotonic() - fault_end
        except (DoctorError, OSError, subprocess.SubprocessError, ValueError) as exc:  # TransportError is a DoctorError
            result.why.append(as_client_says(exc))
        finally:
            for writer in writers:
                writer.stop()
        self._count_losses(lab, writers, result)
        result.seconds = time.monotonic() - started
        if not result.healed or result.keys_lost or result.keys_lost_accepted:
            self.fresh_lab()  # the next round starts from a whole cluster and an intact data set
        return result

    def _writers(self, lab: Lab, shape: Shape, slots: dict[str, list[int]], index: int) -> list[AckedWriter]:
        clock = monotonic_clock()
        writers = []
        for number, (primary, _) in enumerate(shape.shards):
            owned = set(slots[primary])
            tag = next(t for t in (f"w{i}" for i in range(100_000)) if key_hash_slot(t) in owned)
            keys = [f"chaos-w:{{{tag}}}:r{index}:{i}" for i in range(100_000)]
            plan = Plan(f"s{number}", "127.0.0.1", keys, ())
            node = lab.node(primary)
            writers.append(
                AckedWriter(plan, node.address, lab.addresses, key_hash_slot(tag), clock, pace=WRITER_PACE_S)
            )
        return writers

    def _apply(
        self, lab: Lab, plan: RoundPlan, shape: Shape, slots: dict[str, list[int]], result: RoundResult
    ) -> float:
        """Apply the round's faults; returns when the last of them ended (monotonic)."""
        undo_later: list[FaultOp] = []
        # Runs and slot faults first: a reshard refuses to start on a cluster already broken, and a
        # half-migration needs its slot's owner answering.
        for fault in sorted(plan.faults, key=lambda f: f.kind in ON_NODES):
            if fault.kind == "interrupt-heal":
                continue  # at heal time
            if fault.kind == "interrupt-reshard":
                result.interrupted.append(self._interrupt_reshard(lab, fault, shape))
                continue
            op = self._op(fault, shape, slots)
            if fault.kind == "lose-volume" and set(op.targets) & set(slots):
                if not any(replicas for primary, replicas in shape.shards if primary in op.targets):
                    # Earlier rounds left this shard without a replica (replica migration): its only copy
                    # would go with the volume, a loss by construction, not a test of the doctor.
                    result.applied.append({"op": op.to_dict(), "skipped": "the shard has no replica"})
                    continue
                self._gone_until_replaced(lab, op, result)
            outcome = apply(lab, op, record=False)
            result.applied.append({"op": op.to_dict(), "nodes": list(outcome.nodes)})
            if fault.kind in ("kill", "pause", "partition") and outcome.undo is not None:
                undo_later.append(outcome.undo)
        if undo_later:
            time.sleep(plan.hold_s)
            for undo in reversed(undo_later):
                apply(lab, undo, record=False)
                result.applied.append({"op": undo.to_dict(), "undo": True})
        ended = time.monotonic()
        # The operator arrives after the alert: two node timeouts let the cluster do what it does by itself
        # (failure reports, a failover, a node back from a partition rejoining), so the round judges the
        # doctor on what is left, not on a state that would clear in the next second.
        time.sleep(1.0 + 2 * self.settings.node_timeout_ms / 1000)
        return ended

    def _gone_until_replaced(self, lab: Lab, op: FaultOp, result: RoundResult) -> None:
        """A primary's volume is lost with its pod: the pod is gone while it is rescheduled, and its replica
        takes over before it is back. Restarted at once, an empty primary at the old address would be the
        replica's primary still: the replica would full-sync from it and empty itself, which Redis does,
        not the doctor (and which a rehearsal that loses data by construction would only repeat)."""
        apply(lab, FaultOp("stop", op.targets), record=False)
        result.applied.append({"op": FaultOp("stop", op.targets).to_dict(), "why": "pod gone until replaced"})
        deadline = time.monotonic() + 10 + 10 * self.settings.node_timeout_ms / 1000
        while time.monotonic() < deadline:
            with contextlib.suppress(DoctorError, OSError):
                if not set(op.targets) & set(shape_of(lab)[1]):
                    return
            time.sleep(0.2)

    def _op(self, fault: Fault, shape: Shape, slots: dict[str, list[int]]) -> FaultOp:
        if fault.kind == "half-migrate":
            source = shape.shards[(fault.shard or 0) % len(shape.shards)][0]
            target = shape.shards[int(fault.params["to_shard"]) % len(shape.shards)][0]
            owned = slots[source]
            slot = owned[int(float(fault.params["pick"]) * len(owned)) % len(owned)]
            return FaultOp("half-migrate", (), {"slot": slot, "to": target, "keys": int(fault.params["keys"])})
        return FaultOp(fault.kind, resolve(fault, shape))

    def _interrupt_reshard(self, lab: Lab, fault: Fault, shape: Shape) -> dict[str, Any]:
        source = lab.node(shape.shards[(fault.shard or 0) % len(shape.shards)][0])
        target = lab.node(shape.shards[int(fault.params["to_shard"]) % len(shape.shards)][0])
        command = ["reshard", *lab.addresses, "--from", source.address, "--to", target.address]
        command += ["--slots", str(fault.params["slots"]), "--apply"]
        return self._interrupted(command, str(fault.params["signal"]), float(fault.params["after_s"]))

    def _interrupted(self, args: Sequence[str], sig: str, after_s: float) -> dict[str, Any]:
        """Run rcdoctor, signal it after `after_s`, and report its exit code and last words."""
        process = subprocess.Popen(
            [sys.executable, "-m", "rcdoctor", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        began = time.monotonic()
        time.sleep(after_s)
        signalled = process.poll() is None
        if signalled:
            process.send_signal(signal.SIGTERM if sig == "TERM" else signal.SIGINT)
        try:
            out, err = process.communicate(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        return {
            "command": f"rcdoctor {args[0]}",
            "signal": sig if signalled else None,
            "after_s": after_s,
            "exit": process.returncode,
            "ran_s": round(time.monotonic() - began, 2),
            "traceback": "Traceback" in err,
            "last_line": (err.strip().splitlines() or out.strip().splitlines() or [""])[-1][-200:],
            # What the interrupted run left open: it must close what it opened before it exits
            "left_open": self._open_slots(),
        }

    def _open_slots(self) -> int:
        assert self.lab is not None
        return len(ClusterView(collect(self.lab.addresses, self.lab.options)).open_slots)

    def _diagnose(self, lab: Lab, result: RoundResult) -> list[str]:
        report = analyze(collect(lab.addresses, lab.options), default_registry())
        roots = [f for f in report.root_causes if f.severity != "info"]
        result.diagnosis = [f"{f.code} [{f.severity}] {f.title}" for f in roots]
        return sorted({f.code for f in roots})

    def _rcdoctor(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rcdoctor", *args],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            env=self.env,
            check=False,
        )

    def _heal(self, lab: Lab, plan: RoundPlan, result: RoundResult) -> None:
        interrupt = next((f for f in plan.faults if f.kind == "interrupt-heal"), None)
        if interrupt is not None:
            record = self._interrupted(
                ["heal", *lab.addresses, "--apply"], str(interrupt.params["signal"]), float(interrupt.params["after_s"])
            )
            result.interrupted.append(record)
        flags: list[str] = []
        settled_again = False
        for _ in range(len(ASKABLE) + 2):
            run = self._rcdoctor("heal", *lab.addresses, "--apply", "--format", "json", *flags)
            data = _json(run.stdout)
            blocked = [str(b) for b in data.get("blocked", data.get("plan", {}).get("blocked", []))]
            if run.returncode == 0 or (run.returncode == 1 and not blocked):
                break
            asked = [f for f in ASKABLE if any(f in line for line in blocked) and f not in flags]
            if not asked and not blocked and not settled_again and "rounds" not in data:
                # Nothing planned yet not healthy: what is left may be passing (a node that just came
                # back still sees itself failing). An operator looks again a moment later; so does this.
                settled_again = True
                time.sleep(2 * self.settings.node_timeout_ms / 1000)
                continue
            if not asked:
                result.refused = bool(blocked) or bool(data.get("remaining"))
                result.why = blocked or [str(r) for r in data.get("remaining", [])] or [run.stderr.strip()[-300:]]
                break
            flags += asked
        result.flags_asked = flags
        if result.why:
            return
        verified = self._rcdoctor("verify", *lab.addresses)
        result.healed = verified.returncode == 0
        if not result.healed:
            result.why = [line for line in verified.stdout.splitlines() if line.startswith("FAIL")] or [
                verified.stdout.strip()[-300:]
            ]

    def _count_losses(self, lab: Lab, writers: list[AckedWriter], result: RoundResult) -> None:
        ops: list[Op] = [op for w in writers for op in w.ops]
        result.writes_acknowledged = sum(op.outcome == OK for op in ops)
        lost = None
        for attempt in range(3):
            try:
                lost = len(missing_or_wrong(lab.nodes[0].endpoint, lab.options, self.data)) + len(
                    check(ops, _final(lab, ops), Phases(0.0, 0.0)).lost
                )
                break
            except (DoctorError, OSError, RuntimeError) as exc:  # RuntimeError: slots uncovered
                if attempt == 2:
                    # The keys cannot be read (the cluster is down): neither lost nor kept, unproven.
                    result.why.append(f"keys not read back: {exc}")
                    result.keys_unread = self.data.count + result.writes_acknowledged
                    return
                time.sleep(2 * self.settings.node_timeout_ms / 1000)
        assert lost is not None
        if set(result.flags_asked) & DATA_RISK:
            result.keys_lost_accepted = lost
        else:
            result.keys_lost = lost


def shape_of(lab: Lab) -> tuple[Shape, dict[str, list[int]]]:
    """Shards (by their first slot) with the lab names of their primary and replicas, and each primary's
    slots, as the first answering node says."""
    text = ""
    for node in lab.nodes:
        with contextlib.suppress(TransportError, OSError), lab.client(node, timeout=1.0) as c:
            text = str(c.execute_command("CLUSTER", "NODES"))
            break
    if not text:
        raise LabError("no lab node answers CLUSTER NODES")
    names = {n.node_id: n.name for n in lab.nodes}
    primaries: dict[str, list[int]] = {}
    replicas: dict[str, list[str]] = {}
    for entry in parse_cluster_nodes(text).value:
        if entry.id not in names:
            continue
        if entry.is_primary:
            owned = [slot for r in entry.slots for slot in range(r.start, r.end + 1)]
            if owned:
                primaries[entry.id] = owned
        elif entry.primary_id:
            replicas.setdefault(entry.primary_id, []).append(names[entry.id])
    order = sorted(primaries, key=lambda i: primaries[i][0])
    shards = tuple((names[i], tuple(sorted(replicas.get(i, [])))) for i in order)
    return Shape(shards), {names[i]: primaries[i] for i in order}


def _final(lab: Lab, ops: list[Op]) -> dict[str, str | None]:
    """The value of every key a writer tried to write, read through a cluster client."""
    keys = sorted({op.key for op in ops if op.outcome in (OK, UNKNOWN)})
    if not keys:
        return {}

    node = lab.nodes[0]
    client = app_cluster_client([(node.ip, node.port)], decode=True)
    try:
        values: dict[str, str | None] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            pipe = client.pipeline()
            for key in part:
                pipe.get(key)
            values.update(zip(part, pipe.execute(), strict=True))
        return values
    finally:
        client.close()


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def rehearse(settings: ChaosSettings, log: Callable[[str], None]) -> ChaosOutcome:
    rehearsal = Rehearsal(settings, log)
    results: list[RoundResult] = []
    try:
        lab = rehearsal.fresh_lab()
        version = str(lab.identity)  # "Redis 7.0.15", "Valkey 8.1.8"
        indexes = [settings.only_round] if settings.only_round is not None else list(range(settings.rounds))
        for index in indexes:
            plan = draw(settings.seed, index, settings.primaries, settings.kinds, settings.node_timeout_ms)
            log(f"round {index}: {describe(plan)}")
            result = rehearsal.run_round(plan)
            results.append(result)
            log(f"  {verdict(result)}")
    finally:
        rehearsal.close()
    return ChaosOutcome(settings, version, results)


def describe(plan: RoundPlan) -> str:
    parts = []
    for f in plan.faults:
        where = f.scope or (
            f"{f.role} of shard {f.shard}" if f.role else (f"shard {f.shard}" if f.shard is not None else "")
        )
        extra = f" ({f.params['signal']})" if "signal" in f.params else ""
        parts.append(f"{f.kind}{extra}{' ' + where if where else ''}")
    return " + ".join(parts)


def verdict(result: RoundResult) -> str:
    state = "healed" if result.healed else "refused" if result.refused else "FAILED"
    if not result.ok and state != "FAILED":
        state += " but FAILED"
    roots = ",".join(result.root_causes) or "none"
    flags = " ".join(result.flags_asked) or "no flag"
    lost = f"{result.keys_lost} keys lost" + (
        f" ({result.keys_lost_accepted} under a risk flag)" if result.keys_lost_accepted else ""
    )
    problems = result.problems()
    why = f": {'; '.join(problems)}" if problems else (f": {result.why[0]}" if result.refused and result.why else "")
    return f"{state} in {result.seconds:.1f}s; root causes {roots}; {flags}; {lost}{why}"
