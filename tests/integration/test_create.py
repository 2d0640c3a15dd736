"""`rcdoctor create` on empty lab nodes (Redis 7.0 and 6.2): placement across hosts, refusals that
change nothing, and a cluster that diagnose finds healthy and that keeps every key written to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.helpers import cluster_nodes, wait_for

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.data import DataSet, fill, missing_or_wrong

pytestmark = pytest.mark.integration


def _empty_lab(make_lab: LabFactory, binary: RedisBinary, tmp_path: Path, **spec: object) -> tuple[Lab, Path]:
    lab = make_lab(binary, form=False, hosts=3, **spec)
    domains = tmp_path / "domains.json"
    domains.write_text(json.dumps(lab.domains("host")))
    return lab, domains


def _host_order(lab: Lab) -> list[str]:
    """Addresses grouped host by host, the order a naive pairing (next node replicates previous) colocates."""
    return [n.address for n in sorted(lab.nodes, key=lambda n: (n.host, n.address))]


def _untouched(lab: Lab) -> bool:
    return all(len(cluster_nodes(lab, n)) == 1 and _info(lab, n)["cluster_slots_assigned"] == "0" for n in lab.nodes)


def _info(lab: Lab, node: object) -> dict[str, str]:
    with lab.client(node, timeout=2) as c:  # type: ignore[arg-type]
        text = str(c.execute_command("CLUSTER", "INFO"))
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def test_create_places_replicas_off_their_primarys_host(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, domains = _empty_lab(make_lab, redis_binary, tmp_path)
    addresses = _host_order(lab)
    dry = rcdoctor("create", *addresses, "--replicas", "1", "--domains", str(domains), "--format", "json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["applied"] is False and not planned["warnings"]
    assert _untouched(lab), "a dry run changed a node"

    run = rcdoctor("create", *addresses, "--replicas", "1", "--domains", str(domains), "--apply")
    assert run.returncode == 0, run.stderr + run.stdout
    host = {n.address: n.host for n in lab.nodes}
    views = {n.name: cluster_nodes(lab, n) for n in lab.nodes}
    for node in lab.nodes:
        assert _info(lab, node)["cluster_state"] == "ok"
        assert len(views[node.name]) == 6
    # What the servers say, not what the plan said: primaries on 3 hosts, each replica off its primary's.
    lines = views[lab.nodes[0].name]
    address_of = {f[0]: f[1].split("@")[0] for f in lines}
    primaries = [f for f in lines if "master" in f[2]]
    replicas = [f for f in lines if "slave" in f[2]]
    assert len(primaries) == 3 and len(replicas) == 3
    assert sorted(host[address_of[f[0]]] for f in primaries) == ["host-1", "host-2", "host-3"]
    for f in replicas:
        assert host[address_of[f[0]]] != host[address_of[f[3]]], f
    assert [f[0] for f in replicas if f[3] in {p[0] for p in primaries}] == [f[0] for f in replicas]
    # The independent placement checks agree: nothing above info level.
    diagnosis = rcdoctor("diagnose", addresses[0], "--domains", str(domains), "--format", "json")
    assert diagnosis.returncode == 0, diagnosis.stdout
    data = DataSet(count=2000, size=32, prefix="create")
    fill(lab.nodes[0].endpoint, lab.options, data)
    assert missing_or_wrong(lab.nodes[3].endpoint, lab.options, data) == []


def test_create_refuses_a_node_with_data_and_changes_nothing(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, _domains = _empty_lab(make_lab, redis_binary, tmp_path)
    with lab.client(lab.nodes[4]) as c:
        # A leftover key: the node owns the slot of "a" just long enough to write it.
        c.config_set("cluster-require-full-coverage", "no")
        c.execute_command("CLUSTER", "ADDSLOTS", "15495")
        wait_for(lambda: _info(lab, lab.nodes[4])["cluster_state"] == "ok", 10, "a one-slot node to be ok")
        c.set("a", "precious")
        c.execute_command("CLUSTER", "DELSLOTS", "15495")
        c.config_set("cluster-require-full-coverage", "yes")
    run = rcdoctor("create", *lab.addresses, "--replicas", "1", "--apply")
    assert run.returncode == 3
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"{lab.nodes[4].address} holds 1 keys" in run.stderr
    assert all(len(cluster_nodes(lab, n)) == 1 for n in lab.nodes)
    with lab.client(lab.nodes[4]) as c:
        assert c.dbsize() == 1


def test_create_refuses_shards_inside_one_domain_without_the_risk_flag(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, _ = _empty_lab(make_lab, redis_binary, tmp_path)
    one_rack = tmp_path / "one-rack.json"
    one_rack.write_text(json.dumps(dict.fromkeys(lab.addresses, "rack-a")))
    run = rcdoctor("create", *lab.addresses, "--replicas", "1", "--domains", str(one_rack), "--apply")
    assert run.returncode == 3 and "--allow-shard-in-one-domain" in run.stderr, run.stderr
    assert _untouched(lab)
    run = rcdoctor(
        "create", *lab.addresses, "--replicas", "1", "--domains", str(one_rack), "--apply",
        "--allow-shard-in-one-domain",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    assert "loses the whole shard" in run.stdout
    assert all(_info(lab, n)["cluster_state"] == "ok" for n in lab.nodes)


def test_create_names_an_unreachable_node(redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    lab, _ = _empty_lab(make_lab, redis_binary, tmp_path)
    lab.stop_all([lab.nodes[2]])
    run = rcdoctor("create", *lab.addresses, "--replicas", "1", "--apply")
    assert run.returncode == 3 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"rcdoctor: error: {lab.nodes[2].address}: connection refused")
    assert all(len(cluster_nodes(lab, n)) == 1 for n in lab.nodes if n is not lab.nodes[2])
