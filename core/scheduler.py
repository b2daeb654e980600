"""What many clips at once share in one process: the request budget every call to Segmind
passes through, the polling schedule, the lock that makes one request run once (across
threads and processes), the turns decodes take, and the board of jobs in flight.

Segmind allows so many requests a minute per key (API.md: 5 on free, 50 on pro) and
answers 429 past that. Whether status polls count is unconfirmed, so they do here."""
from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

log = logging.getLogger(__name__)

PLANS = {"free": 5, "pro": 50}
PLAN_ENV = "SEGMIND_LTX2_PLAN"
RATE_ENV = "SEGMIND_LTX2_REQUESTS_PER_MINUTE"
WINDOW_SECONDS = 60.0
# Our clock says when a request left, Segmind's when it arrived: a little margin keeps two
# requests we sent a window apart from landing in one window of theirs.
_WINDOW_MARGIN = 0.25
_SLICE = 0.2  # the longest wait between two looks at Cancel
_DEFAULT_PAUSE = 10.0  # a 429 without a reset time


def _budget_from_env() -> int:
    from .errors import InvalidInputError

    raw = os.environ.get(RATE_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= 10000:
            raise InvalidInputError(f"{RATE_ENV} is {raw!r}: set it to the number of requests a minute your "
                                    "Segmind plan allows (5 on free, 50 on pro), or unset it.")
        return value
    plan = os.environ.get(PLAN_ENV, "").strip().lower()
    if plan and plan not in PLANS:
        raise InvalidInputError(f"{PLAN_ENV} is {plan!r}: set it to free or pro, or unset it "
                                f"(or set {RATE_ENV} to a number of requests a minute).")
    return PLANS[plan or "pro"]


class RequestBudget:
    """At most `per_minute` requests in any 60 s window (which also keeps within any fixed
    per-minute window the server may count in), shared by every job of the process.

    Two kinds: "call" (upload, submit, result, credits, a v1 run) goes whenever the window
    has room; "poll" (a status check) always leaves room for each waiting job's result
    fetch, and each job spaces its polls by poll_floor(), so that many jobs together poll
    within the budget instead of filling the window early and leaving finished clips
    waiting for the next minute. A 429 pauses every job until the reset the server gives."""

    def __init__(self, per_minute: int, *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 active_jobs: Callable[[], int] | None = None) -> None:
        self.per_minute = per_minute
        self.window = window + _WINDOW_MARGIN
        self._clock = clock
        self._active_jobs = active_jobs or (lambda: 1)
        # When each request of the window was counted: its send time, moved to when its answer
        # began to arrive (answered()), the latest it can have reached Segmind.
        self._sent: list[list[float]] = []
        self._lock = threading.Lock()
        self._paused_until = 0.0

    # -- what the transport calls --------------------------------------------------------
    def acquire(self, kind: str = "call", cancel_check: Callable[[], None] | None = None) -> list[float]:
        """Block until a request of this kind may be sent, and count it as sent. Returns its
        stamp, for answered()."""
        while True:
            with self._lock:
                now = self._clock()
                self._forget_old(now)
                wait = self._paused_until - now
                if wait <= 0:
                    room = self.per_minute - (self._reserve() if kind == "poll" else 0)
                    if len(self._sent) < max(1, room):
                        stamp = [now]
                        self._sent.append(stamp)
                        return stamp
                    wait = min(t for t, in self._sent) + self.window - now
            if cancel_check is not None:
                cancel_check()
            time.sleep(min(_SLICE, max(0.005, wait)))

    def rate_limited(self, wait_seconds: float | None) -> None:
        """A 429 arrived: every job waits until the reset the server gives (another process on
        the same key, or a plan smaller than the budget set: SEGMIND_LTX2_PLAN says which)."""
        with self._lock:
            now = self._clock()
            pause = _DEFAULT_PAUSE if wait_seconds is None or not math.isfinite(wait_seconds) else wait_seconds
            self._paused_until = max(self._paused_until, now + max(0.0, pause))

    # -- inside ----------------------------------------------------------------------------
    def answered(self, stamp: list[float] | None) -> None:
        """The request's answer began to arrive: it reached Segmind by now, so the window
        counts it from now (a slow upload is not forgotten early)."""
        if stamp:
            with self._lock:
                stamp[0] = max(stamp[0], self._clock())

    def _forget_old(self, now: float) -> None:
        self._sent = [s for s in self._sent if s[0] > now - self.window]

    def _reserve(self) -> int:
        """Room polls leave free: one result fetch for each waiting job, at most half the budget."""
        return min(max(1, self._active_jobs()), self.per_minute // 2)

    def active_jobs(self) -> int:
        return self._active_jobs()

    def poll_floor(self) -> float:
        """The shortest gap between two polls of one job that keeps every waiting job's polls,
        together, within the budget (leaving the reserve): 1.2 s for one job on pro, 15 s on free."""
        jobs = max(1, self._active_jobs())
        return self.window * jobs / max(1, self.per_minute - self._reserve())


_budget: RequestBudget | None = None
_budget_lock = threading.Lock()


def process_budget() -> RequestBudget:
    """The one budget of this process, set from SEGMIND_LTX2_REQUESTS_PER_MINUTE or
    SEGMIND_LTX2_PLAN (default pro: 50 a minute). A changed setting takes effect on the next job."""
    global _budget
    per_minute = _budget_from_env()
    with _budget_lock:
        if _budget is None:
            _budget = RequestBudget(per_minute, active_jobs=lambda: job_board().waiting())
        _budget.per_minute = per_minute
        return _budget


# --------------------------------------------------------------------------- polling

_learned = {"factor": None}
_learned_lock = threading.Lock()
_completions = {"n": 0}  # how many jobs of this process have completed (under _learned_lock)


def reset_for_tests() -> None:
    """Forget what this process learned and shared (tests start each case afresh)."""
    global _budget
    with _budget_lock:
        _budget = None
    with _learned_lock:
        _learned["factor"] = None
    with _flights_lock:
        _flights.clear()


def expected_with_learning(expected: float) -> float:
    """The expected run time, corrected by how long this process's finished jobs really took
    compared with their estimate (Segmind's speed varies; a stand-in's even more)."""
    with _learned_lock:
        factor = _learned["factor"]
    return expected if factor is None else expected * factor


def job_finished(*, expected: float, took: float) -> None:
    """A job completed `took` seconds after submit; its estimate was `expected`. Also wakes
    every job waiting in poll_sleep: jobs sent together tend to finish together."""
    if expected > 0 and math.isfinite(took) and took > 0:
        ratio = min(5.0, max(0.05, took / expected))
        with _learned_lock:
            old = _learned["factor"]
            _learned["factor"] = ratio if old is None else 0.5 * old + 0.5 * ratio
    with _learned_lock:
        _completions["n"] += 1


def poll_gap(*, elapsed: float, expected: float, first: float, longest: float) -> float:
    """Seconds until the next status check: an early first look (a refused job fails fast),
    sparse while the job has far to go, dense near its expected end, easing off when it runs
    long. `first` is the densest gap, `longest` the sparsest."""
    exp = expected_with_learning(expected)
    if elapsed < 2 * first or elapsed < 2.0:
        gap = max(first, min(2.0, longest))
    elif exp - elapsed > 0:
        gap = min(longest, max(first, 0.3 * (exp - elapsed)))
    else:
        gap = min(longest, first + 0.1 * (elapsed - exp))
    # Many jobs share the budget: each polls no more often than its share allows, and the
    # jobs take turns (each its own phase of the share), so together they still look every
    # share/jobs seconds; the first to see its clip done wakes the others (poll_sleep).
    budget = _budget
    floor = budget.poll_floor() if budget is not None else 0.0
    if floor <= gap:
        return gap
    jobs = max(1, budget.active_jobs())
    offset = (_phase() % jobs) * floor / jobs
    now = time.monotonic()
    turn = math.ceil((now + gap - offset) / floor) * floor + offset
    return max(gap, turn - now)


_phases: dict[int, int] = {}
_phase_count = itertools.count()


def _phase() -> int:
    """This job's turn among the jobs polling at once (each job waits on a thread of its own)."""
    ident = threading.get_ident()
    with _learned_lock:
        if ident not in _phases:
            if len(_phases) > 4096:
                _phases.clear()
            _phases[ident] = next(_phase_count)
        return _phases[ident]


def poll_sleep(seconds: float, *, elapsed: float, expected: float,
               sleep: Callable[[float], None]) -> bool:
    """Sleep until the next poll, waking early (True) when another job completed while this one
    is near its own end. `sleep(s)` sleeps s seconds and raises on Cancel."""
    with _learned_lock:
        seen = _completions["n"]
    near_end = 0.6 * expected_with_learning(expected)
    slept = 0.0  # counted by slices, so a test's instant `sleep` ends it at once
    while slept < seconds:
        step = min(_SLICE, seconds - slept)
        sleep(step)
        slept += step
        if elapsed + slept >= near_end:
            with _learned_lock:
                if _completions["n"] != seen:
                    return True
    return False


# --------------------------------------------------------------------------- one request, once

@dataclass
class _FlightState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    result: Any = None        # what the last holder produced, for a waiter in this process
    result_at: float = 0.0


_flights: dict[str, _FlightState] = {}
_flights_lock = threading.Lock()
RESULT_SHARE_SECONDS = 600.0  # a waiter takes the holder's clip if it finished this recently


class FlightLock:
    """Held while one request (a fingerprint) is generated, from before its upload until its
    clip is on disk and cached: a second identical request, in this process (another node, a
    duplicate picture in a batch, a re-queue) or another one sharing the user folder (a second
    ComfyUI, the command line), waits for it and then reuses the clip instead of paying.

    Across processes it is an OS file lock (flock / msvcrt) on <lock dir>/<fingerprint>.lock,
    which the OS releases if the process dies; in the process a thread lock comes first so
    threads wait without polling the file."""

    def __init__(self, lock_dir: Path | None, fingerprint: str) -> None:
        self.lock_dir = lock_dir
        self.fingerprint = fingerprint
        self._fh: Any = None
        self._state: _FlightState | None = None
        self.waited = False

    def acquire(self, cancel_check: Callable[[], None], on_wait: Callable[[], None] | None = None) -> None:
        with _flights_lock:
            state = _flights.setdefault(self.fingerprint, _FlightState())
            state.users += 1
        self._state = state
        try:
            while not state.lock.acquire(timeout=_SLICE):
                self._waiting(on_wait)
                cancel_check()
            try:
                self._lock_file(cancel_check, on_wait)
            except BaseException:
                state.lock.release()
                raise
        except BaseException:
            self._drop_user()
            raise

    def shared_result(self, since: float | None = None) -> Any:
        """The clip an earlier holder in this process produced for this request: if recent, or
        with `since` (a time.monotonic() reading) only if produced after it."""
        state = self._state
        if state is None or state.result is None or time.monotonic() - state.result_at > RESULT_SHARE_SECONDS:
            return None
        if since is not None and state.result_at < since:
            return None
        return state.result

    def publish(self, result: Any) -> None:
        if self._state is not None:
            self._state.result, self._state.result_at = result, time.monotonic()

    def release(self) -> None:
        try:
            if self._fh is not None:
                try:
                    _unlock(self._fh)
                finally:
                    self._fh.close()  # closing alone releases the OS lock too
                    self._fh = None
        finally:
            if self._state is not None:  # never left held: every later identical request would hang
                self._state.lock.release()
                self._drop_user()

    def __enter__(self) -> "FlightLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _waiting(self, on_wait: Callable[[], None] | None) -> None:
        if not self.waited and on_wait is not None:
            on_wait()
        self.waited = True

    def _drop_user(self) -> None:
        with _flights_lock:
            state = self._state
            if state is None:
                return
            state.users -= 1
            if state.users <= 0 and (state.result is None
                                     or time.monotonic() - state.result_at > RESULT_SHARE_SECONDS):
                _flights.pop(self.fingerprint, None)
            self._state = None if state.users <= 0 else state

    def _lock_file(self, cancel_check: Callable[[], None], on_wait: Callable[[], None] | None) -> None:
        if self.lock_dir is None:
            return
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            fh = open(self.lock_dir / f"{self.fingerprint}.lock", "a+b")
        except OSError as exc:
            # Without the folder only this process is guarded; the run must not fail for it.
            log.warning("Segmind: cannot use the lock folder %s (%s); identical runs in other processes "
                        "are not held back.", self.lock_dir, exc.strerror or type(exc).__name__)
            return
        while not _try_lock(fh):
            self._waiting(on_wait)
            cancel_check()
            time.sleep(_SLICE)
        self._fh = fh


def _try_lock(fh: Any) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fh: Any) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def lock_directory(user_dir: str | os.PathLike) -> Path:
    from .user_folder import UserFolder

    return UserFolder(user_dir).locks


# --------------------------------------------------------------------------- decode turns

_decode_turn = threading.Lock()


@contextlib.contextmanager
def decode_turn(cancel_check: Callable[[], None] | None = None,
                on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """One decode at a time: each clip's frames take ~1.9 GiB at the defaults, and the memory
    guard of the next decode then sees what the previous ones hold. Decoding is CPU-bound, so
    taking turns costs no wall time on the cores ComfyUI has."""
    waited = False
    while not _decode_turn.acquire(timeout=_SLICE):
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        if cancel_check is not None:
            cancel_check()
    try:
        yield
    finally:
        _decode_turn.release()


# --------------------------------------------------------------------------- the job board

ENDED_STATES = ("done", "failed", "cancelled")
KEEP_ENDED_SECONDS = 600.0


@dataclass
class JobRecord:
    key: str
    node_id: str | None
    prompt_id: str | None
    label: str
    estimate_usd: float
    width: int
    height: int
    num_frames: int
    state: str = "uploading"
    started: float = field(default_factory=time.time)
    ended: float | None = None
    eta: float | None = None
    request_id: str | None = None
    cost: float | None = None

    def as_dict(self) -> dict[str, Any]:
        now = time.time()
        return {"key": self.key, "node_id": self.node_id, "prompt_id": self.prompt_id, "label": self.label,
                "state": self.state, "started": self.started, "elapsed": (self.ended or now) - self.started,
                "eta": self.eta, "estimate_usd": self.estimate_usd, "request_id": self.request_id,
                "cost": self.cost, "width": self.width, "height": self.height, "num_frames": self.num_frames}


class JobBoard:
    """The jobs of this process, for the sidebar's Live jobs list and the request budget."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, **fields: Any) -> JobRecord:
        job = JobRecord(key=f"job-{next(self._ids)}", **fields)
        with self._lock:
            self._jobs[job.key] = job
            self._prune()
        return job

    def update(self, job: JobRecord, **fields: Any) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(job, name, value)
            if job.state in ENDED_STATES and job.ended is None:
                job.ended = time.time()

    def waiting(self) -> int:
        """Jobs that will still need a result fetch: for the budget's reserve."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state in ("queued", "processing"))

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune()
            return [j.as_dict() for j in sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)]

    def _prune(self) -> None:
        now = time.time()
        for key in [k for k, j in self._jobs.items() if j.ended is not None and now - j.ended > KEEP_ENDED_SECONDS]:
            del self._jobs[key]


_board = JobBoard()


def job_board() -> JobBoard:
    return _board
