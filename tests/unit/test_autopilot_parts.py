"""The autopilot's lease (a real file lock, two holders), its hook runner and its command-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import rcdoctor

from rcdoctor.autopilot.decide import Repair
from rcdoctor.autopilot.hooks import run_hook
from rcdoctor.autopilot.lease import FileLease, KubeLease, parse_lease
from rcdoctor.errors import UsageError


def test_one_file_lease_holder_at_a_time_with_a_fencing_token(tmp_path: Path) -> None:
    path = tmp_path / "cluster.lease"
    first, second = FileLease(path), FileLease(path)
    assert first.acquire() is None and first.token == 1
    held = second.acquire()
    assert held is not None and "held by" in held and second.token is None
    assert first.fence() is None and second.fence() is not None
    assert first.acquire() is None and first.token == 1  # renewing keeps the token
    first.record_repair(Repair(123.0, ("A003:aa",), "ok"))
    assert second.last_repair() == Repair(123.0, ("A003:aa",), "ok")  # the record is shared
    first.release()
    assert second.acquire() is None and second.token == 2  # a new holder raises the token
    assert first.fence() is not None


def test_a_replaced_lease_file_fences_its_old_holder(tmp_path: Path) -> None:
    path = tmp_path / "cluster.lease"
    holder = FileLease(path)
    assert holder.acquire() is None
    path.unlink()  # someone removed it; a new autopilot creates a fresh file and takes it
    other = FileLease(path)
    assert other.acquire() is None
    assert "replaced" in (holder.fence() or "")
    assert holder.acquire() is not None and holder.token is None  # and it stops leading


def test_lease_specs(tmp_path: Path) -> None:
    assert isinstance(parse_lease("file", tmp_path / "x"), FileLease)
    assert parse_lease(f"file:{tmp_path}/y", tmp_path / "x").spec == f"file:{tmp_path}/y"
    kube = parse_lease("k8s:gameserver-cache/rcdoctor-autopilot", tmp_path / "x", kube_context="prod")
    assert isinstance(kube, KubeLease) and kube.namespace == "gameserver-cache" and kube.context == "prod"
    for bad in ("k8s:", "k8s:ns", "k8s:ns/a/b", "nfs:x", "file:"):
        with pytest.raises(UsageError, match="--lease"):
            parse_lease(bad, tmp_path / "x")


def test_the_hook_gets_the_event_and_never_the_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REDISCLI_AUTH", "s3cret-password")
    out = tmp_path / "env"
    result = run_hook(f"env > {out}", "pre-repair", {"RCDOCTOR_CODES": "A003"})
    assert result.ok
    seen = out.read_text()
    assert "RCDOCTOR_EVENT=pre-repair" in seen and "RCDOCTOR_CODES=A003" in seen
    assert "s3cret-password" not in seen and "REDISCLI_AUTH" not in seen


def test_a_failing_hook_and_a_hung_one(tmp_path: Path) -> None:
    vetoed = run_hook("echo not now; exit 3", "pre-repair", {})
    assert vetoed.code == 3 and not vetoed.ok and vetoed.detail == "not now"
    marker = tmp_path / "child"
    hung = run_hook(f"(sleep 30; touch {marker}) & sleep 30", "pre-repair", {}, timeout=0.5)
    assert hung.code is None and "killed" in hung.detail
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--allow", "A003,ZZZ9"), "--allow: 'ZZZ9' is not a check code"),
        (("--lease", "nfs:/x"), "bad --lease 'nfs:/x'"),
        (("--listen", "nowhere"), "bad --listen"),
    ],
)
def test_bad_options_are_one_line_and_exit_3(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    done = rcdoctor("autopilot", "127.0.0.1:1", *args, env=env, timeout=30)
    assert done.returncode == 3, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_heal_command_shown_to_humans_has_no_password(tmp_path: Path) -> None:
    from rcdoctor.cli.autopilot import heal_command
    from rcdoctor.cli.common import Reach, target

    t = target(("redis://:hunter2@10.0.0.1:6379", "redis-main:6379"), Reach(timeout=1.0))
    command = heal_command(t, None)
    assert "hunter2" not in command and command.startswith("rcdoctor heal ") and command.endswith(" --apply")


def test_the_autopilot_metrics() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from rcdoctor.autopilot.metrics import Counts, families
    from rcdoctor.exporter.server import render

    counts = Counts(leader=True)
    counts.actions[("A003", "ok")] += 1
    counts.blocked["lease"] += 2
    counts.last_action = 1_800_000_000.0
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(render(families(counts)).decode())
        for s in family.samples
    }
    assert samples[("rcdoctor_autopilot_actions_total", (("code", "A003"), ("result", "ok")))] == 1
    assert samples[("rcdoctor_autopilot_blocked_total", (("reason", "lease"),))] == 2
    assert samples[("rcdoctor_autopilot_blocked_total", (("reason", "needs-human"),))] == 0  # every reason, from 0
    assert samples[("rcdoctor_autopilot_last_action_timestamp_seconds", ())] == 1_800_000_000.0
    assert samples[("rcdoctor_autopilot_leader", ())] == 1
