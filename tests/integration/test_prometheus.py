"""A real Prometheus (Debian's package) scrapes `rcdoctor exporter` of a lab cluster and evaluates the
shipped rules: the expected alerts go pending/firing on real faults and resolve after the repair.

The rules are the shipped file with every `for:` shortened to 3 s (the expressions are unchanged), so the
test takes a minute instead of ten. Redis 7.0 only: the exporter itself is tested on both versions in
test_exporter.py; this test is about the rules and the Prometheus side.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from tests.conftest import LabFactory, rcdoctor
from tests.integration.helpers import wait_for
from tests.integration.monitoring import exporter_process, get

from rcdoctor.lab import RedisBinary
from rcdoctor.lab.faults import FaultOp, apply, heal

pytestmark = pytest.mark.integration
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rcdoctor-rules.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus(tmp_path: Path, exporter_url: str) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: install Debian's prometheus package (scripts/test.sh does)")
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "3s"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    target = urllib.parse.urlsplit(exporter_url).netloc
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "scrape_configs": [{"job_name": "rcdoctor", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, proc), 30, "Prometheus ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"prometheus exited with {proc.returncode}")
    try:
        return get(f"{url}/-/ready", timeout=1)[0] == 200
    except OSError:
        return False


class Alerts:
    """Polls /api/v1/alerts and remembers every state each alert was seen in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: dict[str, set[str]] = {}

    def now(self) -> list[dict[str, object]]:
        status, text = get(f"{self.url}/api/v1/alerts", timeout=2)
        assert status == 200, text
        alerts: list[dict[str, object]] = json.loads(text)["data"]["alerts"]
        for alert in alerts:
            name = alert["labels"]["alertname"]  # type: ignore[index]
            self.seen.setdefault(name, set()).add(str(alert["state"]))
        return alerts

    def firing(self, name: str, **labels: str) -> bool:
        return any(
            a["labels"]["alertname"] == name  # type: ignore[index]
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())  # type: ignore[attr-defined]
            for a in self.now()
        )

    def active(self, name: str) -> bool:
        return any(a["labels"]["alertname"] == name for a in self.now())  # type: ignore[index]


def query(url: str, expr: str) -> list[dict[str, object]]:
    status, text = get(f"{url}/api/v1/query?query={urllib.parse.quote(expr)}", timeout=2)
    assert status == 200, text
    result: list[dict[str, object]] = json.loads(text)["data"]["result"]
    return result


def test_alerts_fire_on_faults_and_resolve_after_heal(
    redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis7, node_timeout_ms=1000)
    seeds = tmp_path / "seeds"  # what a headless Service's DNS answer would be: the pods' current IPs
    seeds.write_text("\n".join(lab.addresses) + "\n")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    watched = (
        "RedisClusterDown",
        "RedisClusterStateNotOK",
        "RedisClusterNodeFailed",
        "RedisClusterStaleAddresses",
        "RedisClusterRootCause",
    )
    with (
        exporter_process(tmp_path, "--seeds-file", str(seeds), "--interval", "0.5", "--timeout", "1") as exporter,
        prometheus(tmp_path, exporter) as prom,
    ):
        alerts = Alerts(prom)
        wait_for(lambda: len(query(prom, "redis_up == 1")) == 6, 30, "Prometheus sees six nodes up")
        time.sleep(5)  # longer than every shortened `for:`: nothing may be pending or firing on a healthy cluster
        assert not [a for a in alerts.now() if a["labels"]["alertname"] in watched]  # type: ignore[index]

        # 1. A primary dies: its replica takes over; the dead node is down and flagged FAIL.
        primary = lab.nodes[0]
        apply(lab, FaultOp("kill", primary.name))
        wait_for(lambda: alerts.firing("RedisClusterDown", addr=primary.address), 40, "RedisClusterDown firing")
        wait_for(lambda: alerts.firing("RedisClusterNodeFailed"), 40, "RedisClusterNodeFailed firing")
        assert "pending" in alerts.seen["RedisClusterDown"]
        heal(lab)  # the pod comes back: it rejoins as a replica of the node that replaced it
        wait_for(
            lambda: not alerts.active("RedisClusterDown") and not alerts.active("RedisClusterNodeFailed"),
            60,
            "node alerts resolved",
        )

        # 2. Every pod restarts at a new IP: the cluster fails, peers dial the old addresses.
        apply(lab, FaultOp("new-address", "all"))
        seeds.write_text("\n".join(lab.addresses) + "\n")
        for name, labels in [
            ("RedisClusterStateNotOK", {}),
            ("RedisClusterStaleAddresses", {}),
            ("RedisClusterRootCause", {"code": "A003"}),
        ]:
            wait_for(lambda n=name, lb=labels: alerts.firing(n, **lb), 60, f"{name} firing")  # type: ignore[misc]
        healed = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
        assert healed.returncode == 0, healed.stdout + healed.stderr
        wait_for(
            lambda: not any(alerts.active(n) for n in watched),
            90,
            "every alert resolved after heal",
        )
        assert value_now(prom, "min(redis_cluster_state)") == 1
        assert value_now(prom, "rcdoctor_cluster_healthy") == 1


def value_now(url: str, expr: str) -> float:
    result = query(url, expr)
    assert len(result) == 1, result
    return float(result[0]["value"][1])  # type: ignore[index]
