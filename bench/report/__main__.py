"""`python -m bench.report RESULTS.json [--out FOLDER]`: render bench.md and bench.png from a run's raw results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..records import Results
from . import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split(": ", 1)[1])
    parser.add_argument("results", type=Path, help="bench-results.json written by `python -m bench`")
    parser.add_argument("--out", type=Path, help="folder for bench.md and bench.png (default: the results' folder)")
    args = parser.parse_args(argv)
    paths = write_report(Results.load(args.results), args.out or args.results.parent, save_results=False)
    print("wrote " + ", ".join(str(path) for path in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
