"""Defects found reviewing the merge of the six branches: each test failed before its fix."""
from __future__ import annotations

import pytest

from pack_loader import pack_module

cli = pack_module("__main__")

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    return tmp_path


def test_check_key_prints_the_services_credits_without_control_characters_or_the_key(segmind_env, dirs, capsys,
                                                                                       monkeypatch):
    """--check-key printed the credits answer as the service sent it: an escape sequence
    reached the terminal raw, and a service echoing the key had it printed."""
    monkeypatch.setenv("SEGMIND_API_KEY", segmind_env.api_key)
    segmind_env.credits = f"12.5{ESCAPES} {segmind_env.api_key}"
    code = cli.main(["--check-key"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Credits left: 12.5" in out and "owned" in out
    assert not any(ch in out for ch in ("\x1b", "\x07", "\x9b", "\u202e")), out
    assert segmind_env.api_key not in out


def test_the_jobs_panel_words_an_unreadable_ledger_as_comfyui_does(tmp_path):
    """The panel's spend payload said an unreadable ledger in the neutral words ("then try
    again") where every other message to the ComfyUI page is in ComfyUI's ("queue again")."""
    routes = pack_module("routes")
    (tmp_path / "segmind" / "ledger.jsonl").mkdir(parents=True)
    said = routes.spend_payload(tmp_path)["limits_error"]
    assert "cannot be read" in said and "queue again" in said.lower() and "try again" not in said
