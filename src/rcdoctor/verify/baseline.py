"""A baseline: what the cluster held before an incident (key count and content digest, per slot), so
`verify --baseline` can prove afterwards that nothing was lost or changed, and say which slots differ."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rcdoctor.errors import SnapshotError
from rcdoctor.model.slots import SLOT_COUNT, SlotRange, to_ranges
from rcdoctor.verify.digest import SlotDigest

FORMAT = "rcdoctor.baseline"
VERSION = 1


@dataclass(frozen=True)
class Baseline:
    created_at: str
    digest: SlotDigest

    @classmethod
    def now(cls, digest: SlotDigest) -> Baseline:
        return cls(datetime.now(UTC).isoformat(timespec="seconds"), digest)

    def to_dict(self) -> dict[str, Any]:
        slots = {
            str(s): [self.digest.counts[s], f"{self.digest.hashes[s]:016x}"]
            for s in range(SLOT_COUNT)
            if self.digest.counts[s]
        }
        return {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "keys": self.digest.keys,
            "digest": self.digest.total,
            "slots": slots,
        }

    def save(self, path: str | Path) -> None:
        """Written to a temporary file then renamed: an interrupted save never leaves half a baseline."""
        target = Path(path)
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(self.to_dict()) + "\n", encoding="utf-8")
        os.replace(temporary, target)

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SnapshotError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SnapshotError(f"baseline {path} is not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SnapshotError(f"{path} is not an rcdoctor baseline (format {FORMAT!r} expected)")
        if data.get("version") != VERSION:
            raise SnapshotError(f"baseline {path} has version {data.get('version')!r}; this rcdoctor reads {VERSION}")
        digest = SlotDigest()
        try:
            for slot_text, (count, hex_hash) in data["slots"].items():
                slot = int(slot_text)
                if not 0 <= slot < SLOT_COUNT or int(count) < 0:
                    raise ValueError(f"slot {slot_text}")
                digest.counts[slot] = int(count)
                digest.hashes[slot] = int(hex_hash, 16)
            created = str(data["created_at"])
            declared = int(data["keys"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"baseline {path} is damaged ({type(exc).__name__}: {exc})") from None
        if declared != digest.keys or data.get("digest") != digest.total:
            raise SnapshotError(f"baseline {path} is damaged (its totals do not match its slots)")
        return cls(created, digest)


@dataclass(frozen=True)
class Comparison:
    expected_keys: int
    found_keys: int
    missing_slots: tuple[SlotRange, ...]  # fewer keys now than in the baseline
    extra_slots: tuple[SlotRange, ...]  # more keys now
    changed_slots: tuple[SlotRange, ...]  # same count, different content

    @property
    def identical(self) -> bool:
        return not (self.missing_slots or self.extra_slots or self.changed_slots)


def compare(baseline: SlotDigest, now: SlotDigest) -> Comparison:
    fewer = [s for s in range(SLOT_COUNT) if now.counts[s] < baseline.counts[s]]
    more = [s for s in range(SLOT_COUNT) if now.counts[s] > baseline.counts[s]]
    changed = [
        s for s in range(SLOT_COUNT) if now.counts[s] == baseline.counts[s] and now.hashes[s] != baseline.hashes[s]
    ]
    return Comparison(baseline.keys, now.keys, to_ranges(fewer), to_ranges(more), to_ranges(changed))
