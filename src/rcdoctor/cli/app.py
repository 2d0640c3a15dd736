"""The `rcdoctor` command (Click). Heavy imports (redis, rich, the lab) happen inside commands."""

from __future__ import annotations

import sys
from typing import Any

import click

from rcdoctor import __version__
from rcdoctor.cli import common
from rcdoctor.cli.lab import lab


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="rcdoctor", message="%(prog)s %(version)s")
def app() -> None:
    """A doctor for Redis Cluster and Valkey cluster: collect every node's view, show status, and
    rehearse failures on a real local lab.

    \b
    Exit codes: 0 healthy, 1 warnings, 2 critical/unhealthy,
                3 could not run (bad arguments, nothing reachable, auth refused).
    Add --debug anywhere for a traceback instead of a one-line error.
    """


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@click.option("-o", "--output", default=None, help="Write the snapshot JSON here (default: stdout).")
def collect(seeds: tuple[str, ...], output: str | None, reach: common.Reach) -> int:
    """Collect every node's view in parallel into one snapshot (JSON).

    The snapshot holds each node's CLUSTER NODES/INFO/SLOTS/SHARDS/LINKS, INFO, CONFIG GET of cluster,
    persistence and announce settings, plus what rcdoctor saw itself: TCP reachability and latency of the
    data and bus ports, DNS answers, errors. No secret is ever written into it.
    Exit 0 when every node answered, 2 when some did not, 3 when none did.
    """
    from rcdoctor.cli.commands import run_collect

    return run_collect(common.target(seeds, reach), output)


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@common.format_option
@click.option("--from", "from_file", default=None, help="Show a saved snapshot (SEEDS are then ignored).")
def status(seeds: tuple[str, ...], fmt: str, from_file: str | None, reach: common.Reach) -> int:
    """Every node from every view on one screen.

    One row per node id: addresses (where it answered, where peers list it), role, primary, slot ranges,
    its own cluster_state, configEpoch/currentEpoch, bus links, flags as reported by others, key count.
    Exit 0 ok; 1 warnings (fail?, disconnected links, stale addresses); 2 critical (a node down, flagged
    fail, or not cluster_state:ok); 3 nothing answered.
    """
    from rcdoctor.cli.commands import run_status

    t = None if from_file else common.target(seeds, reach)
    return run_status(t, fmt, from_file)


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@common.format_option
@click.option("--from", "from_file", default=None, help="Diagnose a saved snapshot (SEEDS are then ignored).")
@click.option(
    "--select",
    multiple=True,
    help="Only these checks: codes, code prefixes, names or families (repeat or comma-separate).",
)
@click.option("--ignore", multiple=True, help="Leave out these checks (same forms as --select).")
@common.domains_option
@click.option("--expand", is_flag=True, help="Text: show every symptom in full instead of folding it under its cause.")
def diagnose(
    seeds: tuple[str, ...],
    fmt: str,
    from_file: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    domains_file: tuple[str, ...],
    expand: bool,
    reach: common.Reach,
) -> int:
    """Find what is wrong and why: every node's view through the catalogue of checks, root causes first.

    Each finding has a stable code (`rcdoctor explain CODE`), the nodes concerned (id and address), the
    evidence (which node said what) and the fix. Symptoms a root cause explains are folded under it.
    Exit 0 healthy (info findings at most), 1 warnings, 2 critical, 3 could not run.
    """
    from rcdoctor.cli.diagnose import run_diagnose

    t = None if from_file else common.target(seeds, reach)
    return run_diagnose(t, fmt, from_file, select, ignore, domains_file, expand)


@app.command()
@click.argument("code", required=False)
@common.format_option
def explain(code: str | None, fmt: str) -> int:
    """What a check code means, the evidence it uses, why it matters, how to fix it by hand, and whether
    `heal` can. Without CODE: the list of all checks."""
    from rcdoctor.cli.diagnose import run_explain

    return run_explain(code, fmt)


@app.command()
@common.redis_server_option
@click.option("--base-ip", default="127.0.0.111", show_default=True, help="First loopback IP of the demo's nodes.")
@click.option(
    "--keys",
    type=click.IntRange(0, 10_000_000),
    default=1000,
    show_default=True,
    help="Keys to write before the incident.",
)
@common.node_timeout_option(60_000)
def demo(redis_server: str | None, base_ip: str, keys: int, node_timeout: int) -> int:
    """Play the seed incident on a real local 3+3 cluster, from the failure to the proof of the repair.

    Writes keys and saves a baseline, restarts every node at a new address at once (pods recreated with
    new IPs), shows `Cluster state changed: ok` turning into `fail` in the servers' logs, what a client
    sees and what status shows, diagnoses the root cause, prints the heal plan, heals, verifies every
    key against the baseline, then stops the lab (about 15 seconds).
    """
    from rcdoctor.cli.demo import run_demo

    return run_demo(redis_server, base_ip, keys, node_timeout)


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@common.format_option
@click.option("--weight", "weights", multiple=True, help="NODE=W (id, id prefix or host:port); 0 empties a primary.")
@click.option("--use-empty-primaries", is_flag=True, help="Give slots to primaries that have none (new nodes).")
@click.option(
    "--by",
    type=click.Choice(["slots", "keys", "memory"]),
    default="slots",
    show_default=True,
    help="What to balance: slot counts, keys, or estimated bytes.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 100),
    default=2.0,
    show_default=True,
    help="Do nothing unless a primary is off its share by more than this percent.",
)
@common.engine_options
def rebalance(
    seeds: tuple[str, ...],
    fmt: str,
    weights: tuple[str, ...],
    use_empty_primaries: bool,
    by: str,
    threshold: float,
    reach: common.Reach,
    engine: common.EngineArgs,
) -> int:
    """Even out slots (or keys, or memory) across the primaries, moving several slots at once.

    Prints the plan (transfers, load before/after) and changes nothing unless --apply. Refuses a cluster
    with nodes down, disagreeing slot maps or open slots (--resume closes slots an interrupted run left).
    Exit 0 done or nothing to do, 2 some slots failed or were left open, 3 could not run.
    """
    from rcdoctor.cli.migrate import parse_weights, run_move
    from rcdoctor.migrate import session
    from rcdoctor.plan import moves as plan

    t = common.target(seeds, reach)

    def planner(top: Any) -> Any:
        counts = session.slot_key_counts(top, t.options) if by != "slots" else None
        return plan.rebalance(top, parse_weights(weights, top), use_empty_primaries, by, threshold, counts)

    return run_move("rebalance", t, fmt, engine, planner)


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@common.format_option
@click.option(
    "--from", "sources", required=True, help="Source primaries (ids, prefixes or host:port, comma-separated) or 'all'."
)
@click.option("--to", "target", required=True, help="The primary that receives the slots.")
@click.option("--slots", "count", type=click.IntRange(1, 16384), required=True, help="How many slots to move.")
@common.engine_options
def reshard(
    seeds: tuple[str, ...],
    fmt: str,
    sources: str,
    target: str,
    count: int,
    reach: common.Reach,
    engine: common.EngineArgs,
) -> int:
    """Move N slots to one primary, taken from the given sources in proportion to what they hold.

    Prints the plan and changes nothing unless --apply. Exit 0 done, 2 some slots failed, 3 could not run.
    """
    from rcdoctor.cli.migrate import run_move
    from rcdoctor.plan import moves as plan

    t = common.target(seeds, reach)

    def planner(top: Any) -> Any:
        to = plan.node_named(top, target, "--to", lambda n: n.primary).node_id
        ids = (
            None
            if sources.strip() == "all"
            else [
                plan.node_named(top, s.strip(), "--from", lambda n: n.primary).node_id
                for s in sources.split(",")
                if s.strip()
            ]
        )
        return plan.reshard(top, ids, to, count)

    return run_move("reshard", t, fmt, engine, planner)


@app.command("heal", epilog=common.SEEDS_HELP)
@click.option("--apply", is_flag=True, help="Do it. Without --apply the plan is printed and nothing changes.")
@click.option(
    "--journal",
    "journal_path",
    default=None,
    help="Journal file (default: a new file under ~/.local/state/rcdoctor/journals).",
)
@click.option(
    "--allow-failover-force",
    is_flag=True,
    help="RISK: promote a replica of a dead primary (CLUSTER FAILOVER FORCE); writes it had not received are lost.",
)
@click.option(
    "--allow-takeover",
    is_flag=True,
    help="RISK: promote without a majority of primaries (FAILOVER TAKEOVER): split brain if the old primary lives.",
)
@click.option(
    "--allow-discard-replica-copy",
    is_flag=True,
    help="RISK: let a stale copy (a node back without nodes.conf) rejoin as a replica although some of its keys "
    "hold other values than the primary's; those values are kept only in the salvage file heal writes first.",
)
@click.option(
    "--forget-down",
    is_flag=True,
    help="Also FORGET slotless nodes that are only down (else they rejoin by themselves when back). Never a node "
    "that may have moved (while any node answers at a new address): name those with --forget.",
)
@click.option(
    "--forget",
    "forget_ids",
    multiple=True,
    metavar="ID",
    help="A node id (or 8+ character prefix) you know is gone for good (repeatable): the proof heal needs to "
    "FORGET, fail over or reassign the slots of a node that may have moved.",
)
@click.option(
    "--fix-announce-config",
    is_flag=True,
    help="RISK: CONFIG SET a cluster-announce-ip/-port/-bus-port that sends peers where the node cannot be reached "
    "(C006). The runtime value only: the same wrong value is in the config file / pod spec and comes back at the "
    "next restart; behind NAT the address rcdoctor reaches may not be the one peers must use.",
)
@click.option(
    "--rebuild-from-keys",
    is_flag=True,
    help="Last resort when every node knows only itself (no cluster left): create the cluster again around the "
    "keys the nodes hold, each slot to the node holding its keys; copies are merged before they are emptied.",
)
@common.format_option
@common.cluster_options
def heal(
    apply: bool,
    journal_path: str | None,
    allow_failover_force: bool,
    allow_takeover: bool,
    allow_discard_replica_copy: bool,
    forget_down: bool,
    forget_ids: tuple[str, ...],
    fix_announce_config: bool,
    rebuild_from_keys: bool,
    fmt: str,
    seeds: tuple[str, ...],
    reach: common.Reach,
) -> int:
    """Repair what diagnose found, as an ordered plan of steps; dry run unless --apply.

    Phases: (with --rebuild-from-keys, when no cluster is left: create it again around the nodes' keys);
    (with --fix-announce-config: CONFIG SET an announce setting that sends peers nowhere); MEET nodes back
    at new addresses (never one whose announce setting would undo it);
    rejoin nodes back without nodes.conf (a stale copy's keys merged into
    the primary or kept in a salvage file before it is emptied); fail over a dead primary's replica (only
    with the flag that names the risk); re-point replicas of gone primaries; FORGET ghosts everywhere at
    once; close open slots in the direction of their keys and give uncovered slots to the node holding their keys. Each
    step's precondition is checked on the live cluster right before it runs; every step is journaled; the
    cluster is collected and re-planned between phases; the first failure stops the run. Exit 0 healthy
    (or nothing to do), 1 healed but warnings heal cannot act on remain (e.g. a shard without replica),
    2 not healed or something left for a human, 3 could not run.
    """
    from rcdoctor.cli.heal import run_heal
    from rcdoctor.plan.heal import Flags

    t = common.target(seeds, reach)
    flags = Flags(
        allow_failover_force,
        allow_takeover,
        allow_discard_replica_copy,
        forget_down,
        rebuild_from_keys,
        forget=common.node_ids(forget_ids),
        fix_announce=fix_announce_config,
    )
    return run_heal(t, flags, apply, journal_path, fmt)


@app.command("verify", epilog=common.SEEDS_HELP)
@click.option("--expect-keys", type=click.IntRange(0), default=None, help="The total number of keys there must be.")
@click.option("--baseline", "baseline_path", default=None, help="Compare key count and content with this baseline.")
@click.option("--save-baseline", default=None, help="Write a baseline (per-slot count and digest) if verify passes.")
@common.format_option
@common.cluster_options
def verify(
    expect_keys: int | None,
    baseline_path: str | None,
    save_baseline: str | None,
    fmt: str,
    seeds: tuple[str, ...],
    reach: common.Reach,
) -> int:
    """Prove the cluster works: real writes and reads on every primary, routing through every node.

    Checks every node answers, says cluster_state:ok and agrees on one complete slot map with no slot
    open; writes a probe key in each primary's slots through a cluster client, reads it back, reads it
    through every node (owner answers, others MOVED to it) and on every replica; counts keys per primary.
    --save-baseline before an incident and --baseline after it prove no key was lost or changed (count
    and content digest per slot). Probe keys are deleted. Exit 0 verified, 2 a check failed, 3 could not run.
    """
    from rcdoctor.cli.verify import run_verify_command

    t = common.target(seeds, reach)
    return run_verify_command(t, expect_keys, baseline_path, save_baseline, fmt)


@app.command("create", epilog=common.SEEDS_HELP)
@click.option("--replicas", type=click.IntRange(0, 10), required=True, help="Replicas per primary.")
@common.domains_option
@click.option("--apply", is_flag=True, help="Do it. Without --apply the placement is printed and nothing changes.")
@click.option(
    "--allow-shard-in-one-domain",
    "allow_one_domain",
    is_flag=True,
    help="RISK: apply even when a shard's primary and all its replicas share one failure domain.",
)
@common.format_option
@common.cluster_options
def create_cluster(
    replicas: int,
    domains_file: tuple[str, ...],
    apply: bool,
    allow_one_domain: bool,
    fmt: str,
    seeds: tuple[str, ...],
    reach: common.Reach,
) -> int:
    """Build a cluster from the empty nodes SEEDS (each cluster-enabled, no keys, knowing no one).

    Primaries are spread over failure domains and every replica is placed in a domain other than its
    primary's (domains: --domains FILE, else each IP). Slots are split evenly; nodes beyond
    primaries x (1 + replicas) become extra replicas. Prints the placement; changes nothing unless --apply.
    """
    from rcdoctor.cli.create import run_create

    t = common.target(seeds, reach)
    return run_create(t, replicas, domains_file, apply, allow_one_domain, fmt)


@app.command("add-node", epilog=common.SEEDS_HELP)
@click.argument("new")
@click.option("--to", "to", required=True, help="Any member of the cluster (host:port or URL).")
@click.option("--replica-of", default=None, help="Join as a replica of this primary (id, prefix or host:port).")
@click.option("--primary", is_flag=True, help="Join as an empty primary (the default).")
@click.option("--apply", is_flag=True, help="Do it. Without --apply the steps are printed and nothing changes.")
@common.cluster_options
def add_node(
    new: str, to: str, replica_of: str | None, primary: bool, apply: bool, seeds: tuple[str, ...], reach: common.Reach
) -> int:
    """Add an empty node NEW to the cluster of --to, as an empty primary or a replica.

    NEW must be empty: cluster-enabled, no keys, no slots, knowing no other node (nothing is deleted for
    you). rcdoctor waits until every member lists it before making it a replica.
    """
    from rcdoctor.cli.membership import run_add

    if primary and replica_of:
        raise click.UsageError("--primary and --replica-of exclude each other")
    t = common.target((to, *seeds), reach)
    return run_add(t, new, replica_of, apply)


@app.command("remove-node", epilog=common.SEEDS_HELP)
@click.argument("node")
@click.option("--from", "from_", required=True, help="Any member of the cluster (host:port or URL).")
@common.cluster_options
@common.engine_options
def remove_node(node: str, from_: str, seeds: tuple[str, ...], reach: common.Reach, engine: common.EngineArgs) -> int:
    """Remove NODE (id, id prefix or host:port) from the cluster of --from.

    Drains its slots first (same engine and options as rebalance), re-points its replicas to the primary
    with the fewest, makes every other node FORGET it within one second (inside the 60 s blacklist), then
    resets it so it stops gossiping. A node that does not answer is only forgotten, and only if it owns
    no slots. Prints the steps; changes nothing unless --apply.
    """
    from rcdoctor.cli.membership import run_remove

    t = common.target((from_, *seeds), reach)
    return run_remove(t, node, engine)


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@click.option(
    "--listen",
    default="127.0.0.1:9840",
    show_default=True,
    help="HOST:PORT serving /metrics, /healthz and /sd; 0.0.0.0:9840 for Prometheus elsewhere (the pages show "
    "node ids, addresses, pids and run ids to whoever reaches the port: restrict it, e.g. a NetworkPolicy).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 3600),
    default=15.0,
    show_default=True,
    help="Seconds between the starts of two collections (a scrape serves the last finished one).",
)
@click.option(
    "--seeds-file",
    default=None,
    help="Also read seed addresses from this file (one per line) before every collection, e.g. kept current "
    "by a sidecar; DNS names are resolved again at every collection anyway.",
)
@common.domains_option
@click.option("--once", is_flag=True, help="Collect once, print the metrics on stdout and exit.")
def exporter(
    seeds: tuple[str, ...],
    listen: str,
    interval: float,
    seeds_file: str | None,
    domains_file: tuple[str, ...],
    once: bool,
    reach: common.Reach,
) -> int:
    """Prometheus exporter for the whole cluster: every node collected and analyzed together.

    Per node, redis_exporter's metric names and meanings (redis_up, redis_cluster_state,
    redis_cluster_slots_fail, replication links and offsets, …) labelled addr, node_id and role, so
    existing rules and dashboards keep working; plus cluster-wide rcdoctor_* metrics no single-node
    exporter can have: views agree, uncovered and open slots, nodes failed by quorum, stale addresses,
    suspected split-brain, findings by code and severity, placement risk, collection health.
    Scrapes never wait for nodes: they serve the last finished collection. Endpoints: /metrics,
    /healthz (the exporter itself, not the cluster), /sd (Prometheus HTTP service discovery).
    """
    from rcdoctor.cli.monitor import run_exporter

    if not seeds and not seeds_file:
        raise click.UsageError("give seed addresses or --seeds-file")
    placeholder = seeds or ("127.0.0.1:6379",)  # only for the options; the file supplies the seeds
    t = common.target(placeholder, reach)
    if not seeds:
        t = common.Target((), t.options)
    return run_exporter(t, listen, interval, seeds_file, domains_file, once)


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@click.option(
    "--listen",
    default="127.0.0.1:9840",
    show_default=True,
    help="HOST:PORT serving /metrics, /status and /healthz; 0.0.0.0:9840 for Prometheus elsewhere (like the "
    "exporter's pages, /status shows node ids and addresses to whoever reaches the port: restrict it).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between the starts of two rounds (collect, analyze, decide).",
)
@click.option("--dry-run", is_flag=True, help="Decide and report (journal, log, /status, metrics); change nothing.")
@click.option(
    "--allow",
    default=None,
    metavar="CODE,…",
    help="Root-cause codes whose repairs may run unattended (`default` = A003,A004,A007,R002,R004,S004,M003,M001: "
    "re-MEET moved nodes, re-point replicas, close open slots, forget ghosts proven gone). Repairs that can lose "
    "data never run unattended, whatever this says.",
)
@click.option(
    "--hook",
    default=None,
    metavar="CMD",
    help="Shell command run on detection, before and after a repair (RCDOCTOR_EVENT, RCDOCTOR_CODES, … in its "
    "environment); a non-zero exit before a repair vetoes it.",
)
@click.option(
    "--block-period",
    type=click.FloatRange(0, 86400),
    default=300.0,
    show_default=True,
    help="Seconds after a repair during which no other runs, unless the last succeeded and this is a new finding.",
)
@click.option(
    "--confirm-rounds",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="Consecutive rounds a root cause must be seen in (by more than one node) before it is repaired.",
)
@click.option(
    "--lease",
    "lease_spec",
    default=None,
    metavar="SPEC",
    help="One actor per cluster: k8s:NAMESPACE/NAME (a coordination.k8s.io Lease, through kubectl) or file:PATH "
    "(a locked file; default: under the state directory, keyed by the seeds).",
)
@click.option(
    "--seeds-file",
    default=None,
    help="Also read seed addresses from this file (one per line) before every round.",
)
@common.domains_option
def autopilot(
    seeds: tuple[str, ...],
    listen: str,
    interval: float,
    dry_run: bool,
    allow: str | None,
    hook: str | None,
    block_period: float,
    confirm_rounds: int,
    lease_spec: str | None,
    seeds_file: str | None,
    domains_file: tuple[str, ...],
    reach: common.Reach,
) -> int:
    """The exporter plus unattended healing of what loses nothing (docs/autopilot.md).

    Every --interval: collect through the seeds (names and k8s: followed), analyze, plan with heal's
    planner. A repair runs only when its root cause is allowed (--allow), was seen in --confirm-rounds
    consecutive rounds by more than one node, no repair ran within --block-period (unless the last
    succeeded and this is a new finding), this autopilot holds the --lease, the --hook does not veto it,
    and heal's preconditions hold live, step by step. Repairs that can lose data are never automatic: they
    are reported as needing a human, with the command. Every decision goes to a journal (JSON lines under
    the state directory) and a JSON line on stderr. Endpoints: /metrics (the exporter's, plus
    rcdoctor_autopilot_*), /status (the decision state, JSON), /healthz. Runs until SIGTERM/Ctrl-C.
    """
    from rcdoctor.cli.autopilot import run_autopilot

    if not seeds and not seeds_file:
        raise click.UsageError("give seed addresses or --seeds-file")
    t = common.target(seeds or ("127.0.0.1:6379",), reach)
    if not seeds:
        t = common.Target((), t.options)
    return run_autopilot(
        t,
        listen=listen,
        interval=interval,
        dry_run=dry_run,
        allow=allow,
        hook=hook,
        block_period=block_period,
        confirm_rounds=confirm_rounds,
        lease_spec=lease_spec,
        seeds_file=seeds_file,
        domains_file=domains_file,
    )


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@common.domains_option
@click.option("--pairs", is_flag=True, help="Also every pair of domains lost together.")
@click.option("--from", "from_file", default=None, help="Analyze a saved snapshot (SEEDS are then ignored).")
@common.format_option
def risk(
    seeds: tuple[str, ...],
    domains_file: tuple[str, ...],
    pairs: bool,
    from_file: str | None,
    fmt: str,
    reach: common.Reach,
) -> int:
    """What losing each failure domain (host, Kubernetes node, zone) would do to the cluster.

    For every domain (and with --pairs every two): primaries lost, whether a majority of primaries remains,
    shards left without any copy, whether each lost primary's replica can still win its election. Plus the
    even/odd primary count, shards with two copies in one domain, the write-loss bound of the current
    settings, and concrete recommendations (which replica to fail over, where to add a node).
    Domains: --domains FILE (a JSON/YAML map, or kubectl get pods/nodes -o json), else each IP.
    Exit 0 when losing any one domain is survived by failovers, 1 warnings (even primaries, shared domains),
    2 when losing some single domain takes slots down.
    """
    from rcdoctor.cli.risk import run_risk

    t = None if from_file else common.target(seeds, reach)
    return run_risk(t, from_file, domains_file, pairs, fmt)


@app.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def probe(args: tuple[str, ...]) -> int:
    """Kubernetes exec probe: probe liveness|readiness|startup [ADDR] (see `rcdoctor probe --help`)."""
    from rcdoctor.cli.probe import main as probe_main

    return probe_main(list(args))


@app.command(epilog=common.SEEDS_HELP)
@common.cluster_options
@click.option("--from", "from_file", default=None, help="Report on a saved snapshot (SEEDS are then ignored).")
@click.option("-o", "--output", "destination", default=None, help="Write the report here (default: stdout).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown"]),
    default="html",
    show_default=True,
    help="One self-contained HTML page, or Markdown for tickets and chat.",
)
@click.option("--with-plan", is_flag=True, help="Add heal's repair plan (a dry run: nothing is changed).")
@click.option(
    "--logs",
    multiple=True,
    metavar="PATH",
    help="Server logs for the timeline: a file, a directory (its *.log) or `-`; repeat or comma-separate.",
)
@click.option("--tz", "tz_text", default="Z", show_default=True, help="UTC offset the servers log in (with --logs).")
@click.option("--journal", "journal_path", default=None, help="Add a heal/rebalance/reshard journal (a .jsonl file).")
@common.domains_option
def report(
    seeds: tuple[str, ...],
    from_file: str | None,
    destination: str | None,
    fmt: str,
    with_plan: bool,
    logs: tuple[str, ...],
    tz_text: str,
    journal_path: str | None,
    domains_file: tuple[str, ...],
    reach: common.Reach,
) -> int:
    """The incident report: one page to attach to a ticket (HTML, or Markdown).

    A header (cluster, time, server versions, verdict and exit code), the slot map (16384 slots coloured
    by owner, open, uncovered and contested slots marked), who sees whom (each node's view of every
    other), the topology (shards, primaries, replicas, failure domains), the root causes with evidence
    and fixes (symptoms folded); with --with-plan heal's plan, with --logs the timeline. The HTML is one
    file with inline CSS and SVG: no script, no external URL, it opens offline. Exit codes as diagnose.
    """
    from rcdoctor.cli.report import run_report

    t = None if from_file else common.target(seeds, reach)
    return run_report(t, from_file, destination, fmt, with_plan, logs, domains_file, tz_text, journal_path)


@app.command()
@click.argument("logs", nargs=-1)
@click.option("--lab", "lab_name", default=None, help="Also read every node's log of this lab (n1, n2, …).")
@click.option("--lab-dir", default=None, help="The lab's directory (with --lab; default: the lab root).")
@click.option("--snapshot", default=None, help="A snapshot (`rcdoctor collect`) naming each node's address by id.")
@click.option(
    "--tz",
    "tz_text",
    default="Z",
    show_default=True,
    help="UTC offset the servers log in (e.g. +02:00): "
    "Redis writes local time without a zone; kubectl --timestamps lines carry their own.",
)
@click.option("--since", default=None, help="Only events at or after this time (ISO-8601, or HH:MM[:SS]).")
@click.option("--until", default=None, help="Only events at or before this time (ISO-8601, or HH:MM[:SS]).")
@click.option("--no-fold", "no_fold", is_flag=True, help="Show every repeat instead of folding it into the first.")
@click.option("--all", "everything", is_flag=True, help="Also log lines that are no cluster event (kind other).")
@common.format_option
def timeline(
    logs: tuple[str, ...],
    lab_name: str | None,
    lab_dir: str | None,
    snapshot: str | None,
    tz_text: str,
    since: str | None,
    until: str | None,
    no_fold: bool,
    everything: bool,
    fmt: str,
) -> int:
    """One time-ordered stream of cluster events from the servers' logs (LOG files, `-` for stdin).

    Reads Redis 6.2/7.x/8.x and Valkey logs, also `kubectl logs --prefix --timestamps` output (one
    stream per pod). Classifies cluster events: state ok/fail, FAIL reports and quorum, elections,
    votes and configEpochs, MEETs and addresses, slot migration, replication syncs and lost links,
    loading, restarts. Each log is one node (named by its pod, lab node or file; its own lines give its
    id and address, --snapshot the address the cluster knows it by). Repeats are folded.
    Exit 0, 3 when an input cannot be read or holds no server log line.
    """
    from rcdoctor.cli.timeline import run_timeline

    return run_timeline(logs, lab_name, lab_dir, snapshot, tz_text, since, until, not no_fold, everything, fmt)


app.add_command(lab)


def _add_split_brain() -> None:
    from rcdoctor.cli.splitbrain import split_brain

    app.add_command(split_brain)


_add_split_brain()


def main() -> None:
    debug = "--debug" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--debug"]
    from rcdoctor import interrupts as signals
    from rcdoctor.cli import output
    from rcdoctor.errors import EXIT_CANNOT_RUN, DoctorError

    signals.install()
    try:
        code = app.main(args=args, prog_name="rcdoctor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):  # Abort: Click's form of Ctrl-C
        signals.exit_now(output.error)
    except click.ClickException as exc:
        if debug:
            raise
        output.error(exc.format_message())
        code = EXIT_CANNOT_RUN
    except DoctorError as exc:
        if debug:
            raise
        output.error(str(exc))
        code = exc.exit_code
    except Exception as exc:  # a bug of ours: still one line; the traceback is behind --debug
        if debug:
            raise
        output.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        code = EXIT_CANNOT_RUN
    if signals.interrupted_run():
        # The command itself caught the interrupt and cleaned up (the migration engine's batches): it
        # still ends with the signal's exit code, like any interrupted run.
        signals.exit_now(output.error)
    sys.exit(code if isinstance(code, int) else 0)
