"""The pack's process runtime (core.runtime) as tests use it: fresh, with short waits."""
from __future__ import annotations

from typing import Any

from pack_loader import pack_module

# Waits for a stand-in that answers in milliseconds.
FAST_WAITS = dict(poll_interval=0.01, poll_interval_max=0.04, backoff_base=0.01, backoff_max=0.01,
                  pause_without_reset=0.05)


def fresh_runtime(**over: Any) -> Any:
    """A Runtime with nothing shared yet and short waits; keywords override Waits fields,
    or set `requests_per_minute` / `budget` (default: a roomy 10,000 requests a minute, as
    the suite sends far more than a Segmind plan allows)."""
    runtime_mod = pack_module("core.runtime")
    kw = {k: over.pop(k) for k in ("requests_per_minute", "budget") if k in over}
    kw.setdefault("requests_per_minute", 10000)
    return runtime_mod.Runtime(runtime_mod.Waits(**{**FAST_WAITS, **over}), **kw)


class Clock:
    """A hand-set clock to inject where the pack takes one (a budget's clock and sleep, a
    store's, FakeSegmind.clock): reads `now`, moves only by advance() or a test setting `now`."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
