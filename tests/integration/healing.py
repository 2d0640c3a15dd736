"""Shared by the heal tests: a lab with a baseline, heal-then-verify, and the faults' set-ups."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LabFactory, rcdoctor
from tests.integration.helpers import cluster_nodes, node_timeouts, wait_for

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.data import DataSet, fill
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.state import LabNode

KEYS = 3000


def filled(make_lab: LabFactory, binary: RedisBinary, tmp_path: Path) -> tuple[Lab, dict[str, str]]:
    """A 3+3 lab with KEYS keys, and the environment that keeps rcdoctor's journals under tmp_path."""
    lab = make_lab(binary)
    fill(lab.nodes[0].endpoint, lab.options, DataSet(KEYS, 40, prefix="heal:"))
    return lab, {"XDG_STATE_HOME": str(tmp_path / "state")}


def prepared(make_lab: LabFactory, binary: RedisBinary, tmp_path: Path) -> tuple[Lab, Path, dict[str, str]]:
    """filled(), plus a baseline saved while the cluster is whole."""
    lab, env = filled(make_lab, binary, tmp_path)
    baseline = tmp_path / "baseline.json"
    saved = rcdoctor("verify", lab.nodes[0].address, "--save-baseline", str(baseline), env=env)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    return lab, baseline, env


def heal_and_verify(lab: Lab, baseline: Path, env: dict[str, str], *flags: str) -> dict[str, object]:
    dry = rcdoctor("heal", *lab.addresses, "--format", "json", *flags, env=env)
    assert dry.returncode == 2, dry.stdout + dry.stderr  # something to heal
    planned = json.loads(dry.stdout)
    assert planned["applied"] is False and planned["plan"]["phases"]
    run = rcdoctor("heal", *lab.addresses, "--apply", "--format", "json", *flags, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["healthy"] is True
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout
    again = rcdoctor("heal", *lab.addresses, env=env)
    assert again.returncode == 0 and "nothing to heal" in again.stdout, again.stdout
    return planned


def steps(planned: dict[str, object], phase: str) -> list[dict[str, object]]:
    phases = planned["plan"]["phases"]  # type: ignore[index]
    return [s for p in phases if p["name"] == phase for s in p["steps"]]  # type: ignore[union-attr]


def baseline_now(lab: Lab, tmp_path: Path) -> Path:
    from rcdoctor.verify.baseline import Baseline
    from rcdoctor.verify.run import digest_cluster

    path = tmp_path / "baseline-after-fault.json"
    Baseline.now(digest_cluster(lab.addresses, lab.options)).save(path)
    return path


def kill_a_primary_that_nothing_replaces(lab: Lab) -> tuple[LabNode, LabNode]:
    roles = lab.live_roles()
    primary = next(n for n in lab.nodes if roles[n.name] == "primary")
    (replica,) = apply(lab, FaultOp("no-failover", primary.name)).details["replicas"]
    apply(lab, FaultOp("kill", primary.name))
    return primary, lab.node(replica)


def lose_nodes_conf(lab: Lab, role: str, noaddr: bool = True, fault: str = "lose-nodes-conf") -> LabNode:
    """`fault` (lose-nodes-conf or lose-volume) on the first node with `role`; returns it (new id)."""
    roles = lab.live_roles()
    victim = next(n for n in lab.nodes if roles[n.name] == role)
    old_id = victim.node_id
    apply(lab, FaultOp(fault, victim.name))
    if not noaddr:  # the peers dial an old address where nothing answers: they never see the new id
        return victim
    # The peers drop the old id's address once the new id answers there (noaddr): the incident's shape.
    wait_for(
        lambda: all(
            "noaddr" in f[2] for n in lab.nodes if n is not victim for f in cluster_nodes(lab, n) if f[0] == old_id
        ),
        node_timeouts(lab, 6),
        "the peers to mark the old id noaddr",
    )
    return victim


def baseline_after(lab: Lab, tmp_path: Path) -> Path:
    """The truth after assign-twice: each slot's keys as its owner holds them (the fault may add keys on
    the owner); the stray copies on the other node are what heal removes."""
    from rcdoctor.collect import collect
    from rcdoctor.plan.topology import topology
    from rcdoctor.verify.baseline import Baseline
    from rcdoctor.verify.digest import SlotDigest, node_digest

    top = topology(collect(lab.addresses, lab.options))
    clean = SlotDigest()
    for primary in top.primaries:
        part = node_digest(primary.endpoint, lab.options)
        for slot in primary.slots:
            clean.counts[slot], clean.hashes[slot] = part.counts[slot], part.hashes[slot]
    path = tmp_path / "baseline-owners.json"
    Baseline.now(clean).save(path)
    return path
