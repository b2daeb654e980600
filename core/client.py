"""The Segmind protocol: storage upload, v1 sync run, v2 submit/poll/result, credits, and
how each answer (or failure) is put to the user. The HTTP plumbing under it (the key's
hosts, retries, the request budget, Cancel, bounded reads, streaming to disk) is
transport.py; the budget and the polling schedule themselves are request_budget.py and
poll_schedule.py, shared through runtime.py.

Every text the server sends that can reach the user (an error, a status, a preview of an
answer) goes through `_say` / `error_text`, which redact the key in any encoding."""
from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from .credentials import redact
from .errors import (Action, SegmindAPIError, SegmindError, SegmindJobFailed, SegmindTimeoutError,
                     VideoError)
from .params import DEFAULT_RUNTIME_SECONDS, finite_number, whole_number
from .transport import (CLIP_MAX_BYTES, JSON_MAX_BYTES, SEGMIND_ORIGINS, Transport, is_loopback, megabytes,
                        origin)

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.segmind.com"
DEFAULT_STORAGE_BASE = "https://workflows-api.segmind.com"
_ENDED_WITHOUT_VIDEO = frozenset({"FAILED", "ERROR", "CANCELLED", "CANCELED", "EXPIRED", "TIMEOUT"})
_DONE = frozenset({"COMPLETED", "SUCCEEDED", "SUCCESS"})
# The largest clip a request can produce, for the size cap on its download: 8 bytes per
# pixel per frame is over five times raw 8-bit video (H.264 never comes near raw), with a
# margin for the service's rounding up to its grid (sides to 32, frames to 8k+1); plus
# raw-PCM-sized audio for the clip's length, and 16 MB for the container.
_BYTES_PER_PIXEL_FRAME = 8
_AUDIO_BYTES_PER_SECOND = 24000 * 2 * 4
_CLIP_SLACK_BYTES = 16 << 20
_MAX_DEPTH = 32  # how deep extract_video_ref looks into an answer

EventCallback = Callable[[str, dict], None]


@dataclass
class ClientConfig:
    api_base: str = DEFAULT_API_BASE
    storage_base: str = DEFAULT_STORAGE_BASE
    connect_timeout: float = 15.0
    read_timeout: float = 60.0          # any single answer except the v1 run itself
    poll_interval: float = 1.0          # densest status poll gap, near the expected end (poll_schedule.py)
    poll_interval_max: float = 15.0     # sparsest, early in a long run
    get_attempts: int = 6               # tries for a free call (GET, upload)
    submit_attempts: int = 3            # tries for a billed call, only where no job was made
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    rate_limit_wait_max: float = 90.0   # longest wait for a 429 reset before giving up

    @classmethod
    def from_env(cls, **overrides: Any) -> "ClientConfig":
        cfg = cls(
            api_base=(os.environ.get("SEGMIND_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
            storage_base=(os.environ.get("SEGMIND_STORAGE_BASE") or DEFAULT_STORAGE_BASE).rstrip("/"),
        )
        # The waits are the process runtime's (shorter ones for a local stand-in: core.runtime.Waits).
        from .runtime import current

        waits = current().waits
        cfg.poll_interval, cfg.poll_interval_max = waits.poll_interval, waits.poll_interval_max
        cfg.backoff_base, cfg.backoff_max = waits.backoff_base, waits.backoff_max
        for k, v in overrides.items():
            setattr(cfg, k, v)
        return cfg


def _base_origin(name: str, url: str):
    """The origin of a configured base, which gets the key: https, or http on this machine
    only (a local stand-in), since anything else would carry the key in clear text."""
    found = origin(url)
    if found is None:
        raise SegmindError(f"{name} is {redact(str(url))[:200]!r}: set it to an https:// address "
                           "(such as https://api.segmind.com), or unset it.")
    if found[0] == "http" and not is_loopback(found[1]):
        raise SegmindError(f"{name} is {redact(str(url))[:200]!r}: the API key would travel in clear text. "
                           "Use https:// (plain http is accepted only for a stand-in on this machine, "
                           "such as http://127.0.0.1:9100), or unset it.")
    return found


@dataclass
class SubmittedJob:
    """A job the service accepted. `request_id` is what the pack stores and shows (redacted,
    at most REQUEST_ID_MAX characters); `wire_id` the id exactly as the service sent it, kept
    only in memory for polling when it had to be redacted or cut (a service that echoes the
    key in its ids)."""
    request_id: str
    model: str
    submitted_at: float = field(default_factory=time.time)
    wire_id: str | None = None

    @property
    def poll_id(self) -> str:
        return self.wire_id or self.request_id


@dataclass
class RunInfo:
    """What the service reported about a run (any field may be missing; numbers are finite)."""
    request_id: str | None = None
    cost: float | None = None
    remaining_credits: float | None = None
    seed: int | None = None
    inference_time: float | None = None
    queue_time: float | None = None

    def merge_metrics(self, metrics: Any) -> None:
        if not isinstance(metrics, dict):
            return
        for name in ("cost", "remaining_credits", "inference_time", "queue_time"):
            val = finite_number(metrics.get(name))
            if val is not None:
                setattr(self, name, val)


def clip_size_bound(body: dict | None) -> int:
    """The most bytes a clip for this request body can reasonably be (see
    _BYTES_PER_PIXEL_FRAME), at most CLIP_MAX_BYTES; CLIP_MAX_BYTES when unknown."""
    try:
        width, height = int(body["width"]), int(body["height"])  # type: ignore[index]
        frames, fps = int(body["num_frames"]), int(body.get("fps") or 1)  # type: ignore[union-attr]
    except (KeyError, TypeError, ValueError, AttributeError):
        return CLIP_MAX_BYTES
    if min(width, height, frames) < 1:
        return CLIP_MAX_BYTES
    frames += 8
    video = (width + 32) * (height + 32) * frames * _BYTES_PER_PIXEL_FRAME
    audio = math.ceil(frames / max(1, fps)) * _AUDIO_BYTES_PER_SECOND
    return min(CLIP_MAX_BYTES, video + audio + _CLIP_SLACK_BYTES)


def _base64_cap(clip_bytes: int) -> int:
    """A JSON answer carrying the clip as base64: 4/3 of it, plus room for the rest."""
    return clip_bytes * 4 // 3 + (1 << 20)


REQUEST_ID_MAX = 200
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ue000\ue001]")


def _say(text: Any, key: str | None, limit: int = 200) -> str:
    """Server text made fit for a message or a record: the key redacted in any encoding,
    control characters (and the errors' action markers) removed, then cut to `limit`."""
    if not isinstance(text, str):
        try:
            text = json.dumps(text, default=str)
        except (TypeError, ValueError, RecursionError):
            text = "<unreadable>"
    # Cut before redacting only far past `limit`: a key (at most 256 characters, a few
    # times that when escaped) that starts within the limit is still redacted whole.
    text = _UNPRINTABLE.sub(" ", redact(text[:limit + 4096], key))
    return text[:limit] + ("..." if len(text) > limit else "")


def error_text(resp: Any, key: str | None = None) -> str:
    """The server's own error message from any body: JSON, HTML or empty. Never raises.
    The raw text is redacted before it is decoded (JSON, entities, tags) and again after."""
    try:
        raw = resp.content or b""
    except Exception:  # a body that broke mid-read still deserves a message
        raw = b""
    text = redact(raw[:20000].decode("utf-8", "replace"), key).strip()
    msg = ""
    if text.startswith("{") or text.startswith("["):
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            for name in ("error", "message", "detail", "msg"):
                val = obj.get(name)
                if val:
                    msg = val if isinstance(val, str) else _say(val, key, 2000)
                    break
            else:
                msg = text
        elif obj is not None:
            msg = text
    if not msg and text:
        # HTML error pages: keep the title or the visible text, not the markup.
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        body = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        msg = " ".join(html.unescape(body).split())
    return _say(msg, key, 500)


def extract_video_ref(obj: Any, _depth: int = 0) -> tuple[str, str] | None:
    """Find the video in any answer shape API.md lists: a URL string, a list of them, a
    dict holding one (under output/video/url/...), a data: URI or bare base64."""
    if _depth > _MAX_DEPTH:
        return None  # no answer of Segmind's nests this deep
    if isinstance(obj, str):
        s = obj.strip()
        if s.startswith(("http://", "https://")):
            return ("url", s)
        if s.startswith("data:"):
            return ("base64", s.split(",", 1)[1] if "," in s else "")
        if len(s) > 256 and re.fullmatch(r"[A-Za-z0-9+/=\s]+", s[:4096]):
            return ("base64", s)
        return None
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = extract_video_ref(item, _depth + 1)
            if found:
                return found
        return None
    if isinstance(obj, dict):
        preferred = ("output", "video", "video_url", "url", "outputs", "result", "data", "file_url", "urls", "file_urls")
        for name in preferred:
            if name in obj:
                found = extract_video_ref(obj[name], _depth + 1)
                if found:
                    return found
        for name, value in obj.items():
            if name not in preferred and name not in ("status_url", "response_url", "poll_url"):
                found = extract_video_ref(value, _depth + 1)
                if found:
                    return found
    return None


def _is_text(resp: Any) -> bool:
    """A JSON or text answer (an error, or a v1 answer naming the video) rather than the video."""
    ctype = resp.headers.get("Content-Type", "").lower()
    return "json" in ctype or "text" in ctype


class SegmindClient:
    """One client per node run. `cancel_check` returning True aborts any wait within
    ~0.2 s; `on_event(kind, data)` reports progress (kinds: uploading, submitted,
    status, downloading, downloaded, retry). `budget`: the request budget to pass through
    (default: runtime.current().budget_for(user_dir, key): shared by every process on
    `user_dir`, or by the team's machines; the process's own without a user folder)."""

    def __init__(self, api_key: str, config: ClientConfig | None = None, *,
                 cancel_check: Callable[[], bool] | None = None,
                 on_event: EventCallback | None = None,
                 session: Any = None,
                 sleep: Callable[[float], None] | None = None,
                 budget: Any = None, user_dir: Any = None) -> None:
        self._key = api_key
        self.config = config or ClientConfig.from_env()
        bases = frozenset({_base_origin("SEGMIND_API_BASE", self.config.api_base),
                           _base_origin("SEGMIND_STORAGE_BASE", self.config.storage_base)})
        self._clip_cap = 0  # the largest clip bound of a request this client sent
        self.transport = Transport(api_key, self.config, key_origins=SEGMIND_ORIGINS | bases,
                                   budget_origins=bases, cancel_check=cancel_check, on_event=on_event,
                                   api_error=self._api_error, describe=lambda resp: error_text(resp, self._key),
                                   session=session, sleep=sleep, budget=budget,
                                   user_dir=user_dir)
        self._t = self.transport

    # -- plumbing -----------------------------------------------------------------------
    def emit(self, kind: str, **data: Any) -> None:
        self._t.emit(kind, **data)

    def check_cancel(self) -> None:
        self._t.check_cancel()

    def _api_error(self, resp: Any, stage: str, request_id: str | None) -> SegmindAPIError:
        msg = error_text(resp, self._key)
        cls = SegmindJobFailed if resp.status_code == 422 else SegmindAPIError
        return cls(resp.status_code, msg, stage, request_id)

    def _json(self, resp: Any, stage: str, max_bytes: int = JSON_MAX_BYTES) -> Any:
        """The answer's JSON; any answer that cannot be used (too large, not JSON, nested
        past the parser's depth) is a SegmindError, never a raw exception."""
        self._t.read_body(resp, max_bytes)
        if getattr(resp, "segmind_too_large", False):
            raise SegmindError(f"Segmind answered {stage} with more than {megabytes(max_bytes)}, far more than "
                               "such an answer holds, so it was not read.")
        try:
            return json.loads(resp.content)
        except Exception:  # ValueError, RecursionError (deep nesting), MemoryError...
            ctype = _say(resp.headers.get("Content-Type", "no content type"), self._key, 60)
            raise SegmindError(
                f"Segmind answered {stage} with something that is not usable JSON "
                f"({ctype}): {error_text(resp, self._key)[:200]}") from None

    def _preview(self, data: Any) -> str:
        return _say(data if isinstance(data, str) else _repr(data), self._key)

    def _note_clip_cap(self, body: Any) -> int:
        cap = clip_size_bound(body if isinstance(body, dict) else None)
        self._clip_cap = max(self._clip_cap, cap)
        return cap

    def _default_cap(self, max_bytes: int | None) -> int:
        return max_bytes or self._clip_cap or CLIP_MAX_BYTES

    # -- calls ----------------------------------------------------------------------------
    def upload_image(self, data_url: str) -> str:
        """Store an input image with Segmind and return its URL (the model takes URLs)."""
        return self.upload_asset(data_url, stage="image upload")

    def upload_asset(self, data_url: str, stage: str = "image upload") -> str:
        """Store an input file (a data URL: a picture, or a clip for Retake) with Segmind's
        storage and return its URL. `stage` names the upload in errors ("video upload")."""
        self.emit("uploading", size=len(data_url))
        url = f"{self.config.storage_base}/upload-asset"
        resp = self._t.request("POST", url, stage=stage, billed=False,
                               json_body={"data_urls": [data_url]})
        body = self._json(resp, stage)
        urls = None
        if isinstance(body, dict):
            urls = body.get("file_urls") or body.get("urls") or body.get("url")
        ref = extract_video_ref(urls) if urls else None
        if not ref or ref[0] != "url":
            raise SegmindError(f"Segmind's {stage} returned no file URL (answer: {self._preview(body)}).")
        return ref[1]

    def run_sync(self, model: str, body: dict, dest: Path, timeout: float,
                 on_attempt: Callable[[bool], None] | None = None,
                 on_billed: Callable[[RunInfo], None] | None = None) -> RunInfo:
        """v1: one request held open for the whole run; the answer is the video itself.
        `on_attempt`: see Transport.request. `on_billed(info)` runs on the HTTP thread the
        moment a 2xx answer's headers arrive: the run is billed from then on, whatever
        happens to its body. Whether a Cancel may stop this call is the lifecycle's
        decision (core/lifecycle.py), made through `cancel_check`."""
        url = f"{self.config.api_base}/v1/{model}"
        cap = self._note_clip_cap(body)
        self.emit("status", status="PROCESSING", elapsed=0.0, mode="sync")

        def billed(resp: Any) -> Any:
            if on_billed is not None:
                on_billed(self._sync_info(resp))
            return resp

        resp = self._t.request("POST", url, stage="run (v1 sync)", billed=True, json_body=body,
                               read_timeout=timeout, stream=True, accept=billed, on_attempt=on_attempt)
        # The paid clip first: nothing in the answer's metadata may stop it reaching the disk.
        payload = self._save_sync_answer(resp, dest, max_bytes=cap)
        info = self._sync_info(resp)
        if isinstance(payload, dict):
            info.merge_metrics(payload.get("metrics", payload))
        return info

    def _sync_info(self, resp: Any) -> RunInfo:
        """What a v1 answer's headers say; never raises."""
        headers = resp.headers
        rid = headers.get("x-request-id")
        return RunInfo(request_id=_say(rid, self._key, 200) if rid else None,
                       cost=finite_number(headers.get("x-cost")),
                       remaining_credits=finite_number(headers.get("x-remaining-credits")),
                       inference_time=finite_number(headers.get("x-generation-time")),
                       seed=whole_number(headers.get("x-seed-value")))

    def _save_sync_answer(self, resp: Any, dest: Path, max_bytes: int) -> Any:
        """Save the video a v1 answer carries (the body itself, or JSON with a URL or
        base64) to dest; returns the JSON payload, if any. Every read keeps its size cap."""
        if not _is_text(resp):
            self._t.stream_to(resp, dest, stage="run (v1 sync)", max_bytes=max_bytes)
            return None
        try:
            payload = self._json(resp, "run (v1 sync)", max_bytes=_base64_cap(max_bytes))
        except SegmindError as exc:  # a 200 is billed, and v1 gives no id to fetch the clip by
            raise SegmindError(f"{exc} Segmind answered 200, so this v1 run was billed, but its clip "
                               "cannot be taken from that answer.") from None
        ref = extract_video_ref(payload)
        if not ref:
            raise VideoError(f"Segmind's v1 answer holds no video (answer: {self._preview(payload)}).")
        self.save_output(ref, dest, max_bytes=max_bytes)
        return payload

    def submit(self, model: str, body: dict,
               on_accepted: Callable[[SubmittedJob], None] | None = None,
               on_attempt: Callable[[bool], None] | None = None) -> SubmittedJob:
        """v2: queue the job. Once accepted the run is billed; never call it twice.
        `on_accepted(job)` runs as soon as Segmind answers, even if the user cancelled
        meanwhile, so the caller can record the paid job before anything else happens.
        `on_attempt(in_flight)`: see Transport.request; tells when a submit is on the wire."""
        url = f"{self.config.api_base}/v2/{model}"
        self._note_clip_cap(body)

        def accept(resp: Any) -> SubmittedJob:
            try:
                data = self._json(resp, "submit")
            except SegmindError as exc:  # a 200 is billed: say so, and never resend
                raise SegmindError(f"{exc} The job may have been accepted and billed, but no request id "
                                   f"arrived: check your Segmind dashboard before you {Action.RETRY}.", billed=True) from None
            rid = data.get("request_id") if isinstance(data, dict) else None
            if isinstance(rid, bool) or not isinstance(rid, (str, int)) or not str(rid).strip():
                raise SegmindError(
                    "Segmind answered the submit without a request_id, so its result cannot be fetched. "
                    "The job may have been accepted and billed: check your Segmind dashboard before you "
                    f"{Action.RETRY} (answer: {self._preview(data)}).", billed=True)
            wire = str(rid).strip()
            shown = _say(wire, self._key, REQUEST_ID_MAX)
            job = SubmittedJob(request_id=shown, model=model, wire_id=wire if shown != wire else None)
            if on_accepted is not None:
                on_accepted(job)
            return job

        job = self._t.request("POST", url, stage="submit", billed=True, json_body=body, accept=accept,
                              on_attempt=on_attempt)
        self.emit("submitted", request_id=job.request_id)
        return job

    def _status_of(self, data: Any) -> str:
        raw = data.get("status") if isinstance(data, dict) else None
        return _say(raw, self._key, 40).upper() if isinstance(raw, str) else ""

    def _ended_without_video(self, status: str, data: dict, request_id: str, http_status: int) -> SegmindJobFailed:
        said = _say(data.get("error") or data.get("message") or "", self._key, 500)
        exc = SegmindJobFailed(http_status, said, "generation", request_id)
        # The text errors.SegmindAPIError builds names an HTTP status; this answer was a
        # normal 200 whose body says the job is over, so the message says that instead.
        text = (f"Segmind reports that job {request_id} ended as {status.lower()}, without a video "
                "(the generation did not succeed).")
        if said:
            text += f" Server said: {said}"
        exc.args = (text,)
        return exc

    def wait(self, job: SubmittedJob, timeout: float, started: float | None = None,
             expected_seconds: float = DEFAULT_RUNTIME_SECONDS) -> tuple[tuple[str, str], RunInfo]:
        """Poll until COMPLETED and return (video ref, info). Raises SegmindJobFailed on
        FAILED and SegmindTimeoutError (carrying the request id) when our limit runs out.
        `expected_seconds` (params.expected_runtime) drives the ETA shown while processing
        and the polling schedule (poll_schedule.py)."""
        from .runtime import current

        polls = current().polls
        api = self.config.api_base
        rid = quote(job.poll_id, safe="")  # a server-given id stays one path segment
        started = time.monotonic() if started is None else started
        processing_since: float | None = None
        info = RunInfo(request_id=job.request_id)
        if time.time() - job.submitted_at < 1.0:
            # Just accepted (the answer said QUEUED): the first look can wait for the schedule.
            # Slept as every later gap, so a floor that falls meanwhile (jobs ended) wakes it.
            polls.sleep(polls.gap(elapsed=0.0, expected=expected_seconds, first=self.config.poll_interval,
                                  longest=self.config.poll_interval_max, budget=self._t.budget),
                        elapsed=0.0, expected=expected_seconds, sleep=self._t.sleep)
        while True:
            resp = self._t.request("GET", f"{api}/v2/requests/{rid}/status", stage="status check",
                                   billed=False, request_id=job.request_id, kind="poll")
            data = self._json(resp, "status check")
            status = self._status_of(data)
            info.merge_metrics(data.get("metrics") if isinstance(data, dict) else None)
            now = time.monotonic()
            if status in _ENDED_WITHOUT_VIDEO:
                # FAILED is documented (with HTTP 422, see _api_error); the others are what queue
                # services say of a dead job, and waiting for them until timeout_seconds would
                # only waste the user's time.
                raise self._ended_without_video(status, data, job.request_id, resp.status_code)
            if status in _DONE:
                break
            if status == "PROCESSING" and processing_since is None:
                processing_since = now
            eta = None
            if processing_since is not None:
                eta = max(0.0, expected_seconds - (now - processing_since))
            self.emit("status", status=status or "QUEUED", elapsed=now - started, eta=eta,
                      expected=expected_seconds, request_id=job.request_id)
            if now - started > timeout:
                raise SegmindTimeoutError(
                    f"Segmind job {job.request_id} is still {status.lower() or 'queued'} after "
                    f"{int(now - started)} s ({Action.SET_FIELD('timeout_seconds')}). It keeps running on "
                    f"Segmind's side and was recorded: {Action.RUN_AGAIN} (within an hour) to pick up its "
                    f"result without paying again, or raise {Action.SET_FIELD('timeout_seconds')}.",
                    request_id=job.request_id, billed=True)
            gap = polls.gap(elapsed=now - started, expected=expected_seconds, first=self.config.poll_interval,
                            longest=self.config.poll_interval_max, budget=self._t.budget)
            # Jobs sent together finish together: another one completing wakes this one early.
            polls.sleep(gap, elapsed=now - started, expected=expected_seconds, sleep=self._t.sleep)
        took = (time.monotonic() - processing_since if processing_since is not None
                else time.time() - job.submitted_at)
        try:
            polls.job_finished(expected=expected_seconds, took=took)
        except Exception as exc:  # learning the schedule must never cost a finished clip
            log.warning("Segmind: could not note the job's run time (%s).", exc)
        result = data if isinstance(data, dict) and extract_video_ref(data.get("output")) else None
        if result is None:
            resp = self._t.request("GET", f"{api}/v2/requests/{rid}", stage="result fetch",
                                   billed=False, request_id=job.request_id)
            result = self._json(resp, "result fetch")
        if isinstance(result, dict):
            info.merge_metrics(result.get("metrics"))
        ref = extract_video_ref(result.get("output") if isinstance(result, dict) and "output" in result else result)
        if not ref:
            raise VideoError(f"Segmind reports job {job.request_id} complete but its result holds no video "
                             f"(answer: {self._preview(result)}).")
        return ref, info

    def save_output(self, ref: tuple[str, str], dest: Path, max_bytes: int | None = None) -> None:
        """Save a result (URL or base64) to dest, at most `max_bytes` (default: the bound of
        the largest request this client sent, see clip_size_bound, else CLIP_MAX_BYTES)."""
        cap = self._default_cap(max_bytes)
        kind, value = ref
        if kind == "url":
            self.download(value, dest, max_bytes=cap)
            return
        text = "".join(value.split())
        if len(text) // 4 * 3 > cap:
            raise VideoError(f"Segmind returned a video as base64 text of more than {megabytes(cap)}, more than "
                             "a clip of the requested size can take, so it was not kept.")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise VideoError("Segmind returned a video as base64 text that does not decode.") from None
        if not data:
            raise VideoError("Segmind sent an empty video.")
        self._t.write_file(dest, data, stage="save")

    def download(self, url: str, dest: Path, max_bytes: int | None = None) -> Path:
        """Stream a result to disk, checking its length and size; a short file is fetched again."""
        return self._t.download(url, dest, max_bytes=self._default_cap(max_bytes))

    def credits(self) -> dict:
        resp = self._t.request("GET", f"{self.config.api_base}/v1/get-user-credits",
                               stage="credits check", billed=False)
        data = self._json(resp, "credits check")
        if not isinstance(data, dict):
            data = {"credits": data}
        # Non-finite numbers (JSON NaN, Infinity) never leave the client; service text leaves it
        # redacted, without control characters and bounded (it is printed: --check-key).
        return {_say(k, self._key, 40): (finite_number(v) if isinstance(v, float)
                                         else _say(v, self._key, 80) if isinstance(v, str) else v)
                for k, v in data.items()}


def _repr(data: Any) -> str:
    try:
        return str(data)
    except (RecursionError, ValueError):
        return "<unreadable>"
