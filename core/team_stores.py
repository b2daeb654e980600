"""The one place that chooses where the records a paid run needs live: this machine's files
(the user folder, shared by its processes) or the team's Redis (shared_store.team_redis).

    stores = record_stores(user_dir)          # raises SharedStoreDown: Redis down, "refuse"
    stores.flight_lock(fingerprint)           # FlightLock, or TeamFlightLock (+ Redis lease)
    stores.reservations                       # FileReservations, or RedisReservations
    stores.ledger                             # Ledger, or TeamLedger (local file + Redis)
    stores.live_jobs()                        # the other machines' live jobs (team_board.py)
    ledger_for(user_dir)                      # the ledger to record in: never raises, never waits

Redis down with "local": this machine's files, a warning, and a note (`team_outage.json`)
that lines were recorded here only; the first process that finds Redis again writes them back
(idempotent: by request id, a newer line is never replaced by an older one). A line whose copy
to Redis failed is such an outage too, written back by a thread as soon as Redis answers.

A Redis emptied with no outage seen (restarted without persistence, flushed, failed over to an
empty replica) is found by the team ledger's mark (`ledger:epoch`): this machine remembers the
mark it last filled (`team_epoch.json`); a mark gone or changed means the team's ledger lost
this machine's lines, and its lines of the last day are written back before the next spend
check (restore_if_emptied)."""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .flight_lock import FlightLock, lock_directory
from .ledger import Ledger
from .reservations import FileReservations, ReservationStore
from .user_folder import UserFolder

log = logging.getLogger(__name__)

_OUTAGE_MARGIN = 120.0  # seconds before the first line recorded here only: clocks and retries
WRITE_BACK_EVERY = 5.0  # seconds between tries to write back an outage's lines while Redis is away
RESTORE_WINDOW = 24 * 3600.0  # an emptied Redis gets back this machine's lines of the last day:
# today's (the per-day limit) and every job Segmind still keeps (collection, one hour)


@dataclass
class RecordStores:
    user_dir: Path
    reservations: ReservationStore
    ledger: Ledger
    client: Any = None        # the team's Redis; None = this machine's files
    prefix: str = ""
    refuse_when_down: bool = True

    @property
    def shared(self) -> bool:
        return self.client is not None

    def live_jobs(self) -> list[dict[str, Any]]:
        """The other machines' live jobs (the team's Redis), each with its machine."""
        if self.client is None:
            return []
        from .team_board import team_live_jobs

        return team_live_jobs(self.client, self.prefix)

    def flight_lock(self, fingerprint: str) -> FlightLock:
        if self.client is None:
            return FlightLock(lock_directory(self.user_dir), fingerprint)
        from .team_lock import TeamFlightLock

        return TeamFlightLock(lock_directory(self.user_dir), fingerprint, client=self.client, prefix=self.prefix,
                              user_dir=self.user_dir, refuse_when_down=self.refuse_when_down)


def _key(user_dir: Path) -> str | None:
    from .credentials import load_api_key

    try:
        return load_api_key(user_dir)[0]
    except Exception:  # an unreadable key file: no paid run starts anyway (it says why)
        return None


def _local(user_dir: Path) -> RecordStores:
    return RecordStores(user_dir, FileReservations(user_dir), Ledger(user_dir))


def record_stores(user_dir: "str | os.PathLike[str]") -> RecordStores:
    """The stores a paid run uses (see the module's text). Raises SharedStoreDown, before
    anything is paid, when the team's Redis is down and the setting says to refuse."""
    from .shared_store import key_prefix, machine_name, redis_client, team_redis, team_settings

    user_dir = Path(user_dir)
    settings = team_settings(user_dir)
    key = _key(user_dir) if settings.shared else None
    if not settings.shared or not key:
        return _local(user_dir)
    client = team_redis(user_dir)  # raises SharedStoreDown ("refuse")
    if client is None:  # down, "local": warned by team_redis
        note_outage(user_dir, time.time())
        keep_writing_back(user_dir, redis_client(settings.redis_url), key_prefix(key), key)
        return _local(user_dir)
    prefix, machine = key_prefix(key), machine_name()
    write_back_if_due(user_dir, client, prefix, key)
    restore_if_emptied(user_dir, client, prefix, key)  # before the spend check reads the team's totals
    from .team_board import board_snapshot, start_publishing

    start_publishing(client, prefix, machine, board_snapshot, key)  # this process's live jobs, for the team
    from .team_ledger import TeamLedger
    from .team_reservations import RedisReservations

    return RecordStores(user_dir, RedisReservations(client, prefix, machine),
                        TeamLedger(user_dir, client, prefix, machine, key), client, prefix,
                        settings.when_down == "refuse")


def ledger_for(user_dir: "str | os.PathLike[str]") -> Ledger:
    """The ledger to record a paid job in and to list jobs from: with a team, this machine's
    file plus the team's Redis (a failure there is noted and written back later), without
    checking first that Redis answers (recording never waits for it, nor fails for it)."""
    from .shared_store import key_prefix, machine_name, redis_client, team_settings

    user_dir = Path(user_dir)
    try:
        settings = team_settings(user_dir)
    except Exception as exc:  # a damaged team.json: the spend check says so; recording goes on
        log.warning("Segmind: %s", exc)
        return Ledger(user_dir)
    key = _key(user_dir) if settings.shared else None
    if not settings.shared or not key:
        return Ledger(user_dir)
    from .team_ledger import TeamLedger

    try:
        client = redis_client(settings.redis_url)
    except Exception as exc:  # redis-py missing: the spend check refuses paid runs with what to do
        log.warning("Segmind: %s", exc)
        return Ledger(user_dir)
    return TeamLedger(user_dir, client, key_prefix(key), machine_name(), key)


# --------------------------------------------------------------------------- written back after an outage


def _outage_path(user_dir: Path) -> Path:
    return UserFolder(user_dir).team_outage


def note_outage(user_dir: "str | os.PathLike[str]", since: float) -> None:
    """Lines recorded from `since` on may be on this machine only: write them back later."""
    from filelock import FileLock

    path = _outage_path(Path(user_dir))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=10):
            known = _outage_since(path)
            if known is not None and known <= since:
                return
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"since": since}), encoding="utf-8")
            os.replace(tmp, path)
    except Exception as exc:  # the note is a convenience: the local ledger keeps every line
        log.warning("Segmind: could not note that the team's Redis was away (%s); this machine's ledger "
                    "keeps every line.", exc)


def _outage_since(path: Path) -> float | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return float(raw["since"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0  # damaged: write back everything (idempotent)


def keep_writing_back(user_dir: "str | os.PathLike[str]", client: Any, prefix: str, key: str | None) -> None:
    """Write an outage's lines back as soon as Redis answers, not at this machine's next job
    only: one daemon thread per folder, Redis and account, which looks every WRITE_BACK_EVERY
    seconds and does nothing while no outage is noted (a stat of one file)."""
    from .shared_store import keep_doing

    user_dir = Path(user_dir)
    keep_doing(("write-back", str(user_dir), id(client), prefix), "ledger-write-back", WRITE_BACK_EVERY,
               lambda: write_back_if_due(user_dir, client, prefix, key, quiet=True))


def write_back_if_due(user_dir: Path, client: Any, prefix: str, key: str | None = None, quiet: bool = False) -> int:
    """Redis answers: write back what was recorded here while it was away. Returns the number
    of lines written back (0 when nothing was due). `quiet`: a failure is not warned (the
    thread that tries again while Redis is away)."""
    from filelock import FileLock, Timeout

    from .team_ledger import write_back

    path = _outage_path(user_dir)
    if not path.exists():
        return 0
    try:
        with FileLock(str(path) + ".lock", timeout=10):
            since = _outage_since(path)
            if since is None:
                return 0  # another process wrote them back meanwhile
            count = write_back(user_dir, client, prefix, since - _OUTAGE_MARGIN, key)
            path.unlink(missing_ok=True)
    except Timeout:
        return 0
    except Exception as exc:  # tried again by the next run
        (log.debug if quiet else log.warning)(
            "Segmind: could not yet write this machine's ledger back to the team's Redis (%s).", type(exc).__name__)
        return 0
    log.info("Segmind: the team's Redis answers again; %d ledger line(s) recorded on this machine "
                "meanwhile were written back.", count)
    return count


# --------------------------------------------------------------------------- written back after Redis was emptied


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _known_epochs(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or damaged: the next look writes back (idempotent)
        return {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def restore_if_emptied(user_dir: Path, client: Any, prefix: str, key: str | None = None) -> int:
    """The team's ledger lost its mark (`<prefix>ledger:epoch`) or holds another one than this
    machine last filled: Redis was emptied (or this machine never filled it), so write this
    machine's lines of the last RESTORE_WINDOW back (idempotent, never over a newer line), then
    remember the mark. One GET when nothing changed. Returns the number of lines written back."""
    from filelock import FileLock, Timeout

    from .team_ledger import write_back

    mark_key = f"{prefix}ledger:epoch"
    path = UserFolder(user_dir).team_epoch
    try:
        found = client.get(mark_key)
        if found is not None and _known_epochs(path).get(prefix) == _text(found):
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=10):
            known = _known_epochs(path)
            filled_before = prefix in known  # else this machine's first look: nothing was lost
            found = client.get(mark_key)
            if found is not None and known.get(prefix) == _text(found):
                return 0  # another process of this machine did it meanwhile
            if found is None:  # the first machine to look at an emptied (or new) ledger marks it
                client.set(mark_key, uuid.uuid4().hex, nx=True)
                found = client.get(mark_key)
            count = write_back(user_dir, client, prefix, time.time() - RESTORE_WINDOW - _OUTAGE_MARGIN, key)
            if found is None:
                return count  # emptied again meanwhile: the next look writes back again
            known[prefix] = _text(found)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(known), encoding="utf-8")
            os.replace(tmp, path)
    except Timeout:
        return 0
    except Exception as exc:  # tried again at the next look
        log.warning("Segmind: could not check whether the team's Redis lost its ledger (%s).", type(exc).__name__)
        return 0
    if count and filled_before:
        log.warning("Segmind: the team's Redis had lost its ledger (restarted without saving, emptied, or a "
                    "new server); %d line(s) of this machine's last day were written back. Other machines' "
                    "lines come back when each of them runs again.", count)
    return count
