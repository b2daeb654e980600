"""Estimates reserved for jobs in flight, shared by every process on the user folder (ComfyUI
and the command line may run at once): a job reserves its estimate before its upload, and
the reservation ends by an explicit call, never as a side effect of writing the ledger:

    handles = store.reserve(run_id, amounts, admit)   # all or none; admit() may refuse
    store.settle(handle, request_id)   # accepted (billed): the ledger line counts it now
    store.release(handle)              # ended unpaid: it counts for nothing any more

A settled reservation still counts in its run's total (the per-run limit); one in flight
counts against the day too. Each entry names its process (host, pid) and time, so a
crashed process's reservations end: on this host when its pid is gone, from another host
(a shared folder) after STALE_AFTER.

`ReservationStore` is the interface; `FileReservations` keeps the entries in
`<user>/segmind/reservations.json` under a file lock (the `filelock` library). Another
store (say, Redis for a team) only has to keep the same promises."""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from .errors import Action, InvalidInputError, SpendRecordsError
from .params import finite_number
from .user_folder import UserFolder

log = logging.getLogger(__name__)

STALE_AFTER = 12 * 3600.0   # seconds: a reservation whose owner cannot be checked ends then
LOCK_WAIT = 10.0            # seconds to wait for another process's (millisecond) update
_FORMAT = 1
_EPS = 1e-9


@dataclass(frozen=True)
class Reservation:
    """One clip's reserved estimate. `id` None: nothing was reserved (a clip that pays
    nothing); releasing or settling it does nothing."""
    id: str | None
    run_id: str | None
    amount: float


NOTHING_RESERVED = Reservation(None, None, 0.0)

# admit(reserved in flight by every process, already reserved by this run) -> None or raise.
Admit = Callable[[float, float], None]


class ReservationStore(Protocol):
    def reserve(self, run_id: str | None, amounts: Iterable[float], admit: Admit | None = None) -> list[Reservation]:
        """Reserve every amount or none, atomically with `admit` (which refuses by raising)."""

    def release(self, handle: Reservation) -> None:
        """The job ended unpaid: its reservation counts for nothing any more."""

    def settle(self, handle: Reservation, request_id: str | None) -> None:
        """The job was accepted and its ledger line written: it leaves the in-flight total
        but still counts in its run's total."""

    def in_flight(self) -> float:
        """Every process's reservations not settled yet."""

    def run_total(self, run_id: str | None) -> float:
        """Everything `run_id` reserved and did not release (settled or not)."""


def check_amounts(amounts: Iterable[Any]) -> list[float]:
    given = list(amounts)
    values = [finite_number(a) for a in given]
    if any(v is None or v < 0 for v in values):
        raise InvalidInputError(f"Cost estimates must be non-negative numbers, got {given!r}.")
    return values  # type: ignore[return-value]


_HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    """Whether a process of this host still runs (a pid reused since errs on the safe side:
    its reservation stays counted until STALE_AFTER)."""
    if os.name == "nt":
        return True  # no cheap check on Windows: STALE_AFTER ends it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class FileReservations:
    """ReservationStore in `<user>/segmind/reservations.json`, guarded by a file lock."""

    _thread_lock = threading.Lock()  # the file lock is per open file; threads queue here first

    def __init__(self, user_dir: "str | os.PathLike[str]") -> None:
        folder = UserFolder(user_dir)
        self.path = folder.reservations
        self.lock_path = folder.reservations_lock

    # -- the interface

    def reserve(self, run_id: str | None, amounts: Iterable[float], admit: Admit | None = None) -> list[Reservation]:
        values = check_amounts(amounts)
        with self._locked() as entries:
            if admit is not None:
                admit(_in_flight(entries), _run_total(entries, run_id))
            handles = [Reservation(uuid.uuid4().hex, run_id, v) for v in values]
            now = time.time()
            entries.extend({"id": h.id, "run_id": run_id, "amount": h.amount, "host": _HOST, "pid": os.getpid(),
                            "time": now, "settled": False, "request_id": None} for h in handles)
        return handles

    def release(self, handle: Reservation) -> None:
        if handle.id is None:
            return
        with self._locked() as entries:
            entries[:] = [e for e in entries if e.get("id") != handle.id]

    def settle(self, handle: Reservation, request_id: str | None) -> None:
        if handle.id is None:
            return
        with self._locked() as entries:
            for e in entries:
                if e.get("id") == handle.id:
                    e["settled"], e["request_id"] = True, request_id
            # Settled outside any queued run it counts for nothing any more: not kept.
            entries[:] = [e for e in entries if not (e.get("settled") and e.get("run_id") is None)]

    def in_flight(self) -> float:
        with self._locked() as entries:
            return _in_flight(entries)

    def run_total(self, run_id: str | None) -> float:
        with self._locked() as entries:
            return _run_total(entries, run_id)

    # -- the file

    def _locked(self) -> "_Session":
        return _Session(self)

    def _load(self) -> list[dict[str, Any]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SpendRecordsError(
                f"The reservations of jobs in flight, {self.path}, cannot be read "
                f"({exc.strerror or type(exc).__name__}), so no paid run is started. Make it a file this "
                f"account can read and write (or delete it), then {Action.RETRY}.") from None
        except (ValueError, RecursionError) as exc:
            # Damaged (replaced whole, so not by a crash; by a hand edit): say so and start again.
            log.warning("Segmind: the reservations file %s is damaged (%s); it is started again.",
                        self.path, type(exc).__name__)
            return []
        entries = raw.get("entries") if isinstance(raw, dict) else None
        return [e for e in entries if _valid(e)] if isinstance(entries, list) else []

    def _save(self, entries: list[dict[str, Any]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_text(json.dumps({"format": _FORMAT, "entries": entries}, separators=(",", ":")),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SpendRecordsError(
                f"The reservations of jobs in flight cannot be written to {self.path} "
                f"({exc.strerror or type(exc).__name__}), so no paid run is started. Free some disk "
                f"space or make that folder writable, then {Action.RETRY}.") from None
        finally:
            tmp.unlink(missing_ok=True)


class _Session:
    """`with store._locked() as entries:` the live entries, saved on exit if changed."""

    def __init__(self, store: FileReservations) -> None:
        self.store = store

    def __enter__(self) -> list[dict[str, Any]]:
        from filelock import FileLock, Timeout

        store = self.store
        if not FileReservations._thread_lock.acquire(timeout=LOCK_WAIT):
            raise _busy(store.path)
        try:
            store.path.parent.mkdir(parents=True, exist_ok=True)
            self.file_lock = FileLock(str(store.lock_path), timeout=LOCK_WAIT)
            try:
                self.file_lock.acquire()
            except Timeout:
                raise _busy(store.path) from None
        except OSError as exc:
            FileReservations._thread_lock.release()
            raise SpendRecordsError(
                f"The reservations of jobs in flight cannot be kept in {store.path.parent} "
                f"({exc.strerror or type(exc).__name__}), so no paid run is started. Make that folder "
                f"writable, then {Action.RETRY}.") from None
        except BaseException:
            FileReservations._thread_lock.release()
            raise
        try:
            loaded = store._load()
        except BaseException:
            self._unlock()
            raise
        self.entries = _live(loaded)
        self.before = json.dumps(loaded, sort_keys=True)
        return self.entries

    def __exit__(self, kind: Any, *rest: Any) -> None:
        try:
            if kind is None and json.dumps(self.entries, sort_keys=True) != self.before:
                self.store._save(self.entries)
        finally:
            self._unlock()

    def _unlock(self) -> None:
        try:
            self.file_lock.release()
        finally:
            FileReservations._thread_lock.release()


def _busy(path: Path) -> SpendRecordsError:
    return SpendRecordsError(
        f"Another process has held the reservations of jobs in flight ({path}) for over {LOCK_WAIT:.0f} s "
        "(suspended?), so today's spend cannot be checked and no paid run is started. Resume or close "
        f"that process, then {Action.RETRY}.")


def _valid(e: Any) -> bool:
    return (isinstance(e, dict) and isinstance(e.get("id"), str) and finite_number(e.get("amount")) is not None
            and finite_number(e.get("time")) is not None and isinstance(e.get("pid"), int))


def _live(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries whose process may still run: a dead process's reservations end with it."""
    now = time.time()
    out = []
    for e in entries:
        if now - float(e["time"]) > STALE_AFTER:
            continue
        if e.get("host") == _HOST and e["pid"] != os.getpid() and not _alive(e["pid"]):
            continue
        out.append(e)
    return out


def _in_flight(entries: list[dict[str, Any]]) -> float:
    return sum(max(0.0, float(e["amount"])) for e in entries if not e.get("settled"))


def _run_total(entries: list[dict[str, Any]], run_id: str | None) -> float:
    if run_id is None:
        return 0.0
    return sum(max(0.0, float(e["amount"])) for e in entries if e.get("run_id") == run_id)


def reservations_for(user_dir: "str | os.PathLike[str]") -> ReservationStore:
    """The store every process on this user folder shares."""
    return FileReservations(user_dir)
