"""Every check fires in a lab scenario on a real cluster (Redis 7.0 and 6.2), and a healthy cluster has
nothing above info. The scenarios live in tests/scenarios.py (shared with the snapshot recorder)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from tests import scenarios
from tests.conftest import LabFactory, rcdoctor
from tests.scenarios import EXPECTED, REDIS7_ALSO, REDIS7_ONLY

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import default_registry
from rcdoctor.lab import RedisBinary


def run(name: str, make_lab: LabFactory, binary: RedisBinary) -> tuple[Report, scenarios.Outcome]:
    scenario: Callable[[LabFactory, RedisBinary], scenarios.Outcome] = getattr(scenarios, name)
    outcome = scenario(make_lab, binary)
    return analyze(outcome.snapshot, default_registry(), settings=outcome.settings), outcome


def describe(report: Report) -> str:
    return "\n".join(f"{f.id} {f.severity} root={f.root_cause} {f.title}" for f in report.findings)


def test_every_check_has_a_scenario() -> None:
    covered = {c for fired, _ in [*EXPECTED.values(), *REDIS7_ONLY.values()] for c in fired}
    covered |= {c for codes in REDIS7_ALSO.values() for c in codes}
    assert covered == set(default_registry().checks), set(default_registry().checks) - covered


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario(name: str, make_lab: LabFactory, redis_binary: RedisBinary) -> None:
    must_fire, must_be_root = EXPECTED[name]
    if redis_binary.version_tuple[0] >= 7:
        must_fire = must_fire | REDIS7_ALSO.get(name, set())
    report, _ = run(name, make_lab, redis_binary)
    fired = {f.code for f in report.findings}
    roots = {f.code for f in report.findings if f.root_cause}
    assert must_fire <= fired, f"missing {must_fire - fired}\n{describe(report)}"
    assert must_be_root <= roots, f"not root causes: {must_be_root - roots}\n{describe(report)}"
    assert not any(f.crashed for f in report.findings), describe(report)
    if name == "healthy":
        assert report.healthy and report.exit_code == 0, describe(report)
        assert all(f.severity == "info" for f in report.findings), describe(report)
    else:
        assert report.exit_code in (1, 2)


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(REDIS7_ONLY))
def test_redis7_only_scenario(name: str, make_lab: LabFactory, redis7: RedisBinary) -> None:
    must_fire, must_be_root = REDIS7_ONLY[name]
    report, _ = run(name, make_lab, redis7)
    assert must_fire <= {f.code for f in report.findings}, describe(report)
    assert must_be_root <= {f.code for f in report.findings if f.root_cause}, describe(report)


@pytest.mark.integration
def test_details_of_lost_nodes_conf(make_lab: LabFactory, redis7: RedisBinary) -> None:
    report, outcome = run("lost_nodes_conf", make_lab, redis7)
    lab = outcome.lab
    assert lab is not None
    victim = lab.nodes[0]
    m006 = next(f for f in report.findings if f.code == "M006")
    assert victim.address in m006.title and "lost its nodes.conf" in m006.title
    # names both the new id it answers with and the old id its peers list
    assert victim.node_id in {n.id for n in m006.nodes} and len(m006.nodes) == 2
    e003 = next(f for f in report.findings if f.code == "E003")
    assert e003.explained_by == m006.id and victim.address in e003.title


@pytest.mark.integration
def test_cli_diagnose_text_json_and_select(make_lab: LabFactory, redis_binary: RedisBinary) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    lab.wait_cluster_ok()
    text = rcdoctor("diagnose", lab.addresses[0])
    assert text.returncode == 1, text.stderr  # R001 warnings: no replicas
    assert "R001 primary-without-replica" in text.stdout and "fix:" in text.stdout
    out = rcdoctor("diagnose", lab.addresses[0], "--format", "json")
    data = json.loads(out.stdout)
    assert data["summary"]["worst"] == "warning" and data["summary"]["healthy"] is False
    assert {f["code"] for f in data["findings"]} >= {"R001"}
    only = rcdoctor("diagnose", lab.addresses[0], "--select", "config", "--format", "json")
    assert only.returncode == 0
    assert {f["code"][0] for f in json.loads(only.stdout)["findings"]} == {"C"}
    ignored = rcdoctor("diagnose", lab.addresses[0], "--ignore", "R001")
    assert ignored.returncode == 0, ignored.stdout


def test_cli_bad_input_is_one_line(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    bad = rcdoctor("diagnose", "--select", "nonsense", "--from", "x.json")
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and "nonsense" in bad.stderr
    garbage = base / "garbage.json"
    garbage.write_text("{not json")
    out = rcdoctor("diagnose", "--from", str(garbage))
    assert out.returncode == 3 and "not a snapshot" in out.stderr and "Traceback" not in out.stderr
    domains = base / "domains.json"
    domains.write_text("[1, 2]")
    out = rcdoctor("diagnose", "--from", str(garbage), "--domains", str(domains))
    assert out.returncode == 3 and "--domains" in out.stderr
    missing = rcdoctor("explain", "Z999")
    assert missing.returncode == 3 and "Z999" in missing.stderr
    listing = rcdoctor("explain")
    assert listing.returncode == 0 and "A003" in listing.stdout
    page = rcdoctor("explain", "stale-peer-address")
    assert page.returncode == 0 and "## Fix by hand" in page.stdout
