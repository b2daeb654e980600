"""The two tables of docs/fault-matrix.md, as the tests record them: the billing faults
(tests/test_billing_faults.py, its `matrix` fixture) and the hardening rows (every test that
takes the `fault_row` fixture: a hostile service, a full disk, damaged local state, bad inputs).

A run writes nothing unless asked: `--fault-matrix=PATH` (what tools/write_fault_matrix.py
passes) writes the tables at the end of the session. Into a file holding a table's markers
(docs/fault-matrix.md) a table is written only from a full, green run of the suite; any
other PATH gets a fresh file with the rows this run recorded (to compare with the docs)."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
_TMP = re.compile(r"/tmp/\S*?pytest-\d+/[^/\s]+/")


@dataclass(frozen=True)
class Table:
    name: str           # its markers: <!-- NAME:begin --> ... <!-- NAME:end -->
    fixture: str        # the fixture of the tests that record its rows
    written_by: str
    columns: tuple[str, ...]
    escaped: bool = False  # its recorder already escapes "|" and may keep runs of spaces

    @property
    def begin(self) -> str:
        return f"<!-- {self.name}:begin -->\n"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"


TABLES = (
    Table("fault-matrix", "matrix", "tests/test_billing_faults.py",
          ("Fault injected", "Stage", "What the user sees", "Same graph queued again", "Jobs billed", "Uploads"),
          escaped=True),
    Table("hardening-matrix", "fault_row", "the tests that take the fault_row fixture (tests/fault_rows.py)",
          ("Fault", "Where", "What the pack does")),
)
_ROWS: dict[str, dict[str, tuple[str, ...]]] = {t.name: {} for t in TABLES}


def record(table: str, nodeid: str, *cells: str) -> None:
    _ROWS[table][nodeid] = tuple(_TMP.sub("<tmp>/", str(c)) for c in cells)


def _cell(text: str, escaped: bool) -> str:
    return text.replace("\n", " ") if escaped else " ".join(text.split()).replace("|", "\\|")


def render(table: Table, rows: list[tuple[str, ...]]) -> str:
    head = (f"<!-- Written by {table.written_by} from a full run (tools/write_fault_matrix.py); do not edit. -->\n\n"
            "| " + " | ".join(table.columns) + " |\n| " + " | ".join("---" for _ in table.columns) + " |\n")
    return head + "".join("| " + " | ".join(_cell(c, table.escaped) for c in row) + " |\n" for row in rows)


def table_rows(text: str, table: Table) -> list[str]:
    """The row lines between a table's markers in `text` (a docs page or a written file)."""
    if table.begin not in text or table.end not in text:
        return []
    inside = text[text.index(table.begin) + len(table.begin):text.index(table.end)]
    return [line for line in inside.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]


def _whole_suite(session: Any) -> bool:
    """The session collected the whole suite: no file, node id, -k or -m narrowed it."""
    config = session.config
    if config.getoption("keyword", "") or config.getoption("markexpr", ""):
        return False
    repo = TESTS.parent
    return all((Path(a) if Path(a).is_absolute() else config.invocation_params.dir / a).resolve() in (TESTS, repo)
               for a in config.args)


def write_tables(session: Any, path: Path) -> None:
    if not any(_ROWS.values()):
        # With pytest-xdist (-n) the rows stay in the workers: the tables need a run without it.
        print(f"\n{path}: no fault rows were recorded in this process (run without -n).", file=sys.stderr)
        return
    ordered = {item.nodeid: n for n, item in enumerate(session.items)}
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    fresh = not any(t.begin in text for t in TABLES)
    out = "" if fresh else text
    for table in TABLES:
        recorded = _ROWS[table.name]
        rows = [recorded[k] for k in sorted(recorded, key=lambda k: ordered.get(k, 1 << 30))]
        if fresh:
            out += f"## {table.name}\n\n{table.begin}{render(table, rows)}{table.end}\n\n"
            continue
        if table.begin not in out or table.end not in out:
            continue
        expected = sum(1 for i in session.items if table.fixture in getattr(i, "fixturenames", ()))
        if getattr(session, "testsfailed", 0) or len(rows) != expected or not _whole_suite(session):
            print(f"\n{path}: the {table.name} table was not written: it is written from a full, green run "
                  "of the suite only.", file=sys.stderr)
            continue
        start, stop = out.index(table.begin) + len(table.begin), out.index(table.end)
        out = out[:start] + render(table, rows) + out[stop:]
    if out != text:
        path.write_text(out, encoding="utf-8")
