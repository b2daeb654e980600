"""One request, one job, across a team's machines: the FlightLock of this machine (threads and
processes) plus a lock in the team's Redis, `<prefix>flight:<fingerprint>:lock`.

The Redis lock is redis-py's `Lock` (SET NX PX with a token; released only if the token is
still ours) with a lease: a thread renews it while the job runs, so a crashed or killed
holder gives it up within LEASE seconds and the next run goes ahead. Once a waiter on another
machine holds it, the request may have been made meanwhile by the holder, whose clip is in
the holder's cache, on another machine: `made_elsewhere` collects it from Segmind by request
id (core/collect.py), found in the team's ledger (team_ledger.flight_record), never paying."""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .errors import Action, InvalidInputError, SegmindError
from .flight_lock import FlightLock

log = logging.getLogger(__name__)

LEASE_ENV = "SEGMIND_LTX2_LOCK_LEASE_SECONDS"
DEFAULT_LEASE = 30.0  # seconds a killed holder keeps the lock at most
_SLICE = 0.2


def lease_seconds() -> float:
    """SEGMIND_LTX2_LOCK_LEASE_SECONDS (default 30), checked: a value that cannot be used is
    said before anything is paid, not replaced silently."""
    import math

    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 1.0 <= value <= 3600.0:  # NaN fails too
        raise InvalidInputError(f"{LEASE_ENV} is {raw!r}: set it to the seconds a crashed machine keeps the team's "
                                f"lock on a request, from 1 to 3600 (30 by default), or unset it.")
    return value


class TeamLockLost(SegmindError):
    """The team's lock on a request ran out before this machine paid for it: stopped unpaid."""
    billed = False


class TeamFlightLock(FlightLock):
    """FlightLock, then the team's lock in Redis (see the module's text)."""

    def __init__(self, lock_dir: Path | None, fingerprint: str, *, client: Any, prefix: str, user_dir: Path,
                 refuse_when_down: bool) -> None:
        super().__init__(lock_dir, fingerprint)
        self.client = client
        self.prefix = prefix
        self.user_dir = Path(user_dir)
        self.refuse_when_down = refuse_when_down
        self.lease = lease_seconds()
        self._remote: Any = None
        self._renewing: threading.Event | None = None

    def _lock_file(self, tick: Callable[[], None]) -> None:
        super()._lock_file(tick)
        try:
            self._lock_team(tick)
        except BaseException:
            self._let_go_of_file()
            raise

    def _lock_team(self, tick: Callable[[], None]) -> None:
        from redis.exceptions import RedisError

        lock = self.client.lock(f"{self.prefix}flight:{self.fingerprint}:lock", timeout=self.lease,
                                sleep=0.05, thread_local=False)
        try:
            while not lock.acquire(blocking=True, blocking_timeout=_SLICE):
                tick()
        except RedisError as exc:
            if self.refuse_when_down:
                from .shared_store import SharedStoreDown, down_message, team_settings

                raise SharedStoreDown(down_message(team_settings(self.user_dir))) from None
            log.warning("Segmind: the team's Redis cannot be reached (%s); this request is held on this "
                        "machine only.", type(exc).__name__)
            return
        self._remote = lock
        self._renewing = stop = threading.Event()
        threading.Thread(target=self._renew, args=(lock, stop), daemon=True, name="segmind-lock-lease").start()

    def _renew(self, lock: Any, stop: threading.Event) -> None:
        """Renew the lease while held; a lease lost (Redis restarted, this process paused past
        it) is said once: another machine may then run the same request."""
        while not stop.wait(self.lease / 3):
            try:
                lock.reacquire()
            except Exception as exc:
                from redis.exceptions import LockNotOwnedError

                if isinstance(exc, LockNotOwnedError) and self._retake(lock):
                    continue
                if isinstance(exc, LockNotOwnedError):
                    log.warning("Segmind: this machine lost the team's lock on a request it is making (its "
                                "lease of %.0f s ran out); another machine may make it too.", self.lease)
                    return
                log.debug("Segmind: could not renew the team's lock (%s).", exc)

    def _retake(self, lock: Any) -> bool:
        """The lock's key is gone, not taken by another (the team's Redis restarted empty or was
        flushed): take it again with this holder's token, so a machine coming later waits for
        this job rather than making the request again. False when another machine holds it."""
        token = getattr(lock.local, "token", None)
        if token is None:
            return False
        if not self.client.set(lock.name, token, nx=True, px=int(self.lease * 1000)):
            return False
        log.warning("Segmind: the team's Redis had lost this machine's lock on a request it is making (emptied "
                    "or restarted); it is held again.")
        return True

    def still_ours(self) -> None:
        """Just before a billed request is sent: the team's lock is still this machine's, its
        lease renewed now. A lease that ran out (Redis out of reach from here for longer than
        it, this process suspended) may have let another machine take the request and pay for
        it: this one stops unpaid (TeamLockLost) rather than pay a second time."""
        from redis.exceptions import LockNotOwnedError, RedisError

        lock = self._remote
        if lock is None:
            return  # held on this machine only (Redis down, "local")
        try:
            try:
                lock.reacquire()
            except LockNotOwnedError:
                if not self._retake(lock):
                    raise
        except LockNotOwnedError:
            raise TeamLockLost(
                f"This machine's hold on the team's lock for this request ran out before it was paid for (the "
                f"team's Redis was out of reach from here for longer than the lease of {self.lease:.0f} s, or "
                f"this process was paused), so another machine may be making it: this run stopped before "
                f"paying, and nothing was billed for it. {Action.RUN_AGAIN}: it collects the other "
                f"machine's clip, or makes it.") from None
        except RedisError as exc:
            if self.refuse_when_down:
                from .shared_store import SharedStoreDown, down_message, team_settings

                raise SharedStoreDown(down_message(team_settings(self.user_dir))) from None
            log.warning("Segmind: the team's Redis cannot be reached (%s); this request is paid for holding "
                        "this machine's lock only.", type(exc).__name__)

    def release(self) -> None:
        if not self.held:
            return
        try:
            self._release_team()
        finally:
            super().release()

    def _release_team(self) -> None:
        if self._renewing is not None:
            self._renewing.set()
            self._renewing = None
        lock, self._remote = self._remote, None
        if lock is None:
            return
        try:
            lock.release()  # only if the token is still ours (redis-py checks it in one script)
        except Exception as exc:  # expired and maybe taken by another: nothing of ours to release
            log.debug("Segmind: the team's lock was not ours any more at release (%s).", exc)

    def _let_go_of_file(self) -> None:
        """The team's lock failed after the file lock was taken: let go of the file."""
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass

    # -- a clip made by another machine

    def _journalled_here(self) -> bool:
        from .job_journal import JobJournal, journal_directory

        try:
            return JobJournal(journal_directory(self.user_dir)).get(self.fingerprint) is not None
        except Exception:  # an unusable journal folder: the lifecycle says so itself
            return True

    def made_elsewhere(self, output_dir: Path, client: Any, since: float | None = None,
                       cancel_check: Any = None, on_event: Any = None, timeout: float = 900.0) -> Any:
        """The clip of this request made (or paid for) by another machine, collected from
        Segmind by its request id without paying; None when the team has none that can still
        be fetched (then this run makes it). With `since` (wall clock), only a job paid after it."""
        from .collect import collect_clip
        from .errors import SegmindJobFailed, UnknownJobError
        from .job_journal import RESULT_TTL, JournalEntry
        from .team_ledger import flight_record

        try:
            line = flight_record(self.client, self.prefix, self.fingerprint)
        except Exception as exc:
            log.warning("Segmind: the team's record of this request cannot be read (%s).", type(exc).__name__)
            return None
        if line is None or not line.request_id or (since is not None and line.time < since):
            return None
        if self._journalled_here():
            return None  # this machine's own paid job: the lifecycle resumes it (and books its cost)
        if time.time() - line.time >= RESULT_TTL:
            return None  # Segmind no longer keeps its result: a new run
        known = JournalEntry(self.fingerprint, line.request_id, line.model or "", client.config.api_base,
                             line.time)
        log.info("Segmind: this request was made on %s as job %s; collecting its clip (not billed again).",
                 line.extra.get("machine") or "another machine", line.request_id)
        try:
            return collect_clip(line.request_id, user_dir=self.user_dir, output_dir=output_dir,
                                cancel_check=cancel_check, on_event=on_event, timeout=timeout, client=client,
                                known=known)
        except (SegmindJobFailed, UnknownJobError) as exc:
            log.warning("Segmind: the other machine's job %s gave no clip (%s); this run makes it.",
                        line.request_id, exc)
            return None
