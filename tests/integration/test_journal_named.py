"""diagnose names the journal of the rcdoctor run that left slots open, on real clusters (Redis 7.0 and
6.2): a real `reshard --apply` killed mid-batch, its journal in the default directory; the command the fix
gives closes the slots; slots opened by hand the way redis-cli does are said not to be rcdoctor's."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.helpers import cluster_nodes, wait_for

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.data import DataSet, fill, missing_or_wrong
from rcdoctor.lab.faults import FaultOp, apply

pytestmark = pytest.mark.integration


def _open_slots(lab: Lab, importing_only: bool = False) -> set[int]:
    found: set[int] = set()
    for node in lab.nodes:
        for fields in cluster_nodes(lab, node):
            if "myself" in fields[2]:
                found.update(
                    int(p[1:].split("-")[0])
                    for p in fields[8:]
                    if p.startswith("[") and (not importing_only or "-<-" in p)
                )
    return found


def _open_findings(seed: str, env: dict[str, str]) -> list[dict[str, Any]]:
    diagnosed = rcdoctor("diagnose", seed, "--format", "json", env=env)
    assert diagnosed.returncode in (1, 2), diagnosed.stderr
    return [f for f in json.loads(diagnosed.stdout)["findings"] if f["code"] == "S004"]


def _killed_reshard(lab: Lab, target: str, env: dict[str, str], journals: Path) -> Path:
    """A real reshard, frozen while a batch is open on the nodes and killed there (kill -9 leaves what a
    crash leaves: SIGTERM would let the batch finish)."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "rcdoctor", "reshard", lab.nodes[0].address, "--from", "all", "--to", target,
            "--slots", "3000", "--apply", "--batch-slots", "32", "--parallel", "2", "--max-keys-per-sec", "400",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )  # fmt: skip
    try:

        def batch_open() -> bool:
            found = sorted(journals.glob("reshard-*.jsonl"))
            lines = found[0].read_text().splitlines() if found else []
            return any('"closed"' in line for line in lines) and '"open"' in lines[-1]

        wait_for(batch_open, 60, "a batch open after a closed one")

        def frozen_mid_batch() -> bool:
            proc.send_signal(signal.SIGSTOP)
            time.sleep(0.1)  # commands it had already sent still land on the servers while it is stopped
            # An IMPORTING target: the batch is before its SETSLOT NODE, so what the kill leaves stays open.
            # Later, only the source's MIGRATING is left, which Valkey 8 clears by itself when
            # the target's claim reaches it by gossip: frozen there, the nodes showed nothing open after the
            # kill (a CI failure on Valkey 8.1).
            if _open_slots(lab, importing_only=True):
                return True
            proc.send_signal(signal.SIGCONT)
            return False

        wait_for(frozen_mid_batch, 60, "a batch open on the nodes")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (journal,) = journals.glob("reshard-*.jsonl")
    return journal


def test_a_killed_reshard_is_named_by_its_journal_and_the_fix_closes_it(
    make_lab: LabFactory, redis_binary: RedisBinary, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    data = DataSet(20_000)
    fill(lab.nodes[0].endpoint, lab.options, data)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    journals = tmp_path / "state" / "rcdoctor" / "journals"
    journal = _killed_reshard(lab, str(lab.nodes[2].node_id), env, journals)
    left = _open_slots(lab)
    assert left, journal.read_text()[-600:]

    opened = _open_findings(lab.nodes[0].address, env)
    assert opened, "no S004 for the slots the kill left open"
    for finding in opened:
        (origin,) = [e for e in finding["evidence"] if e.startswith("opened by rcdoctor reshard")]
        assert str(journal) in origin and "never ended" in origin, finding
        assert f"--resume --journal {journal}" in finding["fix"], finding["fix"]

    # The command the fix gives, as given (the dry run it names, then with --apply), closes them.
    command = re.search(r"`(rcdoctor rebalance [^`]*--resume --journal [^`]*)`", opened[0]["fix"])
    assert command is not None, opened[0]["fix"]
    args = shlex.split(command.group(1))[1:]
    dry = rcdoctor(*args, "--format", "json", env=env)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert {c["slot"] for c in json.loads(dry.stdout)["resume"]["closings"]} >= left
    done = rcdoctor(*args, "--apply", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert _open_slots(lab) == set()
    lab.wait_cluster_ok()
    assert missing_or_wrong(lab.nodes[0].endpoint, lab.options, data) == []

    # Slots opened by hand, the way redis-cli --cluster reshard does: the closed journal is not blamed.
    apply(lab, FaultOp("half-migrate", params={"slot": 300, "keys": 2}))
    (by_hand,) = _open_findings(lab.nodes[0].address, env)
    (origin,) = [e for e in by_hand["evidence"] if e.startswith("no unfinished rcdoctor journal")]
    assert "redis-cli" in origin and str(journals) in origin, origin
    assert "--journal" not in by_hand["fix"] and "rcdoctor heal" in by_hand["fix"]


def test_servers_without_atomic_migration_are_not_asked(make_lab: LabFactory, redis_binary: RedisBinary) -> None:
    """Redis 6.2 and 7.0 have neither CLUSTER GETSLOTMIGRATIONS nor CLUSTER MIGRATION: the collector, which
    knows the version from INFO, does not ask, so snapshots carry no 'unknown subcommand' for them."""
    from rcdoctor.collect import collect

    lab = make_lab(redis_binary, primaries=3, replicas=0)
    snapshot = collect(lab.addresses, lab.options)
    for node in snapshot.answered:
        asked = set(node.replies) | set(node.reply_errors)
        assert not {k for k in asked if "MIGRATION" in k}, asked
        assert node.slot_migrations.value == ()
