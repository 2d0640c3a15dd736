"""Split-brain write loss across settings: the rehearsal run on fresh labs, one row per setting.

    python bench/split_brain.py [--only NAME,NAME] [--redis-server PATH]

Each row: a fresh lab, clients on both sides writing ~200 keys/s each, the primary (or a minority group
of primaries) cut off for 3 x node timeout + 2 s, heal, read back (see `rcdoctor lab rehearse
split-brain`). Printed: acknowledged writes lost, the minority window (how long and how many writes the
cut-off side still acknowledged), when the failover became visible, client unavailability, next to the
bound the Redis Cluster specification gives (node timeout). Writes bench/results/split_brain.json.
Needs root and nftables. No assertions: the figures are the output.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rcdoctor.lab import Lab, LabSpec
from rcdoctor.rehearsal.run import RehearsalSettings, rehearse

RESULTS = Path(__file__).parent / "results" / "split_brain.json"
ROWS: list[tuple[str, int, int, RehearsalSettings]] = [
    # name, primaries, primaries cut off, settings
    ("3+3 timeout 2000", 3, 1, RehearsalSettings(2000)),
    ("3+3 timeout 5000", 3, 1, RehearsalSettings(5000)),
    ("3+3 timeout 2000, min-replicas 1 lag 1", 3, 1, RehearsalSettings(2000, 1, 1)),
    ("3+3 timeout 5000, min-replicas 1 lag 1", 3, 1, RehearsalSettings(5000, 1, 1)),
    ("3+3 timeout 5000, min-replicas 1 lag 10", 3, 1, RehearsalSettings(5000, 1, 10)),
    ("3+3 timeout 2000, validity factor 0", 3, 1, RehearsalSettings(2000, 0, 10, 0)),
    ("5+5 timeout 2000, 2 primaries cut off", 5, 2, RehearsalSettings(2000)),
    ("4+4 timeout 2000, 2 of 4 cut off (even)", 4, 2, RehearsalSettings(2000)),
]


def row(
    name: str, primaries: int, cut: int, settings: RehearsalSettings, args: argparse.Namespace, index: int
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="rcdoctor-bench-sb-"))
    spec = LabSpec(
        primaries=primaries, replicas=1, base_ip=f"127.{230 + index}.0.11", node_timeout_ms=settings.node_timeout_ms
    )
    lab = Lab.up(spec, name=f"sb{index}", directory=root / "lab", redis_server=args.redis_server)
    try:
        outcome = rehearse(lab, settings, minority_primaries=cut)
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)
    v = outcome.verdict
    t = outcome.timeline
    outage = {o.client: o for o in v.outages}
    failover = t.get("failover_seen")
    return {
        "name": name,
        "settings": settings.to_dict(),
        "primaries": primaries,
        "cut_off": cut,
        "spec_bound_ms": settings.node_timeout_ms,
        "acknowledged": v.acknowledged,
        "lost": len(v.lost),
        "window_s": round(v.window_s, 3),
        "window_writes": v.window_writes,
        "failover_after_s": round(failover - t["partition_start"], 2) if failover else None,
        "unavailable_a_s": round(outage["a"].longest_s, 2) if "a" in outage else None,
        "unavailable_b_s": round(outage["b"].longest_s, 2) if "b" in outage else None,
        "conflicts": len(v.conflicts),
        "unknown": v.unknown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated row numbers (1-based) to run")
    parser.add_argument("--redis-server", default=None)
    args = parser.parse_args()
    chosen = {int(x) for x in args.only.split(",") if x.strip()}
    results = []
    for index, (name, primaries, cut, settings) in enumerate(ROWS, 1):
        if chosen and index not in chosen:
            continue
        print(f"{index}. {name} …", flush=True)
        results.append(row(name, primaries, cut, settings, args, index))
        print("   " + json.dumps(results[-1]), flush=True)
    columns = ("bound ms", "window s", "acked in window", "lost", "failover s", "a down s", "b down s")
    print("\n" + f"{'setting':<42} " + " ".join(f"{c:>9}" for c in columns))
    for r in results:
        failover = r["failover_after_s"] if r["failover_after_s"] is not None else "-"
        cells = (r["spec_bound_ms"], r["window_s"], r["window_writes"], r["lost"], failover)
        cells += (r["unavailable_a_s"], r["unavailable_b_s"])
        print(f"{r['name']:<42} " + " ".join(f"{c!s:>9}" for c in cells))
    RESULTS.parent.mkdir(exist_ok=True)
    if chosen and RESULTS.exists():  # --only: replace those rows in the last full run's results
        kept = [r for r in json.loads(RESULTS.read_text()) if r["name"] not in {x["name"] for x in results}]
        results = sorted(kept + results, key=lambda r: [name for name, *_ in ROWS].index(r["name"]))
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
