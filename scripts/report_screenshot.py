"""Re-make docs/report.png and docs/report-example.html: the seed incident on a real lab (every pod back at a
new IP), its report with the heal plan and the servers' logs, rendered by headless Chromium.

    PYTHONPATH=src python scripts/report_screenshot.py [--base-ip 127.0.160.11] [--redis-server PATH]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rcdoctor.collect import collect
from rcdoctor.lab import Lab, LabSpec
from rcdoctor.lab.faults import FaultOp, apply

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-ip", default="127.0.160.11")
    parser.add_argument("--redis-server", default=None)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-shot-") as tmp:
        lab = Lab.up(
            LabSpec(base_ip=args.base_ip), name="shot", directory=Path(tmp) / "lab", redis_server=args.redis_server
        )
        try:
            with lab.client(lab.nodes[0]) as c:
                for i in range(300):
                    c.set(f"{{t644}}:{i}", i)  # slot 7, on n1
            apply(lab, FaultOp("new-address", "all"))
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                states = [
                    n.cluster_state for n in collect(lab.addresses, lab.options).nodes if n.address in lab.addresses
                ]
                if states and all(s == "fail" for s in states):
                    break
                time.sleep(0.25)
            html = DOCS / "report-example.html"
            logs = [a for n in lab.nodes for a in ("--logs", str(Path(n.dir) / "redis.log"))]
            command = [
                sys.executable,
                "-m",
                "rcdoctor",
                "report",
                *lab.addresses,
                "--with-plan",
                *logs,
                "-o",
                str(html),
            ]
            subprocess.run(command, check=False)
        finally:
            lab.down()
        subprocess.run(
            [
                args.chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                "--window-size=1280,2300",
                f"--screenshot={DOCS / 'report.png'}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print(f"wrote {html} and {DOCS / 'report.png'}")


if __name__ == "__main__":
    main()
