"""Compare heal's and rebalance's dry runs between a git revision and the work tree, on every snapshot
recorded in tests/data/ (a refactor must not change what a dry run says).

    python scripts/compare_dry_runs.py REV        # e.g. HEAD~3, a commit id

For each recorded snapshot: heal's plan without flags and with every risk flag (the text the dry run
prints and its JSON), and rebalance's plan (its JSON). Prints each difference, a summary line, and exits
1 when anything differs. Pure: no server is started; the revision is checked out in a temporary worktree.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside an interpreter whose rcdoctor is the revision's: the import names changed over time (the
# planners moved from heal/ and migrate/ to plan/), so both layouts are tried.
DUMP = r"""
import io, json, sys
from pathlib import Path
from rich.console import Console
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
try:
    from rcdoctor.plan.heal import Facts, Flags, plan, plan_dict
    from rcdoctor.plan import moves
    from rcdoctor.plan.topology import topology
except ImportError:
    from rcdoctor.heal.plan import Facts, Flags, plan
    from rcdoctor.cli.heal import plan_dict
    from rcdoctor.migrate import plan as moves
    from rcdoctor.migrate.topology import topology
from rcdoctor.cli.heal import render_plan
from rcdoctor.migrate.move import plan_dict as move_dict

out = {}
for path in sorted(Path(sys.argv[1]).glob("*.json")):
    try:
        snapshot = Snapshot.load(path)
    except Exception:
        continue  # not a snapshot (a k8s fixture)
    for name, flags in (("no flags", Flags()), ("every flag", Flags(True, True, True, True, True))):
        planned = plan(ClusterView(snapshot), Facts(), flags)
        text = io.StringIO()
        render_plan(planned, apply=False, console=Console(file=text, width=120, color_system=None))
        out[f"{path.name}: heal, {name}"] = {"text": text.getvalue(), "json": plan_dict(planned)}
    try:
        top = topology(snapshot)
        out[f"{path.name}: rebalance"] = move_dict(top, moves.rebalance(top, None, True, "slots", 2.0, None), 0)
    except Exception as exc:
        out[f"{path.name}: rebalance"] = f"{type(exc).__name__}: {exc}"
json.dump(out, sys.stdout, sort_keys=True, default=str)
"""


def dump(source: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    done = subprocess.run(
        [sys.executable, "-c", DUMP, str(ROOT / "tests" / "data")], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"dry runs of {source} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "rev"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), sys.argv[1]], check=True
        )
        try:
            before = dump(tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    after = dump(ROOT)
    differing = 0
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        differing += 1
        old_text = json.dumps(old, indent=1, sort_keys=True).splitlines()
        new_text = json.dumps(new, indent=1, sort_keys=True).splitlines()
        print(f"== {key}")
        for line in difflib.unified_diff(old_text, new_text, lineterm="", n=0):
            if not line.startswith(("---", "+++", "@@")):
                print(f"   {line[:160]}")
    print(f"{len(after)} dry runs compared with {sys.argv[1]}: {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
