"""What the generations of one process share, as one object: the request budget, the poll
schedule, the decode turns, the job board and the uploads already made, and the waits the
client uses. The process has one (`current()`); a host that wants separate state, or a test
that wants fresh state and short waits, runs with another (`use(Runtime(...))`). The request
budget of a job with a user folder is shared wider (`budget_for`): with every process on
that folder (a file), or with the team's machines (Redis)."""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .decode_turns import DecodeTurns
from .job_board import JobBoard
from .poll_schedule import PollSchedule
from .request_budget import PAUSE_WITHOUT_RESET, WINDOW_SECONDS, RequestBudget, per_minute_from_env
from .user_folder import UserFolder


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
                 budget: RequestBudget | None = None, shared_budget: bool = True) -> None:
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
        note = getattr(budget, "note_waiting", None)  # a stand-in budget may keep no count
        if callable(note):
            self.board.watch(note)
        self._budget_lock = threading.Lock()
        # False: every job of this runtime counts in the process's budget alone (the
        # behaviour before issue 22; the bench's "no shared budget" run).
        self.shared_budget = shared_budget
        self._shared: dict[tuple[str, str, str], RequestBudget] = {}

    def budget(self) -> RequestBudget:
        """The one request budget of this runtime (the one it was given, if any)."""
        if self._fixed_budget:
            return self._budget
        per_minute = self.requests_per_minute or per_minute_from_env()
        with self._budget_lock:
            if self._budget is None:
                self._budget = RequestBudget(per_minute, window=self.waits.window, active_jobs=self.board.waiting,
                                             pause_without_reset=self.waits.pause_without_reset)
                self.board.watch(self._budget.note_waiting)
            self._budget.per_minute = per_minute
            return self._budget

    def budget_for(self, user_dir: "str | os.PathLike[str] | None", api_key: str) -> RequestBudget:
        """The request budget of a job on `user_dir` with `api_key`: in the team's Redis when one
        is set and answers; else in the user folder's file, shared by every process using it;
        without a user folder, the process's own. Raises SharedStoreDown (nothing sent yet)
        when the team's Redis is down and the setting says to refuse."""
        if self._fixed_budget or user_dir is None or not self.shared_budget:
            return self.budget()
        from .budget_store import FileBudgetStore, MemoryBudgetStore
        from .shared_store import account_tag, key_prefix, team_redis, team_settings

        per_minute = self.requests_per_minute or per_minute_from_env()
        client = team_redis(user_dir)  # SharedStoreDown: refused before anything is paid
        tag = account_tag(api_key)
        folder = str(Path(user_dir).resolve())
        where = ("redis", team_settings(user_dir).redis_url, tag) if client is not None else ("file", folder, tag)
        with self._budget_lock:
            budget = self._shared.get(where)
            if budget is None:
                files = FileBudgetStore(UserFolder(user_dir).budget / f"{tag}.json")
                if client is not None:
                    from .budget_redis import RedisBudgetStore

                    store: Any = RedisBudgetStore(client, key_prefix(api_key), where[1])
                    fallback: Any = files
                else:
                    store, fallback = files, MemoryBudgetStore()
                budget = RequestBudget(per_minute, window=self.waits.window, active_jobs=self.board.waiting,
                                       pause_without_reset=self.waits.pause_without_reset,
                                       store=store, fallback=fallback)
                self._shared[where] = budget
                self.board.watch(budget.note_waiting)  # other processes learn when its jobs end
            budget.per_minute = per_minute
            return budget


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
