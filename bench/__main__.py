"""`python -m bench [--quick]`: every benchmark, printed as ratios and percentiles."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pool  # noqa: E402 - the repository root must be importable first


def main() -> None:
    """Parse flags and run the benchmarks."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer seeds, for a smoke run")
    parser.add_argument("--runs", type=int, default=1000, help="fault campaign runs")
    args = parser.parse_args()
    pool.main(
        seeds=1 if args.quick else 3, campaign_seeds=20 if args.quick else args.campaign_seeds
    )


if __name__ == "__main__":
    main()
