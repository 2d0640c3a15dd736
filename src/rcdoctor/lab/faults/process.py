"""Process faults: kill, restart, pause/resume, restart at a new address, lose nodes.conf, no failover."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcdoctor.errors import FaultError
from rcdoctor.lab import process
from rcdoctor.lab.faults.base import FaultOp, register

if TYPE_CHECKING:
    from rcdoctor.lab.cluster import Lab
    from rcdoctor.lab.state import LabNode

Outcome = tuple[FaultOp | None, dict[str, Any]]
NO_FAILOVER = "cluster-replica-no-failover"


def _names(nodes: list[LabNode]) -> tuple[str, ...]:
    return tuple(n.name for n in nodes)


@register("kill", "SIGKILL the node (no shutdown, nothing flushed beyond the AOF's fsync policy)")
def kill(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    lab.stop_all([n for n in nodes if lab.is_running(n)], force=True)
    return FaultOp("start", _names(nodes)), {}


@register("stop", "stop the node gracefully (SIGTERM: nodes.conf and AOF flushed)")
def stop(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    lab.stop_all([n for n in nodes if lab.is_running(n)])
    return FaultOp("start", _names(nodes)), {}


@register("start", "start a stopped node at its current address (the undo of kill/stop)")
def start(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    lab.start_all([n for n in nodes if not lab.is_running(n)])
    return None, {}


@register("restart", "stop gracefully then start again at the same address (all targets down at once)")
def restart(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    lab.stop_all(nodes, force=bool(params.get("force")))
    lab.start_all(nodes)
    return None, {}


@register("pause", "SIGSTOP the process: its port still accepts TCP connections but nothing answers")
def pause(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    for node in nodes:
        process.pause(node)
    return FaultOp("resume", _names(nodes)), {}


@register("resume", "SIGCONT a paused node (the undo of pause)")
def resume(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    for node in nodes:
        process.resume(node)
    return None, {}


@register(
    "new-address",
    "restart at a new loopback IP with the same data and nodes.conf (a pod-IP change); "
    "all targets go down before any comes back, as when a StatefulSet is recreated",
)
def new_address(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    wanted: Mapping[str, str] = params.get("addresses") or {}
    old = {n.name: n.ip for n in nodes}
    lab.stop_all(nodes)
    for node in nodes:
        node.ip = wanted.get(node.name) or lab.allocate_ip()
    lab.start_all(nodes)
    moved = {n.name: {"from": f"{old[n.name]}:{n.port}", "to": n.address} for n in nodes}
    return FaultOp("new-address", _names(nodes), {"addresses": old}), {"moved": moved}


@register(
    "lose-nodes-conf",
    "restart with nodes.conf deleted (data kept): the node comes back with a new id "
    "knowing only itself, while its peers still list its old id",
)
def lose_nodes_conf(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    lab.stop_all(nodes)
    backups = {}
    for node in nodes:
        conf = Path(node.dir) / "nodes.conf"
        if conf.exists():
            backup = Path(node.dir) / "nodes.conf.lost"
            shutil.move(conf, backup)
            backups[node.name] = {"backup": str(backup), "old_id": node.node_id}
    return _back_with_new_ids(lab, nodes, FaultOp("restore-nodes-conf", _names(nodes), {"backups": backups}))


KEPT_ON_VOLUME_LOSS = ("redis.conf", "redis.log")  # the pod spec and its log, not the volume


@register(
    "lose-volume",
    "restart with an empty data directory (nodes.conf, AOF and RDB gone: a lost PVC): the node comes back "
    "empty with a new id, knowing only itself, while its peers still list its old id",
)
def lose_volume(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    lab.stop_all(nodes)
    aside = {}
    for node in nodes:
        home = Path(node.dir)
        # A fresh directory each time: the same node may lose its volume again (a rehearsal's later round)
        lost = home / "volume.lost"
        number = 1
        while lost.exists():
            number += 1
            lost = home / f"volume.lost.{number}"
        lost.mkdir()
        for item in home.iterdir():
            if item.name not in KEPT_ON_VOLUME_LOSS and not item.name.startswith("volume.lost"):
                shutil.move(item, lost / item.name)
        aside[node.name] = {"dir": str(lost), "old_id": node.node_id}
    return _back_with_new_ids(lab, nodes, FaultOp("restore-volume", _names(nodes), {"aside": aside}))


def _back_with_new_ids(lab: Lab, nodes: list[LabNode], undo: FaultOp) -> Outcome:
    """Start nodes that lost their nodes.conf and learn the ids they made up; `undo` keeps the old ones."""
    old_ids = {node.name: node.node_id for node in nodes}
    lab.start_all(nodes)
    for node in nodes:
        with lab.client(node) as c:
            node.node_id = str(c.execute_command("CLUSTER", "MYID"))
    return undo, {"new_ids": {n.name: n.node_id for n in nodes}, "old_ids": old_ids}


@register("restore-volume", "restart with the data directory that lose-volume put aside", undo_only=True)
def restore_volume(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    aside: Mapping[str, Mapping[str, Any]] = params.get("aside") or {}
    lab.stop_all(nodes)
    for node in nodes:
        entry = aside.get(node.name)
        if entry is None:
            continue
        lost, home = Path(entry["dir"]), Path(node.dir)
        if not lost.is_dir():
            raise FaultError(f"{node.name}: the saved data directory {lost} is gone")
        for item in home.iterdir():
            if item.name not in KEPT_ON_VOLUME_LOSS and item != lost:
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        for item in lost.iterdir():
            shutil.move(item, home / item.name)
        lost.rmdir()
        node.node_id = entry.get("old_id")
    lab.start_all(nodes)
    return None, {}


@register("restore-nodes-conf", "restart with the nodes.conf that lose-nodes-conf put aside", undo_only=True)
def restore_nodes_conf(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    backups: Mapping[str, Mapping[str, Any]] = params.get("backups") or {}
    lab.stop_all(nodes)
    for node in nodes:
        entry = backups.get(node.name)
        if entry is None:
            continue
        backup = Path(entry["backup"])
        if not backup.exists():
            raise FaultError(f"{node.name}: the saved nodes.conf {backup} is gone")
        shutil.move(backup, Path(node.dir) / "nodes.conf")
        node.node_id = entry.get("old_id")
    lab.start_all(nodes)
    return None, {}


@register(
    "no-failover",
    "set cluster-replica-no-failover yes on the target primaries' replicas: if the primary dies, none takes over",
)
def no_failover(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    changed: dict[str, str] = {}
    for replica in lab.followers({n.node_id for n in nodes if n.node_id}):
        with lab.client(replica) as c:
            changed[replica.name] = str(c.config_get(NO_FAILOVER).get(NO_FAILOVER, "no"))
            c.config_set(NO_FAILOVER, "yes")
    if not changed:
        raise FaultError(f"{', '.join(_names(nodes))}: no replica to hold back")
    return FaultOp("restore-failover", tuple(changed), {"values": changed}), {"replicas": sorted(changed)}


@register("restore-failover", "put back cluster-replica-no-failover (the undo of no-failover)", undo_only=True)
def restore_failover(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    values: Mapping[str, str] = params.get("values") or {}
    for node in nodes:
        if lab.is_running(node):
            with lab.client(node) as c:
                c.config_set(NO_FAILOVER, values.get(node.name, "no"))
    return None, {}
