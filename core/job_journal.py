"""A journal of accepted (billed) v2 jobs whose clip is not yet safely on disk.

One small JSON file per request fingerprint, written the moment Segmind accepts a job and
before polling starts, so a crash, a restart, a Cancel or our own time limit never leads
to paying for the same request again: the next identical queue polls the recorded job.
The entry is removed once the clip is on disk and cached, when the job failed, or when
Segmind no longer has it. It holds ids and URLs only, never the key."""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import SegmindError

RESULT_TTL = 3600.0          # Segmind keeps v2 status/result records for one hour
OUTPUT_TTL = 7 * 24 * 3600.0  # ...and the output files for seven days


class JobExpiredError(SegmindError):
    """A recorded job can no longer be collected; the next queue starts a new run."""


def journal_directory(user_dir: str | os.PathLike) -> Path:
    """Where the pack keeps its journal inside ComfyUI's user folder."""
    return Path(user_dir) / "segmind" / "jobs"


@dataclass
class JournalEntry:
    fingerprint: str
    request_id: str
    model: str
    api_base: str
    submitted_at: float                 # wall clock (epoch seconds): survives restarts
    output_url: str | None = None       # known once the job completed

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.submitted_at

    def collectable(self, now: float | None = None) -> bool:
        """Whether Segmind still holds what we need: the record (1 h) or the file (7 days)."""
        return self.age(now) < (OUTPUT_TTL if self.output_url else RESULT_TTL)


class JobJournal:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        # The submit worker thread may write while the node thread reads.
        self._lock = threading.Lock()

    def _path(self, fingerprint: str) -> Path:
        return self.root / f"{fingerprint}.json"

    def get(self, fingerprint: str) -> JournalEntry | None:
        try:
            raw = json.loads(self._path(fingerprint).read_text(encoding="utf-8"))
            return JournalEntry(**raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            # Unreadable entries cannot be resumed; dropping them beats failing every run.
            self.remove(fingerprint)
            return None

    def _write(self, entry: JournalEntry) -> None:
        path = self._path(entry.fingerprint)
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(asdict(entry), indent=1), encoding="utf-8")
            os.replace(tmp, path)  # atomic: a crash leaves the old entry or the new one

    def record(self, fingerprint: str, request_id: str, model: str, api_base: str) -> JournalEntry:
        entry = JournalEntry(fingerprint, request_id, model, api_base, time.time())
        self._write(entry)
        return entry

    def record_output(self, entry: JournalEntry, output_url: str) -> None:
        """Keep the finished clip's URL: the file outlives the one-hour result record."""
        entry.output_url = output_url
        self._write(entry)

    def remove(self, fingerprint: str) -> None:
        with self._lock:
            self._path(fingerprint).unlink(missing_ok=True)

