"""One request, one job: the lock held while a request (its fingerprint) is generated, from
before its upload until its clip is saved and booked, across threads and processes.

A second identical request, in this process (another node, a duplicate picture in a batch,
a re-queue after Cancel) or in another one sharing the user folder (a second ComfyUI, the
command line), waits for it and then reuses the clip instead of paying. The wait has a limit
(the run's own time limit) and honours Cancel: a holder that is suspended (Ctrl-Z) or stuck
never holds another run for ever.

Across processes it is an OS file lock (flock / msvcrt) on <lock dir>/<fingerprint>.lock,
which the OS releases if the process dies. The holder removes the file before it lets go
(POSIX), and a taker checks, once it holds the lock, that the file it locked is still the
one at that path: so lock files do not pile up, one per request ever made. In the process
a thread lock comes first, so threads wait without polling the file."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

_SLICE = 0.2  # the longest wait between two looks at Cancel and the time limit
RESULT_SHARE_SECONDS = 600.0  # a waiter takes the holder's clip if it finished this recently


class LockWaitExpired(Exception):
    """The time limit passed while another run of the same request held the lock. The
    lifecycle words it for the user (it knows the limit's name and what was paid)."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"waited {waited:.0f} s for another run of the same request")
        self.waited = waited


def lock_directory(user_dir: str | os.PathLike) -> Path:
    return Path(user_dir) / "segmind" / "locks"


@dataclass
class _FlightState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    result: Any = None        # what the last holder produced, for a waiter in this process
    result_at: float = 0.0


_flights: dict[str, _FlightState] = {}
_flights_lock = threading.Lock()


class FlightLock:
    """See the module's text. Acquire on any thread; release on any thread (the job that
    runs the request releases it when it ends, not the node that started it)."""

    def __init__(self, lock_dir: Path | None, fingerprint: str) -> None:
        self.lock_dir = lock_dir
        self.fingerprint = fingerprint
        self._fh: Any = None
        self._state: _FlightState | None = None
        self.waited = False
        self.held = False

    def acquire(self, cancel_check: Callable[[], None], on_wait: Callable[[], None] | None = None,
                deadline: float | None = None) -> None:
        """Block until held. `cancel_check()` raises to give up (Cancel); past `deadline` (a
        time.monotonic() reading) LockWaitExpired is raised."""
        started = time.monotonic()

        def tick() -> None:
            if not self.waited and on_wait is not None:
                on_wait()
            self.waited = True
            cancel_check()
            if deadline is not None and time.monotonic() >= deadline:
                raise LockWaitExpired(time.monotonic() - started)

        with _flights_lock:
            state = _flights.setdefault(self.fingerprint, _FlightState())
            state.users += 1
        self._state = state
        try:
            while not state.lock.acquire(timeout=_SLICE):
                tick()
            try:
                self._lock_file(tick)
            except BaseException:
                state.lock.release()
                raise
        except BaseException:
            self._drop_user()
            raise
        self.held = True

    def shared_result(self, since: float | None = None) -> Any:
        """The clip an earlier holder in this process produced for this request: if recent, or
        with `since` (a time.monotonic() reading) only if produced after it."""
        state = self._state
        if state is None or state.result is None or time.monotonic() - state.result_at > RESULT_SHARE_SECONDS:
            return None
        if since is not None and state.result_at < since:
            return None
        return state.result

    def made_elsewhere(self, output_dir: Path, client: Any, since: float | None = None,
                       cancel_check: Any = None, on_event: Any = None, timeout: float = 900.0) -> Any:
        """The clip of this request made by another machine of the team (team_lock.py); on
        one machine there is none: its cache and journal are looked at by the lifecycle."""
        return None

    def still_ours(self) -> None:
        """Just before a billed request is sent: raises if the lock was lost meanwhile. A lock
        of this machine cannot be (the OS holds it while the process lives); a team's lease
        can (team_lock.py)."""

    def publish(self, result: Any) -> None:
        if self._state is not None:
            self._state.result, self._state.result_at = result, time.monotonic()

    def release(self) -> None:
        if not self.held:
            return  # released already (the job's worker and an error path may both try)
        self.held = False
        try:
            if self._fh is not None:
                try:
                    self._remove_file()
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

    def _path(self) -> Path:
        assert self.lock_dir is not None
        return self.lock_dir / f"{self.fingerprint}.lock"

    def _lock_file(self, tick: Callable[[], None]) -> None:
        if self.lock_dir is None:
            return
        path = self._path()
        while True:
            try:
                self.lock_dir.mkdir(parents=True, exist_ok=True)
                fh = open(path, "a+b")
            except OSError as exc:
                # Without the folder only this process is guarded; the run must not fail for it.
                log.warning("Segmind: cannot use the lock folder %s (%s); identical runs in other processes "
                            "are not held back.", self.lock_dir, exc.strerror or type(exc).__name__)
                return
            try:
                while not _try_lock(fh):
                    tick()
                    time.sleep(_SLICE)
            except BaseException:
                fh.close()
                raise
            if _same_file(fh, path):
                self._fh = fh
                return
            # The holder removed the file as it let go, and this one locked the removed copy:
            # take the lock on the file now at the path (a new one) instead.
            fh.close()

    def _remove_file(self) -> None:
        """Still holding the OS lock: remove the file, so no file stays per request made.
        Not on Windows, where an open file cannot be removed (one small file per request)."""
        if os.name == "nt" or self.lock_dir is None:
            return
        try:
            os.unlink(self._path())
        except OSError as exc:  # a lock file left behind is harmless: only tidiness is lost
            log.debug("Segmind: could not remove the lock file %s (%s).", self._path(), exc)


def _same_file(fh: Any, path: Path) -> bool:
    """Whether the locked file is still the one at `path` (not removed by the last holder)."""
    if os.name == "nt":
        return True
    try:
        mine, now = os.fstat(fh.fileno()), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def try_lock_file(path: Path) -> Any:
    """Take the OS lock on `path` without waiting, as another process would: the open file
    if taken (close it to let go), else None. For checks and tools."""
    fh = open(path, "a+b")
    if _try_lock(fh):
        return fh
    fh.close()
    return None


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
