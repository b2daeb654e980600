"""The request budget every call to Segmind passes through, and the pause after a 429.

Segmind allows so many requests a minute per key (API.md: 5 on free, 50 on pro) and
answers 429 past that. Whether status polls count is unconfirmed, so they do here."""
from __future__ import annotations

import math
import os
import threading
import time
from typing import Callable

PLANS = {"free": 5, "pro": 50}
PLAN_ENV = "SEGMIND_LTX2_PLAN"
RATE_ENV = "SEGMIND_LTX2_REQUESTS_PER_MINUTE"
WINDOW_SECONDS = 60.0
# Our clock says when a request left, Segmind's when it arrived: a little margin keeps two
# requests we sent a window apart from landing in one window of theirs.
WINDOW_MARGIN = 0.25
PAUSE_WITHOUT_RESET = 10.0  # a 429 that names no reset time
_SLICE = 0.2  # the longest wait between two looks at Cancel


def per_minute_from_env() -> int:
    """The user's setting: SEGMIND_LTX2_REQUESTS_PER_MINUTE, else SEGMIND_LTX2_PLAN (default pro)."""
    from .errors import InvalidInputError

    raw = os.environ.get(RATE_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= 10000:
            raise InvalidInputError(f"{RATE_ENV} is {raw!r}: set it to the number of requests a minute your "
                                    "Segmind plan allows (5 on free, 50 on pro), or unset it.")
        return value
    plan = os.environ.get(PLAN_ENV, "").strip().lower()
    if plan and plan not in PLANS:
        raise InvalidInputError(f"{PLAN_ENV} is {plan!r}: set it to free or pro, or unset it "
                                f"(or set {RATE_ENV} to a number of requests a minute).")
    return PLANS[plan or "pro"]


class RequestBudget:
    """At most `per_minute` requests in any `window` (60 s; which also keeps within any fixed
    per-minute window the server may count in), shared by every job of the process.

    Two kinds: "call" (upload, submit, result, credits, a v1 run) goes whenever the window
    has room; "poll" (a status check) always leaves room for each waiting job's result
    fetch, and each job spaces its polls by poll_floor(), so that many jobs together poll
    within the budget instead of filling the window early and leaving finished clips
    waiting for the next minute. A 429 pauses every job until the reset the server gives,
    or for `pause_without_reset` seconds when it gives none.

    `clock` and `sleep` are the time it reads and waits on (a test passes a simulated one)."""

    def __init__(self, per_minute: int, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 active_jobs: Callable[[], int] | None = None,
                 pause_without_reset: float = PAUSE_WITHOUT_RESET) -> None:
        self.per_minute = per_minute
        self.window = window + WINDOW_MARGIN
        self.pause_without_reset = pause_without_reset
        self._clock = clock
        self._sleep = sleep
        self._active_jobs = active_jobs or (lambda: 1)
        # When each request of the window was counted: its send time, moved to when its answer
        # began to arrive (answered()), the latest it can have reached Segmind.
        self._sent: list[list[float]] = []
        self._lock = threading.Lock()
        self._paused_until = 0.0

    # -- what the transport calls --------------------------------------------------------
    def acquire(self, kind: str = "call", cancel_check: Callable[[], None] | None = None) -> list[float]:
        """Block until a request of this kind may be sent, and count it as sent. Returns its
        stamp, for answered()."""
        while True:
            with self._lock:
                now = self._clock()
                self._forget_old(now)
                wait = self._paused_until - now
                if wait <= 0:
                    room = self.per_minute - (self._reserve() if kind == "poll" else 0)
                    if len(self._sent) < max(1, room):
                        stamp = [now]
                        self._sent.append(stamp)
                        return stamp
                    wait = min(t for t, in self._sent) + self.window - now
            if cancel_check is not None:
                cancel_check()
            self._sleep(min(_SLICE, max(0.005, wait)))

    def rate_limited(self, wait_seconds: float | None) -> None:
        """A 429 arrived: every job waits until the reset the server gives (another process on
        the same key, or a plan smaller than the budget set: SEGMIND_LTX2_PLAN says which)."""
        with self._lock:
            now = self._clock()
            pause = (self.pause_without_reset if wait_seconds is None or not math.isfinite(wait_seconds)
                     else wait_seconds)
            self._paused_until = max(self._paused_until, now + max(0.0, pause))

    def answered(self, stamp: list[float] | None) -> None:
        """The request's answer began to arrive: it reached Segmind by now, so the window
        counts it from now (a slow upload is not forgotten early)."""
        if stamp:
            with self._lock:
                stamp[0] = max(stamp[0], self._clock())

    # -- for the poll schedule -------------------------------------------------------------
    def active_jobs(self) -> int:
        return self._active_jobs()

    def poll_floor(self) -> float:
        """The shortest gap between two polls of one job that keeps every waiting job's polls,
        together, within the budget (leaving the reserve): 1.2 s for one job on pro, 15 s on free."""
        jobs = max(1, self._active_jobs())
        return self.window * jobs / max(1, self.per_minute - self._reserve())

    # -- inside ----------------------------------------------------------------------------
    def _forget_old(self, now: float) -> None:
        self._sent = [s for s in self._sent if s[0] > now - self.window]

    def _reserve(self) -> int:
        """Room polls leave free: one result fetch for each waiting job, at most half the budget."""
        return min(max(1, self._active_jobs()), self.per_minute // 2)
