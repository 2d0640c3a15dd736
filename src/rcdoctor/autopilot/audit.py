"""Every decision, twice: a journal line (JSON lines, fsynced, beside heal's journals so a repair's own
steps are in the same file) and one structured log line on stderr (JSON, for the pod's log collector).
Only codes, node ids, addresses, steps and reasons are written: never a secret."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from rcdoctor.execute.journal import Journal


class Audit:
    def __init__(self, path: Path, who: str, stream: TextIO | None = None) -> None:
        self.path = path
        self.who = who  # which autopilot (host/pid): several may share one cluster's journal
        self.journal = Journal(path)  # heal's session writes its phases and steps into it too
        self.stream = stream or sys.stderr

    def record(self, event: str, **fields: Any) -> None:
        self.journal.write(event, by=self.who, **fields)
        self.log(event, **fields)

    def log(self, event: str, **fields: Any) -> None:
        line = {"ts": round(time.time(), 3), "logger": "rcdoctor.autopilot", "event": event, "by": self.who, **fields}
        self.stream.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.journal.close()
