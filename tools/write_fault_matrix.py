"""Rewrite the two tables of docs/fault-matrix.md from a full, green run of the test suite.

    python tools/write_fault_matrix.py [extra pytest arguments]

Runs the whole suite with --fault-matrix pointing at the page (tests/fault_rows.py): each
table is replaced between its markers only if every test recording it ran and the run
passed. An ordinary test run writes nothing into the checkout."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "fault-matrix.md"


def main(argv: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--fault-matrix={PAGE}",
               str(REPO / "tests"), *argv]
    return subprocess.call(command, cwd=REPO)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
