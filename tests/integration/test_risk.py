"""`rcdoctor risk` on real lab clusters placed on labelled hosts and zones (Redis 7.0 and 6.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor

from rcdoctor.lab import Lab, RedisBinary

pytestmark = pytest.mark.integration


def risk(lab: Lab, *args: str) -> tuple[int, dict[str, object]]:
    result = rcdoctor("risk", lab.nodes[0].address, "--format", "json", *args)
    assert result.returncode in (0, 1, 2), result.stderr
    return result.returncode, json.loads(result.stdout)


def zones_file(lab: Lab, tmp_path: Path) -> Path:
    path = tmp_path / "zones.json"
    path.write_text(json.dumps(lab.domains("zone")))
    return path


def kubectl_files(lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    """What `kubectl get pods -o json` and `kubectl get nodes -o json` would print for this lab."""
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"redis-{i}"},
            "spec": {"nodeName": n.host},
            "status": {"podIP": n.endpoint.host, "podIPs": [{"ip": n.endpoint.host}]},
        }
        for i, n in enumerate(lab.nodes)
    ]
    hosts = {n.host: n.zone for n in lab.nodes}
    nodes = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": h, "labels": {"topology.kubernetes.io/zone": z}}}
        for h, z in hosts.items()
    ]
    pods_path, nodes_path = tmp_path / "pods.json", tmp_path / "nodes.json"
    pods_path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))
    nodes_path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}))
    return pods_path, nodes_path


def test_four_primaries_over_three_zones_lose_the_majority_with_one_zone(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, primaries=4, replicas=1, zones=3)
    code, report = risk(lab, "--domains", str(zones_file(lab, tmp_path)))
    assert report["primaries"] == 4 and report["quorum"] == 3 and report["even_primaries"] is True
    zone_of_primary = [report_node["domain"] for s in report["shards"] for report_node in [s["primary"]]]  # type: ignore[index,union-attr]
    crowded = max(set(zone_of_primary), key=zone_of_primary.count)
    loss = next(x for x in report["losses"] if x["domains"] == [crowded])  # type: ignore[index,union-attr]
    assert loss["outcome"] == "down" and loss["majority"] is False and loss["primaries_left"] == 2
    assert code == 2
    texts = " ".join(r["text"] for r in report["recommendations"])  # type: ignore[index,union-attr]
    assert "4 primaries tolerate the loss of 1" in texts and "CLUSTER FAILOVER" in json.dumps(report)

    # The same placement read from kubectl's JSON (pod IP -> node -> zone) gives the same verdicts.
    pods, nodes = kubectl_files(lab, tmp_path)
    _, from_kubectl = risk(lab, "--domains", str(pods), "--domains", str(nodes))
    assert [(x["domains"], x["outcome"]) for x in from_kubectl["losses"]] == [  # type: ignore[index,union-attr]
        (x["domains"], x["outcome"])
        for x in report["losses"]  # type: ignore[index,union-attr]
    ]
    _, by_node = risk(lab, "--domains", str(pods))  # pods alone: the Kubernetes node is the domain
    assert set(by_node["domains"]) == {n.host for n in lab.nodes}  # type: ignore[arg-type]


def test_five_primaries_over_three_zones_survive_any_zone(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, primaries=5, replicas=1, zones=3)
    code, report = risk(lab, "--domains", str(zones_file(lab, tmp_path)))
    singles = [x for x in report["losses"] if len(x["domains"]) == 1]  # type: ignore[index,union-attr,arg-type]
    assert len(singles) == 3 and all(x["outcome"] in ("failover", "degraded") for x in singles)
    assert all(t["wins"] for x in singles for t in x["takeovers"])  # type: ignore[index,union-attr]
    assert code == 0 and report["worst"] == "ok"


def test_colocated_copies_are_an_outage_and_the_text_says_what_to_add(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, placement="colocated", hosts=3)
    hosts = tmp_path / "hosts.json"
    hosts.write_text(json.dumps(lab.domains("host")))
    text = rcdoctor("risk", lab.nodes[0].address, "--domains", str(hosts))
    assert text.returncode == 2, text.stdout + text.stderr
    assert "every copy" in text.stdout and "--replica-of" in text.stdout and "Write-loss bound" in text.stdout
    bad = rcdoctor("risk", lab.nodes[0].address, "--domains", str(tmp_path / "missing.json"))
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1
