"""Run a split-brain rehearsal on a lab: clients on both sides, a real partition, failover, heal, read back.

1. settings are applied to every node (cluster-node-timeout, min-replicas-to-write/-max-lag,
   cluster-replica-validity-factor);
2. keys are chosen in the slots of the primary that will be cut off: client `a` (majority side) and
   client `b` (minority side, with that primary) each write unique keys and overwrite a few shared ones;
3. after a healthy second, the primary (or a minority group of primaries) and client b are partitioned
   from the rest, packets dropped; rcdoctor's own connections (from 127.0.0.1) still reach every node;
4. the partition is held for `hold_s` (longer than the node timeout: the majority fails over), then healed;
5. once every node agrees on the slot map again, the clients stop and every key is read back;
6. the checker reports lost acknowledged writes, the minority window, unavailability, conflicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcdoctor.lab.cluster import Lab, owner_in_view
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.faults import heal as heal_faults
from rcdoctor.model.slots import key_hash_slot
from rcdoctor.rehearsal.checker import RehearsalVerdict, check
from rcdoctor.rehearsal.client import Client, Plan, monotonic_clock
from rcdoctor.rehearsal.history import Op, Phases
from rcdoctor.transport.errors import TransportError
from rcdoctor.transport.redis_py import cluster_client


@dataclass(frozen=True)
class RehearsalSettings:
    node_timeout_ms: int = 2000
    min_replicas_to_write: int = 0
    min_replicas_max_lag: int = 10
    replica_validity_factor: int = 10

    def to_dict(self) -> dict[str, int]:
        return {
            "cluster-node-timeout": self.node_timeout_ms,
            "min-replicas-to-write": self.min_replicas_to_write,
            "min-replicas-max-lag": self.min_replicas_max_lag,
            "cluster-replica-validity-factor": self.replica_validity_factor,
        }


@dataclass
class RehearsalOutcome:
    settings: RehearsalSettings
    primaries: int
    isolated: list[str]  # addresses of the primaries cut off
    verdict: RehearsalVerdict
    ops: list[Op]
    final: dict[str, str | None]
    timeline: dict[str, float] = field(default_factory=dict)
    divergence: list[dict[str, Any]] = field(default_factory=list)  # split-brain diff while partitioned
    after_restore: RehearsalVerdict | None = None  # the checker again after restoring the minority-only keys

    def to_dict(self) -> dict[str, Any]:
        document = {
            "format": "rcdoctor.rehearsal",
            "version": 1,
            "settings": self.settings.to_dict(),
            "primaries": self.primaries,
            "isolated": self.isolated,
            "timeline": {k: round(v, 3) for k, v in self.timeline.items()},
            "result": self.verdict.to_dict(),
        }
        if self.divergence:
            document["divergence"] = self.divergence
        if self.after_restore is not None:
            document["after_restore"] = {
                "lost": len(self.after_restore.lost),
                "lost_writes": [op.to_dict() for op in self.after_restore.lost],
            }
        return document


def apply_settings(lab: Lab, settings: RehearsalSettings) -> None:
    for node in lab.nodes:
        with lab.client(node) as c:
            for key, value in settings.to_dict().items():
                c.config_set(key, value)


def tag_in(lab: Lab, primary_id: str) -> tuple[str, int]:
    """A hash tag whose slot the primary owns."""
    for index in range(100_000):
        tag = f"sb{index}"
        slot = key_hash_slot(tag)
        if lab.slot_owner(slot).node_id == primary_id:
            return tag, slot
    raise RuntimeError("no hash tag found in the primary's slots")


def rehearse(
    lab: Lab,
    settings: RehearsalSettings,
    hold_s: float | None = None,
    minority_primaries: int = 1,
    keys_per_client: int = 100_000,
    divergence_dir: Path | None = None,
    restore: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> RehearsalOutcome:
    """With `divergence_dir`, `split-brain diff` runs just before the heal (both sides still answer) and
    its files go there; with `restore` too, the minority-only keys are restored after the heal and the
    checker runs again."""
    apply_settings(lab, settings)
    roles = lab.live_roles()
    primaries = [n for n in lab.nodes if roles[n.name] == "primary"]
    cut = primaries[:minority_primaries]
    tag, slot = tag_in(lab, str(cut[0].node_id))
    ip_a, ip_b = lab.allocate_ip(), lab.allocate_ip()
    clock = monotonic_clock()
    addresses = [n.address for n in lab.nodes]
    shared = [f"{{{tag}}}:Key_A", f"{{{tag}}}:Key_B"]
    password = lab.password.reveal() if lab.password else None

    def client(name: str, ip: str) -> Client:
        plan = Plan(name, ip, [f"{{{tag}}}:{name}:{i}" for i in range(keys_per_client)], shared)
        return Client(plan, cut[0].address, addresses, slot, clock, password=password)

    a, b = client("a", ip_a), client("b", ip_b)
    timeline: dict[str, float] = {}
    saved: list[dict[str, Any]] = []
    hold = hold_s if hold_s is not None else max(3 * settings.node_timeout_ms / 1000 + 2, 5.0)
    a.start()
    b.start()
    try:
        time.sleep(1.0)
        log(f"partition: {', '.join(n.address for n in cut)} and client b ({ip_b}) cut off for {hold:g}s")
        timeline["partition_start"] = clock()
        apply(lab, FaultOp("partition", tuple(n.name for n in cut), {"with": [ip_b], "against": [ip_a]}))
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            if "failover_seen" not in timeline and failed_over(lab, cut, slot):
                timeline["failover_seen"] = clock()
            time.sleep(0.1)
        if divergence_dir is not None:
            saved = save_divergence(lab, divergence_dir)
            log(f"split-brain diff: {len(saved)} contested shard(s) saved before the heal")
        timeline["partition_end"] = clock()
        log("heal: full connectivity restored")
        heal_faults(lab)
        lab.wait_cluster_ok(timeout=60)
        lab.wait_views_clean(timeout=60)
        timeline["converged"] = clock()
        time.sleep(0.5)
    finally:
        a.stop()
        b.stop()
        heal_faults(lab)
    ops = sorted(a.ops + b.ops, key=lambda o: o.start)
    final = read_back(lab, {o.key for o in ops if o.kind == "write"})
    phases = Phases(
        timeline["partition_start"],
        timeline["partition_end"],
        timeline.get("failover_seen"),
        next((o.start for o in b.ops if o.start >= timeline["partition_start"] and o.outcome == "fail"), None),
    )
    verdict = check(ops, final, phases, minority="b")
    outcome = RehearsalOutcome(settings, len(primaries), [n.address for n in cut], verdict, ops, final, timeline)
    if divergence_dir is not None:
        outcome.divergence = saved
        if restore:
            restore_minority_only(lab, [Path(str(r["file"])) for r in saved if r["file"]])
            final_after = read_back(lab, set(final))
            outcome.after_restore = check(ops, final_after, phases, minority="b")
    return outcome


def save_divergence(lab: Lab, directory: Path) -> list[dict[str, Any]]:
    """`split-brain diff` as the CLI does it, from rcdoctor's own address (which no partition cuts)."""
    from rcdoctor.collect import collect
    from rcdoctor.splitbrain.diff import diff_all

    return [r.to_dict() for r in diff_all(collect(lab.addresses, lab.options), lab.options, directory)]


def restore_minority_only(lab: Lab, files: list[Path]) -> int:
    """`split-brain restore --apply` of each file, as the CLI does it (minority-only keys, no REPLACE)."""
    from rcdoctor.splitbrain import restore as restoring

    endpoints = [n.endpoint for n in lab.nodes]
    done = [restoring.run(restoring.prepare(path), endpoints, lab.options).done for path in files]
    return sum(len(d.restored) for d in done if d is not None)


def failed_over(lab: Lab, cut: list[Any], slot: int) -> bool:
    """Some majority-side node already gives the slot to another node than the cut-off primary."""
    ids = {n.node_id for n in cut}
    for node in lab.nodes:
        if node in cut:
            continue
        try:
            with lab.client(node, timeout=0.5) as c:
                owner = owner_in_view(c, slot)
        except (TransportError, OSError):
            continue
        return owner is not None and owner not in ids
    return False


def read_back(lab: Lab, keys: set[str]) -> dict[str, str | None]:
    cluster = cluster_client([n.endpoint for n in lab.nodes], lab.options, decode=True)
    try:
        ordered = sorted(keys)
        values: dict[str, str | None] = {}
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            pipe = cluster.pipeline()
            for key in chunk:
                pipe.get(key)
            values.update(zip(chunk, pipe.execute(), strict=True))
        return values
    finally:
        cluster.close()
