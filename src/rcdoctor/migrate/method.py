"""Which way a move goes: the servers' atomic slot migration, or key by key with MIGRATE (I/O: asks each
primary COMMAND INFO, because a version alone does not prove the command is there: it can be renamed or
disabled with rename-command, or refused to our ACL user)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rcdoctor.errors import UsageError
from rcdoctor.migrate import atomic_protocol as proto
from rcdoctor.plan.topology import Node, Topology
from rcdoctor.transport.errors import TransportError
from rcdoctor.transport.link import Link
from rcdoctor.transport.options import ConnectOptions

METHODS = ("auto", "atomic", "keys")

Probe = Callable[[Node, proto.Command], object]


@dataclass(frozen=True)
class Method:
    name: str  # "atomic" | "keys"
    dialect: proto.Dialect | None
    why: str

    def describe(self) -> str:
        if self.name == "atomic":
            command = "CLUSTER MIGRATESLOTS" if self.dialect == "valkey" else "CLUSTER MIGRATION IMPORT"
            return f"atomic slot migration ({command}; untested against a real server): {self.why}"
        return f"key by key (SETSLOT + MIGRATE): {self.why}"


def _ask(node: Node, command: proto.Command, options: ConnectOptions) -> object:
    link = Link(node.endpoint, options, timeout=5.0)
    try:
        return link.one(*command)
    finally:
        link.close()


def choose(top: Topology, options: ConnectOptions, requested: str, probe: Probe | None = None) -> Method:
    """`requested`: auto (atomic where every primary has it), atomic (refuse otherwise), keys."""
    if requested not in METHODS:
        raise UsageError(f"--method {requested}: expected one of {', '.join(METHODS)}")
    if requested == "keys":
        return Method("keys", None, "asked for (--method keys)")
    dialect = proto.common_dialect({n.node_id: n.server for n in top.primaries})
    if dialect is None:
        versions = ", ".join(sorted({str(n.server) if n.server else "unknown" for n in top.primaries}))
        why = f"not every primary has it (Valkey 9.0+ or Redis 8.4+; here: {versions})"
        if requested == "atomic":
            raise UsageError(f"--method atomic: {why}")
        return Method("keys", None, why)
    ask = probe or (lambda node, command: _ask(node, command, options))
    lacking = []
    for node in top.primaries:
        try:
            present = proto.lists_command(ask(node, proto.command_info_query(dialect)))
        except (TransportError, OSError):
            present = False
        if not present:
            lacking.append(node.short)
    if lacking:
        why = f"COMMAND INFO does not list it on {', '.join(lacking)} (renamed, disabled or not allowed)"
        if requested == "atomic":
            raise UsageError(f"--method atomic: {why}")
        return Method("keys", None, why)
    return Method("atomic", dialect, f"every primary has it ({len(top.primaries)} asked with COMMAND INFO)")
