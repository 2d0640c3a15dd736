"""`rcdoctor lab up|status|down|fault`: real local clusters and the faults to inject into them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from rcdoctor.cli import common, output

if TYPE_CHECKING:
    from rcdoctor.lab import Lab
    from rcdoctor.lab.faults import FaultResult


@click.group()
def lab() -> None:
    """Run real redis-server clusters locally (one loopback IP per node, same port) and inject faults."""


def lab_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--dir",
        "directory",
        default=None,
        help="Lab directory (default: $RCDOCTOR_LAB_ROOT/NAME or ~/.local/state/rcdoctor/labs/NAME).",
    )(func)
    return click.option(
        "--name", default="default", show_default=True, help="Lab name (several labs can run side by side)."
    )(func)


@lab.command("up")
@lab_options
@click.option("-p", "--primaries", type=click.IntRange(1, 200), default=3, show_default=True)
@click.option("-r", "--replicas", type=click.IntRange(0, 10), default=1, show_default=True, help="Per primary.")
@click.option("--base-ip", default="127.0.0.11", show_default=True, help="IP of the first node; the next count up.")
@click.option(
    "--port",
    type=click.IntRange(1, 55535),
    default=6379,
    show_default=True,
    help="Port of every node (bus: port + 10000).",
)
@common.node_timeout_option(600_000)
@common.redis_server_option
@click.option("--zones", type=click.IntRange(1), default=3, show_default=True, help="Zone labels to spread nodes over.")
@click.option("--hosts", type=click.IntRange(1), default=None, help="Host labels (default: one per node).")
@click.option(
    "--placement",
    type=click.Choice(["spread", "colocated"]),
    default="spread",
    show_default=True,
    help="spread: replicas on another host/zone than their primary; colocated: the same (risky).",
)
@click.option(
    "--password-file",
    default=None,
    help="Give every node this password (requirepass and masterauth in each node's private config file).",
)
@click.option(
    "--tls",
    is_flag=True,
    help="TLS on the data port, cluster bus and replication (Redis 7; "
    "certificates made with openssl, CA at DIR/tls/ca.crt).",
)
@click.option(
    "--announce-hostnames",
    is_flag=True,
    help="Redis 7: nodes announce NAME.LAB.lab.invalid host names (which never resolve), like pods' DNS names.",
)
@common.format_option
def up(
    name: str,
    directory: str | None,
    primaries: int,
    replicas: int,
    base_ip: str,
    port: int,
    node_timeout: int,
    redis_server: str | None,
    zones: int,
    hosts: int | None,
    placement: str,
    password_file: str | None,
    tls: bool,
    announce_hostnames: bool,
    fmt: str,
) -> int:
    """Start P×(1+R) redis-server processes in cluster mode, create the cluster, wait for cluster_state:ok.

    Node n1 listens on --base-ip, n2 on the next IP, and so on, all on the same --port, each with its own
    directory (nodes.conf, AOF). Prints the binary and version used, and the addresses.
    """
    from rcdoctor.lab import Lab, LabSpec

    spec = LabSpec(
        primaries=primaries,
        replicas=replicas,
        base_ip=base_ip,
        port=port,
        node_timeout_ms=node_timeout,
        zones=zones,
        hosts=hosts,
        placement=placement,
        password_file=password_file,
        tls=tls,
        announce_hostnames=announce_hostnames,
    )
    handle = Lab.up(
        spec,
        name=name,
        directory=directory,
        redis_server=redis_server,
        log=output.info if fmt == "text" else lambda _: None,
    )
    _print_lab(handle, fmt)
    return 0


@lab.command("status")
@lab_options
@common.format_option
def status(name: str, directory: str | None, fmt: str) -> int:
    """The lab's processes (pid, running, paused, labels, applied faults) and each node's cluster_state."""
    from rcdoctor.lab import Lab

    _print_lab(Lab.open(name, directory), fmt, live=True)
    return 0


@lab.command("domains")
@lab_options
@click.option("--level", type=click.Choice(["host", "zone"]), default="host", show_default=True)
def domains(name: str, directory: str | None, level: str) -> int:
    """Print the lab's failure domains as JSON (address -> host or zone label), for `diagnose --domains`."""
    from rcdoctor.cli import output
    from rcdoctor.lab import Lab

    output.emit_json(Lab.open(name, directory).domains(level))
    return 0


@lab.command("down")
@lab_options
def down(name: str, directory: str | None) -> int:
    """Stop exactly the processes the lab started (by pid) and remove its directory."""
    from rcdoctor.lab import Lab

    handle = Lab.open(name, directory)
    count = len(handle.nodes)
    handle.down()
    output.info(f"lab {name!r}: stopped {count} node(s), removed {handle.state.root}")
    return 0


FAULT_SUMMARY = (
    "Apply a fault to the lab (recorded with its undo), or: `heal` to undo every recorded fault "
    "newest first, `list` to show them, `--op JSON` to apply a fault op given as data."
)


def _fault_help() -> str:
    from rcdoctor.lab.faults import KINDS
    from rcdoctor.lab.faults.base import TARGET_SETS

    # "\b" keeps Click from re-wrapping the lists into one paragraph
    kinds = "\n".join(f"  {k.name}: {k.summary}" for k in KINDS.values() if not k.undo_only)
    sets = "\n".join(f"  {n}: {text}" for n, text in TARGET_SETS.items())
    return (
        f"{FAULT_SUMMARY}\n\n\b\nKINDS\n{kinds}\n\n\b\n"
        f"TARGETS: node names (n1,n2), addresses, node ids, or sets:\n{sets}"
    )


# The catalogue of kinds imports the fault modules (and redis): only build it when `fault` is asked for.
@lab.command("fault", help=_fault_help() if "fault" in sys.argv else FAULT_SUMMARY)
@click.argument("kind", required=False)
@click.argument("targets", required=False)
@lab_options
@click.option("--slot", type=click.IntRange(0, 16383), default=None, help="Slot for slot faults.")
@click.option("--to", default=None, help="Second primary for half-migrate / assign-twice.")
@click.option("--keys", type=click.IntRange(0), default=None, help="Keys to move or copy in slot faults.")
@click.option("--seed", type=int, default=None, help="Random seed for random target sets.")
@click.option("--op", default=None, help='A fault op as JSON: {"f": "pause", "targets": "primary"}.')
@common.format_option
def fault(
    kind: str | None,
    targets: str | None,
    name: str,
    directory: str | None,
    slot: int | None,
    to: str | None,
    keys: int | None,
    seed: int | None,
    op: str | None,
    fmt: str,
) -> int:
    from rcdoctor.errors import UsageError
    from rcdoctor.lab import Lab
    from rcdoctor.lab.faults import FaultOp, apply, heal

    handle = Lab.open(name, directory)
    if op is not None:
        try:
            data = json.loads(op)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--op is not valid JSON: {exc}") from None
        ops = [FaultOp.from_dict(data)]
    elif kind in (None, "list"):
        if fmt == "json":
            output.emit_json(handle.state.faults)
            return 0
        if not handle.state.faults:
            output.info("no faults applied")
        for entry in handle.state.faults:
            output.info(
                f"{entry['at']}  {entry['op']['f']} on {', '.join(entry['nodes']) or '-'}  "
                f"(undo: {entry['undo']['f']})  {json.dumps(entry['details'])}"
            )
        return 0
    elif kind == "heal":
        results = heal(handle)
        _print_results(results, fmt, "healed" if results else "nothing to heal")
        return 0
    else:
        params: dict[str, object] = {
            k: v for k, v in {"slot": slot, "to": to, "keys": keys, "seed": seed}.items() if v is not None
        }
        ops = [FaultOp(kind, targets or (), params)]
    results = [apply(handle, o) for o in ops]
    _print_results(results, fmt, "applied")
    return 0


def _print_results(results: list[FaultResult], fmt: str, verb: str) -> None:
    if fmt == "json":
        output.emit_json([r.to_dict() for r in results])
        return
    if not results:
        output.info(verb)
    for r in results:
        output.info(f"{verb} {r.op.f} on {', '.join(r.nodes) or '-'}: {json.dumps(dict(r.details))}")


def _print_lab(lab: Lab, fmt: str, live: bool = False) -> None:
    data = lab.describe()
    states: dict[str, str] = {}
    if live:
        from rcdoctor.collect import collect

        snapshot = collect([n.address for n in lab.nodes if lab.is_running(n)] or lab.addresses, lab.options, grace=0.5)
        for node in lab.nodes:
            sample = snapshot.node(node.address)
            states[node.name] = (
                (sample.cluster_state or "?")
                if sample and sample.answered
                else (sample.error.kind if sample and sample.error else "not asked")
            )
        for entry in data["nodes"]:
            entry["cluster_state"] = states.get(entry["name"])
    if fmt == "json":
        output.emit_json(data)
        return
    from rich.table import Table

    console = output.console()
    console.print(
        f"lab {data['name']!r} at {data['dir']}: {data['server']}-server {data['version']} ({data['redis_server']}), "
        f"cluster-node-timeout {data['node_timeout_ms']} ms"
    )
    table = Table(header_style="bold", pad_edge=False)
    columns = ["name", "address", "pid", "process", "created as", "host", "zone", "node id"]
    if live:
        columns.append("cluster_state")
    for column in columns:
        table.add_column(column)
    for n in data["nodes"]:
        proc = "paused" if n["paused"] else "running" if n["running"] else "stopped"
        cells = [
            n["name"],
            n["address"],
            str(n["pid"] or "-"),
            proc,
            f"{n['role_at_create']} (shard {n['shard']})",
            n["host"],
            n["zone"],
            (n["node_id"] or "-")[:12],
        ]
        if live:
            cells.append(str(n.get("cluster_state")))
        table.add_row(*cells)
    console.print(table)
    if data["faults"]:
        console.print(
            f"{len(data['faults'])} fault(s) applied; `rcdoctor lab fault heal --name {data['name']}` undoes them"
        )


def _add_rehearse() -> None:
    from rcdoctor.cli.rehearse import rehearse

    lab.add_command(rehearse)


_add_rehearse()
