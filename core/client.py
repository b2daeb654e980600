"""HTTP client for Segmind: storage upload, v1 sync run, v2 submit/poll/result, download.

Billing rules (API.md) shape the retry policy: GETs and uploads are free and retried on
network errors, 429 and 5xx; a run is billed once accepted and there is no idempotency
key, so a submit is retried only when it provably created no job (the connection was
never made, or the server answered 429/5xx)."""
from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .credentials import redact
from .params import DEFAULT_RUNTIME_SECONDS
from .errors import (Cancelled, SegmindAPIError, SegmindError, SegmindJobFailed,
                     SegmindNetworkError, SegmindTimeoutError, VideoError)

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.segmind.com"
DEFAULT_STORAGE_BASE = "https://workflows-api.segmind.com"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ENDED_WITHOUT_VIDEO = frozenset({"FAILED", "ERROR", "CANCELLED", "CANCELED", "EXPIRED", "TIMEOUT"})
_CHUNK = 1 << 20
# How long a Cancel waits for a finished v1 clip that is downloading: long enough for a
# clip (tens of MB), short enough that a stalled connection does not hold ComfyUI.
V1_SAVE_GRACE_SECONDS = 60.0

EventCallback = Callable[[str, dict], None]


@dataclass
class ClientConfig:
    api_base: str = DEFAULT_API_BASE
    storage_base: str = DEFAULT_STORAGE_BASE
    connect_timeout: float = 15.0
    read_timeout: float = 60.0          # any single answer except the v1 run itself
    poll_interval: float = 2.0          # first status poll gap; grows to poll_interval_max
    poll_interval_max: float = 8.0
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
        # Shorter waits for a local stand-in server (tests, debugging); never needed in use.
        poll = _env_seconds("SEGMIND_LTX2_POLL_INTERVAL")
        if poll is not None:
            cfg.poll_interval, cfg.poll_interval_max = poll, max(poll, min(cfg.poll_interval_max, 4 * poll))
        backoff = _env_seconds("SEGMIND_LTX2_BACKOFF_MAX")
        if backoff is not None:
            cfg.backoff_max, cfg.backoff_base = backoff, min(cfg.backoff_base, backoff)
        for k, v in overrides.items():
            setattr(cfg, k, v)
        return cfg


def _env_seconds(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise SegmindError(f"{name} is {raw!r}: set it to a number of seconds between 0 and 3600, or unset it.")
    return value


@dataclass
class SubmittedJob:
    request_id: str
    model: str
    submitted_at: float = field(default_factory=time.time)


@dataclass
class RunInfo:
    """What the service reported about a run (any field may be missing)."""
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
            val = _as_float(metrics.get(name))
            if val is not None:
                setattr(self, name, val)


def _as_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def error_text(resp: Any, key: str | None = None) -> str:
    """The server's own error message from any body: JSON, HTML or empty. Never raises."""
    try:
        raw = resp.content or b""
    except Exception:  # a body that broke mid-read still deserves a message
        raw = b""
    text = raw[:20000].decode("utf-8", "replace").strip()
    msg = ""
    if text.startswith("{") or text.startswith("["):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            for name in ("error", "message", "detail", "msg"):
                val = obj.get(name)
                if val:
                    msg = val if isinstance(val, str) else json.dumps(val)
                    break
            else:
                msg = text
        elif obj is not None:
            msg = text
    if not msg and text:
        # HTML error pages: keep the title or the visible text, not the markup.
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        body = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        msg = " ".join(body.split())
    if len(msg) > 500:
        msg = msg[:500] + "..."
    return redact(msg, key)


def extract_video_ref(obj: Any) -> tuple[str, str] | None:
    """Find the video in any answer shape API.md lists: a URL string, a list of them, a
    dict holding one (under output/video/url/...), a data: URI or bare base64."""
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
            found = extract_video_ref(item)
            if found:
                return found
        return None
    if isinstance(obj, dict):
        preferred = ("output", "video", "video_url", "url", "outputs", "result", "data", "file_url", "urls", "file_urls")
        for name in preferred:
            if name in obj:
                found = extract_video_ref(obj[name])
                if found:
                    return found
        for name, value in obj.items():
            if name not in preferred and name not in ("status_url", "response_url", "poll_url"):
                found = extract_video_ref(value)
                if found:
                    return found
    return None


def parse_reset_at(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from an x-rate-limit-reset-at-utc header (ISO 8601, HTTP date or epoch)."""
    if not value:
        return None
    now = time.time() if now is None else now
    value = value.strip()
    try:
        stamp = float(value)
        return max(0.0, stamp - now) if stamp > 1e9 else max(0.0, stamp)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return max(0.0, dt.timestamp() - now)
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _is_text(resp: Any) -> bool:
    """A JSON or text answer (an error, or a v1 answer naming the video) rather than the video."""
    ctype = resp.headers.get("Content-Type", "").lower()
    return "json" in ctype or "text" in ctype


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc.lower()


def _key_safe_session(segmind_hosts: frozenset[str]) -> Any:
    """A requests Session that drops x-api-key when a redirect leaves Segmind's hosts (or
    drops to plain http). requests strips only `Authorization` on such redirects, so a
    result URL redirecting to a CDN or S3 would otherwise carry the key there."""
    import requests
    from urllib.parse import urlsplit

    class _Session(requests.Session):
        def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
            super().rebuild_auth(prepared_request, response)
            new, old = urlsplit(prepared_request.url), urlsplit(response.request.url)
            downgraded = old.scheme == "https" and new.scheme != "https"
            if new.netloc.lower() not in segmind_hosts or downgraded:
                prepared_request.headers.pop("x-api-key", None)

    return _Session()


def _never_reached_server(exc: BaseException) -> bool:
    """True only when the request provably was not delivered (so resending cannot bill twice)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, ConnectTimeoutError)):
            return True
        if isinstance(cur, BaseException):
            stack.extend(cur.args)
            stack.append(getattr(cur, "reason", None))
            stack.append(cur.__cause__)
            stack.append(cur.__context__)
    return False


def _content_length(headers: Any) -> int | None:
    """The body size to check a download against, or None when it cannot be known: no or
    a malformed header (the bytes are still saved and checked as a video), or a
    Content-Encoding, where the header counts compressed bytes but requests yields the
    decoded ones."""
    if (headers.get("Content-Encoding") or "identity").strip().lower() != "identity":
        return None
    values = {v.strip() for v in str(headers.get("Content-Length") or "").split(",") if v.strip()}
    if len(values) != 1:
        return None
    value = values.pop()
    return int(value) if value.isdigit() and int(value) > 0 else None


class SegmindClient:
    """One client per node run. `cancel_check` returning True aborts any wait within
    ~0.2 s; `on_event(kind, data)` reports progress (kinds: uploading, submitted,
    status, downloading, downloaded, retry)."""

    def __init__(self, api_key: str, config: ClientConfig | None = None, *,
                 cancel_check: Callable[[], bool] | None = None,
                 on_event: EventCallback | None = None,
                 session: Any = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self._key = api_key
        self.config = config or ClientConfig.from_env()
        self._cancel_check = cancel_check or (lambda: False)
        self._on_event = on_event or (lambda kind, data: None)
        # honours HTTP(S)_PROXY from the environment
        self._session = session or _key_safe_session(
            frozenset({_host(self.config.api_base), _host(self.config.storage_base)}))
        self._sleep_fn = sleep
        self._abort = threading.Event()
        self._local = threading.local()  # .shield: see _shielded

    # -- plumbing -----------------------------------------------------------------------
    def emit(self, kind: str, **data: Any) -> None:
        if self._abort.is_set():
            return  # cancelled: the node is gone; a late save on the HTTP thread must not update it
        self._on_event(kind, data)

    def check_cancel(self) -> None:
        if not self._cancel_check():
            return
        shield = getattr(self._local, "shield", None)
        if shield is not None:  # saving a paid v1 clip: it has no other way back (see _shielded)
            if shield["seen"] is None:
                shield["seen"] = time.monotonic()
            if shield["grace"] is None or time.monotonic() - shield["seen"] < shield["grace"]:
                return
        self._abort.set()
        raise Cancelled("Cancelled by the user.")

    @contextlib.contextmanager
    def _shielded(self, grace: float | None) -> Iterator[None]:
        """Within: Cancel is honoured on this thread only `grace` seconds after it is
        pressed (None: not at all). Only for saving the clip of a v1 run, which is paid for
        and has no id to fetch it by later: its download (seconds) is waited for, so the
        clip is on disk before Cancel takes effect; a stalled one does not hold ComfyUI."""
        before = getattr(self._local, "shield", None)
        self._local.shield = {"grace": grace, "seen": None}
        try:
            yield
        finally:
            self._local.shield = before

    def _sleep(self, seconds: float) -> None:
        """Sleep in short slices so Cancel is honoured within about 0.2 s."""
        if self._sleep_fn is not None:
            self.check_cancel()
            self._sleep_fn(seconds)
            return
        end = time.monotonic() + seconds
        while True:
            self.check_cancel()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.2, left))

    def _in_worker(self, fn: Callable[[], Any]) -> Any:
        """Run a blocking HTTP call on a daemon thread and wait for it in cancellable
        slices: requests cannot be interrupted, but the user must not wait for it."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # re-raised on the caller's thread
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, daemon=True, name="segmind-http").start()
        while not done.wait(0.2):
            self.check_cancel()
        self.check_cancel()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _headers(self, url: str, json_body: bool = True) -> dict[str, str]:
        h = {"Accept": "application/json, video/mp4, */*"}
        # Result files may live on a CDN or S3: the key goes only to Segmind's own hosts.
        if _host(url) in (_host(self.config.api_base), _host(self.config.storage_base)):
            h["x-api-key"] = self._key
        if json_body:
            h["Content-Type"] = "application/json"
        return h

    def _request(self, method: str, url: str, *, stage: str, billed: bool,
                 json_body: Any = None, read_timeout: float | None = None,
                 stream: bool = False, request_id: str | None = None,
                 accept: Callable[[Any], Any] | None = None,
                 on_attempt: Callable[[bool], None] | None = None) -> Any:
        """One logical call with the retry policy. Returns a 2xx response, or what
        `accept(response)` returns: `accept` runs on the HTTP thread as soon as a 2xx
        arrives, so it still runs when the user cancelled while the call was in flight.
        `on_attempt(True)` runs just before each attempt is sent, `on_attempt(False)` on
        the HTTP thread once that attempt is over (after `accept`), even after a Cancel."""
        import requests

        def call() -> tuple[Any, Any]:
            try:
                resp = self._session.request(method, url, headers=self._headers(url, json_body is not None),
                                             json=json_body, timeout=timeout, stream=stream)
                return resp, (accept(resp) if accept is not None and resp.status_code < 300 else None)
            finally:
                if on_attempt is not None:
                    on_attempt(False)

        cfg = self.config
        attempts = cfg.submit_attempts if billed else cfg.get_attempts
        timeout = (cfg.connect_timeout, read_timeout or cfg.read_timeout)
        last_exc: BaseException | None = None
        for attempt in range(1, attempts + 1):
            self.check_cancel()
            if on_attempt is not None:
                on_attempt(True)
            try:
                resp, accepted = self._in_worker(call)
            except Cancelled:
                raise
            except requests.exceptions.RequestException as exc:
                last_exc = exc
                if billed and not _never_reached_server(exc):
                    raise SegmindNetworkError(
                        f"The connection to Segmind broke during {stage} after the request was sent, "
                        "so the job may have started and been billed. It is not resent automatically "
                        "(that could bill twice): check your Segmind dashboard before queueing again. "
                        f"Detail: {redact(type(exc).__name__, self._key)}") from None
                if attempt < attempts:
                    wait = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1))
                    self.emit("retry", stage=stage, attempt=attempt, wait=wait, reason=type(exc).__name__)
                    self._sleep(wait)
                    continue
                break
            if resp.status_code < 300:
                return accepted if accept is not None else resp
            if resp.status_code in RETRY_STATUSES and attempt < attempts:
                if resp.status_code == 429:
                    wait = parse_reset_at(resp.headers.get("x-rate-limit-reset-at-utc"))
                    if wait is None:
                        wait = min(cfg.backoff_max, 10.0 * attempt)
                    elif wait > cfg.rate_limit_wait_max:
                        raise self._api_error(resp, stage, request_id)
                    else:
                        wait += 0.5  # past the reset instant, not on it (clocks differ slightly)
                else:
                    wait = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1))
                self.emit("retry", stage=stage, attempt=attempt, wait=wait, reason=f"HTTP {resp.status_code}")
                resp.close()
                self._sleep(wait)
                continue
            raise self._api_error(resp, stage, request_id)
        raise SegmindNetworkError(
            f"Could not reach Segmind for {stage} after {attempts} tries "
            f"({type(last_exc).__name__ if last_exc else 'no answer'}). Check the internet connection, "
            "proxy settings (HTTPS_PROXY) or SEGMIND_API_BASE, then queue again.")

    def _api_error(self, resp: Any, stage: str, request_id: str | None) -> SegmindAPIError:
        msg = error_text(resp, self._key)
        cls = SegmindJobFailed if resp.status_code == 422 else SegmindAPIError
        return cls(resp.status_code, msg, stage, request_id)

    def _json(self, resp: Any, stage: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise SegmindError(
                f"Segmind answered {stage} with something that is not JSON "
                f"({resp.headers.get('Content-Type', 'no content type')}): {error_text(resp, self._key)[:200]}") from None

    # -- calls ----------------------------------------------------------------------------
    def upload_image(self, data_url: str) -> str:
        """Store an input image with Segmind and return its URL (the model takes URLs)."""
        self.emit("uploading", size=len(data_url))
        url = f"{self.config.storage_base}/upload-asset"
        resp = self._request("POST", url, stage="image upload", billed=False,
                             json_body={"data_urls": [data_url]})
        body = self._json(resp, "image upload")
        urls = None
        if isinstance(body, dict):
            urls = body.get("file_urls") or body.get("urls") or body.get("url")
        ref = extract_video_ref(urls) if urls else None
        if not ref or ref[0] != "url":
            raise SegmindError(f"Segmind's image upload returned no file URL (answer: {redact(str(body)[:200], self._key)}).")
        return ref[1]

    def run_sync(self, model: str, body: dict, dest: Path, timeout: float,
                 on_attempt: Callable[[bool], None] | None = None,
                 on_late_clip: Callable[[Path, RunInfo], None] | None = None) -> RunInfo:
        """v1: one request held open for the whole run; the answer is the video itself.
        `on_attempt`: see _request. `on_late_clip(dest, info)` runs on the HTTP thread when
        the clip of a run cancelled meanwhile has been saved (so the caller can keep it)."""
        url = f"{self.config.api_base}/v1/{model}"
        self.emit("status", status="PROCESSING", elapsed=0.0, mode="sync")

        def keep_if_cancelled(resp: Any) -> Any:
            # On the HTTP thread: a v1 answer that arrives after Cancel is still the paid
            # clip, and v1 gives no id to collect it by later, so it is saved anyway.
            if self._abort.is_set():
                try:
                    self._save_sync_answer(resp, dest, grace=None)  # nobody waits on this thread
                except Exception as exc:  # nobody is waiting on this thread: tell the log
                    log.warning("Segmind: the clip of a cancelled v1 run could not be saved (%s).", exc)
                else:
                    self._late_clip(on_late_clip, dest, resp)
            return resp

        sent: list[bool] = []

        def attempt(starting: bool) -> None:
            if starting:
                sent.append(True)
            if on_attempt is not None:
                on_attempt(starting)

        try:
            return self._run_sync_answer(
                self._request("POST", url, stage="run (v1 sync)", billed=True, json_body=body,
                              read_timeout=timeout, stream=True, accept=keep_if_cancelled,
                              on_attempt=attempt), dest, on_late_clip)
        except Cancelled:
            if not sent:
                raise
            if dest.exists():
                raise Cancelled(f"Cancelled. Segmind had already finished (and billed) this v1 run: its "
                                f"clip is saved as {dest}. Queue the same graph again to use it without "
                                "paying again (the result cache keeps it unless it is turned off).") from None
            raise Cancelled(f"Cancelled. Segmind finishes (and bills) a v1 run it has started; "
                            f"its clip will still be saved as {dest} when it arrives, and queueing the "
                            "same graph again uses it instead of paying again (unless the result "
                            "cache is turned off).") from None

    @staticmethod
    def _sync_info(resp: Any) -> RunInfo:
        info = RunInfo(request_id=resp.headers.get("x-request-id"),
                       cost=_as_float(resp.headers.get("x-cost")),
                       remaining_credits=_as_float(resp.headers.get("x-remaining-credits")),
                       inference_time=_as_float(resp.headers.get("x-generation-time")))
        seed = _as_float(resp.headers.get("x-seed-value"))
        info.seed = int(seed) if seed is not None else None
        return info

    def _late_clip(self, hook: Callable[[Path, RunInfo], None] | None, dest: Path, resp: Any) -> None:
        if hook is None or not dest.exists():
            return
        try:
            hook(dest, self._sync_info(resp))
        except Exception as exc:  # on the HTTP thread: nobody is there to catch it
            log.warning("Segmind: could not keep the late clip %s (%s).", dest, exc)

    def _run_sync_answer(self, resp: Any, dest: Path,
                         on_late_clip: Callable[[Path, RunInfo], None] | None = None) -> RunInfo:
        info = self._sync_info(resp)
        payload = self._save_sync_answer(resp, dest, V1_SAVE_GRACE_SECONDS,
                                         late=lambda: self._late_clip(on_late_clip, dest, resp))
        if isinstance(payload, dict):
            info.merge_metrics(payload.get("metrics", payload))
        if self._cancel_check():  # pressed while the clip was saving: it is kept, then Cancel
            self._late_clip(on_late_clip, dest, resp)
            self.check_cancel()
        return info

    def _save_sync_answer(self, resp: Any, dest: Path, grace: float | None,
                          late: Callable[[], None] | None = None) -> Any:
        """Save the video a v1 answer carries (the body itself, or JSON with a URL or
        base64) to dest, shielded from Cancel for `grace` seconds; returns the JSON payload,
        if any. `late` runs on the HTTP thread if the body is still saving when the grace
        runs out, once it is saved."""
        with self._shielded(grace):
            if not _is_text(resp):
                self._stream_to(resp, dest, stage="run (v1 sync)", keep_on_cancel=True, after_cancel=late)
                return None
            payload = self._json(resp, "run (v1 sync)")
            ref = extract_video_ref(payload)
            if not ref:
                raise VideoError(f"Segmind's v1 answer holds no video (answer: {redact(str(payload)[:200], self._key)}).")
            self.save_output(ref, dest, keep_on_cancel=True)
            return payload

    def submit(self, model: str, body: dict,
               on_accepted: Callable[[SubmittedJob], None] | None = None,
               on_attempt: Callable[[bool], None] | None = None) -> SubmittedJob:
        """v2: queue the job. Once accepted the run is billed; never call it twice.
        `on_accepted(job)` runs as soon as Segmind answers, even if the user cancelled
        meanwhile, so the caller can record the paid job before anything else happens.
        `on_attempt(in_flight)`: see _request; tells when a submit is on the wire."""
        url = f"{self.config.api_base}/v2/{model}"

        def accept(resp: Any) -> SubmittedJob:
            try:
                data = self._json(resp, "submit")
            except SegmindError as exc:  # a 200 is billed: say so, and never resend
                raise SegmindError(f"{exc} The job may have been accepted and billed, but no request id "
                                   "arrived: check your Segmind dashboard before queueing again.") from None
            rid = data.get("request_id") if isinstance(data, dict) else None
            if not rid:
                raise SegmindError(
                    "Segmind accepted the job but returned no request_id, so its result cannot be "
                    "fetched; check your Segmind dashboard before queueing again "
                    f"(answer: {redact(str(data)[:200], self._key)}).")
            job = SubmittedJob(request_id=str(rid), model=model)
            if on_accepted is not None:
                on_accepted(job)
            return job

        job = self._request("POST", url, stage="submit", billed=True, json_body=body, accept=accept,
                            on_attempt=on_attempt)
        self.emit("submitted", request_id=job.request_id)
        return job

    def wait(self, job: SubmittedJob, timeout: float, started: float | None = None,
             expected_seconds: float = DEFAULT_RUNTIME_SECONDS) -> tuple[tuple[str, str], RunInfo]:
        """Poll until COMPLETED and return (video ref, info). Raises SegmindJobFailed on
        FAILED and SegmindTimeoutError (carrying the request id) when our limit runs out.
        `expected_seconds` (params.expected_runtime) drives the ETA shown while processing."""
        api = self.config.api_base
        started = time.monotonic() if started is None else started
        gap = self.config.poll_interval
        processing_since: float | None = None
        info = RunInfo(request_id=job.request_id)
        while True:
            resp = self._request("GET", f"{api}/v2/requests/{job.request_id}/status",
                                 stage="status check", billed=False, request_id=job.request_id)
            data = self._json(resp, "status check")
            status = str(data.get("status", "")).upper() if isinstance(data, dict) else ""
            info.merge_metrics(data.get("metrics") if isinstance(data, dict) else None)
            now = time.monotonic()
            if status in _ENDED_WITHOUT_VIDEO:
                # FAILED is documented; the others are what queue services say of a dead job,
                # and waiting for them until timeout_seconds would only waste the user's time.
                raise SegmindJobFailed(422, str(data.get("error") or status.lower()), "generation",
                                       job.request_id)
            if status in ("COMPLETED", "SUCCEEDED", "SUCCESS"):
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
                    f"{int(now - started)} s (timeout_seconds). It keeps running on Segmind's side and "
                    "was recorded: queue the same graph again (within an hour) to pick up its result "
                    "without paying again, or raise timeout_seconds.", request_id=job.request_id)
            self._sleep(gap)
            gap = min(self.config.poll_interval_max, gap * 1.5)
        result = data if isinstance(data, dict) and extract_video_ref(data.get("output")) else None
        if result is None:
            resp = self._request("GET", f"{api}/v2/requests/{job.request_id}", stage="result fetch",
                                 billed=False, request_id=job.request_id)
            result = self._json(resp, "result fetch")
        if isinstance(result, dict):
            info.merge_metrics(result.get("metrics"))
        ref = extract_video_ref(result.get("output") if isinstance(result, dict) and "output" in result else result)
        if not ref:
            raise VideoError(f"Segmind reports job {job.request_id} complete but its result holds no video "
                             f"(answer: {redact(str(result)[:200], self._key)}).")
        return ref, info

    def save_output(self, ref: tuple[str, str], dest: Path, keep_on_cancel: bool = False) -> None:
        kind, value = ref
        if kind == "url":
            self.download(value, dest, keep_on_cancel=keep_on_cancel)
            return
        try:
            data = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise VideoError("Segmind returned a video as base64 text that does not decode.") from None
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def download(self, url: str, dest: Path, keep_on_cancel: bool = False) -> Path:
        """Stream a result to disk, checking its length; a short file is fetched again."""
        cfg = self.config
        for attempt in range(1, cfg.get_attempts + 1):
            resp = self._request("GET", url, stage="download", billed=False, stream=True)
            ctype = resp.headers.get("Content-Type", "").lower()
            if ctype.startswith(("application/json", "text/")):
                # An error page served with 200 is not a video; it must never reach the decoder.
                raise VideoError(f"Segmind sent {ctype.split(';')[0]} where the video was expected: "
                                 f"{error_text(resp, self._key)[:200] or 'empty answer'}.")
            try:
                self._stream_to(resp, dest, stage="download", keep_on_cancel=keep_on_cancel)
                return dest
            except VideoError:
                if attempt == cfg.get_attempts:
                    raise
                self.emit("retry", stage="download", attempt=attempt, wait=1.0, reason="incomplete file")
                self._sleep(min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))
        return dest

    def _save_body(self, resp: Any, dest: Path, stage: str, keep_on_cancel: bool) -> int:
        """Write a response body to dest via a .part file, checked; runs on an HTTP thread.
        With keep_on_cancel (a v1 answer: the paid clip itself, with no id to fetch it by
        later) it carries on after Cancel, so the clip still lands on disk."""
        import requests

        total = _content_length(resp.headers)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        done = 0
        try:
            with open(tmp, "wb") as fh:
                for chunk in resp.iter_content(_CHUNK):
                    if self._abort.is_set() and not keep_on_cancel:
                        break  # the caller has raised Cancelled already
                    fh.write(chunk)
                    done += len(chunk)
                    if not self._abort.is_set():
                        self.emit("downloading", done=done, total=total)
        except requests.exceptions.RequestException as exc:
            _unlink_quietly(tmp)
            raise VideoError(f"The video download from Segmind broke off ({type(exc).__name__}) during {stage}.") from None
        except OSError as exc:  # our disk, not the network: say so, and what to do
            _unlink_quietly(tmp)
            raise VideoError(f"Could not write the video to {dest.parent} during {stage} "
                             f"({exc.strerror or type(exc).__name__}). Free some disk space or fix the "
                             "folder's permissions, then queue again (an async job already paid "
                             "for is collected without paying again).") from None
        finally:
            resp.close()
        if self._abort.is_set() and not keep_on_cancel:
            tmp.unlink(missing_ok=True)  # no half file stays
            return done
        if total is not None and done != total:
            tmp.unlink(missing_ok=True)
            raise VideoError(f"The video from Segmind arrived incomplete ({done} of {total} bytes).")
        if done == 0:
            tmp.unlink(missing_ok=True)
            raise VideoError("Segmind sent an empty video.")
        os.replace(tmp, dest)
        if self._abort.is_set():
            log.warning("Segmind: the clip of a cancelled v1 run arrived and was saved to %s.", dest)
        return done

    def _stream_to(self, resp: Any, dest: Path, stage: str, keep_on_cancel: bool = False,
                   after_cancel: Callable[[], None] | None = None) -> None:
        def save() -> int:
            done = self._save_body(resp, dest, stage, keep_on_cancel)
            if after_cancel is not None and self._abort.is_set():
                after_cancel()  # the caller has stopped waiting: this thread hands the clip over
            return done

        done = self._in_worker(save)
        self.emit("downloaded", path=str(dest), size=done)

    def credits(self) -> dict:
        resp = self._request("GET", f"{self.config.api_base}/v1/get-user-credits",
                             stage="credits check", billed=False)
        data = self._json(resp, "credits check")
        return data if isinstance(data, dict) else {"credits": data}


def _unlink_quietly(path: Path) -> None:
    """Remove a partial file; on Windows it may still be held open by a scanner."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("Segmind: could not remove the partial file %s; delete it by hand.", path)
