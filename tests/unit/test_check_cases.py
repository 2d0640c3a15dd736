"""Each check held to its row of tests/check_cases.py: it fires where its scenarios say, on the snapshots
recorded from them, and stays silent on its near misses and on every healthy cluster."""

from __future__ import annotations

import json

import pytest
from tests.check_cases import SILENT, fires_in
from tests.conftest import DATA

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import default_registry
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings

CODES = sorted(check.code for check in default_registry())
_reports: dict[str, Report] = {}


def report(path_name: str) -> Report:
    if path_name not in _reports:
        path = DATA / path_name
        domains_file = path.with_suffix(".domains")
        domains = json.loads(domains_file.read_text()) if domains_file.exists() else {}
        settings = AnalysisSettings(domains=domains)
        _reports[path_name] = analyze(Snapshot.load(path), default_registry(), settings=settings)
    return _reports[path_name]


def recorded(scenario: str, server: str = "") -> list[str]:
    return sorted(p.name for p in DATA.glob(f"scenario-{scenario}-{server or '*'}.json"))


def above_info(code: str, path_name: str) -> list[str]:
    return [f.title for f in report(path_name).findings if f.code == code and f.severity != "info"]


def test_every_check_has_its_row_and_no_row_names_nothing() -> None:
    assert sorted(SILENT) == CODES


@pytest.mark.parametrize("code", CODES)
def test_the_check_fires_on_the_recordings_of_its_scenarios(code: str) -> None:
    scenarios = fires_in(code)
    assert scenarios, f"{code} has no lab scenario that must fire it (tests/scenarios.py EXPECTED)"
    for scenario, server in scenarios:
        for name in recorded(scenario, server):  # scenarios not recorded are asserted live only
            assert code in {f.code for f in report(name).findings}, f"{code} silent on {name}"


@pytest.mark.parametrize("code", CODES)
def test_the_check_stays_silent_on_its_near_misses_and_on_healthy_clusters(code: str) -> None:
    near = SILENT[code]
    cases = {scenario for scenario, _ in fires_in(code)}
    assert not set(near) & cases, f"{code}: a scenario cannot be both a case and a near miss"
    names = [n for scenario in near for n in recorded(scenario)]
    assert len(names) >= len(near), f"{code}: a near miss without a recorded snapshot: {near}"
    names += sorted(p.name for p in DATA.glob("healthy-*.json"))
    loud = {name: above_info(code, name) for name in names if above_info(code, name)}
    assert not loud, f"{code} fires above info on its near misses: {loud}"
