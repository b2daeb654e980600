"""The hardening table: one row per test that takes the `fault_row` fixture (a hostile
service, a full disk, damaged local state, bad inputs), written at the end of a session.

A session that ran every such test writes docs/fault-matrix.md between its markers;
a partial run writes tests/_artifacts/hardening_matrix.md instead, so the docs always show
the table of a full run."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_ROWS: dict[str, tuple[str, str, str]] = {}
_TMP = re.compile(r"/tmp/\S*?pytest-\d+/[^/\s]+/")
BEGIN, END = "<!-- hardening-matrix:begin -->\n", "<!-- hardening-matrix:end -->"


def record(nodeid: str, fault: str, where: str, outcome: str) -> None:
    _ROWS[nodeid] = (fault, where, _TMP.sub("<tmp>/", outcome))


def _whole_suite(session: Any) -> bool:
    """The session collected the whole suite: no file, node id, -k or -m narrowed it."""
    config = session.config
    if config.getoption("keyword", "") or config.getoption("markexpr", ""):
        return False
    tests = (REPO / "tests").resolve()
    return all(Path(str(config.rootpath / a) if not Path(a).is_absolute() else a).resolve() in (tests, REPO)
               for a in config.args)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def write_table(session: Any) -> None:
    if not _ROWS:
        return
    items = [i for i in session.items if "fault_row" in getattr(i, "fixturenames", ())]
    order = {item.nodeid: n for n, item in enumerate(items)}
    rows = [_ROWS[k] for k in sorted(_ROWS, key=lambda k: order.get(k, 1 << 30))]
    failed = getattr(session, "testsfailed", 0)
    full = (not failed and len(_ROWS) == len(items) and _whole_suite(session))
    head = ("<!-- Written by the tests that take the fault_row fixture (tests/fault_rows.py); do not edit. -->\n\n"
            "| Fault | Where | What the pack does |\n| --- | --- | --- |\n")
    body = "".join(f"| {_cell(a)} | {_cell(b)} | {_cell(c)} |\n" for a, b, c in rows)
    doc = REPO / "docs" / "fault-matrix.md"
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if full and BEGIN in text and END in text:
        start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
        doc.write_text(text[:start] + head + body + text[stop:], encoding="utf-8")
    else:
        out = REPO / "tests" / "_artifacts" / "hardening_matrix.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(head + body, encoding="utf-8")
