"""Write docs/checks/ from the check registry (one page per code and an index); removes stale pages."""

from __future__ import annotations

import sys
from pathlib import Path

from rcdoctor.checks import default_registry
from rcdoctor.checks.docs import all_docs


def main() -> int:
    target = Path(__file__).resolve().parent.parent / "docs" / "checks"
    target.mkdir(parents=True, exist_ok=True)
    pages = all_docs(default_registry())
    for stale in set(p.name for p in target.glob("*.md")) - set(pages):
        (target / stale).unlink()
    for name, text in pages.items():
        (target / name).write_text(text)
    print(f"wrote {len(pages)} pages to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
