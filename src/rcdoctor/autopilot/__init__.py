"""autopilot: the exporter's loop plus unattended healing of what loses nothing (see docs/autopilot.md).

evidence.py  a round's report and heal plan as the decision reads them (pure)
decide.py    the decision: act, wait, or block and why (pure)
lease.py     one actor at a time: a file lock or a Kubernetes Lease, with a fencing token
hooks.py     the operator's hook command (may veto a repair)
audit.py     the journal (JSON lines) and the structured log line of every decision
metrics.py   rcdoctor_autopilot_* metrics (pure)
pilot.py     the loop: collect, analyze, plan, decide, act through heal's session
"""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["audit", "decide", "lease", "pilot"]
