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
