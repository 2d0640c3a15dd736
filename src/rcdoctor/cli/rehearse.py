"""`rcdoctor lab rehearse split-brain` (write loss across a partition) and `chaos` (seeded rounds of
faults, each diagnosed, healed and verified), on throwaway labs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rcdoctor.cli import common, output
from rcdoctor.errors import EXIT_CANNOT_RUN, EXIT_CRITICAL, EXIT_OK

if TYPE_CHECKING:
    from rcdoctor.chaos.run import ChaosOutcome


@click.group()
def rehearse() -> None:
    """Rehearse failures on a throwaway lab and measure what they cost."""


@rehearse.command("split-brain")
@click.option("-p", "--primaries", type=click.IntRange(3, 20), default=3, show_default=True)
@click.option("-r", "--replicas", type=click.IntRange(1, 3), default=1, show_default=True, help="Per primary.")
@common.node_timeout_option(60_000)
@click.option("--min-replicas-to-write", type=click.IntRange(0, 3), default=0, show_default=True)
@click.option("--min-replicas-max-lag", type=click.IntRange(1, 600), default=10, show_default=True, help="Seconds.")
@click.option("--replica-validity-factor", type=click.IntRange(0, 100), default=10, show_default=True)
@click.option(
    "--minority-primaries",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Primaries cut off together (with client b); the rest and client a form the other side. Half of an "
    "even count (2 of 4) leaves no side with a majority.",
)
@click.option(
    "--hold", type=click.FloatRange(0.5, 600), default=None, help="Seconds partitioned (default: 3 x node timeout + 2)."
)
@click.option(
    "--save-divergence",
    "divergence_dir",
    default=None,
    help="Run `split-brain diff` just before the heal and keep its files in this directory.",
)
@click.option(
    "--restore-minority",
    is_flag=True,
    help="With --save-divergence: after the heal, restore the minority-only keys and count the losses again.",
)
@click.option("--base-ip", default="127.240.0.11", show_default=True, help="IP of the lab's first node.")
@common.redis_server_option
@common.format_option
def split_brain(
    primaries: int,
    replicas: int,
    node_timeout: int,
    min_replicas_to_write: int,
    min_replicas_max_lag: int,
    replica_validity_factor: int,
    minority_primaries: int,
    hold: float | None,
    divergence_dir: str | None,
    restore_minority: bool,
    base_ip: str,
    redis_server: str | None,
    fmt: str,
) -> int:
    """Cut a primary (or a minority of primaries) and a client off, let the majority fail over, heal,
    and count what was lost.

    Client a writes from the majority side, client b from the cut-off side: unique keys in the cut-off
    primary's slots, plus two shared keys both overwrite (the seed's Key_A). Each operation is recorded
    ok / fail / unknown with timestamps; after the heal every key is read back. Reports acknowledged
    writes lost, the window in which the cut-off primary still acknowledged writes (seconds and writes),
    unavailability per client, and conflicting keys. Needs root and nftables (packets are really dropped).
    Exit 0 when no acknowledged write was lost, 2 when some were.
    """
    from rcdoctor.lab import LabSpec, temporary_lab
    from rcdoctor.rehearsal.run import RehearsalSettings
    from rcdoctor.rehearsal.run import rehearse as run

    if minority_primaries * 2 > primaries:
        raise click.UsageError("--minority-primaries must be at most half of --primaries")
    if restore_minority and not divergence_dir:
        raise click.UsageError("--restore-minority needs --save-divergence DIR")
    settings = RehearsalSettings(node_timeout, min_replicas_to_write, min_replicas_max_lag, replica_validity_factor)
    say = _say(fmt)
    say(f"starting a {primaries}+{primaries * replicas} lab (node timeout {node_timeout} ms)")
    spec = LabSpec(primaries=primaries, replicas=replicas, base_ip=base_ip, node_timeout_ms=node_timeout)
    with temporary_lab(spec, "rehearsal", redis_server) as lab:
        outcome = run(
            lab,
            settings,
            hold_s=hold,
            minority_primaries=minority_primaries,
            divergence_dir=Path(divergence_dir) if divergence_dir else None,
            restore=restore_minority,
            log=say,
        )
    result = outcome.to_dict()
    if fmt == "json":
        output.emit_json(result)
    else:
        render(result)
    final = outcome.after_restore or outcome.verdict
    return EXIT_OK if not final.lost else EXIT_CRITICAL


def render(result: dict[str, Any]) -> None:
    r = result["result"]
    assert isinstance(r, dict)
    t = result["timeline"]
    assert isinstance(t, dict)
    console = output.console()
    w = r["minority_window"]
    failover = t.get("failover_seen")
    console.print(
        f"settings: {result['settings']}; {result['primaries']} primaries; cut off: {', '.join(result['isolated'])}",
        markup=False,
    )
    console.print(
        f"partitioned {t['partition_end'] - t['partition_start']:.1f}s; failover seen after "
        + (f"{failover - t['partition_start']:.1f}s" if failover else "never")
        + f"; converged {t['converged'] - t['partition_end']:.1f}s after the heal",
        markup=False,
    )
    console.print(
        f"operations {r['operations']}, acknowledged writes {r['acknowledged_writes']}, unknown {r['unknown']}",
        markup=False,
    )
    console.print(
        f"minority window: the cut-off primary acknowledged {w['writes_acknowledged']} writes during "
        f"{w['seconds']}s after the partition began; {w['writes_lost']} of them were lost",
        markup=False,
    )
    for outage in r["unavailability"]:
        console.print(
            f"client {outage['client']}: longest unavailability {outage['longest_s']}s "
            f"({outage['failed']} failed, {outage['unknown']} unknown)",
            markup=False,
        )
    for conflict in r["conflicts"]:
        written = ", ".join(f"{client}: {len(v)} write(s), last {v[-1]!r}" for client, v in conflict["values"].items())
        console.print(f"conflict {conflict['key']}: {written}; the cluster kept {conflict['final']!r}", markup=False)
    style = "red" if r["lost"] else "green"
    console.print(f"[{style}]acknowledged writes lost: {r['lost']}[/]")
    for saved in result.get("divergence", []):
        console.print(
            f"split-brain diff before the heal: {saved['minority_only']} minority-only key(s), {saved['conflicts']} "
            f"conflict(s), saved to {saved['file']}",
            markup=False,
        )
    after = result.get("after_restore")
    if isinstance(after, dict):
        style = "red" if after["lost"] else "green"
        console.print(f"[{style}]after restoring the minority-only keys: {after['lost']} lost[/]")


@rehearse.command("chaos")
@click.option("--rounds", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of the draw (default: a new one, printed).")
@click.option("--round", "only_round", type=click.IntRange(0), default=None, help="Replay only this round.")
@click.option(
    "--faults",
    "kinds",
    default=None,
    metavar="K,K,…",
    help="Fault kinds to draw from (default: all; partition only as root with nft). "
    "`rcdoctor lab rehearse chaos --list` names them.",
)
@click.option("--list", "list_kinds", is_flag=True, help="List the fault kinds and exit.")
@click.option("-p", "--primaries", type=click.IntRange(2, 10), default=3, show_default=True)
@click.option("--keys", type=click.IntRange(0, 10_000_000), default=2000, show_default=True, help="Data set size.")
@common.node_timeout_option(60_000)
@click.option("--base-ip", default="127.230.0.11", show_default=True, help="IP of the lab's first node.")
@common.redis_server_option
@common.format_option
def chaos(
    rounds: int,
    seed: int | None,
    only_round: int | None,
    kinds: str | None,
    list_kinds: bool,
    primaries: int,
    keys: int,
    node_timeout: int,
    base_ip: str,
    redis_server: str | None,
    fmt: str,
) -> int:
    """Rounds of seeded faults on a real lab, each diagnosed, healed and verified; count what was lost.

    The lab is formed by `redis-cli --cluster create` (one replica per primary) at server defaults, with
    --keys keys written. Each round draws faults (and combinations that leave one copy of every shard)
    from the catalogue, writes from one client per shard throughout (a write counts once WAIT says a
    replica has it), applies the faults, lets the infrastructure undo the passing ones (restart, wake,
    network back), then runs diagnose, `rcdoctor heal --apply` with only the risk flags its plan asks
    for, and `rcdoctor verify`. Keys lost: data-set keys missing or changed, plus acknowledged writes
    gone. A failing round prints the command that replays it. Exit 0 when no key was lost and every
    round healed (or heal refused, saying why), 2 otherwise, 3 when the rehearsal could not run.
    """
    import secrets

    from rcdoctor.chaos.generator import CATALOGUE, parse_kinds
    from rcdoctor.chaos.run import ChaosSettings
    from rcdoctor.chaos.run import rehearse as run
    from rcdoctor.lab.network import network_available

    if list_kinds:
        for name, summary in CATALOGUE.items():
            click.echo(f"{name:<18} {summary}")
        return EXIT_OK
    try:
        chosen = parse_kinds(kinds, network_available())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    seed = secrets.randbelow(1_000_000) if seed is None else seed
    settings = ChaosSettings(
        seed, rounds, chosen, only_round, primaries, 1, keys, node_timeout, base_ip=base_ip, redis_server=redis_server
    )
    say = _say(fmt)
    say(f"chaos rehearsal: seed {seed}, {1 if only_round is not None else rounds} round(s), faults {','.join(chosen)}")
    outcome = run(settings, say)
    if fmt == "json":
        output.emit_json(outcome.to_dict())
    else:
        _render_chaos(outcome)
    if not outcome.results:
        return EXIT_CANNOT_RUN
    return EXIT_CRITICAL if outcome.failed else EXIT_OK


def _say(fmt: str) -> Callable[[str], None]:
    """Progress lines on stderr, none when the output is JSON."""

    def say(text: str) -> None:
        if fmt != "json":
            output.info(text)

    return say


def _render_chaos(outcome: ChaosOutcome) -> None:
    from rcdoctor.chaos.run import verdict

    result = outcome.to_dict()
    console = output.console()
    style = "red" if outcome.failed else "green"
    console.print(
        f"[{style}]{result['rounds']} round(s): {result['rounds_healed']} healed, "
        f"{result['rounds_refused']} refused, "
        f"{result['rounds_failed']} failed; keys lost: {result['keys_lost']}[/]"
        + (f" ({result['keys_lost_accepted']} more under a risk flag)" if result["keys_lost_accepted"] else "")
    )
    for failed in outcome.failed:
        console.print(f"round {failed.plan.index}: {verdict(failed)}", markup=False)
        console.print(f"  replay: {outcome.replay(failed)}", markup=False)
