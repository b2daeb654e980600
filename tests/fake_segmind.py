"""A local stand-in for the Segmind API (see /work/shared/segmind/API.md), for tests.

It is a real HTTP server on 127.0.0.1 so the pack's client code runs unchanged
(real sockets, real `requests`), with switches for the answer shapes API.md marks
as unconfirmed and a fault queue for every way the real service can misbehave.

    with FakeSegmind(polls_until_done=1) as srv:
        srv.fault("submit", status=429, headers={"x-rate-limit-reset-at-utc": "..."})
        ...  # point the client at srv.api_base / srv.storage_base with srv.api_key
        assert srv.jobs_submitted == 1

Only the standard library, numpy, av and requests (the latter in tests) are used.
"""
from __future__ import annotations

import base64
import binascii
import io
import json as jsonlib
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import numpy as np

__all__ = ["FakeSegmind", "Fault", "Job", "VideoSpec", "STAGES", "COST", "make_mp4", "snap_to_grid"]

DEFAULT_API_KEY = "SG_testkey0123456789abcd"
COST = 0.455
AUDIO_RATE = 24000
STAGES = ("upload", "submit", "sync", "status", "result", "download", "credits")
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
# Product-page ranges; anything outside is a 400 naming the field.
_INT_RANGES = {"width": (256, 1280), "height": (256, 1280), "num_frames": (1, 400), "fps": (1, 30)}
_GUIDANCE_RANGE = (1, 20)
_DATA_URL = re.compile(r"^data:(image/[A-Za-z0-9.+-]+);base64,(.*)$", re.S)
_EXT_OF_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


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
    """The size the service really produces: sides to the nearest multiple of 32,
    frames to the nearest 8k+1 (LTX-2's VAE constraints); ties round up."""

    def nearest(value: int, step: int, offset: int = 0) -> int:
        return int((value - offset) / step + 0.5) * step + offset

    return max(32, nearest(width, 32)), max(32, nearest(height, 32)), max(1, nearest(frames, 8, 1))


_mp4_cache: dict[VideoSpec, bytes] = {}
_mp4_lock = threading.Lock()


def make_mp4(path: str | Path | None, width: int, height: int, frames: int, fps: int,
             audio: bool = True) -> bytes:
    """An H.264 (+ AAC stereo 24 kHz) MP4 with a moving pattern and a 440 Hz tone.

    Odd sides drop to even (yuv420p needs it). Results are cached per process, so
    asking twice is free. When `path` is given the bytes are also written there."""
    spec = VideoSpec(width - width % 2, height - height % 2, frames, fps, audio)
    with _mp4_lock:  # one lock: concurrent first requests for a clip encode it once
        data = _mp4_cache.get(spec)
        if data is None:
            data = _mp4_cache[spec] = _encode_mp4(spec)
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _encode_mp4(spec: VideoSpec) -> bytes:
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
    """A v2 request. It lives in the server object, so it survives client restarts."""

    request_id: str
    model: str
    body: dict[str, Any]
    spec: VideoSpec
    fails: bool = False
    polls: int = 0  # status calls seen so far


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
      counts          per-endpoint call counters, faulted calls included
      jobs_submitted  runs accepted and billed (200 on v1, or 200 on a v2 submit)
      requests_log    (method, path, headers with lower-case names, json body or None)
      jobs            request_id -> Job;  assets: URL -> (mime, bytes) of uploads
      credits         remaining credits, lowered by COST per billed run
    Switches for the unconfirmed answer shapes (constructor keywords or attributes):
      sync_shape    v1 answer: "mp4" raw bytes; "json_url" {"status", "output": url};
                    "json_base64" {"status", "video": base64 MP4}
      output_shape  v2 result "output": "url" str; "list" [url]; "dict" {"video": url}
      upload_shape  upload answer key: "file_urls" or "urls"
    """

    sync_shape = _Choice(SYNC_SHAPES)
    output_shape = _Choice(OUTPUT_SHAPES)
    upload_shape = _Choice(UPLOAD_SHAPES)

    def __init__(self, api_key: str = DEFAULT_API_KEY, polls_until_done: int = 2, round_to_grid: bool = True,
                 *, sync_shape: str = "mp4", output_shape: str = "url", upload_shape: str = "file_urls",
                 port: int = 0) -> None:
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.round_to_grid = round_to_grid
        self.sync_shape = sync_shape
        self.output_shape = output_shape
        self.upload_shape = upload_shape
        self.credits = 100.0
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.assets: dict[str, tuple[str, bytes]] = {}
        self._files: dict[str, VideoSpec] = {}
        self._faults: dict[str, deque[Fault]] = {stage: deque() for stage in STAGES}
        self.counts: dict[str, int] = {}
        self.jobs_submitted = 0
        self.requests_log: list[tuple[str, str, dict[str, str], Any]] = []
        self.reset_counts()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Binding here (not in start) makes api_base usable before start().
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self.api_base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.storage_base = self.api_base

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
        """Zero `counts` and `jobs_submitted` and empty `requests_log` (jobs stay)."""
        with self.lock:  # in place, so references a test holds stay current
            self.counts.update({name: 0 for name in _COUNTER_OF_STAGE.values()})
            self.jobs_submitted = 0
            self.requests_log.clear()

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
        return f"{self.api_base}/files/{name}.mp4"

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

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any, stage: str | None) -> None:
        with self.lock:
            self.requests_log.append((method, path, headers, body))
            if stage is not None:
                self.counts[_COUNTER_OF_STAGE[stage]] += 1

    def _bill(self) -> float:
        with self.lock:
            self.jobs_submitted += 1
            self.credits = round(self.credits - COST, 6)
            return self.credits

    def _spec_for(self, body: dict[str, Any], audio: bool) -> VideoSpec:
        width, height = body.get("width", 720), body.get("height", 1280)
        frames, fps = body.get("num_frames", 181), body.get("fps", 24)
        if self.round_to_grid:
            width, height, frames = snap_to_grid(width, height, frames)
        return VideoSpec(width, height, frames, fps, audio)

    def _metrics(self, done: bool) -> dict[str, Any]:
        metrics: dict[str, Any] = {"queue_time": 0.01}
        if done:
            metrics.update(cost=COST, remaining_credits=self.credits, inference_time=0.05)
        return metrics


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
        self.fake._record(method, self.path, headers, body, stage)
        if route is None:  # real servers answer these with HTML, not JSON
            self._send(_html_reply(405, "Method Not Allowed") if wrong_method else _html_reply(404, "Not Found"))
            return
        endpoint: Callable[..., _Reply] = getattr(self, f"_on_{route}")
        if stage is None:
            self._send(endpoint(**params))
            return
        self._serve(stage, lambda fault: endpoint(fault=fault, body=body, **params))

    def _serve(self, stage: str, produce: Callable[[Fault | None], _Reply]) -> None:
        fault = self.fake._take_fault(stage)
        if fault is None:
            self._send(produce(None))
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

    @staticmethod
    def _check_run_body(model: str, body: dict[str, Any]) -> _Reply | None:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _error(400, "prompt is required and must be a non-empty string")
        if "i2v" in model:
            image = body.get("image")
            if not isinstance(image, str) or not re.match(r"^https?://\S+$", image):
                return _error(400, "image is required and must be an http(s) URL")
        for name, (low, high) in _INT_RANGES.items():
            value = body.get(name)
            if value is not None and (not _is_int(value) or not low <= value <= high):
                return _error(400, f"{name} must be an integer between {low} and {high}")
        scale = body.get("guidance_scale")
        if scale is not None and (not _is_number(scale) or not _GUIDANCE_RANGE[0] <= scale <= _GUIDANCE_RANGE[1]):
            return _error(400, f"guidance_scale must be a number between {_GUIDANCE_RANGE[0]} and {_GUIDANCE_RANGE[1]}")
        if body.get("seed") is not None and not _is_int(body["seed"]):
            return _error(400, "seed must be an integer")
        if body.get("negative_prompt") is not None and not isinstance(body["negative_prompt"], str):
            return _error(400, "negative_prompt must be a string")
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
        spec = fake._spec_for(body, audio=not (fault and fault.no_audio))
        video = make_mp4(None, spec.width, spec.height, spec.frames, spec.fps, spec.audio)
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
            return _json_reply(200, {"status": "COMPLETED", "output": fake.video_url(request_id)}, headers)
        return _Reply(200, video, "video/mp4", headers)

    def _on_submit(self, fault: Fault | None, body: Any, model: str) -> _Reply:
        problem = self._check_run(model, body)
        if problem:
            return problem
        fake = self.fake
        request_id = str(uuid.uuid4())
        job = Job(request_id, model, body, fake._spec_for(body, audio=not (fault and fault.no_audio)),
                  fails=bool(fault and fault.job_fails))
        with fake.lock:
            fake.jobs[request_id] = job
            fake._files[request_id] = job.spec
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

    def _job_state(self, job: Job) -> str:
        if job.polls >= self.fake.polls_until_done:
            return "FAILED" if job.fails else "COMPLETED"
        return "QUEUED" if job.polls == 0 else "PROCESSING"

    @staticmethod
    def _failed(job: Job) -> _Reply:
        return _json_reply(422, {"status": "FAILED", "error": f"Generation failed for request {job.request_id}",
                                 "metrics": {"queue_time": 0.01}})

    def _on_status(self, fault: Fault | None, body: Any, request_id: str) -> _Reply:
        job = self._check_auth() or self._job(request_id)
        if isinstance(job, _Reply):
            return job
        with self.fake.lock:
            state = self._job_state(job)
            job.polls += 1
        if state == "FAILED":
            return self._failed(job)
        return _json_reply(200, {"status": state, "metrics": self.fake._metrics(state == "COMPLETED")})

    def _on_result(self, fault: Fault | None, body: Any, request_id: str) -> _Reply:
        job = self._check_auth() or self._job(request_id)
        if isinstance(job, _Reply):
            return job
        fake = self.fake
        with fake.lock:
            state = self._job_state(job)
        if state == "FAILED":
            return self._failed(job)
        if state != "COMPLETED":
            return _json_reply(200, {"status": state, "metrics": fake._metrics(False)})
        url = fake.video_url(job.request_id)
        output: Any = {"url": url, "list": [url], "dict": {"video": url}}[fake.output_shape]
        return _json_reply(200, {"status": "COMPLETED", "metrics": fake._metrics(True), "output": output})

    def _on_download(self, fault: Fault | None, body: Any, name: str) -> _Reply:
        with self.fake.lock:
            spec = self.fake._files.get(name)
        if spec is None:
            return _html_reply(404, "Not Found")
        audio = spec.audio and not (fault and fault.no_audio)
        return _Reply(200, make_mp4(None, spec.width, spec.height, spec.frames, spec.fps, audio), "video/mp4")

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
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--polls", type=int, default=3, help="status calls before COMPLETED")
    parser.add_argument("--poll-delay", type=float, default=0.0,
                        help="seconds each status answer takes, to watch the waiting state")
    args = parser.parse_args()
    with FakeSegmind(polls_until_done=args.polls, port=args.port) as server:
        if args.poll_delay:
            server.fault("status", delay=args.poll_delay, times=10**6)
        print(f"SEGMIND_API_BASE={server.api_base} SEGMIND_STORAGE_BASE={server.storage_base} "
              f"SEGMIND_API_KEY={server.api_key}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
