"""Shared pytest fixtures. Group new fixtures under a heading like the one below."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

# Test helpers live beside this file; make them importable as plain modules
# whether or not tests/ is a package and wherever pytest is started from.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from fake_segmind import FakeSegmind  # noqa: E402


# --------------------------------------------------------------------------- the process's shared state


@pytest.fixture(autouse=True)
def _fresh_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with a fresh request budget (roomy unless a test sets its own: the
    suite sends far more than a Segmind plan allows a minute), nothing learned about run
    times, no request locks, spend reservations or remembered credits left over."""
    from pack_loader import pack_module

    monkeypatch.setenv("SEGMIND_LTX2_REQUESTS_PER_MINUTE", "10000")
    pack_module("core.scheduler").reset_for_tests()
    pack_module("core.credits").reset_credits()  # the credits seen last (reservations live in each test's user folder)


# --------------------------------------------------------------------------- fake Segmind


@pytest.fixture
def fake_segmind() -> Iterator[FakeSegmind]:
    """A started local Segmind stand-in (about 5 ms to start); stopped afterwards."""
    with FakeSegmind() as server:
        yield server


@pytest.fixture
def segmind_env(fake_segmind: FakeSegmind, monkeypatch: pytest.MonkeyPatch) -> FakeSegmind:
    """fake_segmind, with SEGMIND_API_BASE / SEGMIND_STORAGE_BASE / SEGMIND_API_KEY pointing at it."""
    monkeypatch.setenv("SEGMIND_API_BASE", fake_segmind.api_base)
    monkeypatch.setenv("SEGMIND_STORAGE_BASE", fake_segmind.storage_base)
    monkeypatch.setenv("SEGMIND_API_KEY", fake_segmind.api_key)
    return fake_segmind


# --------------------------------------------------------------------------- a node run


@pytest.fixture
def pack_env(segmind_env: FakeSegmind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSegmind:
    """What a node run in a test needs: the stand-in, private ComfyUI output and user
    folders (`.output`, `.home`), fast polling and retries, default cache settings, and
    none of the pack's in-process memos left over from another test."""
    from pack_loader import pack_module

    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("SEGMIND_LTX2_POLL_INTERVAL", "0.01")
    monkeypatch.setenv("SEGMIND_LTX2_BACKOFF_MAX", "0.01")
    monkeypatch.delenv("SEGMIND_LTX2_CACHE_MAX_GB", raising=False)
    pipeline = pack_module("core.pipeline")
    pipeline._upload_memo.clear()
    pipeline._submits_in_flight.clear()
    segmind_env.output = tmp_path / "output"
    segmind_env.home = tmp_path / "user"
    return segmind_env


# --------------------------------------------------------------------------- hardening rows


@pytest.fixture
def fault_row(request: pytest.FixtureRequest):
    """Record one row of the hardening table (docs/fault-matrix.md): call it with the fault
    injected, where it hits, and what the user sees / what the pack does. Rows are written
    when the session ends (see fault_rows.py)."""
    from fault_rows import record

    def row(fault: str, where: str, outcome: str) -> None:
        record(request.node.nodeid, fault, where, outcome)

    return row


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from fault_rows import write_table

    write_table(session)
