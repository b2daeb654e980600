"""What was paid, and the guards before paying: a JSONL ledger of runs, spend limits per
day and per queued run, in-process reservations for jobs still in flight, and a short-lived
memo of the account's credits.

Files (inside ComfyUI's user folder):
  <user>/segmind/ledger.jsonl  one JSON object a line, appended; see Ledger.record
  <user>/segmind/limits.json   {"per_day": float|null, "per_run": float|null}

A run is counted at its real cost when Segmind reported one, else at its estimate. The same
request id recorded twice (say, at acceptance with only the estimate, then with the cost)
counts once: the later line wins. The ledger holds prompts and ids, never the key."""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import (Action, Cancelled, InsufficientCreditsError, InvalidInputError, LimitsFileError, SegmindError,
                     SpendLimitError)
from .params import finite_number, whole_number

log = logging.getLogger(__name__)

LEDGER_NAME = "ledger.jsonl"
LIMITS_NAME = "limits.json"
SETTINGS_HINT = f"{Action.CHANGE_SETTING('spend_limits')}"  # each face words where the limits are set
CREDITS_TTL = 60.0            # seconds a credits answer is reused (each call uses the request budget)
LIMIT_MAX = 1_000_000.0       # dollars; anything above is a typo
_READ_TAIL_BYTES = 32 << 20   # a damaged or huge ledger is read from its last 32 MB only
_EPS = 1e-9                   # float sums of estimates must not refuse a run exactly at the limit

# One token per process: "this session's spend" is what this process recorded.
SESSION_ID = uuid.uuid4().hex
SESSION_STARTED = time.time()

# Ledger fields (contract) and their types; other fields are kept when they are plain scalars.
_STR_FIELDS = ("request_id", "model", "fingerprint", "prompt", "clip", "run_id", "source", "session")
_INT_FIELDS = ("width", "height", "num_frames", "fps", "seed")
_MAX_TEXT = 4000


def segmind_directory(user_dir: str | os.PathLike) -> Path:
    return Path(user_dir) / "segmind"


def ledger_path(user_dir: str | os.PathLike) -> Path:
    return segmind_directory(user_dir) / LEDGER_NAME


def limits_path(user_dir: str | os.PathLike) -> Path:
    return segmind_directory(user_dir) / LIMITS_NAME


def entry_amount(entry: Mapping[str, Any]) -> float:
    """What a ledger entry counts for: its cost when known, else its estimate."""
    cost = finite_number(entry.get("cost"))
    if cost is not None:
        return max(0.0, cost)
    estimate = finite_number(entry.get("estimate"))
    return max(0.0, estimate) if estimate is not None else 0.0


def _clean_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The line to write: contract fields with their types, no non-finite number, no key."""
    from .credentials import redact
    from .params import estimate_cost

    out: dict[str, Any] = {}
    for name, value in entry.items():
        if not isinstance(name, str) or any(word in name.lower() for word in ("key", "secret", "token", "auth")):
            continue  # nothing key-like is ever written, whatever a caller passes
        if isinstance(value, str):
            out[name] = redact(value[:_MAX_TEXT])
        elif value is None or isinstance(value, (bool, int)):
            out[name] = value
        elif isinstance(value, float):
            out[name] = value if math.isfinite(value) else None
        # lists, dicts and objects are left out: the ledger is one flat line per run
    for name in _STR_FIELDS:
        value = out.get(name)
        out[name] = None if value is None else str(value)
    for name in _INT_FIELDS:
        out[name] = whole_number(entry.get(name))
    now = time.time()
    out["time"] = finite_number(entry.get("time")) or now
    cost = finite_number(entry.get("cost"))
    out["cost"] = None if cost is None or cost < 0 else cost
    estimate = finite_number(entry.get("estimate"))
    if estimate is None or estimate < 0:
        estimate = estimate_cost(entry)
    out["estimate"] = estimate
    out["source"] = out.get("source") or "comfyui"
    out["session"] = out.get("session") or SESSION_ID
    return out


def _valid_line(raw: Any) -> dict[str, Any] | None:
    """A parsed line with the types the readers rely on, or None (set aside)."""
    if not isinstance(raw, dict) or finite_number(raw.get("time")) is None:
        return None
    for name in ("cost", "estimate"):
        if raw.get(name) is not None and finite_number(raw.get(name)) is None:
            return None
    for name in _STR_FIELDS:
        if raw.get(name) is not None and not isinstance(raw.get(name), str):
            return None
    for name in _INT_FIELDS:
        if raw.get(name) is not None:
            raw[name] = whole_number(raw.get(name))  # a wrong type is shown as unknown, not trusted
    raw["time"] = float(raw["time"])
    return raw


class Ledger:
    """The ledger in `<user_dir>/segmind/ledger.jsonl`."""

    def __init__(self, user_dir: str | os.PathLike) -> None:
        self.user_dir = Path(user_dir)
        self.path = ledger_path(user_dir)

    def record(self, entry: Mapping[str, Any]) -> None:
        """Append one run: {"time", "request_id", "model", "cost" (None until known),
        "estimate", "fingerprint", "prompt", "width", "height", "num_frames", "fps",
        "seed", "clip", "run_id", "source"}. Missing fields are filled (time: now,
        estimate: params.estimate_cost). The entry's estimate leaves the run's in-flight
        reservation (it is in the ledger now). A write that fails (full disk, read-only
        folder) is logged and never fails the paid run that is being recorded."""
        line = _clean_entry(entry)
        data = (json.dumps(line, separators=(",", ":"), ensure_ascii=True, allow_nan=False) + "\n").encode()
        with _lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # One write() with O_APPEND: lines from several threads or processes never interleave.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError as exc:
                log.warning("Segmind: could not record job %s in the spend ledger %s (%s); "
                            "today's spend shown in the panel will miss it.",
                            line.get("request_id"), self.path, exc.strerror or exc)
                return
            _settle(line.get("run_id"), line.get("request_id"), line["estimate"])

    def _lines(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > _READ_TAIL_BYTES:
                    fh.seek(size - _READ_TAIL_BYTES)
                    fh.readline()  # a partial first line
                data = fh.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("Segmind: the spend ledger %s cannot be read (%s).", self.path, exc.strerror or exc)
            return []
        out: list[dict[str, Any]] = []
        bad = 0
        for raw_line in data.splitlines():
            if not raw_line.strip():
                continue
            try:
                parsed = _valid_line(json.loads(raw_line))
            except (ValueError, RecursionError):
                parsed = None
            if parsed is None:
                bad += 1
                continue
            out.append(parsed)
        if bad:
            log.warning("Segmind: %d damaged line(s) in the spend ledger %s were set aside.", bad, self.path)
        return out

    def _deduped(self) -> list[dict[str, Any]]:
        """Oldest first; for a job recorded more than once (accepted, then landed), its latest
        line only. A job is its request id and the request's fingerprint: two different paid
        requests answered with the same id (a service reusing ids) both count."""
        latest: dict[tuple[str, Any], int] = {}
        lines = self._lines()
        for n, line in enumerate(lines):
            rid = line.get("request_id")
            if rid:
                latest[(rid, line.get("fingerprint"))] = n
        return [line for n, line in enumerate(lines)
                if not line.get("request_id") or latest[(line["request_id"], line.get("fingerprint"))] == n]

    def entries(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest `limit` runs, newest first."""
        lines = sorted(self._deduped(), key=lambda e: e["time"], reverse=True)
        return lines[:max(0, int(limit))]

    def spent_since(self, t: float) -> float:
        return sum(entry_amount(e) for e in self._deduped() if e["time"] >= t)

    def spent_today(self) -> float:
        """Since local midnight."""
        midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return self.spent_since(midnight)

    def spent_in_session(self) -> float:
        """What this process recorded (this ComfyUI session)."""
        return sum(entry_amount(e) for e in self._deduped() if e.get("session") == SESSION_ID)

    def find(self, request_id: str) -> dict[str, Any] | None:
        """The latest line for a request id, or None."""
        for line in reversed(self._lines()):
            if line.get("request_id") == request_id:
                return line
        return None


# --------------------------------------------------------------------------- limits


def parse_limit(name: str, raw: Any) -> float | None:
    """A limit value from a user: None/""/null means no limit; else dollars, 0..1e6."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = None if isinstance(raw, bool) else finite_number(raw)
    if value is None or not 0 <= value <= LIMIT_MAX:
        raise InvalidInputError(
            f"Spend limit '{name}' is {raw!r}: set it to an amount in US dollars such as 5 "
            f"(0 to {LIMIT_MAX:,.0f}), or leave it empty for no limit.")
    return value


@dataclass
class SpendLimits:
    per_day: float | None = None   # dollars per calendar day (local time); None = no limit
    per_run: float | None = None   # dollars per queued run (one ComfyUI prompt); None = no limit

    @classmethod
    def load(cls, user_dir: str | os.PathLike) -> "SpendLimits":
        """The saved limits; none when the file does not exist. A damaged file raises
        LimitsFileError: guessing "no limit" would spend money the user capped."""
        path = limits_path(user_dir)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, RecursionError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise LimitsFileError(_damaged(path, why)) from None
        if not isinstance(raw, dict):
            raise LimitsFileError(_damaged(path, "not a JSON object"))
        try:
            return cls(per_day=parse_limit("per_day", raw.get("per_day")),
                       per_run=parse_limit("per_run", raw.get("per_run")))
        except InvalidInputError as exc:
            raise LimitsFileError(_damaged(path, str(exc))) from None

    def save(self, user_dir: str | os.PathLike) -> Path:
        path = limits_path(user_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_text(json.dumps(self.as_dict(), indent=1), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def as_dict(self) -> dict[str, float | None]:
        return {"per_day": self.per_day, "per_run": self.per_run}


def _damaged(path: Path, why: str) -> str:
    return (f"The spend limits file {path} cannot be read ({why}), so no paid run is started. "
            f"Set the limits again in {SETTINGS_HINT}, or fix or delete that file.")


# --------------------------------------------------------------------------- reservations

_lock = threading.RLock()
_in_flight: dict[str | None, float] = {}   # run id -> estimates reserved, not yet in the ledger
_run_total: dict[str | None, float] = {}   # run id -> everything this run reserved (per-run limit)
_settled: set[str] = set()                 # request ids whose estimate already left _in_flight


def _check_amounts(amounts: Iterable[Any]) -> list[float]:
    given = list(amounts)
    values = [finite_number(a) for a in given]
    if any(v is None or v < 0 for v in values):
        raise InvalidInputError(f"Cost estimates must be non-negative numbers, got {given!r}.")
    return values  # type: ignore[return-value]


def _money(value: float) -> str:
    return f"${value:.2f}" if value >= 1 or value == 0 else f"${value:.3f}"


def check_spend(user_dir: str | os.PathLike, run_id: str | None, amounts: list[float]) -> None:
    """Refuse (SpendLimitError) before any upload when the jobs of `amounts` would pass a
    limit: today's ledger + every reservation in flight + sum(amounts) over per_day, or
    this run's reservations + sum(amounts) over per_run. On success the amounts are
    reserved for `run_id`, all together: a batch passes or is refused whole."""
    values = _check_amounts(amounts)
    total = sum(values)
    n = len(values)
    clips = f"{n} clip{'s' if n != 1 else ''}"
    with _lock:
        limits = SpendLimits.load(user_dir)
        where = f"change it in {SETTINGS_HINT} (saved in {limits_path(user_dir)})"
        if limits.per_run is not None:
            already = _run_total.get(run_id, 0.0) if run_id is not None else 0.0
            if already + total > limits.per_run + _EPS:
                spent = f" this run has already reserved {_money(already)}, and" if already else ""
                raise SpendLimitError(
                    f"Refused before any upload: the spend limit per run is {_money(limits.per_run)};"
                    f"{spent} the estimate for {clips} is {_money(total)}, which would pass it. "
                    f"Nothing was sent to Segmind. Make fewer or smaller clips, or {where}.")
        if limits.per_day is not None:
            spent = Ledger(user_dir).spent_today()
            reserved = sum(_in_flight.values())
            if spent + reserved + total > limits.per_day + _EPS:
                running = f" plus {_money(reserved)} for jobs still running" if reserved > _EPS else ""
                raise SpendLimitError(
                    f"Refused before any upload: the spend limit per day is {_money(limits.per_day)}; "
                    f"{_money(spent)} was spent today{running}, and the estimate for {clips} is "
                    f"{_money(total)}, which would pass it. Nothing was sent to Segmind. "
                    f"Wait until tomorrow, or {where}.")
        _in_flight[run_id] = _in_flight.get(run_id, 0.0) + total
        if run_id is not None:
            _run_total[run_id] = _run_total.get(run_id, 0.0) + total


def release(run_id: str | None, amount: float) -> None:
    """A reserved job ended unpaid (refused, failed before acceptance, served from the
    cache): it no longer counts against either limit."""
    value = finite_number(amount) or 0.0
    with _lock:
        _in_flight[run_id] = max(0.0, _in_flight.get(run_id, 0.0) - value)
        if _in_flight[run_id] <= _EPS:
            del _in_flight[run_id]
        if run_id is not None and run_id in _run_total:
            _run_total[run_id] = max(0.0, _run_total[run_id] - value)


def _settle(run_id: str | None, request_id: str | None, estimate: float) -> None:
    """A recorded (paid) job moves from the in-flight reservations to the ledger; it still
    counts in its run's total for the per-run limit. Called with _lock held."""
    if request_id is not None:
        if request_id in _settled:
            return  # the same job recorded again (say, now with its cost): already moved
        _settled.add(request_id)
    if run_id in _in_flight:
        _in_flight[run_id] = max(0.0, _in_flight[run_id] - estimate)
        if _in_flight[run_id] <= _EPS:
            del _in_flight[run_id]


def reserved_total() -> float:
    """Estimates reserved by jobs in flight in this process (not yet in the ledger)."""
    with _lock:
        return sum(_in_flight.values())


def reset_reservations() -> None:
    """Forget every reservation (tests)."""
    with _lock:
        _in_flight.clear()
        _run_total.clear()
        _settled.clear()


# --------------------------------------------------------------------------- credits


def check_credits(credits_left: float | None, amounts: list[float]) -> None:
    """Refuse before paying when the account's credits are known and below the estimate."""
    left = finite_number(credits_left)
    if left is None:
        return  # unknown: the service itself refuses an empty account (HTTP 406), unbilled
    values = _check_amounts(amounts)
    total = sum(values)
    if left + _EPS < total:
        n = len(values)
        raise InsufficientCreditsError(
            f"Refused before paying: your Segmind account has {_money(left)} of credits left, less than "
            f"the estimate of {_money(total)} for {n} clip{'s' if n != 1 else ''}. Nothing was sent. "
            f"Top up your credits on segmind.com (or make fewer or smaller clips), then {Action.RETRY}.")


_credits_lock = threading.Lock()
_refresh_lock = threading.Lock()
_credits_failed_at: float | None = None
CREDITS_RETRY_AFTER = 10.0  # seconds a failed credits call is not repeated
_credits_value: float | None = None
_credits_at: float | None = None  # time.monotonic() of the answer


def credits_from_answer(answer: Any) -> float | None:
    """Credits left from a /v1/get-user-credits answer: paid plus free credits (a refusal on
    a wrong guess would block a run the account can pay; the service refuses the other)."""
    if not isinstance(answer, Mapping):
        return finite_number(answer)
    parts = [finite_number(answer.get(k)) for k in ("credits", "free-credits", "free_credits")]
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


def note_credits(value: Any) -> None:
    """Remember the credits left (from a credits call, or a run's `remaining_credits`)."""
    global _credits_value, _credits_at
    left = finite_number(value)
    if left is None:
        return
    with _credits_lock:
        _credits_value, _credits_at = left, time.monotonic()


def known_credits(max_age: float | None = None) -> float | None:
    """The last credits seen, if any (and no older than max_age seconds when given)."""
    with _credits_lock:
        if _credits_at is None or (max_age is not None and time.monotonic() - _credits_at > max_age):
            return None
        return _credits_value


def refresh_credits(client: Any, max_age: float = CREDITS_TTL) -> float | None:
    """Credits left through `client.credits()`, reused for `max_age` seconds: every call
    spends one request of the budget. Raises the client's SegmindError on failure."""
    # Several node runs at once: one asks, the others wait for its answer (Cancel still works).
    while not _refresh_lock.acquire(timeout=0.2):
        check = getattr(client, "check_cancel", None)
        if callable(check):
            check()
    try:
        with _credits_lock:
            fresh = _credits_at is not None and time.monotonic() - _credits_at <= max_age
            if fresh:
                return _credits_value
            if _credits_failed_at is not None and time.monotonic() - _credits_failed_at < CREDITS_RETRY_AFTER:
                raise SegmindError("The credits check failed moments ago.")
        try:
            value = credits_from_answer(client.credits())
        except SegmindError as exc:
            if not isinstance(exc, Cancelled):  # a Cancel says nothing about the service
                _note_credits_failure()
            raise
        note_credits(value)
        return value
    finally:
        _refresh_lock.release()


def _note_credits_failure() -> None:
    """A failed credits call is not repeated by every node run that starts in the next seconds."""
    global _credits_failed_at
    with _credits_lock:
        _credits_failed_at = time.monotonic()


def credits_left(client: Any, max_age: float = CREDITS_TTL) -> float | None:
    """refresh_credits for the check before paying: unknown (None) when the call fails,
    since a failed credits call must not stop a run the service would accept."""
    try:
        return refresh_credits(client, max_age)
    except Cancelled:
        raise
    except SegmindError as exc:
        log.info("Segmind: credits left unknown (%s); the run goes ahead.", exc)
        return None


def guard_before_paying(user_dir: str | os.PathLike, run_id: str | None, amounts: list[float],
                        client: Any = None) -> None:
    """Both checks before any upload, for the jobs that will be paid (not cache hits nor
    recorded jobs being resumed): the spend limits (reserving the amounts), then, given a
    client, the credits left (one credits call a minute at most). A refusal by the credits
    check gives the reservation back. Pair every job with release() or Ledger.record()."""
    check_spend(user_dir, run_id, amounts)
    if client is None:
        return
    try:
        check_credits(credits_left(client), amounts)
    except BaseException:
        release(run_id, sum(finite_number(a) or 0.0 for a in amounts))
        raise


def reset_credits() -> None:
    """Forget the remembered credits (tests)."""
    global _credits_value, _credits_at, _credits_failed_at
    with _credits_lock:
        _credits_value, _credits_at, _credits_failed_at = None, None, None
