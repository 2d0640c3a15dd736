"""The shipped alert rules and dashboard: promtool checks and unit tests, the seed's alerts unchanged,
the PrometheusRule in sync, and every metric they use produced by the exporter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.exporter.metrics import CollectionStats, families
from rcdoctor.exporter.server import render
from rcdoctor.model.view import ClusterView

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rcdoctor-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "rules-test.yml"
MANIFEST = ROOT / "deploy" / "kubernetes" / "prometheusrule.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "rcdoctor-cluster.json"
DATA = ROOT / "tests" / "data"

# The seed runbook's three rules, as it wrote them.
SEED_RULES = {
    "RedisClusterDown": ("redis_up == 0", "1m", "critical"),
    "RedisClusterSlotsFail": ("redis_cluster_slots_fail > 0", "30s", "warning"),
    "RedisClusterStateNotOK": ("redis_cluster_state != 1", "30s", "critical"),
}
# Served at scrape time by the HTTP server (not from a snapshot): the process collector and the age.
SERVER_METRICS = re.compile(r"rcdoctor_exporter_process_\w+|rcdoctor_collection_age_seconds")
PROMQL_WORDS = {
    "sum", "min", "max", "count", "by", "without", "changes", "absent", "or", "and", "unless", "time", "rate",
    "first", "value", "query", "with", "end", "on", "ignoring", "max_over_time",
}  # fmt: skip


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (scripts/test.sh does)")
    return path


def rules() -> list[dict[str, object]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_ranges = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_ranges)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {n for n in names if n not in PROMQL_WORDS and "_" in n}


def exported_names() -> set[str]:
    names: set[str] = set()
    for path in sorted(DATA.glob("*.json")):
        from rcdoctor.model.snapshot import Snapshot

        snapshot = Snapshot.load(path)
        report = analyze(snapshot, default_registry())
        text = render(families(report, ClusterView(snapshot), CollectionStats(last_success_unix=1.0))).decode()
        names |= {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    return names


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_seed_rules_are_shipped_unchanged() -> None:
    by_name = {r["alert"]: r for r in rules()}
    for name, (expr, duration, severity) in SEED_RULES.items():
        rule = by_name[name]
        assert (rule["expr"], rule["for"], rule["labels"]["severity"]) == (expr, duration, severity)  # type: ignore[index]


def test_every_alert_names_a_runbook() -> None:
    codes = {c.code for c in default_registry()}
    for rule in rules():
        runbook = rule["annotations"]["runbook"]  # type: ignore[index]
        assert "rcdoctor explain" in runbook or "healthz" in runbook, rule["alert"]
        for code in re.findall(r"explain ([A-Z]\d{3})", runbook):
            assert code in codes, (rule["alert"], code)


def test_every_metric_in_rules_and_dashboard_is_exported() -> None:
    exported = exported_names()
    used: dict[str, set[str]] = {}
    for rule in rules():
        used[str(rule["alert"])] = metric_names(str(rule["expr"]))
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used[f"panel {panel['title']}"] = used.get(f"panel {panel['title']}", set()) | metric_names(target["expr"])
    assert any(names for names in used.values())
    for where, names in used.items():
        missing = {n for n in names if n not in exported and not SERVER_METRICS.fullmatch(n)}
        assert not missing, f"{where}: {missing} not produced by the exporter"


def test_the_seed_rule_metrics_come_from_the_exporter() -> None:
    exported = exported_names()
    for expr, _, _ in SEED_RULES.values():
        assert metric_names(expr) <= exported


def test_prometheusrule_manifest_is_generated_from_the_rules() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_prometheusrule
    finally:
        sys.path.pop(0)
    expected = gen_prometheusrule.manifest(yaml.safe_load(RULES.read_text()))
    assert MANIFEST.read_text() == expected, "run python scripts/gen_prometheusrule.py"
    document = yaml.safe_load(MANIFEST.read_text())
    assert document["kind"] == "PrometheusRule" and document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] and dashboard["title"]
    assert all(t["expr"] for p in dashboard["panels"] for t in p["targets"])
