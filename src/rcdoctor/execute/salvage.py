"""Running a Salvage (steps.py): nothing of a stale copy is dropped until it is on the owner or in a file.

The copy's node knows only itself and claims part of the slots, so its cluster state is `fail` and it
refuses key commands (CLUSTERDOWN): reads are let through with cluster-allow-reads-when-down for the
time of the comparison (writes stay refused; the setting is put back). Keys only the copy holds are
written to the owner, which serves their slots, with RESTORE from the payloads just read, without
REPLACE: a key the owner gained meanwhile answers BUSYKEY and is a conflict, never overwritten. The copy
keeps every key until the FLUSHALL that follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rcdoctor.divergence import report
from rcdoctor.divergence.compare import CompareError, differences, linked, reads_allowed
from rcdoctor.errors import DoctorError
from rcdoctor.model.key_diff import KeyDiff, Tally
from rcdoctor.plan.steps import Salvage
from rcdoctor.transport.errors import AskRedirect, ServerError
from rcdoctor.transport.link import Link
from rcdoctor.transport.options import ConnectOptions

BATCH = 500
READS_WHEN_DOWN = "cluster-allow-reads-when-down"


@dataclass
class Salvaged:
    copied: int
    identical: int
    conflicts: int
    path: Path | None  # the divergence file, when the copy had anything the owner lacks

    def summary(self) -> str:
        kept = f"; kept in {self.path}" if self.path else ""
        return (
            f"{self.copied} key(s) only the copy held copied to the owner, {self.identical} identical, "
            f"{self.conflicts} with different values{kept}"
        )


class SalvageError(DoctorError):
    """A stale copy could not be compared with, or saved to, its slot's owner: the flush does not run."""


def tally(address: str, owner_address: str, slots: tuple[int, ...], options: ConnectOptions) -> Tally:
    """How the copy at `address` compares with the owner's keys (reads only; for planning)."""
    counted = Tally()
    try:
        with linked(address, owner_address, options, _timeout(options)) as (copy, owner), reads_allowed(copy):
            for _ in differences(copy, owner, slots, counted):
                pass
    except CompareError as exc:
        raise SalvageError(str(exc)) from None
    return counted


def run(address: str, salvage: Salvage, options: ConnectOptions, keep: Path) -> Salvaged:
    with linked(address, salvage.owner_address, options, _timeout(options)) as (copy, owner):
        counted = Tally()
        try:
            with reads_allowed(copy):
                lost = [d for d in differences(copy, owner, salvage.slots, counted) if d.kind != "only-b"]
        except CompareError as exc:
            raise SalvageError(str(exc)) from None
        path = None
        if lost:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            path = keep / f"salvage-{salvage.copy[:12]}-{stamp}.jsonl"
            report.write(
                path,
                f"heal: {address} held a stale copy of slots {salvage.owner[:8]} serves; kept before its FLUSHALL",
                report.side(salvage.copy, address, role="stale copy (a)"),
                report.side(salvage.owner, salvage.owner_address, role="owner (b)"),
                lost,
            )
        copied, busy = _copy_over(owner, [d for d in lost if d.kind == "only-a"])
        return Salvaged(copied, counted.identical, counted.differ + busy, path)


def _copy_over(owner: Link, diffs: list[KeyDiff]) -> tuple[int, int]:
    copied = busy = 0
    for start in range(0, len(diffs), BATCH):
        batch = [d for d in diffs[start : start + BATCH] if d.a is not None]
        commands: list[tuple[Any, ...]] = [
            ("RESTORE", d.key, max(d.a.pttl, 0), d.a.payload) for d in batch if d.a is not None
        ]
        replies = owner.run(commands)
        # A slot the owner is MIGRATING: it answers -ASK for a key it lacks, RESTORE included. The slot's
        # keys are going to the importing node, which takes the key after ASKING (where the comparison
        # found the owner's side of that slot); the slot's closing then moves it wherever the slot ends up.
        asked: dict[tuple[str, int], tuple[AskRedirect, list[int]]] = {}
        for i, reply in enumerate(replies):
            if isinstance(reply, AskRedirect):
                asked.setdefault(reply.node_addr, (reply, []))[1].append(i)
        for ask, indexes in asked.values():
            there = owner.asked(ask)
            try:
                answers = there.run([c for i in indexes for c in (("ASKING",), commands[i])])[1::2]
            finally:
                there.close()
            for i, answer in zip(indexes, answers, strict=True):
                replies[i] = answer
        for diff, reply in zip(batch, replies, strict=True):
            if isinstance(reply, ServerError):
                if "BUSYKEY" in str(reply):
                    busy += 1  # the owner has it now: a conflict, not overwritten
                    continue
                raise SalvageError(f"RESTORE {report.key_text(diff.key)} on {owner.endpoint}: {reply}")
            copied += 1
    return copied, busy


def _timeout(options: ConnectOptions) -> float:
    return options.timeout_for("bulk")
