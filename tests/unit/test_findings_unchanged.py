"""Every recorded snapshot gives the findings recorded in tests/golden/findings.json
(tests/golden/record_findings.py).

The analysis is rewritten for speed on big clusters (issue 17); this proves it still finds the same things
on every scenario recorded from a real cluster: codes, severities, titles, evidence, fixes, cause links and
the order of the report. Only the order of a finding's nodes is compared as a set: some checks list them
from a set of ids, whose order follows Python's string hashing.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent.parent / "data"
GOLDEN = Path(__file__).parent.parent / "golden"
_spec = importlib.util.spec_from_file_location("record_findings", GOLDEN / "record_findings.py")
assert _spec is not None and _spec.loader is not None
record_findings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record_findings)

RECORDED: dict[str, Any] = json.loads((GOLDEN / "findings.json").read_text())


def _normal(result: dict[str, Any]) -> dict[str, Any]:
    for finding in result["findings"]:
        finding["nodes"] = sorted(finding["nodes"], key=lambda n: (n.get("id") or "", n.get("address") or ""))
    return result


def test_every_recorded_snapshot_has_recorded_findings() -> None:
    assert sorted(RECORDED) == [p.name for p in record_findings.snapshots()]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_findings_unchanged(name: str) -> None:
    today = _normal(record_findings.findings(DATA / name))
    before = _normal(RECORDED[name])
    assert today["summary"] == before["summary"]
    assert today["not_seen"] == before["not_seen"]
    assert [f["id"] for f in today["findings"]] == [f["id"] for f in before["findings"]]
    for now, then in zip(today["findings"], before["findings"], strict=True):
        assert now == then, now["id"]
