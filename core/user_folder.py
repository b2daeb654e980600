"""Every path the pack keeps under ComfyUI's user folder, in one place.

    <user>/segmind/api_key            the key file (core/credentials.py)
    <user>/segmind/cache/             finished clips by request fingerprint (core/result_cache.py)
    <user>/segmind/jobs/              accepted jobs not collected yet (core/job_journal.py)
    <user>/segmind/locks/             one lock file per request in flight (FlightLock)
    <user>/segmind/ledger.jsonl       the spend ledger (core/ledger.py)
    <user>/segmind/limits.json        the spend limits (core/spend_limits.py)
    <user>/segmind/reservations.json  estimates of jobs in flight, every process's (core/reservations.py)
    <user>/segmind/reservations.lock  the file lock guarding it
    <user>/segmind/budget/            the request budget's window per account, every process's (core/budget_store.py)
    <user>/segmind/team.json          the team setting: a Redis address, what to do when it is down (core/shared_store.py)
    <user>/segmind/team_outage.json   since when ledger lines were recorded here only, Redis away (core/team_stores.py)
    <user>/segmind/team_epoch.json    the mark of the team's ledger this machine last filled, per account (core/team_stores.py)

Nothing here touches the disk: these are names only."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SEGMIND_DIR = "segmind"
KEY_FILE = "api_key"


@dataclass(frozen=True)
class UserFolder:
    """`UserFolder(user_dir).ledger` and so on: the pack's files inside `user_dir`."""
    user_dir: Path

    def __init__(self, user_dir: "str | os.PathLike[str]") -> None:
        object.__setattr__(self, "user_dir", Path(user_dir))

    @property
    def root(self) -> Path:
        return self.user_dir / SEGMIND_DIR

    @property
    def key_file(self) -> Path:
        return self.root / KEY_FILE

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.jsonl"

    @property
    def limits(self) -> Path:
        return self.root / "limits.json"

    @property
    def reservations(self) -> Path:
        return self.root / "reservations.json"

    @property
    def reservations_lock(self) -> Path:
        return self.root / "reservations.lock"

    @property
    def budget(self) -> Path:
        return self.root / "budget"

    @property
    def team(self) -> Path:
        return self.root / "team.json"

    @property
    def team_outage(self) -> Path:
        return self.root / "team_outage.json"

    @property
    def team_epoch(self) -> Path:
        return self.root / "team_epoch.json"
