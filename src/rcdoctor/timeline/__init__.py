"""Server logs -> one time-ordered stream of cluster events (`rcdoctor timeline`, the report's timeline).

`lines` parses one line, `events` classifies it, `merge` maps logs to nodes, merges, folds and filters;
`inputs` reads files and stdin with a size cap (the only I/O here).
"""

from rcdoctor.timeline.events import KINDS, classify
from rcdoctor.timeline.lines import LogLine, parse_line, zone
from rcdoctor.timeline.merge import Event, Source, Timeline, build

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = [
    "KINDS",
    "Event",
    "LogLine",
    "Source",
    "Timeline",
    "build",
    "classify",
    "events",
    "inputs",
    "merge",
    "parse_line",
    "zone",
]
