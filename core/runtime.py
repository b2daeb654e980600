"""What the generations of one process share, as one object: the request budget, the poll
schedule, the decode turns, the job board and the uploads already made, and the waits the
client uses. The process has one (`current()`); a host that wants separate state, or a test
that wants fresh state and short waits, runs with another (`use(Runtime(...))`)."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Iterator

from .decode_turns import DecodeTurns
from .job_board import JobBoard
from .poll_schedule import PollSchedule
from .request_budget import PAUSE_WITHOUT_RESET, WINDOW_SECONDS, RequestBudget, per_minute_from_env


@dataclass(frozen=True)
class Waits:
    """How long the client waits between looks and tries. The defaults are for Segmind; a
    local stand-in answers in milliseconds, so a test passes shorter ones."""
    poll_interval: float = 1.0          # densest status poll gap, near the expected end
    poll_interval_max: float = 15.0     # sparsest, early in a long run
    backoff_base: float = 1.0           # first retry wait
    backoff_max: float = 30.0           # longest retry wait
    pause_without_reset: float = PAUSE_WITHOUT_RESET  # every job's pause after a 429 naming no reset
    window: float = WINDOW_SECONDS      # the request budget's window


class Runtime:
    """One process's shared state. `requests_per_minute` fixes the budget; by default it
    follows SEGMIND_LTX2_REQUESTS_PER_MINUTE / SEGMIND_LTX2_PLAN, read again for every job
    (a changed setting takes effect on the next job); `budget` replaces it altogether."""

    def __init__(self, waits: Waits | None = None, *, requests_per_minute: int | None = None,
                 budget: RequestBudget | None = None) -> None:
        self.waits = waits or Waits()
        self.requests_per_minute = requests_per_minute
        self.board = JobBoard()
        self.polls = PollSchedule()
        self.decodes = DecodeTurns()
        # pixel hash + format + storage host -> URL: the same picture queued again in one
        # ComfyUI session is not uploaded again.
        self.uploads: dict[tuple[str, str, str], str] = {}
        self.uploads_lock = threading.Lock()
        self._budget = budget
        self._fixed_budget = budget is not None
        self._budget_lock = threading.Lock()

    def budget(self) -> RequestBudget:
        """The one request budget of this runtime (the one it was given, if any)."""
        if self._fixed_budget:
            return self._budget
        per_minute = self.requests_per_minute or per_minute_from_env()
        with self._budget_lock:
            if self._budget is None:
                self._budget = RequestBudget(per_minute, window=self.waits.window, active_jobs=self.board.waiting,
                                             pause_without_reset=self.waits.pause_without_reset)
            self._budget.per_minute = per_minute
            return self._budget


_current = Runtime()
_current_lock = threading.Lock()


def current() -> Runtime:
    """The runtime generations of this process use now."""
    return _current


@contextlib.contextmanager
def use(runtime: Runtime) -> Iterator[Runtime]:
    """Run with `runtime` as the process's until the block ends (then the previous one again)."""
    global _current
    with _current_lock:
        previous, _current = _current, runtime
    try:
        yield runtime
    finally:
        with _current_lock:
            _current = previous
