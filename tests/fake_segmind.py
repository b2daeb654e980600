"""A local stand-in for the Segmind API (see /work/shared/segmind/API.md), for tests.

It is a real HTTP server on 127.0.0.1 so the pack's client code runs unchanged
(real sockets, real `requests`), with switches for the answer shapes API.md marks
as unconfirmed and a fault queue for every way the real service can misbehave.

    with FakeSegmind(polls_until_done=1) as srv:
        srv.fault("submit", status=429, headers={"x-rate-limit-reset-at-utc": "..."})
        ...  # point the client at srv.api_base / srv.storage_base with srv.api_key
        assert srv.jobs_submitted == 1

    # A job that takes 12 s of wall clock, and the pro plan's 50 requests a minute:
    with FakeSegmind(generation_seconds=12, rate_limit=50, rate_window=60) as srv:
        ...

    # Clips that show the uploaded picture (a slow zoom) instead of the test pattern,
    # for screenshots; off by default:
    with FakeSegmind(animate_uploads=True) as srv:
        ...

Run on its own (for a real ComfyUI): python tests/fake_segmind.py --help

Each endpoint's bodies are checked against the pack's model descriptors (core/models.py,
read by path: data shared with the pack, checked by this file's own code).
Only the standard library, numpy, av and requests (the latter in tests) are used.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json as jsonlib
import math
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import numpy as np

__all__ = ["FakeSegmind", "Fault", "Job", "VideoSpec", "STAGES", "RATE_LIMITED_STAGES", "RATE_LIMIT_HEADER",
           "COST", "make_mp4", "snap_to_grid", "utc_timestamp"]

DEFAULT_API_KEY = "SG_testkey0123456789abcd"
COST = 0.455
AUDIO_RATE = 24000
STAGES = ("upload", "submit", "sync", "status", "result", "download", "credits")
# What the rate limit counts: the API calls. Downloads (a CDN on the real service) and
# uploaded-asset fetches are free of it.
RATE_LIMITED_STAGES = ("upload", "submit", "sync", "status", "result", "credits")
RATE_LIMIT_HEADER = "x-rate-limit-reset-at-utc"
_COUNTER_OF_STAGE = {
    "upload": "uploads",
    "submit": "submits",
    "sync": "sync_runs",
    "status": "status_calls",
    "result": "result_calls",
    "download": "downloads",
    "credits": "credit_calls",
}
SYNC_SHAPES = ("mp4", "json_url", "json_base64")
OUTPUT_SHAPES = ("url", "list", "dict")
UPLOAD_SHAPES = ("file_urls", "urls")
_DATA_URL = re.compile(r"^data:(image/[A-Za-z0-9.+-]+);base64,(.*)$", re.S)
_EXT_OF_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def _load_descriptors() -> Any:
    """The pack's model descriptors (core/models.py), read by path: the stand-in checks each
    endpoint's bodies against the same declared fields, ranges and choices as the pack, with
    its own code (a bug in the pack's checks is not copied here). The module imports only the
    standard library, so this works when the stand-in runs on its own."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "core" / "models.py"
    name = "_fake_segmind_model_descriptors"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


DESCRIPTORS = _load_descriptors()


# --------------------------------------------------------------------------- video


@dataclass(frozen=True)
class VideoSpec:
    """What an MP4 the server hands out contains (after any grid rounding)."""

    width: int
    height: int
    frames: int
    fps: int
    audio: bool = True


def snap_to_grid(width: int, height: int, frames: int) -> tuple[int, int, int]:
    """The size the service really produces: sides rounded UP to a multiple of 32, frames
    UP to the next 8k+1 (LTX-2's VAE constraints): 720 -> 736, 300 -> 320, 181 -> 185,
    10 -> 17. The pack assumes the same (core/params.py); it is reimplemented here so
    the stand-in stays independent of the code under test."""

    def up(value: int, step: int, offset: int = 0) -> int:
        return offset + -(-(max(int(value), 1) - offset) // step) * step

    return max(32, up(width, 32)), max(32, up(height, 32)), max(1, up(frames, 8, 1))


_mp4_cache: dict[tuple[VideoSpec, bytes | None], bytes] = {}
_mp4_lock = threading.Lock()
ZOOM_END = 1.12  # an animated upload's last frame, relative to its first


def make_mp4(path: str | Path | None, width: int, height: int, frames: int, fps: int,
             audio: bool = True, picture: bytes | None = None) -> bytes:
    """An H.264 (+ AAC stereo 24 kHz) MP4 with a moving pattern and a 440 Hz tone.

    `picture` (PNG or JPEG bytes): the video shows that picture instead, fitted to the
    frame (cropped to cover it) with a slow zoom; a picture PyAV cannot read falls back to
    the pattern. Odd sides drop to even (yuv420p needs it). Results are cached per process,
    so asking twice is free. When `path` is given the bytes are also written there."""
    spec = VideoSpec(width - width % 2, height - height % 2, frames, fps, audio)
    key = (spec, None if picture is None else hashlib.sha256(picture).digest())
    with _mp4_lock:  # one lock: concurrent first requests for a clip encode it once
        data = _mp4_cache.get(key)
        if data is None:
            data = _mp4_cache[key] = _encode_mp4(spec, _read_picture(picture))
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _read_picture(data: bytes | None) -> np.ndarray | None:
    """uint8 RGB [H, W, 3] of a PNG/JPEG, or None when there is none or PyAV cannot read it."""
    if not data:
        return None
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            return next(container.decode(video=0)).to_ndarray(format="rgb24")
    except (av.error.FFmpegError, StopIteration, ValueError):
        return None


def _picture_frame(src: np.ndarray, width: int, height: int, zoom: float) -> Any:
    """A yuv420p frame of `src` fitted to width x height: the centred crop (numpy) with the
    frame's aspect that covers it, `zoom` times closer, scaled by FFmpeg (bilinear)."""
    import av

    src_h, src_w = src.shape[:2]
    scale = max(width / src_w, height / src_h) * zoom
    crop_w, crop_h = min(src_w, max(1, round(width / scale))), min(src_h, max(1, round(height / scale)))
    x, y = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    crop = np.ascontiguousarray(src[y:y + crop_h, x:x + crop_w])
    return av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(
        width=width, height=height, format="yuv420p", interpolation="BILINEAR")


def _encode_mp4(spec: VideoSpec, picture: np.ndarray | None = None) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=spec.fps)
        video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if spec.audio else None

        ys, xs = np.mgrid[0:spec.height, 0:spec.width]
        side = max(8, min(spec.width, spec.height) // 6)
        for i in range(spec.frames):
            if picture is not None:
                frame = _picture_frame(picture, spec.width, spec.height,
                                       1.0 + (ZOOM_END - 1.0) * i / max(1, spec.frames - 1))
            else:
                rgb = np.empty((spec.height, spec.width, 3), np.uint8)
                rgb[..., 0] = (xs + 7 * i) % 256  # drifting gradient: every frame differs
                rgb[..., 1] = (ys * 2 + 3 * i) % 256
                rgb[..., 2] = (i * 255 // max(1, spec.frames - 1)) if spec.frames > 1 else 128
                x0 = (i * 11) % max(1, spec.width - side)
                rgb[side:2 * side, x0:x0 + side] = 255  # a moving white square
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, spec.fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())

        if sound is not None:
            total = round(spec.frames * AUDIO_RATE / spec.fps)
            t = np.arange(total, dtype=np.float64) / AUDIO_RATE
            tone = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
            pcm = np.stack([tone, tone])
            for start in range(0, total, 1024):  # AAC wants 1024-sample frames
                chunk = np.ascontiguousarray(pcm[:, start:start + 1024])
                aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                aframe.sample_rate, aframe.pts, aframe.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
                container.mux(sound.encode(aframe))
            container.mux(sound.encode())
    return buf.getvalue()


# --------------------------------------------------------------------------- state


@dataclass
class Fault:
    """One queued misbehaviour of a stage; see FakeSegmind.fault()."""

    stage: str
    status: int | None = None
    json: Any = None
    text: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    delay: float = 0.0
    reset: bool = False
    reset_after_accept: bool = False
    truncate: bool = False
    corrupt: bool = False
    no_audio: bool = False
    job_fails: bool = False

    @property
    def answers(self) -> bool:
        """True when the fault replaces the server's answer with a canned one."""
        return self.status is not None or self.json is not None or self.text is not None


@dataclass
class Job:
    """A v2 request. It lives in the server object, so it survives client restarts.

    Times are readings of the server's `clock` (time.monotonic unless a test replaced it).
    `due_at` is set at submit when the server has a generation delay (the job finishes
    then, however often it is polled); None means the job finishes by counting polls."""

    request_id: str
    model: str
    body: dict[str, Any]
    spec: VideoSpec
    fails: bool = False
    polls: int = 0  # status calls seen so far
    submitted_at: float = 0.0
    due_at: float | None = None
    queue_until: float | None = None
    downloaded_at: float | None = None  # first time a download of its video finished sending
    _seen_done_at: float | None = field(default=None, repr=False)
    _clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    @property
    def completed_at(self) -> float | None:
        """When the job finished on the service (COMPLETED or FAILED), or None while it runs.
        With a delay: exactly submitted_at + generation_seconds. Counting polls: when a
        status or result call first found it finished."""
        if self.due_at is not None:
            return self.due_at if self._clock() >= self.due_at else None
        return self._seen_done_at


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class _Abort(Exception):
    """Drop the connection without (finishing) an answer; rst=True sends a TCP reset."""

    def __init__(self, rst: bool) -> None:
        super().__init__()
        self.rst = rst


def _json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, jsonlib.dumps(obj).encode(), "application/json", dict(headers or {}))


def _html_reply(status: int, title: str) -> _Reply:
    page = f"<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>"
    return _Reply(status, page.encode(), "text/html; charset=utf-8")


def _error(status: int, message: str) -> _Reply:
    return _json_reply(status, {"error": message})


# --------------------------------------------------------------------------- server


class _Choice:
    """An attribute that only takes one of a few values, so a typo fails in the test."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_{name}"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj: Any, value: str) -> None:
        if value not in self.choices:
            raise ValueError(f"{self.name} must be one of {self.choices}, not {value!r}")
        setattr(obj, self.slot, value)


class FakeSegmind:
    """Segmind stand-in on 127.0.0.1:<free port>, served from a daemon thread.

    Public state (read it in tests; all updates happen under `lock`):
      counts          per-endpoint call counters, faulted and rate-limited calls included;
                      counts["rate_limited"]: calls answered 429 by the rate limit
      jobs_submitted  runs accepted and billed (200 on v1, or 200 on a v2 submit)
      requests_log    (method, path, headers with lower-case names, json body or None)
      request_times   stage -> arrival times (`clock` readings) of every call of that stage
      jobs            request_id -> Job (v2 only);  assets: URL -> (mime, bytes) of uploads
      credits         remaining credits, lowered by COST per billed run
      clock           the time source of everything above (time.monotonic; tests may swap it)
    Timing (constructor keywords or attributes):
      polls_until_done    without a delay: status calls a job answers before COMPLETED
      generation_seconds  a delay instead: a v2 job is QUEUED for `queue_seconds`, then
                          PROCESSING, and COMPLETED once this long has passed since its
                          submit, however often it is polled; a v1 run holds its answer
                          this long. A job keeps the timing it was submitted with.
    Rate limit (constructor keywords or attributes):
      rate_limit, rate_window  at most `rate_limit` API calls (RATE_LIMITED_STAGES: not
                          downloads) per fixed window of `rate_window` seconds. A window opens
                          with the first call after the previous one ended and covers
                          [start, start + rate_window): a call arriving exactly at the end
                          opens the next one. Calls beyond the limit get 429 JSON
                          {"error": "rate limited"} with x-rate-limit-reset-at-utc = the
                          window's end (ISO 8601 UTC, milliseconds, rounded up). A 429 bills
                          nothing and consumes no queued fault. A client that never sends
                          more than `rate_limit` calls in any `rate_window` seconds (counted
                          from when the call reaches the server, e.g. stamped when its answer
                          arrives) never meets a 429.
    Switches for the unconfirmed answer shapes (constructor keywords or attributes):
      sync_shape    v1 answer: "mp4" raw bytes; "json_url" {"status", "output": url};
                    "json_base64" {"status", "video": base64 MP4}
      output_shape  v2 result "output": "url" str; "list" [url]; "dict" {"video": url}
      upload_shape  upload answer key: "file_urls" or "urls"
    Look of the clips (constructor keyword or attribute):
      animate_uploads  False (default): every clip is the test pattern. True: an image to
                       video job whose `image` is a picture uploaded here shows that picture
                       (cropped to the clip's size, a slow zoom), as in the README's screenshot.
    Endpoints (constructor keyword `models`, or the `models` dict by path): the pack's model
      descriptors (core/models.py) by default; a body is checked against its endpoint's
      fields (required, type, range, choices, no unknown field: 400), any other path is a 404.
    """

    sync_shape = _Choice(SYNC_SHAPES)
    output_shape = _Choice(OUTPUT_SHAPES)
    upload_shape = _Choice(UPLOAD_SHAPES)

    def __init__(self, api_key: str = DEFAULT_API_KEY, polls_until_done: int = 2, round_to_grid: bool = True,
                 *, sync_shape: str = "mp4", output_shape: str = "url", upload_shape: str = "file_urls",
                 port: int = 0, generation_seconds: float | None = None, queue_seconds: float = 0.0,
                 rate_limit: int | None = None, rate_window: float = 60.0,
                 animate_uploads: bool = False, models: Any = None) -> None:
        if generation_seconds is not None and generation_seconds < 0:
            raise ValueError("generation_seconds must be at least 0 (or None to count polls)")
        if queue_seconds < 0:
            raise ValueError("queue_seconds must be at least 0")
        if rate_limit is not None and rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 (or None for no limit)")
        if rate_window <= 0:
            raise ValueError("rate_window must be more than 0 seconds")
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.generation_seconds = generation_seconds
        self.queue_seconds = queue_seconds
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.animate_uploads = animate_uploads
        # The endpoints served, by path: the pack's descriptors, or the ones a test passes
        # (any object with the descriptor's path and fields); any other path is a 404.
        self.models: dict[str, Any] = {m.path: m for m in (DESCRIPTORS.MODELS.values() if models is None
                                                             else models)}
        self.clock: Callable[[], float] = time.monotonic
        self._window_start: float | None = None
        self._window_calls = 0
        self.round_to_grid = round_to_grid
        self.sync_shape = sync_shape
        self.output_shape = output_shape
        self.upload_shape = upload_shape
        self.credits = 100.0
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.assets: dict[str, tuple[str, bytes]] = {}
        self._files: dict[str, VideoSpec] = {}
        self._pictures: dict[str, bytes] = {}  # file name -> the uploaded picture it shows
        self._faults: dict[str, deque[Fault]] = {stage: deque() for stage in STAGES}
        self.counts: dict[str, int] = {}
        self.jobs_submitted = 0
        self.requests_log: list[tuple[str, str, dict[str, str], Any]] = []
        self.request_times: dict[str, list[float]] = {stage: [] for stage in STAGES}
        self.reset_counts()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Binding here (not in start) makes api_base usable before start().
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self.api_base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.storage_base = self.api_base
        self.files_base = f"http://localhost:{self._httpd.server_address[1]}"

    # -- lifecycle

    def start(self) -> FakeSegmind:
        if self._stopping.is_set():
            raise RuntimeError("a stopped FakeSegmind cannot be restarted; make a new one")
        if self._thread is None:
            # Short poll interval: stop() waits for the serve loop to notice.
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                            name="FakeSegmind", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()  # wakes handlers sleeping in a `delay` fault
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> FakeSegmind:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls

    def reset_counts(self) -> None:
        """Zero `counts` and `jobs_submitted`, empty `requests_log` and `request_times`
        (jobs and the rate limit's current window stay)."""
        with self.lock:  # in place, so references a test holds stay current
            self.counts.update({name: 0 for name in _COUNTER_OF_STAGE.values()})
            self.counts["rate_limited"] = 0
            self.jobs_submitted = 0
            self.requests_log.clear()
            for times in self.request_times.values():
                times.clear()

    def fault(self, stage: str, *, status: int | None = None, json: Any = None, text: str | None = None,
              content_type: str | None = None, headers: dict[str, str] | None = None, times: int = 1,
              delay: float = 0.0, reset: bool = False, reset_after_accept: bool = False,
              truncate: bool = False, corrupt: bool = False, no_audio: bool = False,
              job_fails: bool = False) -> Fault:
        """Queue a misbehaviour for the next `times` requests of `stage`.

        status/json/text: answer that instead (status defaults to 200 with a body, a
          body defaults to {"error": ...}); nothing is created or billed.
        headers: extra headers on whatever answer is sent.
        delay: sleep first (seconds; cut short by stop()), then carry on.
        reset: drop the connection with a TCP reset. submit/sync: before the run is
          accepted (not billed). download: after the headers and part of the body.
          Other stages: before answering, with no side effect.
        reset_after_accept (submit/sync): the run is accepted and billed, then the
          answer is cut (no JSON answer; an MP4 answer stops mid-body).
        truncate: full Content-Length, half the body, then a normal close.
        corrupt: the body is replaced by garbage of the same length and type.
        no_audio (submit/sync/download): the MP4 has no audio track.
        job_fails (submit): the job ends FAILED (status and result answer 422).
        """
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        if reset_after_accept and stage not in ("submit", "sync"):
            raise ValueError("reset_after_accept applies to 'submit' and 'sync' only")
        if job_fails and stage != "submit":
            raise ValueError("job_fails applies to 'submit' only")
        if no_audio and stage not in ("submit", "sync", "download"):
            raise ValueError("no_audio applies to 'submit', 'sync' and 'download' only")
        if times < 1:
            raise ValueError("times must be at least 1")
        spec = Fault(stage, status, json, text, content_type, dict(headers or {}), times, delay, reset,
                     reset_after_accept, truncate, corrupt, no_audio, job_fails)
        with self.lock:
            self._faults[stage].append(spec)
        return spec

    def clear_faults(self) -> None:
        with self.lock:
            for queue in self._faults.values():
                queue.clear()

    def pending_faults(self, stage: str) -> int:
        """How many uses are left in `stage`'s queue (to assert a fault was consumed)."""
        with self.lock:
            return sum(f.times for f in self._faults[stage])

    def video_url(self, name: str) -> str:
        """Where a finished video is served. Segmind serves outputs from storage (S3/CDN), not
        its API host: the stand-in uses another origin for them (`files_base`, localhost
        rather than 127.0.0.1), so a client sends them neither its key nor its request budget."""
        return f"{self.files_base}/files/{name}.mp4"

    # -- internals used by the handler

    def _take_fault(self, stage: str) -> Fault | None:
        with self.lock:
            queue = self._faults[stage]
            if not queue:
                return None
            head = queue[0]
            head.times -= 1
            if head.times <= 0:
                queue.popleft()
            return head

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any,
                stage: str | None) -> _Reply | None:
        """Log a call at its arrival; the 429 to send instead when it exceeds the rate limit."""
        with self.lock:  # one clock reading per call, taken in arrival order
            now = self.clock()
            self.requests_log.append((method, path, headers, body))
            if stage is None:
                return None
            self.counts[_COUNTER_OF_STAGE[stage]] += 1
            self.request_times[stage].append(now)
            if self.rate_limit is None or stage not in RATE_LIMITED_STAGES:
                return None
            # Half-open window [start, start + rate_window): a call exactly at the end opens
            # the next window, so `rate_limit` calls per any rate_window seconds always pass.
            if self._window_start is None or now >= self._window_start + self.rate_window:
                self._window_start, self._window_calls = now, 0
            self._window_calls += 1
            if self._window_calls <= self.rate_limit:
                return None
            self.counts["rate_limited"] += 1
            reset_at = time.time() + (self._window_start + self.rate_window - now)
            return _json_reply(429, {"error": "rate limited"}, {RATE_LIMIT_HEADER: utc_timestamp(reset_at)})

    def _new_job(self, request_id: str, model: str, body: dict[str, Any], spec: VideoSpec, fails: bool) -> Job:
        now = self.clock()
        delay = self.generation_seconds
        return Job(request_id, model, body, spec, fails=fails, submitted_at=now,
                   due_at=None if delay is None else now + delay,
                   queue_until=None if delay is None else now + min(self.queue_seconds, delay),
                   _clock=lambda: self.clock())  # the server's clock, even if a test swaps it later

    def _state(self, job: Job) -> str:
        """QUEUED / PROCESSING / COMPLETED / FAILED now (call under `lock`)."""
        if job.due_at is not None:
            now = self.clock()
            if now < job.due_at:
                return "QUEUED" if job.queue_until is not None and now < job.queue_until else "PROCESSING"
        elif job.polls < self.polls_until_done:
            return "QUEUED" if job.polls == 0 else "PROCESSING"
        elif job._seen_done_at is None:
            job._seen_done_at = self.clock()
        return "FAILED" if job.fails else "COMPLETED"

    def _downloaded(self, name: str) -> None:
        with self.lock:
            job = self.jobs.get(name)
            if job is not None and job.downloaded_at is None:
                job.downloaded_at = self.clock()

    def _bill(self) -> float:
        with self.lock:
            self.jobs_submitted += 1
            self.credits = round(self.credits - COST, 6)
            return self.credits

    def _spec_for(self, body: dict[str, Any], audio: bool, model: str | None = None) -> VideoSpec:
        descriptor = self.models.get(model)
        audio = audio and body.get("generate_audio") is not False  # a model that can leave the sound out
        if descriptor is not None and getattr(descriptor, "grid", None) is None:
            # A model whose size a field picks (a resolution) and whose length is in seconds.
            rendered = descriptor.rendered(body)
            fps = body.get("fps", descriptor.output.fps or 24)
            if rendered is not None:
                return VideoSpec(rendered[0], rendered[1], rendered[2] or fps, fps, audio)
        width, height = body.get("width", 720), body.get("height", 1280)
        frames, fps = body.get("num_frames", 181), body.get("fps", 24)
        if self.round_to_grid:
            width, height, frames = snap_to_grid(width, height, frames)
        return VideoSpec(width, height, frames, fps, audio)

    def _picture_for(self, body: dict[str, Any]) -> bytes | None:
        """The uploaded picture a clip for `body` shows, when animate_uploads is on."""
        if not self.animate_uploads or not isinstance(body.get("image"), str):
            return None
        with self.lock:
            asset = self.assets.get(body["image"])
        return asset[1] if asset else None

    def _metrics(self, done: bool, job: Job | None = None) -> dict[str, Any]:
        queued = inference = None
        if job is not None and job.due_at is not None and job.queue_until is not None:
            queued = job.queue_until - job.submitted_at
            inference = job.due_at - job.queue_until
        metrics: dict[str, Any] = {"queue_time": 0.01 if queued is None else round(queued, 3)}
        if done:
            metrics.update(cost=COST, remaining_credits=self.credits,
                           inference_time=0.05 if inference is None else round(inference, 3))
        return metrics


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, rounded UP to the millisecond (a client that waits
    until this instant is never early): 2026-11-29T17:03:00.250Z."""
    millis = math.ceil(round(epoch_seconds * 1000, 6))
    moment = datetime.fromtimestamp(millis // 1000, timezone.utc)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{millis % 1000:03d}Z"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSegmind

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.rst_sockets: set[socket.socket] = set()
        self.rst_lock = threading.Lock()

    def shutdown_request(self, request: Any) -> None:
        with self.rst_lock:
            rst = request in self.rst_sockets
            self.rst_sockets.discard(request)
        if rst:
            request.close()  # SO_LINGER 0 is set: close() sends RST, no FIN first
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up are normal here
            super().handle_error(request, client_address)


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/v1/get-user-credits$"), "credits"),
    ("GET", re.compile(r"^/v2/requests/(?P<request_id>[^/]+)/status$"), "status"),
    ("GET", re.compile(r"^/v2/requests/(?P<request_id>[^/]+)$"), "result"),
    ("GET", re.compile(r"^/files/(?P<name>[^/]+)\.mp4$"), "download"),
    ("GET", re.compile(r"^/assets/(?P<name>[^/]+)$"), "asset"),
    ("POST", re.compile(r"^/upload-asset$"), "upload"),
    ("POST", re.compile(r"^/v2/(?P<model>(?!requests$)[^/]+)$"), "submit"),
    ("POST", re.compile(r"^/v1/(?P<model>[^/]+)$"), "sync"),
]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSegmind/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except _Abort as abort:
            self.close_connection = True
            if abort.rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with self.server.rst_lock:
                    self.server.rst_sockets.add(self.connection)
        except OSError:  # the client went away mid-answer
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- plumbing

    @property
    def fake(self) -> FakeSegmind:
        return self.server.fake

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = jsonlib.loads(raw) if raw else None
        except ValueError:
            body = None
        path = urlsplit(self.path).path
        route, params, wrong_method = None, {}, False
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                route, params = name, match.groupdict()
                break
            wrong_method = wrong_method or bool(match)
        stage = route if route in STAGES else None
        headers = {name.lower(): value for name, value in self.headers.items()}
        limited = self.fake._record(method, self.path, headers, body, stage)
        if route is None:  # real servers answer these with HTML, not JSON
            self._send(_html_reply(405, "Method Not Allowed") if wrong_method else _html_reply(404, "Not Found"))
            return
        if limited is not None:  # before any fault: a rate-limited call consumes none
            self._send(limited)
            return
        endpoint: Callable[..., _Reply] = getattr(self, f"_on_{route}")
        if stage is None:
            self._send(endpoint(**params))
            return
        sent = partial(self.fake._downloaded, params["name"]) if stage == "download" else None
        self._serve(stage, lambda fault: endpoint(fault=fault, body=body, **params), sent)

    def _serve(self, stage: str, produce: Callable[[Fault | None], _Reply],
               sent: Callable[[], None] | None = None) -> None:
        """Answer one call, through its queued fault if any; `sent` runs once a real (not
        canned, cut or corrupted) 2xx answer has been sent in full."""
        fault = self.fake._take_fault(stage)
        if fault is None:
            reply = produce(None)
            self._send(reply)
            if sent is not None and reply.status < 300:
                sent()
            return
        if fault.delay and self.fake._stopping.wait(fault.delay):
            raise _Abort(rst=True)
        if fault.answers:
            self._send(self._canned(fault))
            return
        if fault.reset and stage != "download":
            raise _Abort(rst=True)
        reply = produce(fault)
        reply.headers.update(fault.headers)
        if fault.corrupt:
            reply.body = _garbage(len(reply.body))
        if fault.reset or fault.reset_after_accept:
            # A JSON answer is never started; a video is cut after a quarter.
            cut = len(reply.body) // 4 if reply.content_type == "video/mp4" else -1
            if cut >= 0:
                self._send(reply, limit=cut)
            raise _Abort(rst=True)
        if fault.truncate:
            self._send(reply, limit=len(reply.body) // 2)
            raise _Abort(rst=False)
        self._send(reply)
        if sent is not None and reply.status < 300 and not fault.corrupt:
            sent()

    @staticmethod
    def _canned(fault: Fault) -> _Reply:
        status = fault.status if fault.status is not None else 200
        if fault.text is not None:
            reply = _Reply(status, fault.text.encode(), "text/html; charset=utf-8")
        elif fault.json is not None:
            reply = _json_reply(status, fault.json)
        else:
            reply = _error(status, f"injected failure (HTTP {status})")
        if fault.content_type is not None:
            reply.content_type = fault.content_type
        reply.headers.update(fault.headers)
        return reply

    def _send(self, reply: _Reply, limit: int | None = None) -> None:
        """Send the whole reply, or headers plus the first `limit` body bytes."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        data = memoryview(reply.body)[:limit] if limit is not None else memoryview(reply.body)
        for start in range(0, len(data), 64 * 1024):  # in pieces, like a real file server
            self.wfile.write(data[start:start + 64 * 1024])
        self.wfile.flush()

    # -- request checks

    def _check_auth(self) -> _Reply | None:
        if self.headers.get("x-api-key") != self.fake.api_key:
            return _error(401, "Unauthorized: missing or invalid x-api-key")
        return None

    def _check_json(self, body: Any) -> _Reply | None:
        if not (self.headers.get("Content-Type") or "").lower().startswith("application/json"):
            return _error(406, "Content-Type must be application/json")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        return None

    def _check_run_body(self, model: str, body: dict[str, Any]) -> _Reply | None:
        """A 404 for a model not served; a 400 naming the first field the model's descriptor
        refuses (missing, wrong type, outside its range or choices, or not a field of it)."""
        descriptor = self.fake.models.get(model)
        if descriptor is None:
            return _error(404, f"model {model} not found")
        fields = {f.name: f for f in descriptor.fields}
        for name in body:
            if name not in fields:
                return _error(400, f"{name} is not a parameter of {model}")
        for f in descriptor.fields:
            problem = _field_problem(f, body.get(f.name))
            if problem:
                return _error(400, problem)
        return None

    def _check_run(self, model: str, body: Any) -> _Reply | None:
        return self._check_auth() or self._check_json(body) or self._check_run_body(model, body)

    # -- endpoints

    def _on_sync(self, fault: Fault | None, body: Any, model: str) -> _Reply:
        problem = self._check_run(model, body)
        if problem:
            return problem
        started = time.monotonic()
        fake = self.fake
        delay = fake.generation_seconds
        if delay and fake._stopping.wait(delay):  # held like the real v1 run; stop() cuts it
            raise _Abort(rst=True)
        spec = fake._spec_for(body, audio=not (fault and fault.no_audio), model=model)
        picture = fake._picture_for(body)
        video = make_mp4(None, spec.width, spec.height, spec.frames, spec.fps, spec.audio, picture)
        request_id = str(uuid.uuid4())
        remaining = fake._bill()
        headers = {
            "x-remaining-credits": f"{remaining}",
            "x-cost": f"{COST}",
            "x-generation-time": f"{time.monotonic() - started:.3f}",
            "x-seed-value": str(body.get("seed", 42)),
            "x-request-id": request_id,
        }
        if fake.sync_shape == "json_base64":
            return _json_reply(200, {"status": "COMPLETED", "video": base64.b64encode(video).decode()}, headers)
        if fake.sync_shape == "json_url":
            with fake.lock:
                fake._files[request_id] = spec
                if picture is not None:
                    fake._pictures[request_id] = picture
            return _json_reply(200, {"status": "COMPLETED", "output": fake.video_url(request_id)}, headers)
        return _Reply(200, video, "video/mp4", headers)

    def _on_submit(self, fault: Fault | None, body: Any, model: str) -> _Reply:
        problem = self._check_run(model, body)
        if problem:
            return problem
        fake = self.fake
        request_id = str(uuid.uuid4())
        spec = fake._spec_for(body, audio=not (fault and fault.no_audio), model=model)
        job = fake._new_job(request_id, model, body, spec, fails=bool(fault and fault.job_fails))
        picture = fake._picture_for(body)
        with fake.lock:
            fake.jobs[request_id] = job
            fake._files[request_id] = job.spec
            if picture is not None:
                fake._pictures[request_id] = picture
        fake._bill()
        status_url = f"{fake.api_base}/v2/requests/{request_id}/status"
        return _json_reply(200, {
            "request_id": request_id,
            "status": "QUEUED",
            "status_url": status_url,
            "response_url": f"{fake.api_base}/v2/requests/{request_id}",
            "poll_url": status_url,
        })

    def _job(self, request_id: str) -> Job | _Reply:
        with self.fake.lock:
            job = self.fake.jobs.get(request_id)
        return job if job is not None else _error(404, f"request {request_id} not found")

    @staticmethod
    def _failed(job: Job) -> _Reply:
        return _json_reply(422, {"status": "FAILED", "error": f"Generation failed for request {job.request_id}",
                                 "metrics": {"queue_time": 0.01}})

    def _on_status(self, fault: Fault | None, body: Any, request_id: str) -> _Reply:
        job = self._check_auth() or self._job(request_id)
        if isinstance(job, _Reply):
            return job
        with self.fake.lock:
            state = self.fake._state(job)
            job.polls += 1
        if state == "FAILED":
            return self._failed(job)
        return _json_reply(200, {"status": state, "metrics": self.fake._metrics(state == "COMPLETED", job)})

    def _on_result(self, fault: Fault | None, body: Any, request_id: str) -> _Reply:
        job = self._check_auth() or self._job(request_id)
        if isinstance(job, _Reply):
            return job
        fake = self.fake
        with fake.lock:
            state = fake._state(job)
        if state == "FAILED":
            return self._failed(job)
        if state != "COMPLETED":
            return _json_reply(200, {"status": state, "metrics": fake._metrics(False, job)})
        url = fake.video_url(job.request_id)
        output: Any = {"url": url, "list": [url], "dict": {"video": url}}[fake.output_shape]
        return _json_reply(200, {"status": "COMPLETED", "metrics": fake._metrics(True, job), "output": output})

    def _on_download(self, fault: Fault | None, body: Any, name: str) -> _Reply:
        with self.fake.lock:
            spec = self.fake._files.get(name)
            picture = self.fake._pictures.get(name)
        if spec is None:
            return _html_reply(404, "Not Found")
        audio = spec.audio and not (fault and fault.no_audio)
        return _Reply(200, make_mp4(None, spec.width, spec.height, spec.frames, spec.fps, audio, picture),
                      "video/mp4")

    def _on_upload(self, fault: Fault | None, body: Any) -> _Reply:
        problem = self._check_auth() or self._check_json(body)
        if problem:
            return problem
        data_urls = body.get("data_urls")
        if not isinstance(data_urls, list) or not data_urls:
            return _error(400, "data_urls must be a non-empty list of data URLs")
        decoded: list[tuple[str, bytes]] = []
        for index, item in enumerate(data_urls):
            match = _DATA_URL.match(item) if isinstance(item, str) else None
            try:
                payload = base64.b64decode(match.group(2), validate=True) if match else b""
            except binascii.Error:
                payload = b""
            if not payload:
                return _error(400, f"data_urls[{index}] is not a base64 image data URL")
            decoded.append((match.group(1).lower(), payload))
        fake = self.fake
        urls = []
        with fake.lock:  # all or nothing: a 400 above stores none of them
            for mime, payload in decoded:
                url = f"{fake.storage_base}/assets/{uuid.uuid4().hex}.{_EXT_OF_MIME.get(mime, 'bin')}"
                fake.assets[url] = (mime, payload)
                urls.append(url)
        return _json_reply(200, {fake.upload_shape: urls})

    def _on_asset(self, name: str) -> _Reply:
        with self.fake.lock:
            asset = self.fake.assets.get(f"{self.fake.storage_base}/assets/{name}")
        return _Reply(200, asset[1], asset[0]) if asset else _html_reply(404, "Not Found")

    def _on_credits(self, fault: Fault | None, body: Any) -> _Reply:
        problem = self._check_auth()
        if problem:
            return problem
        return _json_reply(200, {"credits": self.fake.credits, "free-credits": 0.0})


def _field_problem(f: Any, value: Any) -> str | None:
    """What is wrong with one field's value, in the service's words; None when it is fine."""
    kind = f.kind
    if value is None:
        return f"{f.name} is required" + (" and must be a non-empty string" if kind == "text" else "") \
            if f.required else None
    if kind == "media":
        schemes = r"^(https?://\S+|data:[\w/.+-]+;base64,\S+)$" if f.media == "video" else r"^https?://\S+$"
        if not isinstance(value, str) or not re.match(schemes, value):
            return f"{f.name} is required and must be an http(s) URL" + (" or a data URI" if f.media == "video" else "")
    elif kind == "text":
        if not isinstance(value, str) or (f.required and not value.strip()):
            return f"{f.name} is required and must be a non-empty string" if f.required else f"{f.name} must be a string"
    elif kind == "bool":
        if not isinstance(value, bool):
            return f"{f.name} must be true or false"
    elif kind == "choice":
        if isinstance(value, bool) or value not in f.choices:
            return f"{f.name} must be one of {', '.join(str(c) for c in f.choices)}"
    elif kind in ("int", "float"):
        ok = _is_int(value) if kind == "int" else _is_number(value)
        low, high = f.minimum, f.maximum
        if not ok or (low is not None and value < low) or (high is not None and value > high):
            what = "an integer" if kind == "int" else "a number"
            return f"{f.name} must be {what} between {low:g} and {high:g}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _garbage(length: int) -> bytes:
    # Deterministic, and not a valid MP4/JSON prefix.
    unit = b"\x00GARBAGE\xff"
    return (unit * (length // len(unit) + 1))[:length]


def main() -> None:
    """Run the stand-in on its own, e.g. for a real ComfyUI: point SEGMIND_API_BASE and
    SEGMIND_STORAGE_BASE at the printed address and use the printed key."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=9100, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--polls", type=int, default=3,
                        help="status calls before COMPLETED (ignored with --generation-seconds)")
    parser.add_argument("--poll-delay", type=float, default=0.0,
                        help="seconds each status answer takes, to watch the waiting state")
    parser.add_argument("--generation-seconds", type=float, default=None,
                        help="a job completes this long after its submit (wall clock), however often "
                             "it is polled; a v1 run holds its answer this long (e.g. 12)")
    parser.add_argument("--queue-seconds", type=float, default=0.0,
                        help="with --generation-seconds: how long a job reports QUEUED first")
    parser.add_argument("--rate-limit", type=int, default=None,
                        help="API calls allowed per window (Segmind: 5 free, 50 pro); more get 429")
    parser.add_argument("--rate-window", type=float, default=60.0, help="the rate limit's window in seconds")
    parser.add_argument("--animate-uploads", action="store_true",
                        help="image to video clips show the uploaded picture (a slow zoom) instead of a test pattern")
    args = parser.parse_args()
    if args.generation_seconds is not None and args.generation_seconds < 0:
        parser.error("--generation-seconds must be at least 0")
    if args.queue_seconds < 0:
        parser.error("--queue-seconds must be at least 0")
    if args.rate_limit is not None and args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1")
    if args.rate_window <= 0:
        parser.error("--rate-window must be more than 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    try:
        server = FakeSegmind(polls_until_done=args.polls, port=args.port,
                             generation_seconds=args.generation_seconds, queue_seconds=args.queue_seconds,
                             rate_limit=args.rate_limit, rate_window=args.rate_window,
                             animate_uploads=args.animate_uploads)
    except OSError as exc:
        parser.error(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc}); pick another --port")
    with server:
        if args.poll_delay:
            server.fault("status", delay=args.poll_delay, times=10**6)
        timing = (f"jobs take {args.generation_seconds:g} s" if args.generation_seconds is not None
                  else f"jobs complete after {args.polls} status calls")
        limit = (f"{args.rate_limit} API calls per {args.rate_window:g} s" if args.rate_limit is not None
                 else "no rate limit")
        look = "; clips show the uploaded picture" if args.animate_uploads else ""
        print(f"Segmind stand-in at {server.api_base} (key {server.api_key}); {timing}; {limit}{look}.", flush=True)
        print(f"SEGMIND_API_BASE={server.api_base} SEGMIND_STORAGE_BASE={server.storage_base} "
              f"SEGMIND_API_KEY={server.api_key}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
