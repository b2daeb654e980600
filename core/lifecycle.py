"""One generation, start to finish, as one explicit sequence of states, for the nodes and the
command line alike (nothing here knows ComfyUI):

  planned -> reserved -> uploading -> submitted -> polling -> downloading -> saved -> booked
  or: reused (cached, or made meanwhile by an identical run: nothing paid), refused (the
  service said no: nothing billed), failed-before-billing, failed-after-billing, cancelled.

Each transition is where the job journal, the spend ledger, the result cache and the job
board are written, in an order that keeps a billed job resumable at every step: a v2 job is
journalled and booked the moment Segmind accepts it, before polling; a clip is saved and
checked, then booked with its cost, then cached, and only then is its journal record removed.

Cancel is one mechanism. The job runs on a worker of its own and holds the request's
FlightLock until it ends. Cancel detaches the waiting caller at once; the job itself stops at
its next step unless a billed request is on the wire (a submit awaiting its answer) or a
billed v1 clip is landing: those run to their end (journalled; saved, booked and cached) on
the worker, whatever the moment of Cancel. An identical request queued meanwhile waits on
the lock (cancellably, within its own time limit), then finds the clip in the cache or the
job in the journal, and never pays again."""
from __future__ import annotations

import atexit
import enum
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .client import ClientConfig, RunInfo, SegmindClient, SubmittedJob
from .clip_saving import (OUTPUT_SUBFOLDER, check_video, clip_path, ensure_writable, expected_clip_bytes,
                          save_checked)
from .errors import (Action, Cancelled, InvalidInputError, SegmindAPIError, SegmindError, SegmindJobFailed,
                     SegmindTimeoutError)
from .flight_lock import FlightLock, LockWaitExpired
from .image_encode import EncodedImage
from .job_journal import JobExpiredError, JobJournal, JournalEntry
from .params import expected_runtime, snap_to_grid
from .pay_plan import decide, plan_payments
from .result_cache import CacheHit, ResultCache, place_file, request_fingerprint

log = logging.getLogger(__name__)

API_MODES = ("async (v2)", "sync (v1)")


class State(str, enum.Enum):
    PLANNED = "planned"
    RESERVED = "reserved"
    UPLOADING = "uploading"
    SUBMITTED = "submitted"            # billed: a v2 job accepted (journalled), or a v1 answer begun
    POLLING = "polling"
    DOWNLOADING = "downloading"
    SAVED = "saved"                    # the clip is on disk and checked
    BOOKED = "booked"                  # ...and in the ledger with its cost, and cached
    REUSED = "reused"                  # cached, or made meanwhile by an identical run: nothing paid
    REFUSED = "refused"                # the service said no: nothing billed
    FAILED_BEFORE_BILLING = "failed-before-billing"
    FAILED_AFTER_BILLING = "failed-after-billing"
    CANCELLED = "cancelled"


ENDED = frozenset({State.BOOKED, State.REUSED, State.REFUSED, State.FAILED_BEFORE_BILLING,
                   State.FAILED_AFTER_BILLING, State.CANCELLED})


@dataclass
class GenerationRequest:
    model: str
    body: dict[str, Any]                 # every API field except `image`
    image: EncodedImage | None = None    # None for text-to-video
    api_mode: str = API_MODES[0]
    timeout: float = 900.0
    video: Any = None                    # an input clip (core/input_clip.py InputClip): Retake's


@dataclass
class ClipResult:
    path: Path
    info: RunInfo = field(default_factory=RunInfo)
    from_cache: bool = False


# --------------------------------------------------------------------------- uploads made

def upload_once(client: SegmindClient, image: EncodedImage) -> str:
    """The picture's URL on Segmind's storage, uploaded once per runtime (core/runtime.py):
    the same picture queued again in one session is not uploaded again."""
    from .runtime import current

    runtime = current()
    key = (image.pixel_hash, image.mime, client.config.storage_base)
    with runtime.uploads_lock:
        url = runtime.uploads.get(key)
    if url:
        return url
    url = client.upload_image(image.data_url())
    with runtime.uploads_lock:
        runtime.uploads[key] = url
    return url


# --------------------------------------------------------------------------- the ledger's part

@dataclass
class Bookkeeping:
    """What a paid clip leaves besides itself: its line in the spend ledger (from the moment
    Segmind bills it, its cost once known) and its provenance inside and beside the MP4.
    Neither may cost the clip: both only log when they fail. Every ledger call of the
    lifecycle is in this class or in _settle_reservation (the marked call sites)."""
    ledger: Any = None          # core.ledger.Ledger
    run_id: str | None = None   # the queued run (ComfyUI prompt id) the spend limits count per
    source: str = "comfyui"
    paid: bool = False          # a job of this request was billed in this run
    on_wire: bool = False       # a billed request (submit, v1 run) was sent: it may bill even unanswered
    reservation: Any = None     # core.reservations.Reservation of this clip: settled once its line is written
    estimate: float | None = None  # the estimate its ledger lines carry (set at the first)

    def accepted(self, req: GenerationRequest, fingerprint: str, request_id: str | None) -> None:
        self.paid = True
        self._record(req, fingerprint, request_id, None, None)

    def billed_without_clip(self, req: GenerationRequest, fingerprint: str, info: RunInfo) -> None:
        """A billed v1 run whose clip could not be kept: booked all the same, with its cost."""
        self.paid = True
        self._record(req, fingerprint, info.request_id, info.cost, None)
        self._note_credits(info)

    def landed(self, req: GenerationRequest, fingerprint: str, clip: Path, info: RunInfo,
               body: dict[str, Any] | None = None) -> None:
        """The paid clip is on disk and checked: tag it, then record its cost."""
        from .input_clip import shown_body
        from .provenance import provenance_meta, write_provenance

        self.paid = True
        extra = {} if req.video is None else {"input_clip": req.video.record()}
        try:
            write_provenance(clip, provenance_meta(req.model, shown_body(body or req.body), request_id=info.request_id,
                                                   cost=info.cost, seed=info.seed, fingerprint=fingerprint,
                                                   api_mode=req.api_mode, **extra))
        except Exception as exc:  # the clip itself is what was paid for
            log.warning("Segmind: could not write the provenance of %s (%s).", clip.name, exc)
        self._record(req, fingerprint, info.request_id, info.cost, clip)
        self._note_credits(info)

    @staticmethod
    def _note_credits(info: RunInfo) -> None:
        if info.remaining_credits is not None:
            from .credits import note_credits  # LEDGER CALL SITE

            note_credits(info.remaining_credits)

    def _record(self, req: GenerationRequest, fingerprint: str, request_id: str | None,
                cost: float | None, clip: Path | None) -> None:
        if self.ledger is None:
            return
        from .params import estimate_cost

        from .learned_estimate import rendered_fields

        body = req.body
        size = rendered_fields(req.model, body)  # Pro, Fast: what the resolution and duration render
        if self.estimate is None:  # what the spend check reserved (never below a real charge), else the quoted rule
            self.estimate = ((self.reservation.amount if self.reservation is not None else 0.0)
                             or estimate_cost(body, req.model))
        try:
            written = self.ledger.record({"time": time.time(), "request_id": request_id, "model": req.model, "cost": cost,
                                "estimate": self.estimate, "fingerprint": fingerprint,
                                "prompt": body.get("prompt"), "width": size.get("width"),
                                "height": size.get("height"), "num_frames": size.get("num_frames"),
                                "fps": body.get("fps"), "seed": body.get("seed"),
                                "clip": None if clip is None else str(clip), "run_id": self.run_id,
                                "source": self.source})  # LEDGER CALL SITE
            if written and self.reservation is not None:
                # The ledger counts this job now: its reservation leaves the in-flight total (only
                # this clip's own reservation, never another clip's of the same run).
                from .spend_check import settle  # LEDGER CALL SITE

                settle(self.ledger.user_dir, self.reservation, request_id)
                self.reservation = None
        except Exception as exc:  # Ledger.record logs its own disk errors; anything else too
            log.warning("Segmind: could not record job %s in the spend ledger (%s).", request_id, exc)


def _settle_reservation(books: Bookkeeping, outcome: BaseException | None) -> None:
    """The job has ended: give its reservation back only when nothing can have been billed for
    it: no billed request was sent, or the service refused it (an HTTP error is never billed),
    or Cancel stopped it (Cancel is honoured only while no billed request is unanswered). A
    broken connection with a billed request on the wire may still bill: it stays counted. A
    billed job's reservation is settled when its ledger line is written (Bookkeeping._record)."""
    if books.reservation is None or books.paid:
        return
    if books.on_wire and not isinstance(outcome, (SegmindAPIError, Cancelled)):
        return
    from .spend_check import release  # LEDGER CALL SITE

    release(books.ledger.user_dir, books.reservation)
    books.reservation = None


# --------------------------------------------------------------------------- what a run needs

@dataclass
class Session:
    """What one node run (or command) needs to talk to Segmind: the key, the user folder's
    cache, journal and ledger, and the client settings (injected, or from the environment)."""
    user_dir: Path
    key: str
    cache: ResultCache
    journal: JobJournal
    config: ClientConfig

    @classmethod
    def open(cls, user_dir: Path, config: ClientConfig | None = None) -> "Session":
        from .credentials import require_api_key
        from .job_journal import journal_directory
        from .result_cache import cache_directory

        return cls(Path(user_dir), require_api_key(user_dir), ResultCache.from_env(cache_directory(user_dir)),
                   JobJournal(journal_directory(user_dir)), config or ClientConfig.from_env())

    def client(self, cancel_check: Any = None, on_event: Any = None) -> SegmindClient:
        return SegmindClient(self.key, self.config, cancel_check=cancel_check, on_event=on_event,
                             user_dir=self.user_dir)


def reserve_spend(reqs: list[GenerationRequest], *, user_dir: Path, run_id: str | None,
                  force_rerun: bool = False, cancel_check: Any = None,
                  output_dir: Path | None = None, config: ClientConfig | None = None) -> list[Any]:
    """Before any upload of a node run or a batch: the estimate of every clip that will pay
    (pay_plan.plan_payments), checked as a whole against the spend limits and the credits left
    (spend_check.guard_before_paying), and reserved, never below what the model was really
    charged for a comparable clip (learned_estimate). Returns each request's reservation
    handle (NOTHING_RESERVED for a clip that pays nothing), for run_on_segmind(reserved=...).
    With `output_dir`, its room for every clip is checked first: local checks before any request."""
    from .learned_estimate import ChargeHistory, bases_of
    from .spend_check import NOTHING_RESERVED, guard_before_paying

    session = Session.open(user_dir, config)
    charges = ChargeHistory.load(user_dir)  # never an estimate below what was really charged
    client = session.client(cancel_check=cancel_check)
    plan = plan_payments([(r.model, r.body, r.image, r.video) for r in reqs], api_base=session.config.api_base,
                         cache=session.cache, journal=session.journal, force_rerun=force_rerun)
    estimates = [charges.estimate(r.model, r.body) if d.pays else None for r, d in zip(reqs, plan)]
    amounts = [e.amount if e is not None else 0.0 for e in estimates]
    if output_dir is not None and any(amounts):
        ensure_writable(Path(output_dir) / OUTPUT_SUBFOLDER,
                        sum(expected_clip_bytes(r.body) for r, a in zip(reqs, amounts) if a))
    if not any(amounts):
        return [NOTHING_RESERVED for _ in amounts]
    handles = iter(guard_before_paying(user_dir, run_id, [a for a in amounts if a], client,  # LEDGER CALL SITE
                                       bases_of([e for e in estimates if e is not None])))
    return [next(handles) if a else NOTHING_RESERVED for a in amounts]


# --------------------------------------------------------------------------- one generation

class Generation:
    """One request's lifecycle (see the module's text). Made and driven by run_on_segmind."""

    def __init__(self, req: GenerationRequest, session: Session, output_dir: Path, *, books: Bookkeeping,
                 reserved: Any, force_rerun: bool, node_id: str | None,
                 on_event: Callable[[str, dict], None] | None) -> None:
        from .params import estimate_cost
        from .runtime import current

        self.req = req
        self.session = session
        self.output_dir = Path(output_dir)
        self.books = books
        self.reserved = reserved
        self.force_rerun = force_rerun
        self.state = State.PLANNED
        self.planned_at = time.time()
        self.history: list[State] = [State.PLANNED]  # every state it passed through, in order
        self.request_id: str | None = None
        self.dest: Path | None = None        # where a v1 clip lands
        self.fingerprint = request_fingerprint(req.model, req.body, req.image, session.config.api_base, req.video)
        self._on_event = on_event
        self._stop = threading.Event()        # the caller asked the job to stop (Cancel)
        self._caller_cancel: Callable[[], bool] = lambda: False
        self._detached = threading.Event()    # the caller stopped waiting: no more events to it
        self._flight: FlightLock | None = None  # the request's lock, held by the job's worker
        self._committed = False               # a billed request is unanswered, or a billed v1 clip landing
        self._v1_billed = False               # a v1 answer has begun: its clip runs to its end
        self._done = threading.Event()
        self._result: ClipResult | None = None
        self._error: BaseException | None = None
        self._board = current().board
        if req.video is not None:  # the clip comes back at the input's size and length
            w, h, n = req.video.width, req.video.height, req.video.frame_count
        else:
            w, h, n = snap_to_grid(*(int(req.body.get(k, d)) for k, d in
                                     (("width", 720), ("height", 1280), ("num_frames", 181))))
        self._job = self._board.add(node_id=node_id, prompt_id=books.run_id,
                                    label=str(req.body.get("prompt") or _title(req.model))[:60],
                                    estimate_usd=estimate_cost(req.body, req.model), width=w, height=h, num_frames=n)
        self.client = session.client(cancel_check=self.may_stop, on_event=self._event)
        if getattr(reserved, "amount", 0.0):
            self._to(State.RESERVED)

    # -- Cancel: the one mechanism ---------------------------------------------------------
    def may_stop(self) -> bool:
        """The client's cancel_check: Cancel was pressed (seen by the caller, or looked up here
        at the job's own pace) and nothing billed is in the balance."""
        if self._committed:
            return False
        if not self._stop.is_set() and self._caller_cancel():
            self._stop.set()
        return self._stop.is_set()

    def _on_attempt(self, in_flight: bool) -> None:
        """A billed request (submit, v1 run) goes on the wire / its attempt is over (on the HTTP
        thread, after the answer was journalled or billed). A billed v1 run stays committed
        until its clip is booked: v1 gives no id to fetch it by later."""
        if in_flight:
            self.books.on_wire = True
            self._committed = True
        elif not self._v1_billed:
            self._committed = False

    def cancel_message(self) -> str:
        if self._v1_billed and self._committed:
            return (f"Cancelled. Segmind has answered this v1 run, so it is billed; its clip is still arriving "
                    f"and carries on here: it will still be saved as {self.dest}, booked and cached once it "
                    f"lands; {Action.RUN_AGAIN} waits for it and uses it instead of paying again. "
                    "Should the clip prove unusable, the run is still booked and the log says why.")
        if self._committed and self.req.api_mode == API_MODES[1]:
            return ("Cancelled. Segmind finishes (and bills) a v1 run once it has started, so this one carries "
                    f"on here: if Segmind answers with its clip, it will still be saved as {self.dest}, booked "
                    f"and cached; {Action.RUN_AGAIN} waits for it and uses it instead of paying "
                    "again.")
        if self._committed:
            return ("Cancelled. The submit was already on its way to Segmind; its answer is awaited here and, "
                    f"if the job was accepted (billed), recorded: {Action.RUN_AGAIN} collects it "
                    "without paying again.")
        if self.request_id is not None and self.state in (State.SUBMITTED, State.POLLING, State.DOWNLOADING):
            return f"Cancelled. {_resume_hint(self.request_id)}"
        return "Cancelled by the user."

    # -- states -----------------------------------------------------------------------------
    def _to(self, state: State, **board: Any) -> None:
        self.state = state
        self.history.append(state)
        if board:
            self._board.update(self._job, **board)

    def _event(self, kind: str, data: dict) -> None:
        change = _BOARD_STATES.get(kind)
        if kind == "status":
            status = str(data.get("status") or "queued").lower()
            # Any state but queued is work under way (some services say IN_PROGRESS, RUNNING...).
            change = {"state": "queued" if status == "queued" and data.get("mode") != "sync" else "processing",
                      "eta": data.get("eta")}
        if change is not None:
            self._board.update(self._job, **change,
                               **({"request_id": data["request_id"]} if data.get("request_id") else {}))
        if self._on_event is not None and not self._detached.is_set():
            self._on_event(kind, data)

    # -- the caller's side --------------------------------------------------------------------
    def run(self, cancel_check: Callable[[], bool] | None) -> ClipResult:
        """Return the clip, on disk and checked: from the cache unless force_rerun, else from a
        job recorded in the journal, else from a new (billed) run on a worker of its own."""
        req = self.req
        check = self._caller_cancel = cancel_check or (lambda: False)
        began, began_wall = time.monotonic(), time.time()
        flight: FlightLock | None = None
        try:
            if not req.timeout > 0:
                raise InvalidInputError(f"'timeout_seconds' is {req.timeout}: set it to a positive number of "
                                        "seconds (900 fits a 2-minute job with queueing).")
            # Before anything is paid: a clip that cannot be saved would be a clip lost.
            ensure_writable(self.output_dir / OUTPUT_SUBFOLDER, expected_clip_bytes(req.body))
            hit = self._cache_hit()
            if hit is not None:
                return self._finish(self._from_cache(hit))
            from .team_stores import record_stores  # this machine's lock, or the team's too (Redis)

            flight = record_stores(self.session.user_dir).flight_lock(self.fingerprint)

            def stop_waiting() -> None:
                if check():
                    raise Cancelled("Cancelled by the user.")

            try:
                flight.acquire(stop_waiting, on_wait=lambda: self._event("waiting_other_run", {}),
                               deadline=began + req.timeout)
            except LockWaitExpired as exc:
                flight = None
                raise SegmindTimeoutError(
                    f"Another run of this same request (in this process, another one using the same user "
                    f"folder such as the command line, or another machine of the team) has been running for the whole {exc.waited:.0f} s of "
                    f"{Action.SET_FIELD('timeout_seconds')}, so this run stopped waiting for it. Nothing was sent "
                    "to Segmind for this run and it was not billed. If that other run is suspended (Ctrl-Z), "
                    f"resume or end it; then {Action.RUN_AGAIN}, and its clip is reused if it finished.") from None
            # Looked at again under the lock: the same request may have finished meanwhile (another
            # node, a duplicate picture, another process). Its clip is the paid result, even under
            # force_rerun if it ran after this call began (that was the re-run).
            shared = flight.shared_result(since=None if flight.waited else began)
            if shared is not None and shared.path.is_file():
                flight.release()
                return self._finish(self._reuse(shared))
            hit = self._cache_hit(since=began_wall)
            if hit is not None:
                flight.release()
                return self._finish(self._from_cache(hit))
            # ...or by another machine of the team: collected by its request id, not paid again.
            made = flight.made_elsewhere(self.output_dir, self.client, since=began_wall if self.force_rerun else None,
                                         on_event=self._event, timeout=req.timeout)
            if made is not None:
                flight.release()
                return self._finish(ClipResult(path=made.path, info=made.info, from_cache=True))
        except BaseException as exc:
            if flight is not None and flight.held:  # not yet handed to the job's worker
                flight.release()
            self._end(exc)
            raise
        worker = threading.Thread(target=self._work, args=(flight,), daemon=True, name="segmind-job")
        with _live_lock:
            _live.add(self)
        worker.start()
        while not self._done.wait(0.2):
            if check():
                self._stop.set()
                if self._done.is_set():
                    break
                self._detached.set()
                raise Cancelled(self.cancel_message())
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _cache_hit(self, since: float | None = None) -> CacheHit | None:
        """The cached clip of this request (pay_plan.decide: a paid job of it waiting to be
        collected wins over the cache). Under force_rerun only a clip stored after `since` (a
        wall-clock time) counts: a re-run that finished while this one waited for the lock."""
        if self.force_rerun and since is None:
            return None
        decision = decide(self.fingerprint, self.session.config.api_base, self.session.cache,
                          self.session.journal)
        hit = decision.hit
        if hit is not None and self.force_rerun and _as_time(hit.meta.get("stored_at")) < since:
            return None
        return hit

    def _finish(self, clip: ClipResult) -> ClipResult:
        self._result = clip
        self._end(None)
        return clip

    def _end(self, outcome: BaseException | None) -> None:
        """The last transition: board, reservation, and the state the job ended in."""
        if outcome is None:
            if self._result is not None and self._result.from_cache:
                self._to(State.REUSED)
            self._board.update(self._job, state="done", eta=None, cost=self._result.info.cost if self._result else None,
                               **({"request_id": self._result.info.request_id}
                                  if self._result and self._result.info.request_id else {}))
        else:
            if isinstance(outcome, Cancelled):
                outcome.args = (self.cancel_message(),)  # said from the state it stopped in
                self._to(State.CANCELLED)
            elif self.books.paid:
                self._to(State.FAILED_AFTER_BILLING)
            elif isinstance(outcome, SegmindAPIError):
                self._to(State.REFUSED)
            else:
                self._to(State.FAILED_BEFORE_BILLING)
            self._board.update(self._job, state="cancelled" if isinstance(outcome, Cancelled) else "failed")
        _settle_reservation(self.books, outcome)

    # -- the job's side (its worker) ----------------------------------------------------------
    def _work(self, flight: FlightLock) -> None:
        self._flight = flight
        try:
            clip = self._generate()
            flight.publish(clip)
            self._result = clip
            self._end(None)
        except BaseException as exc:  # handed to the caller, if it still waits; logged if not
            self._error = exc
            self._end(exc)
            if self._detached.is_set() and not isinstance(exc, Cancelled):
                log.warning("Segmind: a cancelled run ended: %s", exc)
        finally:
            self._committed = False
            flight.release()
            with _live_lock:
                _live.discard(self)
            self._done.set()

    def _generate(self) -> ClipResult:
        journal, cache = self.session.journal, self.session.cache
        pending = journal.get(self.fingerprint)
        # A paid v2 job recorded for this request is collected whatever api_mode says now:
        # switching to sync (v1) after an interrupted async run must not pay a second time.
        resumable = pending is not None and pending.collectable() and pending.api_base == self.session.config.api_base
        if not resumable:
            self._reserve_late()
        if self.req.api_mode == API_MODES[1] and not resumable:
            clip = self._run_sync()
        else:
            clip = self._run_async()
        self._to(State.SAVED)
        _keep(cache, self.fingerprint, clip, self.req)
        journal.remove(self.fingerprint)  # only now: the clip is checked, on disk, booked and cached
        self._to(State.BOOKED)
        return clip

    def _reserve_late(self) -> None:
        """A clip planned as free that pays after all (a duplicate whose twin failed or lost its
        clip, a cached clip gone meanwhile): checked against the spend limits and the credits
        and reserved now, before anything is sent, as every clip that pays is. A clip reserved
        at planning is checked again when a twin of the same request was billed since (it left
        a ledger line but no clip): what was reserved before no longer says whether this
        second payment fits."""
        held = self.books.reservation
        if getattr(held, "id", None) is not None:
            if not self._twin_billed_since_planning():
                return
            from .spend_check import release  # LEDGER CALL SITE

            release(self.session.user_dir, held)  # checked anew below, with today's spend as it is now
            self.books.reservation = None
        self.books.reservation = reserve_spend(  # LEDGER CALL SITE
            [self.req], user_dir=self.session.user_dir, run_id=self.books.run_id, force_rerun=True,
            cancel_check=self.may_stop, config=self.session.config)[0]

    def _twin_billed_since_planning(self) -> bool:
        from .ledger import Ledger  # LEDGER CALL SITE

        try:
            lines = Ledger(self.session.user_dir).lines()
        except Exception:  # an unreadable ledger: the check below refuses with its own words
            return True
        return any(line.fingerprint == self.fingerprint and (line.time or 0.0) >= self.planned_at for line in lines)

    def _with_image(self) -> dict[str, Any]:
        """The body as sent: with the picture's URL, or the input clip's (or the clip itself
        as a data URI when the storage takes no video: core/input_clip.py)."""
        body = dict(self.req.body)
        if self.req.image is not None:
            self._to(State.UPLOADING)
            body["image"] = upload_once(self.client, self.req.image)
        if self.req.video is not None:
            from .input_clip import clip_reference
            from .models import model as descriptor

            self._to(State.UPLOADING)
            name = next(f.name for f in descriptor(self.req.model).media_fields if f.media == "video")
            body[name] = clip_reference(self.client, self.req.video)
        self.client.check_cancel()
        if self._flight is not None:  # a team's lease that ran out meanwhile: stop before paying
            self._flight.still_ours()
        return body

    def _run_sync(self) -> ClipResult:
        """v1 has no request id before the answer, so nothing can be journalled or resumed: once
        its answer begins it is billed, and its clip lands and is booked whatever Cancel says."""
        req, client = self.req, self.client
        body = self._with_image()
        self.dest = dest = clip_path(self.output_dir, req.model, None)
        billed: list[RunInfo] = []

        def on_billed(info: RunInfo) -> None:
            billed.append(info)
            self._v1_billed = True
            self.books.paid = True
            self.request_id = info.request_id
            self._to(State.SUBMITTED)  # before the attempt ends: the job stays committed

        try:
            info = client.run_sync(req.model, body, dest, timeout=req.timeout, on_attempt=self._on_attempt,
                                   on_billed=on_billed)
            self._to(State.DOWNLOADING)
            check_video(dest)
        except BaseException as exc:
            if billed and isinstance(exc, Exception):
                self.books.billed_without_clip(req, self.fingerprint, billed[0])
                _add_hint(exc, "Segmind answered this v1 run, so it was billed (it is in the spend ledger), but "
                               "its clip could not be kept, and v1 gives no id to fetch it again. A new run "
                               "of it is billed again.")
            raise
        self.books.landed(req, self.fingerprint, dest, info, body)
        return ClipResult(path=dest, info=info)

    def _usable_entry(self) -> JournalEntry | None:
        """The recorded job for this request, if any; raises JobExpiredError for one too old."""
        journal = self.session.journal
        entry = journal.get(self.fingerprint)
        if entry is None or entry.api_base != self.session.config.api_base:
            return None  # an id recorded against another server means nothing here
        if not entry.collectable():
            journal.remove(self.fingerprint)
            raise JobExpiredError(
                f"Segmind job {entry.request_id} for this exact request was submitted "
                f"{entry.age() / 60:.0f} minutes ago and never collected, and Segmind keeps a job's result "
                f"for one hour only, so it cannot be fetched any more. Its record was dropped: {Action.RETRY} "
                "to start a new run (it will be billed).", billed=True)
        return entry

    def _run_async(self) -> ClipResult:
        req, client, journal, books = self.req, self.client, self.session.journal, self.books
        entry = self._usable_entry()
        resumed = entry is not None
        started = time.monotonic()
        body = dict(req.body)
        if entry is not None:
            job = SubmittedJob(entry.request_id, entry.model, submitted_at=entry.submitted_at)
            self.request_id = job.request_id
            self._to(State.SUBMITTED)
            client.emit("resuming", request_id=job.request_id, age=entry.age())
            log.info("Segmind: resuming job %s submitted %.0f s ago for this request (not billed again).",
                     job.request_id, entry.age())
        else:
            body = self._with_image()
            recorded: list[JournalEntry] = []

            def on_accepted(accepted: SubmittedJob) -> None:
                # On the HTTP thread, before the attempt is over: journal and ledger first.
                self.request_id = accepted.request_id
                books.accepted(req, self.fingerprint, accepted.request_id)
                try:
                    recorded.append(journal.record(self.fingerprint, accepted.request_id, accepted.model,
                                                   self.session.config.api_base))
                except OSError as exc:  # the job is paid: carry on collecting it rather than fail here
                    log.warning("Segmind: could not record job %s in %s (%s); if this run is interrupted, "
                                "the job cannot be resumed.", accepted.request_id, journal.root, exc)
                self._to(State.SUBMITTED)

            job = client.submit(req.model, body, on_accepted=on_accepted, on_attempt=self._on_attempt)
            entry = recorded[0] if recorded else None
        try:
            if entry is not None and entry.output_url:
                ref, info = ("url", entry.output_url), RunInfo(request_id=job.request_id)
            else:
                self._to(State.POLLING)
                ref, info = client.wait(job, req.timeout, started=started,
                                        expected_seconds=expected_runtime(req.body, req.model))
                if entry is not None and ref[0] == "url":
                    try:
                        journal.record_output(entry, ref[1])
                    except OSError as exc:  # only a shortcut for a later resume; the download goes on
                        log.warning("Segmind: could not note the video URL of job %s (%s).", job.request_id, exc)
            self._to(State.DOWNLOADING)
            dest = clip_path(self.output_dir, req.model, job.request_id)
            save_checked(client, ref, dest, req.body)
            books.landed(req, self.fingerprint, dest, info, body)
        except (Cancelled, SegmindTimeoutError):
            raise  # the journal keeps the job; the timeout's message says how to resume
        except SegmindJobFailed as exc:
            journal.remove(self.fingerprint)
            _add_hint(exc, "Nothing was produced to collect: adjust the prompt or image (or simply retry), "
                           f"then {Action.RETRY}.")
            raise
        except SegmindAPIError as exc:
            if resumed and exc.status == 404:
                journal.remove(self.fingerprint)
                raise JobExpiredError(
                    f"Segmind no longer has job {job.request_id} (HTTP 404 on the {exc.stage}); a job's "
                    f"result is kept for one hour only. Its record was dropped: {Action.RETRY} to start a new "
                    "run (it will be billed).", billed=True) from None
            if entry is not None:
                _add_hint(exc, _resume_hint(job.request_id))
            raise
        except SegmindError as exc:
            if entry is not None:
                _add_hint(exc, _resume_hint(job.request_id))
            raise
        return ClipResult(path=dest, info=info)

    # -- reused clips -------------------------------------------------------------------------
    def _reuse(self, shared: ClipResult) -> ClipResult:
        """The clip another run of the same request just made in this process (the cache may be off)."""
        dest = clip_path(self.output_dir, self.req.model, None)
        place_file(shared.path, dest)
        self.client.emit("cache_hit", request_id=shared.info.request_id, path=str(dest))
        return ClipResult(path=dest, info=RunInfo(request_id=shared.info.request_id, cost=0.0,
                                                  seed=shared.info.seed), from_cache=True)

    def _from_cache(self, hit: CacheHit) -> ClipResult:
        # A fresh link in the output folder: the preview is served from there.
        dest = clip_path(self.output_dir, self.req.model, None)
        place_file(hit.path, dest)
        request_id = hit.meta.get("request_id")
        self.client.emit("cache_hit", request_id=request_id, path=str(dest))
        log.info("Segmind: same request as job %s, reusing its cached clip (not billed).", request_id)
        return ClipResult(path=dest, info=RunInfo(request_id=request_id, cost=0.0, seed=self.req.body.get("seed")),
                          from_cache=True)


# Generations whose worker is running. A process that ends (the command line after Ctrl-C,
# ComfyUI shutting down) first lets each one with something billed in the balance finish:
# a billed v1 clip lands and is booked, a submit on the wire is answered and journalled.
# The others are left to die with the process: nothing of theirs is lost (a v2 job is in
# the journal) and waiting for their polls would hold the exit for minutes.
_live: set[Generation] = set()
_live_lock = threading.Lock()


def _let_billed_work_finish() -> None:
    with _live_lock:
        billed = [g for g in _live if g._committed]
    if billed:
        log.warning("Segmind: waiting for %d billed run(s) to land before exiting (Ctrl-C again to quit "
                    "at once).", len(billed))
    for generation in billed:
        generation._done.wait()


atexit.register(_let_billed_work_finish)


def _keep(cache: ResultCache | None, fingerprint: str, clip: ClipResult, req: GenerationRequest) -> None:
    if cache is None:
        return
    meta = {"model": req.model, "request": req.body, "request_id": clip.info.request_id,
            "cost": clip.info.cost,
            "image": None if req.image is None else {"pixels": req.image.pixel_hash, "mime": req.image.mime}}
    if req.video is not None:
        meta["video"] = req.video.record()
    try:
        cache.store(fingerprint, clip.path, meta)
    except OSError as exc:  # a full or read-only cache must not fail a paid, saved clip
        log.warning("Segmind result cache: could not keep %s (%s); the clip itself is saved.", clip.path.name, exc)


def _title(model: str) -> str:
    """What the jobs tab calls a job without a prompt (a Retake may have none)."""
    from .models import MODELS

    found = MODELS.get(model)
    return found.title if found is not None else model


def _add_hint(exc: BaseException, hint: str) -> None:
    # Append in place: the exception keeps its type (callers tell 401 from 5xx by it).
    exc.args = (f"{exc} {hint}",)


def _resume_hint(request_id: str) -> str:
    return (f"Job {request_id} was accepted (and billed) and is recorded: {Action.RUN_AGAIN} "
            "within the hour to collect its clip without paying again.")


def _as_time(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def run_on_segmind(req: GenerationRequest, *, user_dir: Path, output_dir: Path,
                   cancel_check: Any = None, on_event: Any = None,
                   force_rerun: bool = False, node_id: str | None = None,
                   run_id: str | None = None, reserved: Any = None,
                   source: str = "comfyui", config: ClientConfig | None = None) -> ClipResult:
    """The whole Segmind path as the node and the command line both use it: key, client, the
    result cache, the job journal, the request locks and the spend ledger kept in `user_dir`;
    the job shows on the process's job board meanwhile.

    `reserved`: the reservation reserve_spend made for this clip (a node run checks its clips as
    a whole); None checks this one clip against the spend limits and credits here. It is
    settled when the job's ledger line is written, or released if nothing was billed. `config`:
    the client's settings (default: ClientConfig.from_env())."""
    from .team_stores import ledger_for  # this machine's ledger, and the team's (Redis) if set

    if reserved is None:
        reserved = reserve_spend([req], user_dir=user_dir, run_id=run_id, force_rerun=force_rerun,
                                 cancel_check=cancel_check, output_dir=output_dir, config=config)[0]
    books = Bookkeeping(ledger_for(user_dir), run_id, source, reservation=reserved)
    try:
        session = Session.open(user_dir, config)
        generation = Generation(req, session, output_dir, books=books, reserved=reserved, force_rerun=force_rerun,
                                node_id=node_id, on_event=on_event)
    except BaseException as exc:
        _settle_reservation(books, exc)
        raise
    return generation.run(cancel_check)


# Client events -> the state the job board shows (status events carry their own).
_BOARD_STATES: dict[str, dict[str, Any]] = {
    "uploading": {"state": "uploading"},
    "waiting_other_run": {"state": "waiting_other_run"},
    "submitted": {"state": "queued"},
    "resuming": {"state": "queued"},
    "downloading": {"state": "downloading", "eta": None},
    "cache_hit": {"state": "done", "eta": None},
}
