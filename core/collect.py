"""Collect a job by its request id, never paying: from the result cache (forever), from a
clip the ledger says is in the output folder, else from Segmind through v2 status/result
(a job's record lives one hour there; its output file seven days, reached through the
journal's noted URL). Nothing here submits. Also: the list of recorded jobs (ledger +
result cache + journal) that the jobs panel and the Collect node's picker show."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .client import RunInfo, SubmittedJob
from .clip_saving import OUTPUT_SUBFOLDER  # the preview is served from there
from .errors import (Action, CachedClipDamagedError, Cancelled, InvalidInputError, LocalStateError, OutputFolderError,
                     SegmindAPIError, SegmindJobFailed, UnknownJobError, VideoError)
from .job_journal import RESULT_TTL, JobJournal, JournalEntry, journal_directory
from .ledger import LedgerLine, entry_amount
from .params import (DEFAULT_RUNTIME_SECONDS, I2V_MODEL, estimate_cost, expected_runtime, finite_number,
                     snap_to_grid, whole_number)
from .result_cache import ResultCache, cache_directory, place_file

log = logging.getLogger(__name__)

API_MODE = "collect"
# Segmind's ids are UUID-like; anything with a slash, a dot or a control character could
# turn the status URL into another endpoint, or a file name into another folder.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
LABEL_SEPARATOR = " | "


def validate_request_id(text: Any) -> str:
    """The request id, stripped; InvalidInputError saying what to change otherwise."""
    raw = text if isinstance(text, str) else ""
    rid = raw.strip().split(LABEL_SEPARATOR)[0].strip()  # a picked label "id | time | prompt"
    if not rid:
        raise InvalidInputError(f"No request id: give one in {Action.SET_FIELD('request_id')} "
                                f"({Action.FIND_REQUEST_ID}).")
    if not _REQUEST_ID.fullmatch(rid):
        from .credentials import redact

        shown = redact(rid[:60]) + ("..." if len(rid) > 60 else "")
        raise InvalidInputError(
            f"{shown!r} is not a Segmind request id (letters, digits, '-' and '_' only, like "
            f"'3f2a9c1e-...'): {Action.FIND_REQUEST_ID}.")
    return rid


def is_fingerprint(text: Any) -> bool:
    return isinstance(text, str) and bool(_FINGERPRINT.fullmatch(text))


def collected_fingerprint(api_base: str, request_id: str) -> str:
    """The cache key of a collected clip whose request fields are unknown: a hash that no
    request fingerprint can equal, so the clip is found by its request id from then on."""
    return hashlib.sha256(f"collected\0{api_base}\0{request_id}".encode()).hexdigest()


# --------------------------------------------------------------------------- what is recorded


# path -> (mtime_ns, size, record): the panel asks every few seconds; only changed files are re-read.
_record_memo: dict[str, tuple[int, int, dict[str, Any] | None]] = {}


def _json_records(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(stem, record) of every readable *.json in folder, sorted by name."""
    out: list[tuple[str, dict[str, Any]]] = []
    if len(_record_memo) > 20000:  # entries of deleted files pile up otherwise
        _record_memo.clear()
    try:
        with os.scandir(folder) as it:
            files = sorted((e for e in it if e.name.endswith(".json") and not e.name.startswith(".")),
                           key=lambda e: e.name)
            for item in files:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                memo = _record_memo.get(item.path)
                if memo is not None and memo[:2] == (st.st_mtime_ns, st.st_size):
                    record = memo[2]
                else:
                    record = _read_record(Path(item.path))
                    _record_memo[item.path] = (st.st_mtime_ns, st.st_size, record)
                if record is not None:
                    out.append((item.name[:-5], record))
    except OSError:
        return []
    return out


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None  # a damaged record is set aside; its owner drops it when it next reads it
    return record if isinstance(record, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _cache_records(user_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(stem, r) for stem, r in _json_records(cache_directory(user_dir)) if is_fingerprint(stem)]


def _journal_entries(user_dir: Path) -> list[JournalEntry]:
    """The journal's readable records (a damaged one is left for the journal to set aside)."""
    from .job_journal import entry_from_record

    out = []
    for stem, raw in _json_records(journal_directory(user_dir)):
        entry = entry_from_record(raw, stem)
        if entry is not None:
            out.append(entry)
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def output_clip(entry_clip: Any, output_dir: Path | None) -> Path | None:
    """A ledger's clip path, if it is a file inside the output folder (never elsewhere:
    the ledger is a file on disk, and its paths are not trusted further than that)."""
    if output_dir is None or not isinstance(entry_clip, str) or not entry_clip or "\0" in entry_clip:
        return None
    path = Path(entry_clip)
    if not path.is_absolute():
        path = Path(output_dir) / path
    try:
        return path if path.suffix.lower() == ".mp4" and path.is_file() and _inside(path, Path(output_dir)) else None
    except OSError:
        return None


@dataclass
class RecordedJob:
    """One job the pack knows of (ledger, result cache and journal merged), as the jobs
    panel, the Collect node's picker and the command line's `jobs` show it."""
    request_id: str | None
    fingerprint: str | None
    time: float
    model: str | None
    prompt: str | None
    width: int | None
    height: int | None
    num_frames: int | None
    fps: int | None
    seed: int | None
    cost: float | None                   # what Segmind reported it charged
    estimate: float | None
    amount: float                        # what it counts for: cost when known, else estimate
    grid: dict[str, int] | None          # the size really rendered
    cached: bool                         # its clip is in the result cache
    clip_path: str | None                # its clip in the output folder
    collectable: bool
    run_id: str | None
    source: list[str]                    # where it was found: "ledger", "cache", "journal"
    machine: str | None = None           # the team's machine that paid it (None: no team set)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def recorded_jobs(user_dir: str | os.PathLike, output_dir: str | os.PathLike | None = None,
                  limit: int = 200, now: float | None = None) -> list[RecordedJob]:
    """Every job the pack knows of, newest first, one per request id: the ledger's runs,
    the result cache's clips and the journal's jobs in flight, merged."""
    user_dir = Path(user_dir)
    out_dir = Path(output_dir) if output_dir is not None else None
    now = time.time() if now is None else now
    jobs: dict[str, dict[str, Any]] = {}

    def slot(rid: str | None, fingerprint: str | None) -> dict[str, Any]:
        key = rid or f"fp:{fingerprint}"
        return jobs.setdefault(key, {"request_id": rid, "fingerprint": fingerprint, "time": None,
                                     "model": None, "prompt": None, "width": None, "height": None,
                                     "num_frames": None, "fps": None, "seed": None, "cost": None,
                                     "estimate": None, "run_id": None, "cached": False, "clip_path": None,
                                     "output_url": None, "source": [], "machine": None})

    from .team_stores import ledger_for  # with a team: every machine's jobs (Redis), named

    for entry in reversed(ledger_for(user_dir).entries(limit=max(limit, 1) * 4)):  # oldest first: newer wins
        job = slot(_text(entry.request_id), _text(entry.fingerprint))
        job["source"].append("ledger")
        for name in ("model", "prompt", "run_id", "fingerprint"):
            job[name] = _text(getattr(entry, name)) or job[name]
        for name in ("width", "height", "num_frames", "fps", "seed"):
            job[name] = getattr(entry, name) if getattr(entry, name) is not None else job[name]
        job["time"] = entry.time
        job["machine"] = _text(entry.extra.get("machine")) or job["machine"]
        job["cost"] = entry.cost
        job["estimate"] = entry.estimate
        clip = output_clip(entry.clip, out_dir)
        job["clip_path"] = str(clip) if clip is not None else None

    cache_root = cache_directory(user_dir)
    for fingerprint, record in _cache_records(user_dir):
        if not (cache_root / f"{fingerprint}.mp4").is_file():
            continue
        rid = _text(record.get("request_id"))
        job = jobs.get(rid) if rid else None
        if job is None:
            job = next((j for j in jobs.values() if j["fingerprint"] == fingerprint), None) or slot(rid, fingerprint)
        job["source"].append("cache")
        job["cached"] = True
        job["fingerprint"] = fingerprint
        body = record.get("request") if isinstance(record.get("request"), dict) else {}
        job["model"] = job["model"] or _text(record.get("model"))
        job["prompt"] = job["prompt"] or _text(body.get("prompt"))
        for name in ("width", "height", "num_frames", "fps", "seed"):
            if job[name] is None:
                job[name] = whole_number(body.get(name))
        if job["time"] is None:
            job["time"] = finite_number(record.get("stored_at"))
        if job["cost"] is None:
            job["cost"] = finite_number(record.get("cost"))

    for entry in _journal_entries(user_dir):
        job = jobs.get(entry.request_id) or slot(entry.request_id, entry.fingerprint)
        job["source"].append("journal")
        job["model"] = job["model"] or entry.model
        job["fingerprint"] = job["fingerprint"] or entry.fingerprint
        job["time"] = job["time"] if job["time"] is not None else finite_number(entry.submitted_at)
        if entry.output_url and entry.collectable(now):
            job["output_url"] = entry.output_url

    result = []
    for job in jobs.values():
        job["time"] = job["time"] if job["time"] is not None else 0.0
        if job["estimate"] is None and None not in (job["width"], job["height"], job["num_frames"]):
            job["estimate"] = estimate_cost(job)
        if None not in (job["width"], job["height"], job["num_frames"]):
            w, h, n = snap_to_grid(job["width"], job["height"], job["num_frames"])
            job["grid"] = {"width": w, "height": h, "num_frames": n}
        else:
            job["grid"] = None
        held = bool(job["request_id"]) and now - job["time"] < RESULT_TTL
        job["collectable"] = bool(job["cached"] or job["clip_path"] or job["output_url"] or held)
        job["amount"] = entry_amount(job)
        job.pop("output_url")
        result.append(RecordedJob(**job))
    result.sort(key=lambda j: j.time, reverse=True)
    return result[:max(0, int(limit))]


def job_label(job: RecordedJob) -> str:
    """"<request id> | <local time> | <prompt>": the picker's entry (the id comes first
    because validate_request_id takes the text before the first separator)."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.time or 0))
    prompt = " ".join(str(job.prompt or "").split())[:40]
    return LABEL_SEPARATOR.join(p for p in (job.request_id, stamp, prompt) if p)


# --------------------------------------------------------------------------- collecting


@dataclass
class CollectedClip:
    """What nodes.common.clip_outputs needs (path, info, from_cache), plus where it came from."""
    path: Path
    info: RunInfo = field(default_factory=RunInfo)
    from_cache: bool = False
    source: str = "segmind"           # "cache" | "output" | "segmind"
    provenance: dict | None = None


def _dest(output_dir: Path, request_id: str) -> Path:
    folder = Path(output_dir) / OUTPUT_SUBFOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(
            f"Cannot save the collected clip in {folder} ({exc.strerror or type(exc).__name__}). Nothing "
            f"was paid. Make the folder writable, free some disk space, or {Action.OUTPUT_FOLDER}.") from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    from .clip_saving import safe_name

    return folder / f"ltx2_collected_{stamp}_{safe_name(request_id) or uuid.uuid4().hex[:12]}_{uuid.uuid4().hex[:4]}.mp4"


def _readable(path: Path) -> bool:
    from .video_decode import probe_video

    try:
        info = probe_video(path)
    except VideoError as exc:
        log.warning("Segmind: %s", exc)
        return False
    return info.frame_count > 0 and info.width > 0


def find_cached(user_dir: str | os.PathLike, request_id: str) -> tuple[str, Path, dict[str, Any]] | None:
    """(fingerprint, clip, record) of the cached clip of a request id, marked as used;
    a cached clip that no longer decodes is dropped (None)."""
    cache = ResultCache.from_env(cache_directory(user_dir))
    for fingerprint, record in _cache_records(Path(user_dir)):
        if record.get("request_id") != request_id:
            continue
        try:
            hit = cache.lookup(fingerprint)  # checks size and decoding, refreshes the last use
        except CachedClipDamagedError:
            # Removed by the cache; collecting from Segmind is still free, so carry on.
            log.warning("Segmind: the cached clip of job %s no longer decoded and was dropped.", request_id)
            continue
        if hit is None:
            continue
        if not _readable(hit.path):
            log.warning("Segmind: the cached clip of job %s no longer decodes; it was dropped.", request_id)
            cache.remove(fingerprint)
            continue
        return fingerprint, hit.path, hit.meta
    return None


def collect_clip(request_id: str, *, user_dir: str | os.PathLike, output_dir: str | os.PathLike,
                 cancel_check: Callable[[], bool] | None = None,
                 on_event: Callable[[str, dict], None] | None = None,
                 timeout: float = 900.0, client: Any = None, known: JournalEntry | None = None) -> CollectedClip:
    """The clip of `request_id`, on disk in the output folder and readable, without paying:
    the result cache first, then a clip of that job still in the output folder, then
    Segmind (status/result, or the output URL noted in the journal). A clip fetched from
    Segmind gets its provenance and goes into the cache, so it is collectable forever.
    `known`: what another machine recorded of the job (its model, fingerprint, when it was
    submitted), used as this machine's journal would be (team_lock.py)."""
    rid = validate_request_id(request_id)
    user_dir, output_dir = Path(user_dir), Path(output_dir)

    def emit(kind: str, **data: Any) -> None:
        if on_event is not None:
            on_event(kind, data)

    cached = find_cached(user_dir, rid)
    if cached is not None:
        fingerprint, path, record = cached
        dest = _dest(output_dir, rid)
        try:
            place_file(path, dest)
        except LocalStateError:
            raise  # already says which folder and what to do
        except OSError as exc:
            raise OutputFolderError(
                f"Cannot put the cached clip of job {rid} in {dest.parent} ({exc.strerror or exc}): free some "
                f"disk space or make the folder writable, then {Action.RETRY} (collecting never pays).") from None
        emit("cache_hit", request_id=rid, path=str(dest))
        body = record.get("request") if isinstance(record.get("request"), dict) else {}
        return CollectedClip(dest, RunInfo(request_id=rid, cost=0.0, seed=whole_number(body.get("seed"))),
                             from_cache=True, source="cache", provenance=_provenance(dest))

    from .team_stores import ledger_for  # with a team: another machine's job is found too

    ledger_entry = ledger_for(user_dir).find(rid)
    if ledger_entry is not None:
        clip = output_clip(ledger_entry.clip, output_dir)
        if clip is not None and _readable(clip):
            emit("cache_hit", request_id=rid, path=str(clip))
            return CollectedClip(clip, RunInfo(request_id=rid, cost=0.0, seed=ledger_entry.seed),
                                 from_cache=True, source="output", provenance=_provenance(clip))

    return _from_segmind(rid, user_dir, output_dir, ledger_entry, cancel_check, on_event, timeout, client, known)


def _provenance(path: Path) -> dict | None:
    from .provenance import read_provenance

    return read_provenance(path)


def _make_client(user_dir: Path, cancel_check: Any, on_event: Callable[[str, dict], None] | None) -> Any:
    from .client import ClientConfig, SegmindClient
    from .credentials import require_api_key

    key = require_api_key(user_dir)
    return SegmindClient(key, ClientConfig.from_env(), cancel_check=cancel_check, on_event=on_event,
                         user_dir=user_dir)


def _from_segmind(rid: str, user_dir: Path, output_dir: Path, ledger_entry: LedgerLine | None,
                  cancel_check: Any, on_event: Callable[[str, dict], None] | None, timeout: float,
                  client: Any, known: JournalEntry | None = None) -> CollectedClip:
    from .provenance import provenance_meta, write_provenance

    client = client or _make_client(user_dir, cancel_check, on_event)
    api_base = client.config.api_base
    journal = next((e for e in _journal_entries(user_dir)
                    if e.request_id == rid and e.api_base == api_base), None)
    if journal is None and known is not None and known.request_id == rid:
        journal = known
    known_at = journal.submitted_at if journal is not None else (ledger_entry.time if ledger_entry else None)
    model = ((journal.model if journal is not None else None) or _text(ledger_entry and ledger_entry.model)
             or I2V_MODEL)
    body = _ledger_body(ledger_entry)
    fingerprint = ((journal.fingerprint if journal is not None else None)
                   or _text(ledger_entry and ledger_entry.fingerprint))

    if journal is not None and journal.output_url and journal.collectable():
        ref, info = ("url", journal.output_url), RunInfo(request_id=rid)
    else:
        age = time.time() - known_at if isinstance(known_at, (int, float)) else None
        if age is not None and age >= RESULT_TTL:
            # Segmind would answer 404: say so without spending a request of the budget.
            raise UnknownJobError(
                f"Job {rid} was submitted {age / 3600:.1f} hours ago and its clip is not in the result cache "
                "nor in the output folder; Segmind keeps a job's result for one hour only, so it cannot be "
                f"collected any more. {Action.RUN_ORIGINAL} to make (and pay for) a new clip.")
        try:
            ref, info = client.wait(SubmittedJob(rid, model), timeout,
                                    expected_seconds=expected_runtime(body, model) if body else DEFAULT_RUNTIME_SECONDS)
        except SegmindJobFailed as exc:
            exc.args = (f"{exc} There is no clip to collect for this job.",)
            raise
        except SegmindAPIError as exc:
            if exc.status == 404:
                raise UnknownJobError(
                    f"Segmind has no job {rid} (HTTP 404), and no clip of it is in the result cache or the "
                    f"output folder. Check the id ({Action.FIND_REQUEST_ID}); "
                    "Segmind keeps a job's result for one hour only, so an older job cannot be collected.") from None
            raise
    from .clip_saving import save_checked

    dest = _dest(output_dir, rid)
    save_checked(client, ref, dest, body or None)
    cost = info.cost if info.cost is not None else (ledger_entry.cost if ledger_entry else None)
    meta = provenance_meta(model, body, request_id=rid, cost=cost,
                           seed=info.seed if info.seed is not None else body.get("seed"), collected=True)
    write_provenance(dest, meta)
    _keep(user_dir, api_base, fingerprint, dest, model, body, rid, cost)
    # Collecting is free: report no cost for this run (the job's own cost is in its provenance).
    info.cost = 0.0
    return CollectedClip(dest, info, from_cache=False, source="segmind", provenance=_provenance(dest))


def _ledger_body(entry: LedgerLine | None) -> dict[str, Any]:
    if not entry:
        return {}
    body: dict[str, Any] = {}
    if _text(entry.prompt):
        body["prompt"] = entry.prompt
    for name in ("width", "height", "num_frames", "fps", "seed"):
        if getattr(entry, name) is not None:
            body[name] = getattr(entry, name)
    return body


def _keep(user_dir: Path, api_base: str, fingerprint: str | None, clip: Path, model: str,
          body: dict[str, Any], rid: str, cost: float | None) -> None:
    """Into the result cache, so the job stays collectable after Segmind forgets it; a paid
    job's journal record goes once its clip is cached (as the lifecycle does)."""
    key = fingerprint if is_fingerprint(fingerprint) else collected_fingerprint(api_base, rid)
    try:
        cache = ResultCache.from_env(cache_directory(user_dir))
        stored = cache.store(key, clip, {"model": model, "request": body, "request_id": rid, "cost": cost,
                                         "collected": True})
    except (OSError, InvalidInputError) as exc:
        log.warning("Segmind result cache: could not keep the collected clip of job %s (%s).", rid, exc)
        return
    if stored and is_fingerprint(fingerprint):
        JobJournal(journal_directory(user_dir)).remove(fingerprint)  # never raises


__all__ = ["CollectedClip", "RecordedJob", "collect_clip", "recorded_jobs", "job_label", "validate_request_id",
           "find_cached", "collected_fingerprint", "Cancelled"]
