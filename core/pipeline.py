"""One generation, start to finish, without ComfyUI: upload (once per picture), run on
Segmind (v2 submit + poll, or v1 sync), and land the MP4 on disk, checked, before
anything else can fail. Used by the nodes and the command line alike.

Billing safety: a request already answered comes from the result cache (no call at all);
an accepted v2 job is journalled before polling, so any failure after it (crash, Cancel,
time limit, network) is collected by the next identical queue instead of paid again."""
from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import RunInfo, SegmindClient, SubmittedJob
from .errors import (Cancelled, InvalidInputError, OutputFolderError, SegmindAPIError, SegmindError,
                     SegmindJobFailed, SegmindTimeoutError, VideoError)
from .image_encode import EncodedImage
from .params import expected_runtime, snap_to_grid
from .scheduler import FlightLock
from .job_journal import JobExpiredError, JobJournal, JournalEntry
from .result_cache import CacheHit, ResultCache, place_file, request_fingerprint

log = logging.getLogger(__name__)

API_MODES = ("async (v2)", "sync (v1)")
OUTPUT_SUBFOLDER = "segmind_ltx2"

# pixel hash + format + storage host -> URL, for this process: the same picture queued
# again in one ComfyUI session is not uploaded again.
_upload_memo: dict[tuple[str, str, str], str] = {}
_memo_lock = threading.Lock()


class _SubmitInFlight:
    """`settled` is clear while a submit attempt (v2) or a whole v1 run is on the wire;
    `deadline` is a safety limit counted from the start of the latest attempt (a 429
    wait before a retry can outlast any limit counted from the first one)."""

    def __init__(self) -> None:
        self.settled = threading.Event()
        self.settled.set()
        self.deadline = 0.0
        self.started = time.time()  # cache entries stored after this came from this run


# fingerprint -> its billed request. A Cancel does not stop a request already on the wire:
# its answer still arrives, on the HTTP thread, and is journalled (v2) or saved and cached
# (v1). A re-queue of the same request meanwhile waits for it instead of paying twice.
_submits_in_flight: dict[str, _SubmitInFlight] = {}


@dataclass
class GenerationRequest:
    model: str
    body: dict[str, Any]                 # every API field except `image`
    image: EncodedImage | None = None    # None for text-to-video
    api_mode: str = API_MODES[0]
    timeout: float = 900.0


@dataclass
class ClipResult:
    path: Path
    info: RunInfo = field(default_factory=RunInfo)
    from_cache: bool = False


@dataclass
class Bookkeeping:
    """What a paid clip leaves besides itself: its line in the spend ledger (from the moment
    Segmind accepts it, its cost once known) and its provenance inside and beside the MP4.
    Neither may cost the clip: both only log when they fail."""
    ledger: Any = None          # core.ledger.Ledger
    run_id: str | None = None   # the queued run (ComfyUI prompt id) the spend limits count per
    source: str = "comfyui"
    paid: bool = False          # a job of this request was accepted (billed) in this run
    on_wire: bool = False       # a billed request (submit, v1 run) was sent: it may bill even unanswered

    def accepted(self, req: GenerationRequest, fingerprint: str, request_id: str | None) -> None:
        self.paid = True
        self._record(req, fingerprint, request_id, None, None)

    def landed(self, req: GenerationRequest, fingerprint: str, clip: Path, info: RunInfo,
               body: dict[str, Any] | None = None) -> None:
        """The paid clip is on disk and checked: tag it, then record its cost."""
        from .provenance import provenance_meta, write_provenance

        self.paid = True
        try:
            write_provenance(clip, provenance_meta(req.model, body or req.body, request_id=info.request_id,
                                                   cost=info.cost, seed=info.seed, fingerprint=fingerprint,
                                                   api_mode=req.api_mode))
        except Exception as exc:  # the clip itself is what was paid for
            log.warning("Segmind: could not write the provenance of %s (%s).", clip.name, exc)
        self._record(req, fingerprint, info.request_id, info.cost, clip)
        if info.remaining_credits is not None:
            from .ledger import note_credits

            note_credits(info.remaining_credits)

    def _record(self, req: GenerationRequest, fingerprint: str, request_id: str | None,
                cost: float | None, clip: Path | None) -> None:
        if self.ledger is None:
            return
        from .params import estimate_cost

        body = req.body
        try:
            self.ledger.record({"time": time.time(), "request_id": request_id, "model": req.model, "cost": cost,
                                "estimate": estimate_cost(body, req.model), "fingerprint": fingerprint,
                                "prompt": body.get("prompt"), "width": body.get("width"),
                                "height": body.get("height"), "num_frames": body.get("num_frames"),
                                "fps": body.get("fps"), "seed": body.get("seed"),
                                "clip": None if clip is None else str(clip), "run_id": self.run_id,
                                "source": self.source})
        except Exception as exc:  # Ledger.record logs its own disk errors; anything else too
            log.warning("Segmind: could not record job %s in the spend ledger (%s).", request_id, exc)


def upload_once(client: SegmindClient, image: EncodedImage) -> str:
    memo_key = (image.pixel_hash, image.mime, client.config.storage_base)
    with _memo_lock:
        url = _upload_memo.get(memo_key)
    if url:
        return url
    url = client.upload_image(image.data_url())
    with _memo_lock:
        _upload_memo[memo_key] = url
    return url


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(text: str | None, length: int = 12) -> str:
    """A server-given string (a request id) reduced to what may name a file: letters, digits,
    '-' and '_' only, so '../', a NUL byte or a drive letter can never steer a path."""
    return _UNSAFE.sub("", str(text or ""))[:length]


def clip_path(output_dir: Path, model: str, request_id: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = safe_name(request_id) or uuid.uuid4().hex[:12]
    short = safe_name(model.replace("ltx-2-19b-", "ltx2_"), 40)
    return Path(output_dir) / OUTPUT_SUBFOLDER / f"{short}_{stamp}_{tag}.mp4"


def expected_clip_bytes(body: dict[str, Any]) -> int:
    """A generous bound on the MP4 a request produces, for the free-space check before paying:
    H.264 at LTX-2's quality stays far below a quarter byte per pixel per frame, plus audio."""
    try:
        w, h, n = snap_to_grid(int(body["width"]), int(body["height"]), int(body["num_frames"]))
    except (KeyError, TypeError, ValueError):
        w, h, n = snap_to_grid(1280, 1280, 400)
    return w * h * n // 4 + (8 << 20)


def ensure_writable(folder: Path, needed_bytes: int = 0) -> None:
    """Create `folder`, prove a file can be written there and that it has room for
    `needed_bytes`, or raise OutputFolderError. An empty probe file passes on a full disk;
    the free space is what the paid clip will need."""
    probe = folder / f".write-test-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputFolderError(
            f"Cannot save clips in {folder} ({why}). Nothing was sent to Segmind. Make the folder "
            "writable, free some disk space, or start ComfyUI with --output-directory pointing "
            "somewhere writable.") from None
    if free < needed_bytes:
        raise OutputFolderError(
            f"Only {free / 1e6:.0f} MB is free in {folder}, and the clip may need up to "
            f"{needed_bytes / 1e6:.0f} MB. Nothing was sent to Segmind: free some disk space, or start "
            "ComfyUI with --output-directory pointing at a disk with room.")


def check_video(path: Path) -> None:
    """A downloaded clip must be a readable video before it is used or cached."""
    from .video_decode import probe_video

    info = probe_video(path)
    if info.frame_count <= 0 or info.width <= 0:
        raise VideoError(f"The clip saved at {path} has no video frames.")


def save_checked(client: SegmindClient, ref: tuple[str, str], dest: Path, body: dict[str, Any] | None = None) -> None:
    """Save a result, at most what `body` can produce, and prove it is a readable MP4. An
    unreadable download is fetched once more (GETs are free); after that the file stays
    where it is, for inspection."""
    from .client import clip_size_bound

    for attempt in (1, 2):
        client.save_output(ref, dest, max_bytes=clip_size_bound(body) if body is not None else None)
        try:
            check_video(dest)
            return
        except VideoError as exc:
            log.warning("Segmind: %s", exc)  # the full decoder detail, for a bug report
            if ref[0] != "url" or attempt == 2:
                raise VideoError(f"The clip Segmind sent is not a readable MP4 (truncated or corrupt); "
                                 f"it was kept at {dest} for inspection.") from None
            client.emit("retry", stage="download", attempt=attempt, wait=0.0, reason="unreadable file")


def _add_hint(exc: BaseException, hint: str) -> None:
    # Append in place: the exception keeps its type (callers tell 401 from 5xx by it).
    exc.args = (f"{exc} {hint}",)


def _resume_hint(request_id: str) -> str:
    return (f"Job {request_id} was accepted (and billed) and is recorded: queue the same graph again "
            "within the hour to collect its clip without paying again.")


def generate_clip(req: GenerationRequest, client: SegmindClient, output_dir: Path, *,
                  cache: ResultCache | None = None, journal: JobJournal | None = None,
                  force_rerun: bool = False, lock_dir: Path | None = None,
                  books: Bookkeeping | None = None) -> ClipResult:
    """Return the clip for `req`, on disk and checked: from `cache` unless `force_rerun`,
    else from a job recorded in `journal`, else from a new (billed) run.

    A run that may pay holds the request's FlightLock (scheduler.py) from before its upload
    until its clip is cached: the same request run meanwhile, here or in another process
    sharing `lock_dir`, waits and then reuses the clip instead of paying again."""
    if not req.timeout > 0:
        raise InvalidInputError(f"'timeout_seconds' is {req.timeout}: set it to a positive number of seconds (900 fits a 2-minute job with queueing).")
    # Before anything is paid: a clip that cannot be saved would be a clip lost.
    ensure_writable(Path(output_dir) / OUTPUT_SUBFOLDER, expected_clip_bytes(req.body))
    fingerprint = request_fingerprint(req.model, req.body, req.image, client.config.api_base)
    began, began_wall = time.monotonic(), time.time()
    hit = None if force_rerun else _cached(fingerprint, cache, journal)
    if hit is not None:
        return _from_cache(hit, req, client, output_dir)
    flight = FlightLock(lock_dir, fingerprint)
    flight.acquire(client.check_cancel, on_wait=lambda: client.emit("waiting_other_run"))
    handed_over = False
    try:
        # Looked at again under the lock: the same request may have finished meanwhile (another
        # node, a duplicate picture, another process), between the look above and the lock.
        # Its clip is the paid result, even under force_rerun if it ran after this call began
        # (that was the re-run).
        shared = flight.shared_result(since=None if flight.waited else began)
        if shared is not None and shared.path.is_file():
            return _reuse(shared, req, client, output_dir)
        hit = _cached(fingerprint, cache, journal)
        if hit is not None and (not force_rerun or _as_time(hit.meta.get("stored_at")) >= began_wall):
            return _from_cache(hit, req, client, output_dir)
        try:
            clip = _generate_locked(req, client, output_dir, fingerprint, cache, journal, force_rerun,
                                    books or Bookkeeping())
        except Cancelled:
            # A submit or v1 run may still be on the wire, and its answer may bill: the lock stays
            # held until it settles, so another process cannot pay for the same request meanwhile.
            handed_over = _hold_until_settled(flight, fingerprint)
            raise
        flight.publish(clip)
        return clip
    finally:
        if not handed_over:
            flight.release()


def _hold_until_settled(flight: FlightLock, fingerprint: str) -> bool:
    """After a Cancel: release `flight` only once this request's submit in flight (if any) has
    its answer (journalled or cached by then), on a thread of its own. False: nothing in flight."""
    with _memo_lock:
        marker = _submits_in_flight.get(fingerprint)
    if marker is None or marker.settled.is_set():
        return False

    def wait_then_release() -> None:
        try:
            while not marker.settled.wait(0.5) and time.monotonic() < marker.deadline:
                pass
        finally:
            flight.release()

    threading.Thread(target=wait_then_release, daemon=True, name="segmind-lock-handover").start()
    return True


def _cached(fingerprint: str, cache: ResultCache | None, journal: JobJournal | None) -> CacheHit | None:
    """The cached clip of this request, unless a paid job of it waits to be collected (say, an
    interrupted force_rerun): that one wins over the cache."""
    if cache is None:
        return None
    pending = journal.get(fingerprint) if journal is not None else None
    if pending is not None and pending.collectable():
        return None
    hit = cache.lookup(fingerprint)
    if hit is not None and pending is not None:
        journal.remove(fingerprint)  # too old to collect, and the clip is here anyway
    return hit


def _generate_locked(req: GenerationRequest, client: SegmindClient, output_dir: Path, fingerprint: str,
                     cache: ResultCache | None, journal: JobJournal | None, force_rerun: bool,
                     books: Bookkeeping) -> ClipResult:
    pending = journal.get(fingerprint) if journal is not None else None
    # A paid v2 job recorded for this request is collected whatever api_mode says now:
    # switching to sync (v1) after an interrupted async run must not pay a second time.
    resumable = _collectable_here(pending, client)
    waited = None if resumable else _await_submit_in_flight(fingerprint, client)
    if waited is not None:
        # An earlier, cancelled run of this request has settled meanwhile: its v2 job is
        # journalled by now, or its v1 clip cached. Either is the paid result: take it,
        # even under force_rerun (that run was the re-run).
        resumable = _collectable_here(journal.get(fingerprint) if journal is not None else None, client)
        hit = cache.lookup(fingerprint) if cache is not None and not resumable else None
        if hit is not None and (not force_rerun or _as_time(hit.meta.get("stored_at")) >= waited.started):
            return _from_cache(hit, req, client, output_dir)
    if req.api_mode == API_MODES[1] and not resumable:
        clip = _run_sync(req, client, output_dir, fingerprint, cache, books)
    else:
        clip = _run_async(req, client, output_dir, fingerprint, journal, books)
    if cache is not None:
        _keep(cache, fingerprint, clip, req)
    if journal is not None:
        journal.remove(fingerprint)  # only now: the clip is checked, on disk and cached
    return clip


def _reuse(shared: ClipResult, req: GenerationRequest, client: SegmindClient, output_dir: Path) -> ClipResult:
    """The clip another run of the same request just made in this process (the cache may be off)."""
    dest = clip_path(output_dir, req.model, None)
    place_file(shared.path, dest)
    client.emit("cache_hit", request_id=shared.info.request_id, path=str(dest))
    return ClipResult(path=dest, info=RunInfo(request_id=shared.info.request_id, cost=0.0,
                                              seed=shared.info.seed), from_cache=True)


def _from_cache(hit: CacheHit, req: GenerationRequest, client: SegmindClient, output_dir: Path) -> ClipResult:
    # A fresh link in the output folder: the preview is served from there.
    dest = clip_path(output_dir, req.model, None)
    place_file(hit.path, dest)
    request_id = hit.meta.get("request_id")
    client.emit("cache_hit", request_id=request_id, path=str(dest))
    log.info("Segmind: same request as job %s, reusing its cached clip (not billed).", request_id)
    return ClipResult(path=dest, info=RunInfo(request_id=request_id, cost=0.0, seed=req.body.get("seed")),
                      from_cache=True)


def _keep(cache: ResultCache, fingerprint: str, clip: ClipResult, req: GenerationRequest) -> None:
    meta = {"model": req.model, "request": req.body, "request_id": clip.info.request_id,
            "cost": clip.info.cost,
            "image": None if req.image is None else {"pixels": req.image.pixel_hash, "mime": req.image.mime}}
    try:
        cache.store(fingerprint, clip.path, meta)
    except OSError as exc:  # a full or read-only cache must not fail a paid, saved clip
        log.warning("Segmind result cache: could not keep %s (%s); the clip itself is saved.", clip.path.name, exc)


def _with_image(req: GenerationRequest, client: SegmindClient) -> dict[str, Any]:
    body = dict(req.body)
    if req.image is not None:
        body["image"] = upload_once(client, req.image)
    client.check_cancel()
    return body


def _run_sync(req: GenerationRequest, client: SegmindClient, output_dir: Path, fingerprint: str,
              cache: ResultCache | None, books: Bookkeeping) -> ClipResult:
    # v1 has no request id before the answer, so nothing can be journalled or resumed;
    # a run cancelled on our side still ends (and is billed) on Segmind's, so its clip
    # is saved and cached when it arrives, and a re-queue meanwhile waits for it.
    body = _with_image(req, client)
    dest = clip_path(output_dir, req.model, None)
    marker = _SubmitInFlight()
    with _memo_lock:
        _submits_in_flight[fingerprint] = marker

    def on_attempt(in_flight: bool) -> None:
        if in_flight:
            books.on_wire = True
            marker.deadline = time.monotonic() + client.config.connect_timeout + req.timeout + 5
            marker.settled.clear()
        else:
            marker.settled.set()  # after on_late_clip: a late clip is cached by now

    def on_late_clip(path: Path, info: RunInfo) -> None:
        check_video(path)
        books.landed(req, fingerprint, path, info, body)
        if cache is not None:
            _keep(cache, fingerprint, ClipResult(path=path, info=info), req)

    try:
        info = client.run_sync(req.model, body, dest, timeout=req.timeout, on_attempt=on_attempt,
                               on_late_clip=on_late_clip)
    except Cancelled:
        raise  # the clip may still come: leave the marker for a re-queue to wait on
    except BaseException:
        _forget_in_flight(fingerprint, marker)
        raise
    _forget_in_flight(fingerprint, marker)
    check_video(dest)
    books.landed(req, fingerprint, dest, info, body)
    return ClipResult(path=dest, info=info)


def _forget_in_flight(fingerprint: str, marker: _SubmitInFlight) -> None:
    """Nothing of this request is on the wire any more: a re-queue has nothing to wait for."""
    marker.settled.set()
    with _memo_lock:
        if _submits_in_flight.get(fingerprint) is marker:
            del _submits_in_flight[fingerprint]


def _collectable_here(entry: JournalEntry | None, client: SegmindClient) -> bool:
    """A recorded job this client can still collect (recorded against this server, not expired)."""
    return entry is not None and entry.collectable() and entry.api_base == client.config.api_base


def _as_time(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _usable_entry(journal: JobJournal | None, fingerprint: str, client: SegmindClient) -> JournalEntry | None:
    """The recorded job for this request, if any; raises JobExpiredError for one too old to collect."""
    entry = journal.get(fingerprint) if journal is not None else None
    if entry is None or entry.api_base != client.config.api_base:
        return None  # an id recorded against another server means nothing here
    if not entry.collectable():
        journal.remove(fingerprint)
        raise JobExpiredError(
            f"Segmind job {entry.request_id} for this exact request was submitted "
            f"{entry.age() / 60:.0f} minutes ago and never collected, and Segmind keeps a job's result "
            "for one hour only, so it cannot be fetched any more. Its record was dropped: queue again "
            "to start a new run (it will be billed).")
    return entry


def _await_submit_in_flight(fingerprint: str, client: SegmindClient) -> _SubmitInFlight | None:
    """Wait (cancellably) for an earlier, cancelled request of the same run to be
    answered; returns its marker if there was one. Its v2 job, if accepted, is then in
    the journal; its v1 clip, if it arrived, in the cache."""
    with _memo_lock:
        pending = _submits_in_flight.get(fingerprint)
    if pending is None:
        return None
    while not pending.settled.is_set() and time.monotonic() < pending.deadline:
        client.emit("waiting_submit", left=pending.deadline - time.monotonic())
        client.check_cancel()
        pending.settled.wait(0.2)
    with _memo_lock:
        if _submits_in_flight.get(fingerprint) is pending:
            del _submits_in_flight[fingerprint]
    return pending


def _run_async(req: GenerationRequest, client: SegmindClient, output_dir: Path, fingerprint: str,
               journal: JobJournal | None, books: Bookkeeping) -> ClipResult:
    entry = _usable_entry(journal, fingerprint, client)  # generate_clip waited for a submit in flight
    resumed = entry is not None
    started = time.monotonic()
    body = dict(req.body)
    if entry is not None:
        job = SubmittedJob(entry.request_id, entry.model, submitted_at=entry.submitted_at)
        client.emit("resuming", request_id=job.request_id, age=entry.age())
        log.info("Segmind: resuming job %s submitted %.0f s ago for this request (not billed again).",
                 job.request_id, entry.age())
    else:
        body = _with_image(req, client)
        recorded: list[JournalEntry] = []

        def on_accepted(accepted: SubmittedJob) -> None:
            books.accepted(req, fingerprint, accepted.request_id)
            if journal is None:
                return
            try:
                recorded.append(journal.record(fingerprint, accepted.request_id, accepted.model,
                                               client.config.api_base))
            except OSError as exc:  # the job is paid: carry on collecting it rather than fail here
                log.warning("Segmind: could not record job %s in %s (%s); if this run is interrupted, "
                            "the job cannot be resumed.", accepted.request_id, journal.root, exc)

        marker = _SubmitInFlight()
        with _memo_lock:
            _submits_in_flight[fingerprint] = marker

        def on_attempt(in_flight: bool) -> None:
            if in_flight:
                books.on_wire = True
                marker.deadline = (time.monotonic() + client.config.connect_timeout
                                   + client.config.read_timeout + 5)
                marker.settled.clear()
            else:
                marker.settled.set()  # after on_accepted: a paid job is journalled by now

        try:
            job = client.submit(req.model, body, on_accepted=on_accepted, on_attempt=on_attempt)
        except Cancelled:
            raise  # the answer may still come: leave the marker for a re-queue to wait on
        except BaseException:
            _forget_in_flight(fingerprint, marker)  # a definite failure: nothing is in flight any more
            raise
        _forget_in_flight(fingerprint, marker)  # answered: the job is journalled, nothing to wait for
        entry = recorded[0] if recorded else None
    try:
        if entry is not None and entry.output_url:
            ref, info = ("url", entry.output_url), RunInfo(request_id=job.request_id)
        else:
            ref, info = client.wait(job, req.timeout, started=started,
                                    expected_seconds=expected_runtime(req.body, req.model))
            if entry is not None and journal is not None and ref[0] == "url":
                try:
                    journal.record_output(entry, ref[1])
                except OSError as exc:  # only a shortcut for a later resume; the download goes on
                    log.warning("Segmind: could not note the video URL of job %s (%s).", job.request_id, exc)
        dest = clip_path(output_dir, req.model, job.request_id)
        save_checked(client, ref, dest, req.body)
        books.landed(req, fingerprint, dest, info, body)
    except (Cancelled, SegmindTimeoutError):
        raise  # the journal keeps the job; the timeout's message says how to resume
    except SegmindJobFailed as exc:
        if journal is not None:
            journal.remove(fingerprint)
        _add_hint(exc, "Nothing was produced to collect: adjust the prompt or image (or simply retry), "
                       "then queue again.")
        raise
    except SegmindAPIError as exc:
        if resumed and exc.status == 404:
            journal.remove(fingerprint)
            raise JobExpiredError(
                f"Segmind no longer has job {job.request_id} (HTTP 404 on the {exc.stage}); a job's "
                "result is kept for one hour only. Its record was dropped: queue again to start a new "
                "run (it will be billed).") from None
        if entry is not None:
            _add_hint(exc, _resume_hint(job.request_id))
        raise
    except SegmindError as exc:
        if entry is not None:
            _add_hint(exc, _resume_hint(job.request_id))
        raise
    return ClipResult(path=dest, info=info)


def will_pay(req: GenerationRequest, api_base: str, cache: ResultCache | None, journal: JobJournal | None,
             force_rerun: bool = False) -> bool:
    """Whether running `req` now submits a new (billed) job: not when its clip is cached, nor
    when a paid job of it is recorded and still collectable. Reads local state only."""
    fingerprint = request_fingerprint(req.model, req.body, req.image, api_base)
    pending = journal.get(fingerprint) if journal is not None else None
    if pending is not None and pending.collectable() and pending.api_base == api_base:
        return False
    return force_rerun or _cached(fingerprint, cache, journal) is None


@dataclass
class Session:
    """What one node run (or command) needs to talk to Segmind: the key, the user folder's
    cache, journal and ledger, and a client for the checks before paying."""
    user_dir: Path
    key: str
    cache: ResultCache
    journal: JobJournal

    @classmethod
    def open(cls, user_dir: Path) -> "Session":
        from .credentials import require_api_key
        from .job_journal import journal_directory
        from .result_cache import cache_directory

        return cls(Path(user_dir), require_api_key(user_dir), ResultCache.from_env(cache_directory(user_dir)),
                   JobJournal(journal_directory(user_dir)))

    def client(self, cancel_check: Any = None, on_event: Any = None) -> SegmindClient:
        from .client import ClientConfig

        return SegmindClient(self.key, ClientConfig.from_env(), cancel_check=cancel_check, on_event=on_event)


def reserve_spend(reqs: list[GenerationRequest], *, user_dir: Path, run_id: str | None,
                  force_rerun: bool = False, cancel_check: Any = None,
                  output_dir: Path | None = None) -> list[float]:
    """Before any upload of a node run or a batch: the estimate of every clip that will pay
    (a second identical request reuses the first's clip, so pays nothing), checked as a whole
    against the spend limits and the credits left (ledger.guard_before_paying), and reserved.
    Returns each request's reserved amount, for run_on_segmind(reserved=...). With
    `output_dir`, its room for every clip is checked first: local checks before any request."""
    from .ledger import guard_before_paying
    from .params import estimate_cost

    session = Session.open(user_dir)
    client = session.client(cancel_check=cancel_check)
    seen: set[str] = set()
    amounts = []
    for req in reqs:
        fingerprint = request_fingerprint(req.model, req.body, req.image, client.config.api_base)
        pays = fingerprint not in seen and will_pay(req, client.config.api_base, session.cache, session.journal,
                                                    force_rerun)
        seen.add(fingerprint)
        amounts.append(estimate_cost(req.body, req.model) if pays else 0.0)
    if output_dir is not None and any(amounts):
        ensure_writable(Path(output_dir) / OUTPUT_SUBFOLDER,
                        sum(expected_clip_bytes(r.body) for r, a in zip(reqs, amounts) if a))
    if any(amounts):
        guard_before_paying(user_dir, run_id, [a for a in amounts if a], client)
    return amounts


def run_on_segmind(req: GenerationRequest, *, user_dir: Path, output_dir: Path,
                   cancel_check: Any = None, on_event: Any = None,
                   force_rerun: bool = False, node_id: str | None = None,
                   run_id: str | None = None, reserved: float | None = None,
                   source: str = "comfyui") -> ClipResult:
    """The whole Segmind path as the node and the command line both use it: key, client,
    the result cache, the job journal, the request locks and the spend ledger kept in
    `user_dir`, then generate_clip; the job shows on the process's job board meanwhile.

    `reserved`: what reserve_spend set aside for this clip (a node run checks its clips as a
    whole); None checks this one clip against the spend limits and credits here."""
    from .ledger import Ledger, release
    from .params import estimate_cost
    from .scheduler import job_board, lock_directory

    if reserved is None:
        reserved = reserve_spend([req], user_dir=user_dir, run_id=run_id, force_rerun=force_rerun,
                                 cancel_check=cancel_check, output_dir=output_dir)[0]
    books = Bookkeeping(Ledger(user_dir), run_id, source)
    board = job_board()
    job = None
    outcome: BaseException | None = None
    try:
        session = Session.open(user_dir)
        w, h, n = snap_to_grid(*(int(req.body.get(k, d)) for k, d in
                                 (("width", 720), ("height", 1280), ("num_frames", 181))))
        job = board.add(node_id=node_id, prompt_id=run_id, label=str(req.body.get("prompt", ""))[:60],
                        estimate_usd=estimate_cost(req.body, req.model), width=w, height=h, num_frames=n)

        def events(kind: str, data: dict) -> None:
            change = _BOARD_STATES.get(kind)
            if kind == "status":
                status = str(data.get("status") or "queued").lower()
                # Any state but queued is work under way (some services say IN_PROGRESS, RUNNING...).
                change = {"state": "queued" if status == "queued" and data.get("mode") != "sync" else "processing",
                          "eta": data.get("eta")}
            if change is not None:
                board.update(job, **change, **({"request_id": data["request_id"]} if data.get("request_id") else {}))
            if on_event is not None:
                on_event(kind, data)

        client = session.client(cancel_check=cancel_check, on_event=events)
        clip = generate_clip(req, client, output_dir, cache=session.cache, journal=session.journal,
                             force_rerun=force_rerun, lock_dir=lock_directory(user_dir), books=books)
    except BaseException as exc:
        outcome = exc
        if job is not None:
            board.update(job, state="cancelled" if isinstance(exc, Cancelled) else "failed")
        raise
    finally:
        # Give the reservation back only when nothing can have been billed for it: no billed
        # request was sent, or the service refused it (an HTTP error is never billed). A Cancel
        # or a broken connection with a submit on the wire may still bill: it stays counted.
        refused = isinstance(outcome, SegmindAPIError) and not books.paid
        if reserved and not books.paid and (not books.on_wire or refused):
            release(run_id, reserved)
    board.update(job, state="done", eta=None, cost=clip.info.cost,
                 **({"request_id": clip.info.request_id} if clip.info.request_id else {}))
    return clip


# Client events -> the state the job board shows (status events carry their own).
_BOARD_STATES: dict[str, dict[str, Any]] = {
    "uploading": {"state": "uploading"},
    "waiting_other_run": {"state": "waiting_other_run"},
    "waiting_submit": {"state": "waiting_other_run"},
    "submitted": {"state": "queued"},
    "resuming": {"state": "queued"},
    "downloading": {"state": "downloading", "eta": None},
    "cache_hit": {"state": "done", "eta": None},
}
