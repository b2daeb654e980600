"""The request budget every call to Segmind passes through, and the pause after a 429.

Segmind allows so many requests a minute per key (API.md: 5 on free, 50 on pro) and
answers 429 past that. Whether status polls count is unconfirmed, so they do here."""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .budget_store import BudgetStore

log = logging.getLogger(__name__)

PLANS = {"free": 5, "pro": 50}
PLAN_ENV = "SEGMIND_LTX2_PLAN"
RATE_ENV = "SEGMIND_LTX2_REQUESTS_PER_MINUTE"
WINDOW_SECONDS = 60.0
# Our clock says when a request left, Segmind's when it arrived: a little margin keeps two
# requests we sent a window apart from landing in one window of theirs.
WINDOW_MARGIN = 0.25
PAUSE_WITHOUT_RESET = 10.0  # a 429 that names no reset time
_SLICE = 0.2  # the longest wait between two looks at Cancel
STORE_RETRY_SECONDS = 10.0  # a failing shared store is tried again after this
LOOK_AGAIN_SECONDS = 1.0  # a sleeping job reads the others' waiting jobs at most this often


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
    per-minute window the server may count in), shared by every job of the process, or, with
    a shared `store` (core/budget_store.py), by every process on the user folder or every
    machine of a team.

    Two kinds: "call" (upload, submit, result, credits, a v1 run) goes whenever the window
    has room; "poll" (a status check) always leaves room for each waiting job's result
    fetch, and each job spaces its polls by poll_floor(), so that many jobs together poll
    within the budget instead of filling the window early and leaving finished clips
    waiting for the next minute. Each process says when its count of waiting jobs changes
    (note_waiting, from the job board), and a sleeping job reads the others' count again
    (look_again): the reserve and the floor follow the jobs really waiting, so the room of
    jobs that ended elsewhere goes to the ones still waiting. A 429 pauses every job until the reset the server gives,
    or for `pause_without_reset` seconds when it gives none.

    `clock` and `sleep` are the time it reads and waits on (a test passes a simulated one);
    `clock` is the in-process store's: a shared store keeps its own wall time. When a shared
    store fails (its file locked too long, Redis gone mid-run), the budget carries on with
    `fallback` (this machine's files for Redis, else this process) and tries the store again
    after STORE_RETRY_SECONDS: a paid job's polls must never stop for it."""

    def __init__(self, per_minute: int, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 active_jobs: Callable[[], int] | None = None,
                 pause_without_reset: float = PAUSE_WITHOUT_RESET,
                 store: "BudgetStore | None" = None, fallback: "BudgetStore | None" = None) -> None:
        from .budget_store import MemoryBudgetStore

        self.per_minute = per_minute
        self.window = window + WINDOW_MARGIN
        self.pause_without_reset = pause_without_reset
        self._sleep = sleep
        self._active_jobs = active_jobs or (lambda: 1)
        self.store: BudgetStore = store or MemoryBudgetStore(clock)
        self._fallback = fallback
        self._last_resort: BudgetStore = MemoryBudgetStore(clock)  # when the fallback fails too
        self._store_failed_at: float | None = None  # monotonic time the shared store last failed
        self._others_waiting = 0  # other processes' waiting jobs, as the store said last
        self._clock = clock
        self._looked_at: float | None = None  # `clock` time the store was last read
        self._look_lock = threading.Lock()

    # -- what the transport calls --------------------------------------------------------
    def acquire(self, kind: str = "call", cancel_check: Callable[[], None] | None = None) -> Any:
        """Block until a request of this kind may be sent, and count it as sent. Returns its
        stamp, for answered()."""
        while True:
            room = self.per_minute - (self._reserve() if kind == "poll" else 0)
            got = self._use(lambda s: s.admit(max(1, room), self.window, self._waiting_here()))
            self._others_waiting = got.others_waiting
            self._looked_at = self._clock()
            if got.stamp is not None:
                return got.stamp
            if cancel_check is not None:
                cancel_check()
            self._sleep(min(_SLICE, max(0.005, got.wait)))

    def rate_limited(self, wait_seconds: float | None) -> None:
        """A 429 arrived: every job waits until the reset the server gives (another process on
        the same key, or a plan smaller than the budget set: SEGMIND_LTX2_PLAN says which)."""
        pause = (self.pause_without_reset if wait_seconds is None or not math.isfinite(wait_seconds)
                 else wait_seconds)
        self._use(lambda s: s.pause(max(0.0, pause)))

    def answered(self, stamp: Any) -> None:
        """The request's answer began to arrive: it reached Segmind by now, so the window
        counts it from now (a slow upload is not forgotten early)."""
        if stamp:
            try:
                self._use(lambda s: s.answered(stamp))
            except Exception as exc:  # moving a stamp is a courtesy: never break a paid answer for it
                log.debug("Segmind: a request's stamp was not moved (%s)", type(exc).__name__)

    def describe(self) -> str:
        """Where the budget is kept, for status lines."""
        return self.store.describe()

    # -- for the poll schedule -------------------------------------------------------------
    def active_jobs(self) -> int:
        """Jobs waiting for a result: this process's, and others' on the same store."""
        return self._waiting_here() + self._others_waiting

    def note_waiting(self) -> None:
        """This process's count of waiting jobs changed (the job board calls this): the other
        processes must stop keeping room for jobs that ended here, even if this process sends
        nothing more."""
        self._look(lambda: True)

    def look_again(self, max_age: float = LOOK_AGAIN_SECONDS) -> None:
        """Read the other processes' waiting jobs again if the store was last read more than
        `max_age` ago (a job sleeping until its turn, while others' jobs may have ended)."""
        self._look(lambda: self._looked_at is None or self._clock() - self._looked_at >= max_age)

    def poll_floor(self) -> float:
        """The shortest gap between two polls of one job that keeps every waiting job's polls,
        together, within the budget (leaving the reserve): 1.2 s for one job on pro, 15 s on free."""
        jobs = max(1, self.active_jobs())
        return self.window * jobs / max(1, self.per_minute - self._reserve())

    # -- inside ----------------------------------------------------------------------------
    def _look(self, due: Callable[[], bool]) -> None:
        with self._look_lock:
            if not due():
                return
            self._looked_at = self._clock()
        try:
            self._others_waiting = int(self._use(lambda s: s.report(self._waiting_here(), self.window)))
        except Exception as exc:  # a courtesy to other jobs: never break a job or its board for it
            log.debug("Segmind: the waiting jobs were not read from the request budget (%s)", type(exc).__name__)

    def _waiting_here(self) -> int:
        return max(0, int(self._active_jobs()))

    def _reserve(self) -> int:
        """Room polls leave free: one result fetch for each waiting job, at most half the budget."""
        return min(max(1, self.active_jobs()), self.per_minute // 2)

    def _use(self, act: Callable[["BudgetStore"], Any]) -> Any:
        """`act` on the store, or on the fallback while the store fails."""
        if self._fallback is None:
            return act(self.store)
        failed = self._store_failed_at
        if failed is None or time.monotonic() - failed >= STORE_RETRY_SECONDS:
            try:
                result = act(self.store)
            except Exception as exc:  # redis-py's errors, a file lock held too long
                if failed is None:
                    log.warning("Segmind LTX-2: the shared request budget in %s cannot be used (%s); "
                                "counting in %s until it answers again.", self.store.describe(),
                                type(exc).__name__, self._fallback.describe())
                self._store_failed_at = time.monotonic()
            else:
                if failed is not None:
                    log.warning("Segmind LTX-2: the shared request budget in %s answers again.",
                                self.store.describe())
                self._store_failed_at = None
                return result
        try:
            return act(self._fallback)
        except Exception as exc:  # this machine's file unusable too (a full disk, a lock held)
            log.debug("Segmind: the fallback request budget failed too (%s)", type(exc).__name__)
            return act(self._last_resort)
