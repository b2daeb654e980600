"""A journal of accepted (billed) v2 jobs whose clip is not yet safely on disk.

One small JSON file per request fingerprint, written the moment Segmind accepts a job and
before polling starts, so a crash, a restart, a Cancel or our own time limit never leads
to paying for the same request again: the next identical queue polls the recorded job.
The entry is removed once the clip is on disk and cached, when the job failed, or when
Segmind no longer has it. It holds ids and URLs only, never the key.

The folder may be in poor shape (unreadable, a file where a folder belongs, a record
edited by hand): every failure is a LocalStateError naming the path and what to do, or
the record is set aside as `<name>.bad`, never a raw OSError or TypeError."""
from __future__ import annotations

import errno
import json
import logging
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .errors import Action, LocalStateError, SegmindError

log = logging.getLogger(__name__)

RESULT_TTL = 3600.0          # Segmind keeps v2 status/result records for one hour
OUTPUT_TTL = 7 * 24 * 3600.0  # ...and the output files for seven days


class JobExpiredError(SegmindError):
    """A recorded job can no longer be collected; the next queue starts a new run."""


def journal_directory(user_dir: str | os.PathLike) -> Path:
    """Where the pack keeps its journal inside ComfyUI's user folder."""
    from .user_folder import UserFolder

    return UserFolder(user_dir).jobs


def _file_in_the_way(path: Path) -> Path | None:
    """The first existing non-folder among `path`'s parents and `path` itself."""
    for candidate in (*reversed(path.parents), path):
        try:
            if os.path.lexists(candidate) and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


def local_state_error(exc: OSError, path: Path, what: str, fix: str = "") -> LocalStateError:
    """One clear message for an OSError met on the pack's own files: what is wrong with
    `path` and what to do. `what` names the contents ("its result cache"); `fix` adds a
    remedy for a full disk."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return LocalStateError(f"No space left on the disk holding {path}: free some disk space{fix}, "
                               f"then {Action.RETRY}.")
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_in_the_way(path.parent if code == errno.ENOTDIR else path) or path.parent
        return LocalStateError(f"{blocker} is a file where the pack needs a folder (it keeps {what} "
                               f"there). Move or delete that file, then {Action.RETRY}.")
    if code == errno.EISDIR:
        return LocalStateError(f"{path} is a folder where the pack keeps a file of {what}. Move or delete "
                               f"that folder, then {Action.RETRY}.")
    folder = path.parent
    if code in (errno.EACCES, errno.EPERM):
        return LocalStateError(f"Cannot use {path}: permission denied. The pack keeps {what} in {folder}: "
                               f"give the user running the pack read and write access to it, then {Action.RETRY}.")
    if code == errno.EROFS:
        return LocalStateError(f"Cannot write {path}: the file system is read-only. The pack keeps {what} "
                               f"in {folder}: make it writable, then {Action.RETRY}.")
    why = getattr(exc, "strerror", None) or type(exc).__name__
    return LocalStateError(f"Cannot use {path} ({why}). The pack keeps {what} in {folder}: check that "
                           f"folder and the disk it is on, then {Action.RETRY}.")


_WHAT = "its record of paid Segmind jobs"


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


def entry_from_record(raw: Any, fingerprint: str | None = None) -> JournalEntry | None:
    """The entry a parsed record describes, or None when any field is missing, unknown or of
    the wrong type (a hand-edited or foreign file: a wrong type would fail later, on every
    queue), or when it names another fingerprint than the `fingerprint` it is filed under."""
    names = {f.name for f in fields(JournalEntry)}
    if not isinstance(raw, dict) or not set(raw) <= names:
        return None
    text = ("fingerprint", "request_id", "model", "api_base")
    if not all(isinstance(raw.get(k), str) and raw.get(k) for k in text):
        return None
    when = raw.get("submitted_at")
    if isinstance(when, bool) or not isinstance(when, (int, float)) or not math.isfinite(when):
        return None
    url = raw.get("output_url")
    if url is not None and not (isinstance(url, str) and url):
        return None
    if fingerprint is not None and raw["fingerprint"] != fingerprint:
        return None  # a record copied under another name answers another request
    return JournalEntry(raw["fingerprint"], raw["request_id"], raw["model"], raw["api_base"], float(when), url)


class JobJournal:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        # The submit worker thread may write while the node thread reads.
        self._lock = threading.Lock()

    def _path(self, fingerprint: str) -> Path:
        return self.root / f"{fingerprint}.json"

    def get(self, fingerprint: str) -> JournalEntry | None:
        """The recorded job for this request; None when there is none. A damaged record is
        set aside as `<name>.bad`; an unusable folder raises LocalStateError."""
        path = self._path(fingerprint)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise local_state_error(exc, path, _WHAT) from None
        try:
            entry = entry_from_record(json.loads(data.decode("utf-8")), fingerprint)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, absurdly nested
            entry = None
        if entry is None:
            self._set_aside(path)
        return entry

    def _set_aside(self, path: Path) -> None:
        # Kept, not deleted: it may be the only note of a paid job's request id.
        bad = path.with_name(path.name + ".bad")
        with self._lock:
            try:
                os.replace(path, bad)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise local_state_error(exc, path, _WHAT) from None
        log.warning("Segmind job journal: %s could not be read as a job record; set it aside as %s "
                    "(the next run of that request starts a new, billed run).", path, bad.name)

    def _write(self, entry: JournalEntry) -> None:
        path = self._path(entry.fingerprint)
        tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
        with self._lock:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(asdict(entry), indent=1), encoding="utf-8")
                os.replace(tmp, path)  # atomic: a crash leaves the old entry or the new one
            except OSError as exc:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
                raise local_state_error(exc, path, _WHAT) from None

    def record(self, fingerprint: str, request_id: str, model: str, api_base: str) -> JournalEntry:
        """Note an accepted job. Raises LocalStateError (an OSError) when it cannot be written."""
        entry = JournalEntry(fingerprint, request_id, model, api_base, time.time())
        self._write(entry)
        return entry

    def record_output(self, entry: JournalEntry, output_url: str) -> None:
        """Keep the finished clip's URL: the file outlives the one-hour result record."""
        entry.output_url = output_url
        self._write(entry)

    def remove(self, fingerprint: str) -> bool:
        """Forget a job; False (and a warning naming the file) when the file cannot be
        deleted. Never raises: it runs after a clip is saved, or while another error is
        reported, and a left-over record costs nothing (collecting again is free)."""
        path = self._path(fingerprint)
        with self._lock:
            try:
                path.unlink(missing_ok=True)
                return True
            except OSError as exc:
                log.warning("Segmind job journal: %s", local_state_error(exc, path, _WHAT))
                return False
