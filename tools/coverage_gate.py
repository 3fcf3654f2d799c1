"""Fail unless line and branch coverage both meet their thresholds (coverage.py JSON report)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    """Print both figures; exit 1 if either is under its threshold."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--lines", type=float, required=True)
    parser.add_argument("--branches", type=float, required=True)
    args = parser.parse_args()
    totals = json.loads(args.report.read_text())["totals"]
    lines = 100.0 * totals["covered_lines"] / max(totals["num_statements"], 1)
    branches = 100.0 * totals["covered_branches"] / max(totals["num_branches"], 1)
    sys.stdout.write(
        f"coverage: lines {lines:.1f}% (gate {args.lines}%), "
        f"branches {branches:.1f}% (gate {args.branches}%)\n"
    )
    if lines < args.lines or branches < args.branches:
        sys.stdout.write("coverage gate FAILED\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
