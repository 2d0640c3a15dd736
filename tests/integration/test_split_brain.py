"""Split-brain on real partitions (nftables drops the packets between the nodes' loopback IPs):
detection by diagnose, the Jepsen-style rehearsal, split-brain diff and restore. Needs root and nftables
(scripts/test.sh installs it); without them these tests fail with the lab's one-line reason."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.helpers import node_timeouts, wait_for

from rcdoctor.divergence import report
from rcdoctor.lab import Lab, RedisBinary, network
from rcdoctor.lab.faults import FaultOp, apply, heal
from rcdoctor.rehearsal.client import Client, Plan, monotonic_clock
from rcdoctor.rehearsal.run import RehearsalSettings, failed_over, read_back, rehearse, tag_in

pytestmark = pytest.mark.integration


def codes(lab: Lab) -> dict[str, list[dict[str, object]]]:
    out = rcdoctor("diagnose", *lab.addresses, "--format", "json", "--expand")
    found: dict[str, list[dict[str, object]]] = {}
    for finding in json.loads(out.stdout)["findings"]:
        found.setdefault(finding["code"], []).append(finding)
    return found


def reaches(source_ip: str, address: str, timeout: float = 0.5) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout, source_address=(source_ip, 0)):
            return True
    except OSError:
        return False


def test_an_isolated_primary_is_detected_then_healed(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, node_timeout_ms=1000)
    primary = lab.nodes[0]
    apply(lab, FaultOp("partition", primary.name))
    try:
        assert network.active(lab.state.root)
        # After the node timeout the majority fails over: both primaries claim the slots (E002), the old one
        # is on the minority side (E003), and the groups are named (E004).
        wait_for(lambda: {"E002", "E003", "E004"} <= set(codes(lab)), node_timeouts(lab, 15), "split-brain found")
        found = codes(lab)
        evidence = " ".join(str(e) for e in found["E004"][0]["evidence"])  # type: ignore[union-attr]
        assert "majority" in evidence and "minority" in evidence and primary.address in evidence
        assert found["E004"][0]["root_cause"] is True
        e002 = " ".join(str(n["address"]) for n in found["E002"][0]["nodes"])  # type: ignore[index,union-attr]
        assert primary.address in e002
        e003 = found["E003"][0]
        assert primary.address in str(e003["title"])
    finally:
        heal(lab)
    assert not network.active(lab.state.root)
    lab.wait_cluster_ok(timeout=node_timeouts(lab, 20))
    lab.wait_views_clean(timeout=node_timeouts(lab, 20))
    assert not {"E002", "E003", "E004"} & set(codes(lab))


def test_packets_are_dropped_between_groups_only(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, node_timeout_ms=5000)
    n1, n2, n3 = lab.nodes[0], lab.nodes[1], lab.nodes[2]
    bus = lambda n: f"{n.endpoint.host}:{n.endpoint.port + 10000}"  # noqa: E731
    apply(lab, FaultOp("split", (), {"groups": [[n1.name, n2.name]]}))
    try:
        assert reaches(n1.endpoint.host, n2.address) and reaches(n1.endpoint.host, bus(n2))
        assert not reaches(n1.endpoint.host, n3.address) and not reaches(n3.endpoint.host, bus(n1))
        assert reaches("127.0.0.1", n1.address) and reaches("127.0.0.1", n3.address)  # rcdoctor sees all
        apply(lab, FaultOp("partition-oneway", n1.name))  # replaces the split: n1 can receive, not send
        assert not reaches(n1.endpoint.host, n3.address)  # its SYN is dropped
        assert reaches(n3.endpoint.host, n2.address)
        apply(lab, FaultOp("bridge", n1.name, {"half": [n2.name, n3.name]}))
        assert reaches(n2.endpoint.host, n1.address) and reaches(lab.nodes[4].endpoint.host, n1.address)
        assert not reaches(n2.endpoint.host, lab.nodes[4].address)
    finally:
        heal(lab)
    assert reaches(n1.endpoint.host, n3.address)


def test_rehearsal_counts_lost_writes_and_restore_brings_them_back(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, node_timeout_ms=1000)
    outcome = rehearse(
        lab, RehearsalSettings(node_timeout_ms=1000), hold_s=5, divergence_dir=tmp_path / "div", restore=True
    )
    verdict = outcome.verdict
    assert outcome.timeline.get("failover_seen") is not None
    assert verdict.window_writes > 0 and verdict.window_s > 0
    # Only what the cut-off primary acknowledged is lost: client b's writes during the window (and, rarely,
    # a write of client a acknowledged just before the cut and not yet replicated).
    elsewhere = [op for op in verdict.lost if op.node != outcome.isolated[0]]
    assert verdict.lost and not elsewhere, f"lost on the majority side: {elsewhere}; timeline {outcome.timeline}"
    assert any(op.client == "b" for op in verdict.lost)
    assert verdict.conflicts and verdict.unknown >= 0
    # Every acknowledged-but-lost write is in the divergence file written before the heal …
    files = [Path(str(d["file"])) for d in outcome.divergence if d["file"]]
    assert files and all(d["error"] is None for d in outcome.divergence)
    saved = {diff.key.decode() for path in files for diff in report.read(path)[1]}
    assert {op.key for op in verdict.lost} <= saved
    # … and restoring the minority-only keys brings the loss to 0 without touching what the majority wrote.
    assert outcome.after_restore is not None and outcome.after_restore.lost == ()
    after = read_back(lab, {c.key for c in verdict.conflicts})
    assert after == {c.key: c.final for c in verdict.conflicts}
    assert not network.active(lab.state.root)


def test_split_brain_diff_and_restore_commands(redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab(redis7, node_timeout_ms=1000)
    primary = lab.nodes[0]
    tag, slot = tag_in(lab, str(primary.node_id))
    client_ip = lab.allocate_ip()
    keys = [f"{{{tag}}}:minority:{i}" for i in range(20)]
    apply(lab, FaultOp("partition", primary.name, {"with": [client_ip]}))
    try:
        writer = Client(Plan("b", client_ip, [], []), primary.address, [primary.address], slot, monotonic_clock())
        acked = [k for k in keys if writer.write(k, "minority").outcome == "ok"]  # inside the node timeout
        assert acked, "the cut-off primary accepted no write before the node timeout"
        wait_for(lambda: failed_over(lab, [primary], slot), node_timeouts(lab, 15), "failover")
        new_owner = next(n for n in lab.nodes if n.name != primary.name and lab.live_roles()[n.name] == "primary"
                         and n.shard == primary.shard)  # fmt: skip
        with lab.client(new_owner) as c:
            c.set(f"{{{tag}}}:majority", "x")
        out = rcdoctor("split-brain", "diff", *lab.addresses, "-o", str(tmp_path), "--format", "json")
        assert out.returncode == 2, out.stdout + out.stderr
        contested = json.loads(out.stdout)["contested"]
        assert len(contested) == 1 and contested[0]["old"]["address"] == primary.address
        assert contested[0]["minority_only"] >= len(acked) and contested[0]["majority_only"] >= 1
        path = contested[0]["file"]
    finally:
        heal(lab)
    lab.wait_cluster_ok(timeout=node_timeouts(lab, 20))
    lab.wait_views_clean(timeout=node_timeouts(lab, 20))
    assert set(read_back(lab, set(acked)).values()) == {None}  # Redis dropped them when the old primary rejoined

    dry = rcdoctor("split-brain", "restore", path, lab.nodes[1].address)
    assert dry.returncode == 0 and "dry run" in dry.stdout
    assert set(read_back(lab, set(acked)).values()) == {None}
    done = rcdoctor("split-brain", "restore", path, lab.nodes[1].address, "--apply", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["restored"] >= len(acked)
    assert read_back(lab, set(acked)) == {k: "minority" for k in acked}
    assert read_back(lab, {f"{{{tag}}}:majority"}) == {f"{{{tag}}}:majority": "x"}
    again = rcdoctor("split-brain", "restore", path, lab.nodes[1].address, "--apply", "--format", "json")
    assert json.loads(again.stdout)["restored"] == 0 and len(json.loads(again.stdout)["busy"]) >= len(acked)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    bad = rcdoctor("split-brain", "restore", str(garbage), lab.nodes[1].address)
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1


def test_rehearse_command_end_to_end(tmp_path: Path) -> None:
    out = rcdoctor(
        "lab", "rehearse", "split-brain", "--node-timeout", "1000", "--hold", "4", "--format", "json",
        "--save-divergence", str(tmp_path / "div"), "--restore-minority", "--redis-server", "/usr/bin/redis-server",
        timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["format"] == "rcdoctor.rehearsal" and result["settings"]["cluster-node-timeout"] == 1000
    assert result["result"]["lost"] > 0 and result["after_restore"]["lost"] == 0
    assert result["result"]["minority_window"]["writes_acknowledged"] > 0
