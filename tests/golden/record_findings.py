"""Record what `analyze` finds on every recorded snapshot (tests/golden/findings.json).

    PYTHONHASHSEED=0 PYTHONPATH=src python tests/golden/record_findings.py

tests/unit/test_findings_unchanged.py compares today's findings with this file: a change of the analysis
that alters a finding (code, severity, title, nodes, evidence, fix, cause links, order) fails it, so a
rewrite for speed is proven to find the same things. Re-record only when a finding is meant to change,
and say so in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent.parent / "data"
OUT = Path(__file__).parent / "findings.json"


def findings(path: Path) -> dict[str, Any]:
    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.model.snapshot import Snapshot
    from rcdoctor.model.view import AnalysisSettings

    domains_file = path.with_suffix(".domains")
    domains = json.loads(domains_file.read_text()) if domains_file.exists() else {}
    report = analyze(Snapshot.load(path), default_registry(), settings=AnalysisSettings(domains=domains))
    data = report.to_dict()
    return {"summary": data["summary"], "not_seen": data["not_seen"], "findings": data["findings"]}


def snapshots() -> list[Path]:
    return sorted(DATA.glob("*.json"))


def main() -> None:
    recorded = {p.name: findings(p) for p in snapshots()}
    OUT.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"{OUT}: {len(recorded)} snapshots", file=sys.stderr)


if __name__ == "__main__":
    main()
