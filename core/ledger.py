"""The spend ledger: what was paid, one JSON object a line in `<user>/segmind/ledger.jsonl`
(UserFolder.ledger), appended by every process on the user folder.

A run is counted at its real cost when Segmind reported one, else at its estimate. The same
request id recorded twice (say, at acceptance with only the estimate, then with the cost)
counts once: the later line wins. The ledger holds prompts and ids, never the key.

Limits, reservations of jobs in flight and the credits memo live in their own modules
(spend_limits.py, reservations.py, credits.py); recording a line moves no reservation."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from .errors import Action, SpendRecordsError
from .params import finite_number, whole_number
from .user_folder import UserFolder

log = logging.getLogger(__name__)

_READ_TAIL_BYTES = 32 << 20   # a damaged or huge ledger is read from its last 32 MB only
_MAX_TEXT = 4000

# One token per process: "this session's spend" is what this process recorded.
SESSION_ID = uuid.uuid4().hex
SESSION_STARTED = time.time()

# Ledger fields (contract) and their types; other fields are kept (in `extra`) when plain scalars.
_STR_FIELDS = ("request_id", "model", "fingerprint", "prompt", "clip", "run_id", "source", "session")
_INT_FIELDS = ("width", "height", "num_frames", "fps", "seed")
_lock = threading.Lock()  # one writer at a time in this process (O_APPEND covers other processes)


def ledger_path(user_dir: str | os.PathLike) -> Path:
    return UserFolder(user_dir).ledger


def amount_of(cost: Any, estimate: Any) -> float:
    """What a job counts for: its cost when known, else its estimate."""
    value = finite_number(cost)
    if value is None:
        value = finite_number(estimate)
    return max(0.0, value) if value is not None else 0.0


def entry_amount(entry: Mapping[str, Any] | "LedgerLine") -> float:
    if isinstance(entry, LedgerLine):
        return entry.amount
    return amount_of(entry.get("cost"), entry.get("estimate"))


@dataclass
class LedgerLine:
    """One line of the ledger: one paid job (at acceptance, then again with its cost)."""
    time: float
    request_id: str | None = None
    model: str | None = None
    cost: float | None = None        # what Segmind reported it charged; None until known
    estimate: float | None = None    # what the pack estimated before paying
    fingerprint: str | None = None
    prompt: str | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    fps: int | None = None
    seed: int | None = None
    clip: str | None = None
    run_id: str | None = None
    source: str | None = None        # "comfyui" or "cli"
    session: str | None = None       # the process that wrote it (SESSION_ID)
    extra: dict[str, Any] = field(default_factory=dict)  # other plain fields a caller passed

    @property
    def amount(self) -> float:
        return amount_of(self.cost, self.estimate)

    def as_dict(self) -> dict[str, Any]:
        """The line as written: contract fields, then the extra ones."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> "LedgerLine":
        """The line to write for a caller's mapping: contract fields with their types, no
        non-finite number, nothing key-like, every text redacted and bounded."""
        from .credentials import redact
        from .params import estimate_cost

        names = {f.name for f in dataclasses.fields(cls)}
        extra: dict[str, Any] = {}
        texts: dict[str, str | None] = {}
        for name, value in entry.items():
            if not isinstance(name, str) or any(word in name.lower() for word in ("key", "secret", "token", "auth")):
                continue  # nothing key-like is ever written, whatever a caller passes
            if isinstance(value, str):
                value = redact(value[:_MAX_TEXT])
            elif isinstance(value, float):
                value = value if math.isfinite(value) else None
            elif not (value is None or isinstance(value, (bool, int))):
                continue  # lists, dicts and objects are left out: the ledger is one flat line per run
            if name in _STR_FIELDS:
                texts[name] = None if value is None else str(value)
            elif name not in names:
                extra[name] = value
        cost = finite_number(entry.get("cost"))
        estimate = finite_number(entry.get("estimate"))
        if estimate is None or estimate < 0:
            estimate = estimate_cost(entry)
        return cls(time=finite_number(entry.get("time")) or time.time(),
                   cost=None if cost is None or cost < 0 else cost, estimate=estimate,
                   **{name: texts.get(name) for name in _STR_FIELDS if name not in ("source", "session")},
                   source=texts.get("source") or "comfyui", session=texts.get("session") or SESSION_ID,
                   **{name: whole_number(entry.get(name)) for name in _INT_FIELDS}, extra=extra)

    @classmethod
    def parse(cls, raw: Any) -> "LedgerLine | None":
        """A line read back, with the types the readers rely on, or None (set aside)."""
        if not isinstance(raw, dict) or finite_number(raw.get("time")) is None:
            return None
        for name in ("cost", "estimate"):
            if raw.get(name) is not None and finite_number(raw.get(name)) is None:
                return None
        for name in _STR_FIELDS:
            if raw.get(name) is not None and not isinstance(raw.get(name), str):
                return None
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(time=float(raw["time"]), cost=finite_number(raw.get("cost")),
                   estimate=finite_number(raw.get("estimate")),
                   **{name: raw.get(name) for name in _STR_FIELDS},
                   # a wrong type is shown as unknown, not trusted
                   **{name: whole_number(raw.get(name)) for name in _INT_FIELDS},
                   extra={k: v for k, v in raw.items() if k not in names and isinstance(k, str)})


def _complete_tail(line: bytes) -> LedgerLine | None:
    """A line glued to the torn start of an earlier one (an interrupted write left no newline):
    the complete object that ends the line, if there is one."""
    decoder = json.JSONDecoder()
    text = line.decode("utf-8", errors="replace").rstrip()
    start = text.find('{"', 1)
    while start > 0:
        try:
            raw, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            raw, end = None, -1
        if end == len(text):
            parsed = LedgerLine.parse(raw)
            if parsed is not None:
                return parsed
        start = text.find('{"', start + 1)
    return None


class Ledger:
    """The ledger in `<user_dir>/segmind/ledger.jsonl`."""

    def __init__(self, user_dir: str | os.PathLike) -> None:
        self.user_dir = Path(user_dir)
        self.path = UserFolder(user_dir).ledger

    def record(self, entry: Mapping[str, Any] | LedgerLine) -> bool:
        """Append one run: {"time", "request_id", "model", "cost" (None until known),
        "estimate", "fingerprint", "prompt", "width", "height", "num_frames", "fps",
        "seed", "clip", "run_id", "source"}. Missing fields are filled (time: now,
        estimate: params.estimate_cost). A write that fails (full disk, read-only folder)
        is logged and never fails the paid run being recorded: returns False then.
        Reservations are not touched here (reservations.settle does that)."""
        line = entry if isinstance(entry, LedgerLine) else LedgerLine.from_entry(entry)
        data = (json.dumps(line.as_dict(), separators=(",", ":"), ensure_ascii=True, allow_nan=False)
                + "\n").encode()
        with _lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                             | getattr(os, "O_BINARY", 0), 0o600)
                try:
                    size = os.fstat(fd).st_size
                    if size and _last_byte(fd, size) != b"\n":
                        # An earlier write was cut short (full disk, quota, a crash): end that torn
                        # line first, so this one is not glued to it.
                        log.warning("Segmind: the spend ledger %s ends in a torn line (an interrupted "
                                    "write); it is closed before the next line is added.", self.path)
                        data = b"\n" + data
                    # One write() with O_APPEND: lines from several threads or processes never interleave.
                    written = os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError as exc:
                log.warning("Segmind: could not record job %s in the spend ledger %s (%s); "
                            "today's spend shown in the panel will miss it.",
                            line.request_id, self.path, exc.strerror or exc)
                return False
            if written < len(data):
                log.warning("Segmind: only %d of %d bytes of job %s reached the spend ledger %s (disk "
                            "full?); the line is torn and today's spend will miss it.",
                            written, len(data), line.request_id, self.path)
                return False
            return True

    def _read(self) -> bytes:
        """The ledger's bytes (its last 32 MB). Raises SpendRecordsError when it exists but
        cannot be read: counting it as $0 spent would let a per-day limit pass."""
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > _READ_TAIL_BYTES:
                    fh.seek(size - _READ_TAIL_BYTES)
                    fh.readline()  # a partial first line
                return fh.read()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise SpendRecordsError(
                f"The spend ledger {self.path} cannot be read ({exc.strerror or type(exc).__name__}), so "
                "today's spend is unknown and no paid run is started. Make it a file this account can "
                f"read and write (or move it away to start a new ledger), then {Action.RETRY}.") from None

    def lines(self) -> list[LedgerLine]:
        """Every readable line, oldest first (raises SpendRecordsError, see _read)."""
        out: list[LedgerLine] = []
        bad = torn = 0
        for raw_line in self._read().splitlines():
            if not raw_line.strip():
                continue
            try:
                parsed = LedgerLine.parse(json.loads(raw_line))
            except (ValueError, RecursionError):
                parsed = None
            if parsed is None:
                parsed = _complete_tail(raw_line)
                if parsed is None:
                    bad += 1
                    continue
                torn += 1
            out.append(parsed)
        if torn:
            log.warning("Segmind: %d line(s) of the spend ledger %s follow a torn line (an interrupted "
                        "write); they were read and the torn part set aside.", torn, self.path)
        if bad:
            log.warning("Segmind: %d damaged line(s) in the spend ledger %s were set aside.", bad, self.path)
        return out

    def _deduped(self) -> list[LedgerLine]:
        """Oldest first; for a job recorded more than once (accepted, then landed), its latest
        line only. A job is its request id and the request's fingerprint: two different paid
        requests answered with the same id (a service reusing ids) both count."""
        latest: dict[tuple[str, Any], int] = {}
        lines = self.lines()
        for n, line in enumerate(lines):
            if line.request_id:
                latest[(line.request_id, line.fingerprint)] = n
        return [line for n, line in enumerate(lines)
                if not line.request_id or latest[(line.request_id, line.fingerprint)] == n]

    def entries(self, limit: int = 200) -> list[LedgerLine]:
        """The latest `limit` runs, newest first. An unreadable ledger lists nothing (logged):
        this is for showing, never for a spend check."""
        try:
            lines = self._deduped()
        except SpendRecordsError as exc:
            log.warning("Segmind: %s", exc)
            return []
        return sorted(lines, key=lambda e: e.time, reverse=True)[:max(0, int(limit))]

    def spent_since(self, t: float) -> float:
        return sum(e.amount for e in self._deduped() if e.time >= t)

    def spent_today(self) -> float:
        """Since local midnight (raises SpendRecordsError for an unreadable ledger)."""
        midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return self.spent_since(midnight)

    def spent_in_session(self) -> float:
        """What this process recorded (this ComfyUI session)."""
        return sum(e.amount for e in self._deduped() if e.session == SESSION_ID)

    def find(self, request_id: str) -> LedgerLine | None:
        """The latest line for a request id, or None."""
        try:
            lines = self.lines()
        except SpendRecordsError as exc:
            log.warning("Segmind: %s", exc)
            return None
        for line in reversed(lines):
            if line.request_id == request_id:
                return line
        return None


def _last_byte(fd: int, size: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, 1, size - 1)
    os.lseek(fd, size - 1, os.SEEK_SET)  # Windows: O_APPEND still writes at the end
    return os.read(fd, 1)
