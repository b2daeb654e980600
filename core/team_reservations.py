"""Spend reservations of a team in Redis: `RedisReservations` keeps the promises of
reservations.ReservationStore for every machine on one account, so two machines cannot both
pass the last dollar of a per-day limit.

One hash, `<prefix>reservations`: reservation id -> {run_id, amount, machine, host, pid,
owner, time, settled, request_id}. Reserving is one optimistic transaction (WATCH, read,
admit, MULTI/EXEC, again if another process changed the hash meanwhile), so the admit check
and the new entries are atomic. A reservation ends when its process is gone: its owner keeps
`<prefix>alive:<owner>` alive (a lease renewed by a thread while the process lives), so a
crashed machine's reservations end within OWNER_LEASE; in this host's pid namespace
(shared_store.PID_SPACE) a dead pid ends them at once; anything older than
reservations.STALE_AFTER ends too."""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from .errors import Action, SpendRecordsError
from .reservations import STALE_AFTER, Admit, Reservation, _alive, _in_flight, _run_total, check_amounts
from .shared_store import PID_SPACE, PROCESS, keep_doing

log = logging.getLogger(__name__)

OWNER_LEASE = 120          # seconds a process's reservations outlive its last sign of life
_RENEW_EVERY = OWNER_LEASE / 4


def _keep_alive(client: Any, prefix: str) -> None:
    """This process's sign of life for its reservations: set now, then renewed by one daemon
    thread per Redis and account while the process runs (it dies with the process)."""
    key = f"{prefix}alive:{PROCESS}"
    client.set(key, "1", ex=OWNER_LEASE)  # now: a reservation is never made without it
    keep_doing((id(client), prefix, "alive"), "reservations-lease", _RENEW_EVERY,
               lambda: client.set(key, "1", ex=OWNER_LEASE))


@dataclass(frozen=True)
class TeamReservation(Reservation):
    """A reservation made in the team's Redis: it is released or settled there, whatever the
    team setting or Redis's state says by then (spend_check.release)."""
    store: Any = field(default=None, compare=False, repr=False)


def _down(exc: BaseException) -> SpendRecordsError:
    return SpendRecordsError(
        f"The team's reservations of jobs in flight in Redis cannot be used ({type(exc).__name__}), so "
        f"today's spend cannot be checked and no paid run is started. Check that Redis is running, then "
        f"{Action.RETRY}.")


class RedisReservations:
    """reservations.ReservationStore in the team's Redis (see the module's text)."""

    def __init__(self, client: Any, prefix: str, machine: str) -> None:
        self.client = client
        self.key = f"{prefix}reservations"
        self.prefix = prefix
        self.machine = machine

    # -- the interface

    def reserve(self, run_id: str | None, amounts: Iterable[float], admit: Admit | None = None) -> list[TeamReservation]:
        from redis.exceptions import RedisError

        values = check_amounts(amounts)
        handles = [TeamReservation(uuid.uuid4().hex, run_id, v, self) for v in values]

        def attempt(pipe: Any) -> None:
            entries, dead = self._read(pipe)
            if admit is not None:
                admit(_in_flight(entries), _run_total(entries, run_id))
            now = time.time()
            pipe.multi()
            if dead:
                pipe.hdel(self.key, *dead)
            if handles:
                pipe.hset(self.key, mapping={h.id: json.dumps(
                    {"id": h.id, "run_id": run_id, "amount": h.amount, "machine": self.machine, "host": PID_SPACE,
                     "pid": os.getpid(), "owner": PROCESS, "time": now, "settled": False, "request_id": None})
                    for h in handles})

        try:
            _keep_alive(self.client, self.prefix)
            self.client.transaction(attempt, self.key)
        except RedisError as exc:
            raise _down(exc) from None
        return handles

    def release(self, handle: Reservation) -> None:
        if handle.id is None:
            return
        try:
            self.client.hdel(self.key, handle.id)
        except Exception as exc:  # it ends with its owner's lease anyway
            log.warning("Segmind: could not end a reservation in the team's Redis (%s); it ends within "
                        "%d s of this process ending.", type(exc).__name__, OWNER_LEASE)

    def settle(self, handle: Reservation, request_id: str | None) -> None:
        if handle.id is None:
            return
        try:
            raw = self.client.hget(self.key, handle.id)
            if raw is None:
                return
            entry = json.loads(raw)
            if entry.get("run_id") is None:
                self.client.hdel(self.key, handle.id)  # settled outside a run it counts for nothing
                return
            entry["settled"], entry["request_id"] = True, request_id
            self.client.hset(self.key, handle.id, json.dumps(entry))
        except Exception as exc:
            log.warning("Segmind: could not settle a reservation in the team's Redis (%s).", type(exc).__name__)

    def in_flight(self) -> float:
        try:
            return _in_flight(self._read(self.client)[0])
        except SpendRecordsError:
            raise
        except Exception as exc:
            raise _down(exc) from None

    def run_total(self, run_id: str | None) -> float:
        try:
            return _run_total(self._read(self.client)[0], run_id)
        except Exception as exc:
            raise _down(exc) from None

    # -- the hash

    def _read(self, conn: Any) -> tuple[list[dict[str, Any]], list[str]]:
        """(live entries, ids of ended ones)."""
        raw = conn.hgetall(self.key)
        entries: list[dict[str, Any]] = []
        for rid, text in raw.items():
            try:
                entry = json.loads(text)
            except (ValueError, TypeError):
                entry = None
            if isinstance(entry, dict) and isinstance(entry.get("amount"), (int, float)) \
                    and isinstance(entry.get("time"), (int, float)):
                entries.append(entry)
            else:
                entries.append({"id": rid.decode() if isinstance(rid, bytes) else rid, "_bad": True})
        owners = sorted({e.get("owner") for e in entries if isinstance(e.get("owner"), str)})
        alive = {o: bool(conn.exists(f"{self.prefix}alive:{o}")) for o in owners}
        now = time.time()
        live, dead = [], []
        for e in entries:
            if e.get("_bad") or now - float(e["time"]) > STALE_AFTER or not alive.get(e.get("owner"), False) \
                    or (e.get("host") == PID_SPACE and e.get("owner") != PROCESS and isinstance(e.get("pid"), int)
                        and not _alive(e["pid"])):
                dead.append(str(e.get("id")))
            else:
                live.append(e)
        return live, dead
