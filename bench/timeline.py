"""How fast `rcdoctor timeline` reads server logs: the lab's recorded logs (tests/data/logs) repeated until
each of the six nodes has LINES lines, parsed, classified, merged and folded. Prints figures only.

    PYTHONPATH=src python bench/timeline.py [--lines 200000] [--tag valkey8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rcdoctor.timeline import Source, build

LOGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "logs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000, help="lines per node")
    parser.add_argument("--tag", default="valkey8", choices=sorted(p.name for p in LOGS.iterdir() if p.is_dir()))
    args = parser.parse_args()
    sources = []
    for path in sorted((LOGS / args.tag).glob("n*.log")):
        lines = path.read_text().splitlines()
        sources.append(Source(path.name, (lines * (args.lines // len(lines) + 1))[: args.lines]))
    total = sum(len(list(s.lines)) for s in sources)
    started = time.perf_counter()
    timeline = build(sources)
    elapsed = time.perf_counter() - started
    print(
        f"{total:,} lines from {len(sources)} logs ({args.tag}): {len(timeline.events):,} events after folding "
        f"in {elapsed:.2f}s = {total / elapsed:,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
