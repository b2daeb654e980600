"""HTTP transport to Segmind: which requests carry the key, the retry policy, the request
budget every call to a Segmind host passes through, cancellable waits, and bounded reads
(JSON in memory, a clip streamed to disk). What the endpoints mean, and how their answers
are worded for the user, is client.py's business (the Segmind protocol).

Billing rules (API.md) shape the retry policy: GETs and uploads are free and retried on
network errors, 429 and 5xx; a run is billed once accepted and there is no idempotency
key, so a billed call is resent only when it provably created no job (the connection was
never made, or the server answered 429/5xx)."""
from __future__ import annotations

import email.utils
import errno
import ipaddress
import logging
import math
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol
from urllib.parse import urlsplit

from .credentials import redact
from .errors import Action, Cancelled, SegmindError, SegmindNetworkError, VideoError

if TYPE_CHECKING:
    from .request_budget import RequestBudget

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Segmind's own hosts: the key may go there (over https only) even when a base is configured.
SEGMIND_ORIGINS = frozenset({("https", "api.segmind.com", 443), ("https", "workflows-api.segmind.com", 443)})
JSON_MAX_BYTES = 8 << 20         # any JSON answer; Segmind's are a few hundred bytes
ERROR_BODY_MAX_BYTES = 64 << 10  # an error body: only its message is shown
CLIP_MAX_BYTES = 2 << 30         # a clip, when the request it answers is not known
MAX_REDIRECTS = 5
_CHUNK = 1 << 20
_READ_CHUNK = 64 << 10

Origin = tuple[str, str, int]
EventCallback = Callable[[str, dict], None]


class RetrySettings(Protocol):
    """The part of ClientConfig the transport uses."""
    connect_timeout: float
    read_timeout: float
    get_attempts: int
    submit_attempts: int
    backoff_base: float
    backoff_max: float
    rate_limit_wait_max: float


class RefusedURL(Exception):
    """A URL (handed over by the server, or a redirect) that is not http(s)."""

    def __init__(self, url: str) -> None:
        super().__init__("refused URL scheme")
        scheme = urlsplit(url).scheme if isinstance(url, str) else ""
        self.scheme = scheme.lower()[:20] or "scheme-less"


class _IncompleteBody(VideoError):
    """The body broke off or came short: fetching it again may help (a GET is free)."""


def origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except (ValueError, TypeError, AttributeError):
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    return scheme, host, port or (443 if scheme == "https" else 80)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_reset_at(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from an x-rate-limit-reset-at-utc header (ISO 8601, HTTP date or epoch)."""
    if not value:
        return None
    now = time.time() if now is None else now
    value = value.strip()
    try:
        stamp = float(value)
    except ValueError:
        stamp = None
    if stamp is not None:
        if not math.isfinite(stamp):
            return None
        return max(0.0, stamp - now) if stamp > 1e9 else max(0.0, stamp)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return max(0.0, dt.timestamp() - now)
    except (ValueError, OverflowError):
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, OverflowError):
        return None


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


def key_safe_session(key_origins: frozenset[Origin]) -> Any:
    """A requests Session that follows at most MAX_REDIRECTS redirects, never to anything
    but http(s), and drops x-api-key when a redirect leaves the origins allowed the key
    (which also drops it on a fall to plain http). requests strips only `Authorization` on
    such redirects, so a result URL redirecting to a CDN or S3 would otherwise carry the key."""
    import requests

    class _Session(requests.Session):
        def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
            super().rebuild_auth(prepared_request, response)
            target = prepared_request.url
            if origin(target) is None:
                raise RefusedURL(target)
            if origin(target) not in key_origins:
                prepared_request.headers.pop("x-api-key", None)

    session = _Session()
    session.max_redirects = MAX_REDIRECTS
    return session


def megabytes(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB"


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _unlink_quietly(path: Path) -> None:
    """Remove a partial file; on Windows it may still be held open by a scanner."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("Segmind: could not remove the partial file %s; delete it by hand.", path)


def _disk_error(dest: Path, stage: str, exc: OSError) -> VideoError:
    """Our disk, not the network: say so, and what to do."""
    why = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        advice = "The disk is full: free some disk space"
    else:
        advice = "Free some disk space or fix the folder's permissions"
    return VideoError(f"Could not write the video to {dest.parent} during {stage} ({why}). {advice}, then "
                      f"{Action.RUN_AGAIN} (an async job already paid for is collected without paying again).")


class Transport:
    """Sends requests for one client (one node run). `cancel_check()` returning True aborts
    any wait within ~0.2 s; `on_event(kind, data)` gets retry/downloading/downloaded events.
    `api_error(resp, stage, request_id)` turns a non-2xx answer into the exception to raise,
    `describe(resp)` gives the server's message in a body (both are the protocol's wording)."""

    def __init__(self, api_key: str, settings: RetrySettings, *,
                 key_origins: frozenset[Origin], budget_origins: frozenset[Origin],
                 cancel_check: Callable[[], bool] | None = None,
                 on_event: EventCallback | None = None,
                 api_error: Callable[[Any, str, str | None], Exception] | None = None,
                 describe: Callable[[Any], str] | None = None,
                 session: Any = None,
                 sleep: Callable[[float], None] | None = None,
                 budget: "RequestBudget | None" = None,
                 user_dir: "str | os.PathLike[str] | None" = None) -> None:
        self._key = api_key
        self.settings = settings
        self._key_origins = key_origins
        self._budget_origins = budget_origins
        self._cancel_check = cancel_check or (lambda: False)
        self._on_event = on_event or (lambda kind, data: None)
        self._api_error = api_error or (lambda resp, stage, rid: SegmindError(
            f"Segmind {stage} failed with HTTP {resp.status_code}."))
        self._describe = describe or (lambda resp: "")
        # honours HTTP(S)_PROXY from the environment
        self._session = session or key_safe_session(key_origins)
        self._sleep_fn = sleep
        if budget is None:
            from .runtime import current

            # Shared with every process on the user folder, or the team's machines (Redis).
            budget = current().budget_for(user_dir, api_key)
        self.budget = budget
        self._abort = threading.Event()

    # -- events and Cancel -------------------------------------------------------------------
    def emit(self, kind: str, **data: Any) -> None:
        if self._abort.is_set():
            return  # cancelled: the node is gone; a late save on the HTTP thread must not update it
        try:
            self._on_event(kind, data)
        except Exception as exc:  # showing progress must never break a paid download or poll
            log.debug("Segmind: a progress callback failed (%s)", exc)

    @property
    def aborted(self) -> bool:
        """Cancel has taken effect (the caller has stopped waiting)."""
        return self._abort.is_set()

    def check_cancel(self) -> None:
        """Raise Cancelled once `cancel_check` says so. The lifecycle (core/lifecycle.py) decides
        when a job may stop: its check stays False while a billed request is unanswered or a
        billed v1 clip is landing, so nothing here needs to guard a paid answer."""
        if not self._cancel_check():
            return
        self._abort.set()
        raise Cancelled("Cancelled by the user.")

    def sleep(self, seconds: float) -> None:
        """Wait, honouring Cancel within about 0.2 s."""
        self._sleep(seconds)

    def _sleep(self, seconds: float) -> None:
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

    # -- requests ----------------------------------------------------------------------------
    def headers(self, url: str, json_body: bool = True) -> dict[str, str]:
        h = {"Accept": "application/json, video/mp4, */*"}
        # Over https to Segmind's hosts, or exactly to a configured base (a local stand-in
        # may be http on 127.0.0.1): never to a CDN, nor in clear text to anyone else.
        if origin(url) in self._key_origins:
            h["x-api-key"] = self._key
        if json_body:
            h["Content-Type"] = "application/json"
        return h

    def _refused(self, scheme: str, stage: str) -> SegmindError:
        return SegmindError(
            f"Segmind's answer during {stage} pointed to a '{scheme}:' address; only http and https "
            "addresses are followed, so it was refused. This is an answer from the service, not a "
            "problem with your network: try again later, or report it to Segmind.")

    def request(self, method: str, url: str, *, stage: str, billed: bool,
                json_body: Any = None, read_timeout: float | None = None,
                stream: bool = False, request_id: str | None = None,
                accept: Callable[[Any], Any] | None = None,
                on_attempt: Callable[[bool], None] | None = None,
                kind: str = "call", max_bytes: int = JSON_MAX_BYTES) -> Any:
        """One logical call with the retry policy. Returns a 2xx response (its body read,
        at most `max_bytes`, unless `stream`), or what `accept(response)` returns: `accept`
        runs on the HTTP thread as soon as a 2xx arrives, so it still runs when the user
        cancelled while the call was in flight. `on_attempt(True)` runs just before each
        attempt is sent, `on_attempt(False)` on the HTTP thread once that attempt is over
        (after `accept`), even after a Cancel. `kind` is the budget's: "poll" or "call"."""
        import requests

        if origin(url) is None:
            raise self._refused(urlsplit(url).scheme.lower()[:20] or "scheme-less", stage)
        budgeted = origin(url) in self._budget_origins

        stamp: list[Any] = [None]

        def call() -> tuple[Any, Any]:
            try:
                # Always streamed: requests would otherwise read any body whole, without bound.
                resp = self._session.request(method, url, headers=self.headers(url, json_body is not None),
                                             json=json_body, timeout=timeout, stream=True)
                answered = getattr(self.budget, "answered", None)
                if stamp[0] is not None and answered is not None:
                    answered(stamp[0])  # the budget's window counts it from its arrival
                if resp.status_code >= 300:
                    self.read_body(resp, ERROR_BODY_MAX_BYTES, stop_on_cancel=True, tolerate_errors=True)
                    return resp, None
                if not stream:
                    # A billed answer is read to its end (within the cap) even after Cancel:
                    # it carries the id of a paid job.
                    self.read_body(resp, max_bytes, stop_on_cancel=accept is None)
                return resp, (accept(resp) if accept is not None else None)
            finally:
                if on_attempt is not None:
                    on_attempt(False)

        cfg = self.settings
        attempts = cfg.submit_attempts if billed else cfg.get_attempts
        timeout = (cfg.connect_timeout, read_timeout or cfg.read_timeout)
        last_exc: BaseException | None = None
        for attempt in range(1, attempts + 1):
            self.check_cancel()
            if budgeted:
                stamp[0] = self.budget.acquire(kind, cancel_check=self.check_cancel)
            if on_attempt is not None:
                on_attempt(True)
            try:
                resp, accepted = self._in_worker(call)
            except Cancelled:
                raise
            except RefusedURL as exc:
                raise self._refused(exc.scheme, stage) from None
            except requests.exceptions.TooManyRedirects:
                raise SegmindError(
                    f"Segmind's answer during {stage} redirected more than {MAX_REDIRECTS} times (a "
                    "redirect loop), so it was given up. This is the service's answer, not a problem "
                    "with your network: try again later, or report it to Segmind.") from None
            except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidURL):
                raise self._refused(urlsplit(url).scheme.lower()[:20] or "scheme-less", stage) from None
            except requests.exceptions.RequestException as exc:
                last_exc = exc
                if billed and not _never_reached_server(exc):
                    raise SegmindNetworkError(
                        f"The connection to Segmind broke during {stage} after the request was sent, "
                        "so the job may have started and been billed. It is not resent automatically "
                        f"(that could bill twice): check your Segmind dashboard before you {Action.RETRY}. "
                        f"Detail: {redact(type(exc).__name__, self._key)}") from None
                if attempt < attempts:
                    wait = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1))
                    self.emit("retry", stage=stage, attempt=attempt, wait=wait, reason=type(exc).__name__)
                    self._sleep(wait)
                    continue
                break
            if resp.status_code < 300:
                return accepted if accept is not None else resp
            if resp.status_code == 429:
                reset = parse_reset_at(resp.headers.get("x-rate-limit-reset-at-utc"))
                if budgeted and (reset is None or reset <= cfg.rate_limit_wait_max):
                    self.budget.rate_limited(reset)  # every job pauses, not only this one
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
            f"proxy settings (HTTPS_PROXY) or SEGMIND_API_BASE, then {Action.RETRY}.")

    def read_body(self, resp: Any, max_bytes: int, *, stop_on_cancel: bool = False,
                  tolerate_errors: bool = False) -> None:
        """Read a streamed body into memory, at most `max_bytes` of it, so that
        resp.content / resp.json() work; sets resp.segmind_too_large when there was more
        (the rest is not read: the connection is closed). With `stop_on_cancel` the read
        also ends once Cancel has taken effect. Read once; later calls do nothing."""
        import requests

        if getattr(resp, "segmind_read", False) or not hasattr(resp, "iter_content"):
            return
        buf = bytearray()
        declared = _content_length(resp.headers)
        over = declared is not None and declared > max_bytes
        complete = not over
        if not over:
            try:
                for chunk in resp.iter_content(_READ_CHUNK):
                    if stop_on_cancel and self._abort.is_set():
                        complete = False
                        break
                    if len(buf) + len(chunk) > max_bytes:
                        over, complete = True, False
                        break
                    buf += chunk
            except requests.exceptions.RequestException:
                if not tolerate_errors:
                    resp.close()
                    raise
                complete = False
        if not complete:
            resp.close()  # the rest stays unread: the connection cannot be reused
        resp._content = bytes(buf)
        resp._content_consumed = True
        resp.segmind_read = True
        resp.segmind_too_large = over

    # -- bodies to disk --------------------------------------------------------------------
    def write_file(self, dest: Path, data: bytes, stage: str) -> None:
        """Write bytes to dest via a .part file; a full disk gives the same message as a
        streamed download, and no .part file stays."""
        tmp = _part_path(dest)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, dest)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise _disk_error(dest, stage, exc) from None

    def _save_body(self, resp: Any, dest: Path, stage: str, max_bytes: int) -> int:
        """Write a response body to dest via a .part file, checked, at most `max_bytes`;
        runs on an HTTP thread and stops (leaving no file) once Cancel has taken effect."""
        import requests

        total = _content_length(resp.headers)
        tmp = _part_path(dest)
        done = 0
        too_large = total is not None and total > max_bytes
        try:
            if not too_large:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as fh:
                    for chunk in resp.iter_content(_CHUNK):
                        if self._abort.is_set():
                            break  # the caller has raised Cancelled already
                        if done + len(chunk) > max_bytes:
                            too_large = True
                            break
                        fh.write(chunk)
                        done += len(chunk)
                        self.emit("downloading", done=done, total=total)
        except requests.exceptions.RequestException as exc:
            _unlink_quietly(tmp)
            raise _IncompleteBody(f"The video download from Segmind broke off ({type(exc).__name__}) "
                                  f"during {stage}.") from None
        except OSError as exc:
            _unlink_quietly(tmp)
            raise _disk_error(dest, stage, exc) from None
        except BaseException:  # anything else: no half file stays behind either
            _unlink_quietly(tmp)
            raise
        finally:
            resp.close()
        if too_large:
            _unlink_quietly(tmp)
            raise VideoError(f"Segmind sent more than {megabytes(max_bytes)} for the video during {stage}, "
                             "more than a clip of the requested size can take, so it was not kept. This is the "
                             "service's answer, not your disk or network: try again later, or report it.")
        if self._abort.is_set():
            _unlink_quietly(tmp)  # no half file stays
            return done
        if total is not None and done != total:
            _unlink_quietly(tmp)
            raise _IncompleteBody(f"The video from Segmind arrived incomplete ({done} of {total} bytes).")
        if done == 0:
            _unlink_quietly(tmp)
            raise _IncompleteBody("Segmind sent an empty video.")
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise _disk_error(dest, stage, exc) from None
        return done

    def stream_to(self, resp: Any, dest: Path, stage: str, max_bytes: int = CLIP_MAX_BYTES) -> None:
        done = self._in_worker(lambda: self._save_body(resp, dest, stage, max_bytes))
        self.emit("downloaded", path=str(dest), size=done)

    def download(self, url: str, dest: Path, *, max_bytes: int = CLIP_MAX_BYTES, stage: str = "download") -> Path:
        """Stream a file to disk, at most `max_bytes`, checking its length; a short or
        broken one is fetched again. A full disk or an oversized file is not."""
        cfg = self.settings
        for attempt in range(1, cfg.get_attempts + 1):
            resp = self.request("GET", url, stage=stage, billed=False, stream=True)
            ctype = resp.headers.get("Content-Type", "").lower()
            if ctype.startswith(("application/json", "text/")):
                # An error page served with 200 is not a video; it must never reach the decoder.
                self.read_body(resp, ERROR_BODY_MAX_BYTES, stop_on_cancel=True, tolerate_errors=True)
                shown = redact(ctype.split(";")[0], self._key)[:60]
                raise VideoError(f"Segmind sent {shown} where the video was expected: "
                                 f"{self._describe(resp)[:200] or 'empty answer'}.")
            try:
                self.stream_to(resp, dest, stage=stage, max_bytes=max_bytes)
                return dest
            except _IncompleteBody:
                if attempt == cfg.get_attempts:
                    raise
                self.emit("retry", stage=stage, attempt=attempt, wait=1.0, reason="incomplete file")
                self._sleep(min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))
        return dest
