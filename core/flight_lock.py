"""One request, once: the lock held while a request (a fingerprint) is generated, across
threads and processes sharing the user folder."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

_SLICE = 0.2  # the longest wait between two looks at Cancel


@dataclass
class _FlightState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    result: Any = None        # what the last holder produced, for a waiter in this process
    result_at: float = 0.0


_flights: dict[str, _FlightState] = {}
_flights_lock = threading.Lock()
RESULT_SHARE_SECONDS = 600.0  # a waiter takes the holder's clip if it finished this recently


class FlightLock:
    """Held while one request (a fingerprint) is generated, from before its upload until its
    clip is on disk and cached: a second identical request, in this process (another node, a
    duplicate picture in a batch, a re-queue) or another one sharing the user folder (a second
    ComfyUI, the command line), waits for it and then reuses the clip instead of paying.

    Across processes it is an OS file lock (flock / msvcrt) on <lock dir>/<fingerprint>.lock,
    which the OS releases if the process dies; in the process a thread lock comes first so
    threads wait without polling the file."""

    def __init__(self, lock_dir: Path | None, fingerprint: str) -> None:
        self.lock_dir = lock_dir
        self.fingerprint = fingerprint
        self._fh: Any = None
        self._state: _FlightState | None = None
        self.waited = False

    def acquire(self, cancel_check: Callable[[], None], on_wait: Callable[[], None] | None = None) -> None:
        with _flights_lock:
            state = _flights.setdefault(self.fingerprint, _FlightState())
            state.users += 1
        self._state = state
        try:
            while not state.lock.acquire(timeout=_SLICE):
                self._waiting(on_wait)
                cancel_check()
            try:
                self._lock_file(cancel_check, on_wait)
            except BaseException:
                state.lock.release()
                raise
        except BaseException:
            self._drop_user()
            raise

    def shared_result(self, since: float | None = None) -> Any:
        """The clip an earlier holder in this process produced for this request: if recent, or
        with `since` (a time.monotonic() reading) only if produced after it."""
        state = self._state
        if state is None or state.result is None or time.monotonic() - state.result_at > RESULT_SHARE_SECONDS:
            return None
        if since is not None and state.result_at < since:
            return None
        return state.result

    def publish(self, result: Any) -> None:
        if self._state is not None:
            self._state.result, self._state.result_at = result, time.monotonic()

    def release(self) -> None:
        try:
            if self._fh is not None:
                try:
                    _unlock(self._fh)
                finally:
                    self._fh.close()  # closing alone releases the OS lock too
                    self._fh = None
        finally:
            if self._state is not None:  # never left held: every later identical request would hang
                self._state.lock.release()
                self._drop_user()

    def __enter__(self) -> "FlightLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _waiting(self, on_wait: Callable[[], None] | None) -> None:
        if not self.waited and on_wait is not None:
            on_wait()
        self.waited = True

    def _drop_user(self) -> None:
        with _flights_lock:
            state = self._state
            if state is None:
                return
            state.users -= 1
            if state.users <= 0 and (state.result is None
                                     or time.monotonic() - state.result_at > RESULT_SHARE_SECONDS):
                _flights.pop(self.fingerprint, None)
            self._state = None if state.users <= 0 else state

    def _lock_file(self, cancel_check: Callable[[], None], on_wait: Callable[[], None] | None) -> None:
        if self.lock_dir is None:
            return
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            fh = open(self.lock_dir / f"{self.fingerprint}.lock", "a+b")
        except OSError as exc:
            # Without the folder only this process is guarded; the run must not fail for it.
            log.warning("Segmind: cannot use the lock folder %s (%s); identical runs in other processes "
                        "are not held back.", self.lock_dir, exc.strerror or type(exc).__name__)
            return
        while not _try_lock(fh):
            self._waiting(on_wait)
            cancel_check()
            time.sleep(_SLICE)
        self._fh = fh


def _try_lock(fh: Any) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fh: Any) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def lock_directory(user_dir: str | os.PathLike) -> Path:
    return Path(user_dir) / "segmind" / "locks"
