"""A wrong cluster-announce-ip (C006) on snapshots recorded from real 7.0 and 6.2 clusters: diagnose names
the setting as the root cause, heal plans no MEET the node would undo, fixes the setting only with
--fix-announce-config, and its loop guard names the setting when a repair is undone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.checks.config.c006_announce_mismatch import misannounced
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.addresses import meets
from rcdoctor.plan.conditions import AnswersAs, ConfigIs
from rcdoctor.plan.config import undone
from rcdoctor.plan.heal import FIX_ANNOUNCE, Facts, Flags, HealPlan, plan
from rcdoctor.plan.steps import Step

DATA = Path(__file__).parent.parent / "data"
VERSIONS = ("redis7", "redis6")


def _snapshot(version: str) -> Snapshot:
    return Snapshot.load(DATA / f"scenario-announce_ip-{version}.json")


def _wrong(ctx: ClusterView) -> str:
    (node_id,) = misannounced(ctx)
    return node_id


def _plan(version: str, flags: Flags | None = None) -> tuple[ClusterView, HealPlan]:
    ctx = ClusterView(_snapshot(version))
    return ctx, plan(ctx, Facts(), flags or Flags())


@pytest.mark.parametrize("version", VERSIONS)
def test_the_setting_is_the_critical_seen_root_cause(version: str) -> None:
    report = analyze(_snapshot(version), default_registry())
    ctx = ClusterView(report.snapshot)
    node_id = _wrong(ctx)
    (cause,) = [f for f in report.root_causes if f.severity == "critical"]
    assert cause.code == "C006" and cause.basis == "seen" and node_id in cause.subjects
    text = " ".join(cause.evidence)
    announced = ctx.own[node_id].config["cluster-announce-ip"]
    assert f"cluster-announce-ip on {ctx.address(node_id)}: {announced}" in text
    assert f"answers at {ctx.address(node_id)}" in text  # where it really answers
    assert "MEET" in text and "will not stick" in text
    assert 'CONFIG SET cluster-announce-ip ""' in cause.fix and "pod spec" in cause.fix
    # The symptoms are folded under it; the node is not said to have moved.
    assert {"A004", "M009"} <= {f.code for f in report.children(cause)}
    assert not any(f.code == "A003" and node_id in f.subjects for f in report.findings)


@pytest.mark.parametrize("version", VERSIONS)
def test_no_meet_for_the_node_and_a_line_for_a_human(version: str) -> None:
    ctx, healed = _plan(version)
    node_id = _wrong(ctx)
    assert not meets(ctx) or all(s.expect[0].node_id != node_id for s in meets(ctx))
    for phase in healed.phases:
        for step in phase.steps:
            assert step.command[:2] != ("CLUSTER", "MEET"), step
            assert step.command[:2] != ("CONFIG", "SET"), "the config fix needs the flag"
            assert not (step.command[:2] == ("CLUSTER", "REPLICATE") and node_id in step.command), step
    (line,) = [b for b in healed.blocked if b.startswith("C006")]
    address = ctx.address(node_id) or ""
    assert "cluster-announce-ip" in line and "config file or pod spec" in line and FIX_ANNOUNCE in line
    host, _, port = address.rpartition(":")
    assert f'redis-cli -h {host} -p {port} CONFIG SET cluster-announce-ip ""' in line


@pytest.mark.parametrize("version", VERSIONS)
def test_the_flag_plans_the_config_step_first(version: str) -> None:
    ctx, healed = _plan(version, Flags(fix_announce=True))
    node_id = _wrong(ctx)
    first = healed.phases[0]
    assert first.name == "config"
    (step,) = first.steps
    # The lab node binds (and dials from) the IP where it answers: clearing the setting lets Redis
    # announce that IP itself, with nothing hard-coded left to go stale.
    assert step.command == ("CONFIG", "SET", "cluster-announce-ip", "")
    assert step.node == ctx.address(node_id) and step.answers == ("C006",) and step.risk is None
    kinds = {e.kind: e for e in step.expect}
    config = kinds["config-is"]
    assert isinstance(config, ConfigIs)
    assert (config.name, config.value) == ("cluster-announce-ip", ctx.own[node_id].config["cluster-announce-ip"])
    assert "pod spec" in step.why and "NAT" in step.why
    assert not any(b.startswith("C006") for b in healed.blocked)
    assert step.describe().endswith('CONFIG SET cluster-announce-ip ""')


@pytest.mark.parametrize("version", VERSIONS)
def test_the_ip_is_written_out_when_the_bind_does_not_pin_it(version: str) -> None:
    snapshot = _snapshot(version)
    ctx = ClusterView(snapshot)
    node_id = _wrong(ctx)
    sample = ctx.own[node_id]
    # A wildcard bind: what Redis would detect by itself is not known, so the IP is written out.
    replies = {**sample.replies, "CONFIG GET bind": {"bind": "* -::*"}}
    unbound = replace(sample, replies=MappingProxyType(replies))
    nodes = tuple(unbound if n is sample else n for n in snapshot.nodes)
    ctx2 = ClusterView(replace(snapshot, nodes=nodes))
    (step,) = plan(ctx2, Facts(), Flags(fix_announce=True)).phases[0].steps
    assert step.command == ("CONFIG", "SET", "cluster-announce-ip", sample.endpoint.host)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_loop_guard_names_the_setting(version: str) -> None:
    ctx = ClusterView(_snapshot(version))
    node_id = _wrong(ctx)
    address = ctx.address(node_id) or ""
    value = ctx.own[node_id].config["cluster-announce-ip"]
    config = Step(
        address,
        ("CONFIG", "SET", "cluster-announce-ip", ""),
        "",
        ("C006",),
        (ConfigIs(address, node_id, "cluster-announce-ip", value),),
    )
    why = undone(ctx, [config]) or ""
    assert f"cluster-announce-ip on {address} is {value} again" in why and "re-applies" in why
    peer = next(a for a in (s.address for s in ctx.answered) if a != address)
    meet = Step(peer, ("CLUSTER", "MEET", *address.split(":")), "", ("A003",), (AnswersAs(address, node_id),))
    assert "cluster-announce-ip" in (undone(ctx, [meet]) or "")
    # A step about a node with no announce setting: not this cause (the general guard decides).
    other = next(i for i in ctx.answers_at if i != node_id)
    plain = Step(peer, ("CLUSTER", "MEET", "x", "1"), "", ("A003",), (AnswersAs(address, other),))
    assert undone(ctx, [plain]) is None


def _dialing_from_elsewhere(version: str) -> Snapshot:
    """The same cluster as if the node had no announce-ip but dialed its peers from the IP they list
    (Redis 7 bind-source-addr): the peers take the source address of its bus connections."""
    snapshot = _snapshot(version)
    ctx = ClusterView(snapshot)
    sample = ctx.own[_wrong(ctx)]
    listed = sample.config["cluster-announce-ip"]
    replies = dict(sample.replies)
    replies["CONFIG GET cluster-*"] = {**replies["CONFIG GET cluster-*"], "cluster-announce-ip": ""}
    replies["CONFIG GET bind-source-addr"] = {"bind-source-addr": listed}
    changed = replace(sample, replies=MappingProxyType(replies))
    return replace(snapshot, nodes=tuple(changed if n is sample else n for n in snapshot.nodes))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_source_address_it_does_not_listen_at_is_for_a_human(version: str) -> None:
    snapshot = _dialing_from_elsewhere(version)
    report = analyze(snapshot, default_registry())
    ctx = ClusterView(snapshot)
    (node_id,) = misannounced(ctx)
    (cause,) = [f for f in report.root_causes if f.severity == "critical"]
    assert cause.code == "C006" and "bind-source-addr" in " ".join(cause.evidence)
    # Peers list it where it does not answer and no announce setting says so: A003 fires, folded under C006.
    assert [f.code for f in report.children(cause) if f.code == "A003"] == ["A003"]
    for flags in (Flags(), Flags(fix_announce=True)):
        healed = plan(ctx, Facts(), flags)
        assert not any(
            s.command[:2] in {("CLUSTER", "MEET"), ("CONFIG", "SET")} for p in healed.phases for s in p.steps
        )
        (line,) = [b for b in healed.blocked if b.startswith("C006")]
        assert "bind-source-addr" in line and "For a human" in line and node_id[:8] in line


@pytest.mark.parametrize("version", VERSIONS)
def test_behind_nat_every_peer_connected_is_a_warning_and_still_no_meet(version: str) -> None:
    """Every peer lists the node at its announced IP and is connected there: behind NAT that address can
    be right for the peers and unreachable only from rcdoctor. Not critical, and never MEETed elsewhere."""
    snapshot = _snapshot(version)
    node_id = _wrong(ClusterView(snapshot))
    nodes = []
    for sample in snapshot.nodes:
        text = sample.replies.get("CLUSTER NODES")
        if isinstance(text, str) and sample.node_id != node_id:
            lines = [
                ln.replace(" disconnected", " connected") if ln.startswith(node_id) else ln for ln in text.split("\n")
            ]
            sample = replace(sample, replies=MappingProxyType({**sample.replies, "CLUSTER NODES": "\n".join(lines)}))
        nodes.append(sample)
    ctx = ClusterView(replace(snapshot, nodes=tuple(nodes)))
    report = analyze(ctx.snapshot, default_registry())
    (c006,) = [f for f in report.findings if f.code == "C006"]
    assert c006.severity == "warning" and "NAT" in " ".join(c006.evidence)
    assert not any(f.code == "A003" for f in report.findings)
    healed = plan(ctx, Facts(), Flags(fix_announce=True))
    for phase in healed.phases:
        assert not any(s.command[:2] in {("CLUSTER", "MEET"), ("CONFIG", "SET")} for s in phase.steps), phase


@pytest.mark.parametrize("version", VERSIONS)
def test_an_undone_meet_stops_at_once_when_config_was_refused(version: str) -> None:
    """An ACL user without CONFIG: the setting is not seen, but a MEET that ran and is needed again was
    taken back by the node's own announcement; heal says so instead of retrying."""
    snapshot = _snapshot(version)
    node_id = _wrong(ClusterView(snapshot))
    nodes = []
    for sample in snapshot.nodes:
        if sample.node_id == node_id:
            replies = {k: v for k, v in sample.replies.items() if not k.startswith("CONFIG GET")}
            sample = replace(sample, replies=MappingProxyType(replies))
        nodes.append(sample)
    ctx = ClusterView(replace(snapshot, nodes=tuple(nodes)))
    assert not misannounced(ctx)
    address = ctx.address(node_id) or ""
    meet = Step("x:1", ("CLUSTER", "MEET", *address.split(":")), "", ("A003",), (AnswersAs(address, node_id),))
    why = undone(ctx, [meet]) or ""
    assert "was undone" in why and "could not read its CONFIG" in why and "cluster-announce-ip" in why
