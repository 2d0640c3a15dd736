"""The chaos rehearsal end to end, as a user runs it: a few seeded rounds on each server version, on a
cluster redis-cli formed at server defaults. Every round must heal (or be refused with heal's reason)
and lose no key; the rounds are the generator's, so `--round I` replays them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import next_base_ip, rcdoctor

from rcdoctor.chaos.generator import draw, parse_kinds
from rcdoctor.lab import RedisBinary
from rcdoctor.lab.network import network_available

pytestmark = pytest.mark.integration

SEED = 20261202


def test_three_chaos_rounds_heal_and_lose_no_key(redis_binary: RedisBinary, tmp_path: Path) -> None:
    # TMPDIR: the rehearsal's labs go under tmp_path, where the leftover-process guard looks
    run = rcdoctor(
        "lab", "rehearse", "chaos", "--rounds", "3", "--seed", str(SEED), "--format", "json",
        "--redis-server", redis_binary.path, "--base-ip", next_base_ip(),
        env={"TMPDIR": str(tmp_path)}, timeout=1200,
    )  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    result = json.loads(run.stdout)
    assert result["seed"] == SEED and result["rounds"] == 3
    assert result["server"].endswith(redis_binary.version)
    failed = [r for r in result["per_round"] if not (r["healed"] or r["refused"]) or r["keys_lost"]]
    assert result["keys_lost"] == 0 and not failed, json.dumps(failed, indent=1)
    assert run.returncode == 0, run.stderr[-2000:]
    assert result["rounds_healed"] + result["rounds_refused"] == 3
    kinds = parse_kinds(None, network_available())
    for index, entry in enumerate(result["per_round"]):
        assert entry["faults"] == draw(SEED, index, 3, kinds, 2000).to_dict()["faults"]
        assert entry["writes_acknowledged"] > 0  # the writers wrote throughout
        for interrupted in entry["interrupted"]:
            assert not interrupted["traceback"] and interrupted["left_open"] == 0, interrupted


def test_chaos_refuses_an_unknown_fault_kind_in_one_line() -> None:
    run = rcdoctor("lab", "rehearse", "chaos", "--faults", "kill,explode")
    assert run.returncode == 3 and "unknown fault kind(s) explode" in run.stderr  # bad arguments: 3
    assert "Traceback" not in run.stderr
