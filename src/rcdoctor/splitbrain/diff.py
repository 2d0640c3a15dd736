"""`split-brain diff`: for each contested shard, every key that differs between the two claimants, with
both copies, written to a divergence file before the old primary rejoins and is resynchronised."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from rcdoctor.collect.connection import ConnectOptions
from rcdoctor.divergence import report
from rcdoctor.divergence.compare import CompareError, Tally, differences
from rcdoctor.errors import ConnectError
from rcdoctor.migrate.link import Link
from rcdoctor.model.address import parse_hostport
from rcdoctor.splitbrain.contested import Contest


@dataclass(frozen=True)
class PairResult:
    contest: Contest
    path: Path | None
    tally: Tally
    error: str | None = None


def save(contest: Contest, options: ConnectOptions, directory: Path, stamp: str | None = None) -> PairResult:
    """Compare both claimants over the contested slots and write the differing keys (a = old, b = new)."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"split-brain-{stamp}-{contest.old_id[:8]}-{contest.new_id[:8]}.jsonl"
    tally = Tally()
    timeout = max(options.timeout, 5.0)
    try:
        old = Link(parse_hostport(contest.old_address), options, timeout=timeout)
    except Exception as exc:  # redis-py connection errors: report, not crash
        return PairResult(contest, None, tally, f"cannot reach {contest.old_address}: {exc}")
    try:
        try:
            new = Link(parse_hostport(contest.new_address), options, timeout=timeout)
        except Exception as exc:
            return PairResult(contest, None, tally, f"cannot reach {contest.new_address}: {exc}")
        try:
            # Each side is read as the owner of its claim: the old primary still serves its slots (until it
            # refuses: then it needs cluster-allow-reads-when-down, see below), the new one serves them.
            with _reads_when_down(old):
                count = report.write(
                    path,
                    f"split-brain: {contest.describe()}",
                    report.side(contest.old_id, contest.old_address, role="minority claimant (old primary)"),
                    report.side(contest.new_id, contest.new_address, role="majority owner (new primary)"),
                    differences(old, new, contest.slot_numbers, tally),
                )
        except CompareError as exc:
            return PairResult(contest, None, tally, str(exc))
        finally:
            new.close()
    finally:
        old.close()
    return PairResult(contest, path if count or path.exists() else None, tally)


class _reads_when_down:
    """A cut-off primary answers CLUSTERDOWN once it sees no majority; allow reads for the comparison only,
    then put the setting back as it was."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.before: str | None = None

    def __enter__(self) -> None:
        try:
            reply = self.link.one("CONFIG", "GET", "cluster-allow-reads-when-down")
            value = next(iter(reply.values())) if isinstance(reply, dict) else reply[1]
            self.before = value.decode() if isinstance(value, bytes) else str(value)
            if self.before != "yes":
                self.link.one("CONFIG", "SET", "cluster-allow-reads-when-down", "yes")
        except Exception as exc:
            raise ConnectError(f"{self.link.endpoint}: cannot allow reads while down: {exc}") from None

    def __exit__(self, *exc: object) -> None:
        if self.before is not None and self.before != "yes":
            # The node may be gone; the setting only allows reads, never writes.
            with contextlib.suppress(Exception):
                self.link.one("CONFIG", "SET", "cluster-allow-reads-when-down", self.before)
