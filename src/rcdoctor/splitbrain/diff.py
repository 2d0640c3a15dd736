"""`split-brain diff`: for each contested shard, every key that differs between the two claimants, with
both copies, written to a divergence file before the old primary rejoins and is resynchronised."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcdoctor.divergence import report
from rcdoctor.divergence.compare import CompareError, differences, linked, reads_allowed
from rcdoctor.model.key_diff import Tally
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.splitbrain.contested import Contest, contests
from rcdoctor.transport.errors import TransportError, classify
from rcdoctor.transport.options import ConnectOptions


@dataclass(frozen=True)
class PairResult:
    contest: Contest
    path: Path | None
    tally: Tally
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.contest
        return {
            "old": {"id": c.old_id, "address": c.old_address},
            "new": {"id": c.new_id, "address": c.new_address},
            "slots": [str(s) for s in c.slots],
            "file": str(self.path) if self.path else None,
            "minority_only": self.tally.only_a,
            "majority_only": self.tally.only_b,
            "conflicts": self.tally.differ,
            "identical": self.tally.identical,
            "error": self.error,
        }


def save(contest: Contest, options: ConnectOptions, directory: Path, stamp: str | None = None) -> PairResult:
    """Compare both claimants over the contested slots and write the differing keys (a = old, b = new)."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"split-brain-{stamp}-{contest.old_id[:8]}-{contest.new_id[:8]}.jsonl"
    tally = Tally()
    try:
        # The old primary refuses reads once it sees no majority: reads are allowed for the comparison only.
        with (
            linked(contest.old_address, contest.new_address, options, options.timeout_for("admin")) as (old, new),
            reads_allowed(old),
        ):
            report.write(
                path,
                f"split-brain: {contest.describe()}",
                report.side(contest.old_id, contest.old_address, role="minority claimant (old primary)"),
                report.side(contest.new_id, contest.new_address, role="majority owner (new primary)"),
                differences(old, new, contest.slot_numbers, tally),
            )
    except CompareError as exc:
        return PairResult(contest, None, tally, str(exc))
    except (TransportError, OSError) as exc:
        return PairResult(contest, None, tally, f"cannot compare {contest.describe()}: {classify(exc).message}")
    return PairResult(contest, path, tally)


def diff_all(snapshot: Snapshot, options: ConnectOptions, directory: Path) -> list[PairResult]:
    """Every contested shard of the snapshot, compared and saved."""
    return [save(c, options, directory) for c in contests(ClusterView(snapshot))]


def to_dict(results: list[PairResult]) -> dict[str, Any]:
    """The `split-brain diff` document (`--format json`)."""
    return {"format": "rcdoctor.split-brain-diff", "version": 1, "contested": [r.to_dict() for r in results]}
