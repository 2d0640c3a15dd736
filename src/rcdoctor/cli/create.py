"""create: probe the empty nodes, place primaries and replicas across failure domains, print, --apply."""

from __future__ import annotations

from collections.abc import Callable

from rcdoctor.cli import output
from rcdoctor.cli.common import Target, expanded, read_domains
from rcdoctor.errors import EXIT_OK, UsageError
from rcdoctor.execute.journal import opened
from rcdoctor.migrate import create
from rcdoctor.migrate.membership import EmptyNode
from rcdoctor.model.domains import domain_for
from rcdoctor.model.sources import pod_domains
from rcdoctor.plan.placement import CreatePlan, Member, plan_create


def run_create(
    t: Target, replicas: int, domains_file: tuple[str, ...], apply: bool, allow_one_domain: bool, fmt: str
) -> int:
    seeds, sources = expanded(t)  # k8s:, @FILE and DNS names: every node they name
    # no --domains: the pods' zones (else Kubernetes nodes) of k8s: seeds, else each IP its own domain
    domains = read_domains(domains_file) if domains_file else pod_domains(sources)
    addresses = [str(seed.endpoint) for seed in seeds]
    members = [Member(a, domain_for([a], domains) or a) for a in addresses]
    plan = plan_create(members, replicas)  # usage errors before touching any node
    nodes = create.read_all(addresses, t.options)
    exposed = [i for i, s in enumerate(plan.shards, 1) if s.replicas and len({m.domain for m in s.members}) == 1]
    if apply and exposed and not allow_one_domain:
        raise UsageError(
            f"shard(s) {', '.join(map(str, exposed))} would have every copy in one failure domain (losing it loses "
            "their data); give more domains (--domains) or accept it with --allow-shard-in-one-domain"
        )
    log: Callable[[str], None] = output.info  # JSON on stdout stays parseable: progress goes to stderr
    if fmt == "text":
        _show(plan, nodes)
        log = output.console().print
    if apply:
        with opened("create", log) as journal:
            create.apply(plan, nodes, t.options, log, journal)
    elif fmt == "text":
        output.console().print("[bold]dry run[/]: nothing changed. Add --apply to create the cluster.")
    if fmt == "json":
        output.emit_json(create.to_dict(plan, nodes, apply))
    return EXIT_OK


def _show(plan: CreatePlan, nodes: dict[str, EmptyNode]) -> None:
    from rich.table import Table

    console = output.console()
    domains = {m.domain for s in plan.shards for m in s.members}
    replicas = sum(len(s.replicas) for s in plan.shards)
    console.print(
        f"[bold]plan[/]: {len(plan.shards)} primaries and {replicas} replicas on {len(nodes)} nodes "
        f"in {len(domains)} failure domain(s)"
    )
    table = Table(box=None, pad_edge=False)
    for column in ("shard", "slots", "primary (domain)", "replicas (domain)"):
        table.add_column(column)
    for number, shard in enumerate(plan.shards, 1):
        table.add_row(
            str(number),
            str(shard.slots),
            _member(shard.primary, nodes),
            ", ".join(_member(r, nodes) for r in shard.replicas) or "-",
        )
    console.print(table)
    for warning in plan.warnings:
        console.print(f"[yellow]warning[/]: {warning}")


def _member(member: Member, nodes: dict[str, EmptyNode]) -> str:
    return f"{member.address} {nodes[member.address].node_id[:8]} ({member.domain})"
