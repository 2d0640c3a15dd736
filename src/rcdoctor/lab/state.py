"""The lab's state file: how separate CLI invocations find a running lab and its processes."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rcdoctor.errors import LabError
from rcdoctor.model.address import Endpoint

STATE_FILE = "lab.json"
STATE_FORMAT = "rcdoctor.lab"
STATE_VERSION = 1


def default_root() -> Path:
    """Where labs live unless --dir says otherwise: $RCDOCTOR_LAB_ROOT or ~/.local/state/rcdoctor/labs."""
    env = os.environ.get("RCDOCTOR_LAB_ROOT")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rcdoctor" / "labs"


@dataclass
class LabNode:
    name: str  # n1, n2, … (stable across address changes)
    ip: str
    port: int
    dir: str
    host: str  # failure-domain labels
    zone: str
    role: str  # role given at creation: "primary" or "replica" (live role may differ after failover)
    shard: int  # index of the shard it was created in
    pid: int | None = None
    paused: bool = False
    node_id: str | None = None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.ip, self.port)

    @property
    def address(self) -> str:
        return str(self.endpoint)


@dataclass
class LabState:
    name: str
    root: str  # directory holding this lab (state file and node directories)
    binary: str
    version: str  # the server's own version ("8.1.8" for Valkey 8.1)
    port: int
    base_ip: str
    node_timeout_ms: int
    primaries: int
    replicas: int
    next_ip_offset: int
    nodes: list[LabNode]
    password_file: str | None = None
    tls_dir: str | None = None  # CA and node certificate when the lab speaks TLS (7.x only)
    announce_hostnames: bool = False
    faults: list[dict[str, Any]] = field(default_factory=list)  # applied faults, each with its undo
    server: str = "redis"  # "redis" or "valkey" (labs saved before Valkey was told apart are Redis)

    def node(self, name: str) -> LabNode:
        for node in self.nodes:
            if name in (node.name, node.address, node.node_id) or (
                node.node_id and len(name) >= 6 and node.node_id.startswith(name)
            ):
                return node
        raise LabError(f"no node {name!r} in lab {self.name!r} (nodes: {', '.join(n.name for n in self.nodes)})")

    @property
    def path(self) -> Path:
        return Path(self.root) / STATE_FILE

    def save(self) -> None:
        data = {"format": STATE_FORMAT, "format_version": STATE_VERSION, **asdict(self)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: an interrupted save never leaves a half-written state file
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".lab.", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, root: Path) -> LabState:
        path = root / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab at {root} (start one with `rcdoctor lab up`)") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise LabError(f"cannot read lab state {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise LabError(f"{path} is not an rcdoctor lab state file")
        if data.get("format_version") != STATE_VERSION:
            raise LabError(f"{path}: lab state version {data.get('format_version')} is not supported")
        try:
            nodes = [LabNode(**n) for n in data.pop("nodes")]
            data.pop("format")
            data.pop("format_version")
            return cls(nodes=nodes, **data)
        except (TypeError, KeyError) as exc:
            raise LabError(f"{path}: malformed lab state ({exc})") from None
