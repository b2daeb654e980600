"""Where the request budget keeps its window: the send stamps of the last minute, the pause
after a 429, and how many jobs wait for a result. RequestBudget (core/request_budget.py)
decides; a store only keeps these, and admits a request atomically:

    MemoryBudgetStore   one process (tests, a process without a user folder)
    FileBudgetStore     every process on one machine's user folder (`filelock`)
    RedisBudgetStore    every machine of a team (core/budget_redis.py)

The shared stores count in wall time (one machine's processes share its clock; Redis counts
in its own server time), never in a process's monotonic clock, which another process
cannot read."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

log = logging.getLogger(__name__)

LOCK_WAIT = 10.0  # seconds to wait for another process's (millisecond) update


@dataclass(frozen=True)
class Admission:
    """What one look at the store gave: `stamp` (for answered()) when the request was counted
    as sent, else None and `wait`, the seconds until it may be; `others_waiting`, the jobs of
    other processes (or machines) waiting for a result, as they last said."""
    stamp: Any
    wait: float
    others_waiting: int = 0


class BudgetStore(Protocol):
    def admit(self, room: int, window: float, waiting_here: int) -> Admission:
        """Atomically: forget stamps older than `window`; while paused, admit nothing; else
        when fewer than `room` stamps remain, add one stamped now. Also note that this
        participant has `waiting_here` jobs waiting for a result."""

    def report(self, waiting_here: int, window: float) -> int:
        """Note this participant's `waiting_here` without sending anything (its jobs ended or
        began: others must not keep room for jobs it no longer has), and return the jobs
        other participants wait for, as admit() would."""

    def answered(self, stamp: Any) -> None:
        """The request's answer began to arrive: its stamp moves to now (never back)."""

    def pause(self, seconds: float) -> None:
        """Admit nothing for `seconds` from now (a 429), unless a longer pause is set."""

    def describe(self) -> str:
        """Where the window is kept, for the status line (no password)."""


def participant_name() -> str:
    """One budget of one process: the waiting count it reports is its own."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


class MemoryBudgetStore:
    """The window in this process only, on `clock` (monotonic by default; a test injects one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sent: list[list[float]] = []
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def admit(self, room: int, window: float, waiting_here: int) -> Admission:
        with self._lock:
            now = self.clock()
            self._sent = [s for s in self._sent if s[0] > now - window]
            wait = self._paused_until - now
            if wait > 0:
                return Admission(None, wait)
            if len(self._sent) < room:
                stamp = [now]
                self._sent.append(stamp)
                return Admission(stamp, 0.0)
            return Admission(None, min(s[0] for s in self._sent) + window - now)

    def report(self, waiting_here: int, window: float) -> int:
        return 0  # one process: its own count is read where it is kept

    def answered(self, stamp: Any) -> None:
        if isinstance(stamp, list) and stamp:  # another store's stamp (before a fallback) is not ours
            with self._lock:
                stamp[0] = max(stamp[0], self.clock())

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + max(0.0, seconds))

    def describe(self) -> str:
        return "this process only"


class FileBudgetStore:
    """The window in one JSON file under the user folder, read and written under a file lock
    (`filelock`), so every process on this machine using that folder counts in it. Stamps are
    wall-clock times; a crashed process's stamps stay until they age out (they were sent).

        {"sent": {stamp id: time}, "paused_until": time, "paused_from": time,
         "waiting": {participant: [jobs, time]}}

    A time later than now (the wall clock stepped back) counts from now.

    A damaged file is read as empty (it only ever holds the last minute)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_suffix(".lock")
        self.clock = clock
        self.me = participant_name()
        self._thread_lock = threading.Lock()
        self._file_lock: Any = None

    def _locked(self) -> "_FileSession":
        return _FileSession(self)

    def admit(self, room: int, window: float, waiting_here: int) -> Admission:
        with self._locked() as state:
            now = self.clock()
            # A time later than now is a wall clock stepped back since: counted from now, so the
            # step never holds every request of the machine for as long as it (a window at most).
            sent: dict[str, float] = {k: min(t, now) for k, t in state["sent"].items() if t > now - window}
            state["sent"] = sent
            if state["paused_from"] > now:  # the pause keeps its length, from now
                state["paused_until"] -= state["paused_from"] - now
                state["paused_from"] = now
            others = self._note_waiting(state, waiting_here, window, now)
            wait = state["paused_until"] - now
            if wait > 0:
                return Admission(None, wait, others)
            if len(sent) < room:
                stamp = uuid.uuid4().hex
                sent[stamp] = now
                return Admission(stamp, 0.0, others)
            return Admission(None, min(sent.values()) + window - now, others)

    def report(self, waiting_here: int, window: float) -> int:
        with self._locked() as state:
            return self._note_waiting(state, waiting_here, window, self.clock())

    def _note_waiting(self, state: dict[str, Any], waiting_here: int, window: float, now: float) -> int:
        """Write this participant's waiting jobs into `state`; return the others' (a count
        not renewed within the window is a process gone without saying)."""
        waiting = {k: [v[0], min(v[1], now)] for k, v in state["waiting"].items()
                   if k != self.me and v[1] > now - window}
        others = sum(v[0] for v in waiting.values())
        if waiting_here:
            waiting[self.me] = [waiting_here, now]
        state["waiting"] = waiting
        return others

    def answered(self, stamp: Any) -> None:
        if not stamp:
            return
        with self._locked() as state:
            if stamp in state["sent"]:
                state["sent"][stamp] = max(state["sent"][stamp], self.clock())

    def pause(self, seconds: float) -> None:
        with self._locked() as state:
            now = self.clock()
            if now + max(0.0, seconds) > state["paused_until"]:
                state["paused_until"], state["paused_from"] = now + max(0.0, seconds), now

    def describe(self) -> str:
        return f"this machine's user folder ({self.path})"

    # -- the file ---------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        empty: dict[str, Any] = {"sent": {}, "paused_until": 0.0, "paused_from": 0.0, "waiting": {}}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty
        except (OSError, ValueError) as exc:
            log.debug("Segmind: the request budget file %s was unreadable (%s); starting it afresh",
                      self.path, type(exc).__name__)
            return empty
        try:
            return {"sent": {str(k): float(v) for k, v in dict(raw.get("sent") or {}).items()},
                    "paused_until": float(raw.get("paused_until") or 0.0),
                    "paused_from": float(raw.get("paused_from") or 0.0),
                    "waiting": {str(k): [int(v[0]), float(v[1])] for k, v in dict(raw.get("waiting") or {}).items()}}
        except (AttributeError, TypeError, ValueError, IndexError, KeyError):
            return empty

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            # The budget is a courtesy to Segmind's limit: a 429 still pauses every job of this
            # process, so a full disk must not stop a paid job's polls.
            log.warning("Segmind: could not write the request budget file %s (%s)", self.path,
                        exc.strerror or type(exc).__name__)
            tmp.unlink(missing_ok=True)


class _FileSession:
    def __init__(self, store: FileBudgetStore) -> None:
        self.store = store

    def __enter__(self) -> dict[str, Any]:
        from filelock import FileLock

        store = self.store
        store._thread_lock.acquire()
        try:
            if store._file_lock is None:
                store.path.parent.mkdir(parents=True, exist_ok=True)
                store._file_lock = FileLock(str(store.lock_path), timeout=LOCK_WAIT)
            store._file_lock.acquire()
        except BaseException:
            store._thread_lock.release()
            raise
        self.state = store._load()
        return self.state

    def __exit__(self, kind: Any, *rest: Any) -> None:
        try:
            if kind is None:
                self.store._save(self.state)
        finally:
            try:
                self.store._file_lock.release()
            finally:
                self.store._thread_lock.release()


__all__ = ["Admission", "BudgetStore", "MemoryBudgetStore", "FileBudgetStore", "participant_name"]
