"""HTTP routes the pack adds to ComfyUI's server: the Segmind API key entry, and the
jobs panel's data (jobs, spend, limits, credits, thumbnails).

    GET    /segmind_ltx2/key   -> status
    POST   /segmind_ltx2/key   JSON {"key": "SG_..."} -> stores it, answers status
    DELETE /segmind_ltx2/key   -> removes the key file, answers status

    GET    /segmind/jobs       -> {"live": [...], "past": [...], "spend": {...}}  (see jobs_payload)
    GET    /segmind/thumb?fingerprint=<sha256>  -> image/jpeg poster frame, cached beside the cache entry
    GET    /segmind/clip?fingerprint=<sha256>   -> video/mp4 of a cached clip (for clips no longer in output/)
    GET    /segmind/limits     -> {"per_day": x|null, "per_run": y|null, "file": path[, "error"]}
    POST   /segmind/limits     JSON {"per_day": x|null, "per_run": y|null} (a key left out keeps its value)
    POST   /segmind/credits/refresh  JSON {} -> {"credits": x|null[, "error": message]} (reused for 60 s)

URLs inside answers ("thumb", "clip_url") are route paths such as "/segmind/thumb?...":
the front end prefixes them like any API path (api.apiURL). Every POST must be sent as
application/json, even one with an empty body ({}).

status = {"set": bool, "source": "env" | "file" | null, "last4": str | null,
          "key_file": str, "env_var": "SEGMIND_API_KEY", "env_overrides_file": bool,
          "error": str (only when the key file exists but cannot be read)}
errors = {"error": "<message for the user>"} with 400 / 403 / 413 / 415 / 500.

No answer ever carries the key itself: only whether one is set, where it comes from and
its last four characters (and those only for keys of 12 characters or more).

Only the ComfyUI page itself may use these routes. ComfyUI's own origin check covers
loopback hosts only; these handlers check every request:
  * an `Origin` header must name the host the request was sent to (`Host`, or
    `X-Forwarded-Host` behind a reverse proxy); `Origin: null` is refused;
  * a `Sec-Fetch-Site` header must be `same-origin` (`none`, a typed address, is
    accepted for GET only);
  * POST must be `application/json` (a cross-site page cannot send that without a CORS
    preflight, which ComfyUI does not grant);
  * requests with neither Origin nor Sec-Fetch-Site come from no browser (curl, scripts
    on the machine) and are accepted: they are not cross-site requests.
  * the name the request was sent to (`Host`, and `X-Forwarded-Host` when a proxy sets
    it) must be one this server really answers to: an IP address, `localhost`, the
    address ComfyUI listens on (`--listen`), this machine's name, or a name listed in
    SEGMIND_LTX2_ALLOWED_HOSTS (comma-separated; `.example.com` allows its subdomains).
    A page under a foreign name that its DNS points at this machine (DNS rebinding)
    carries that foreign name in Host and Origin alike, so the Origin check alone would
    pass it: this check refuses it.

The handlers are given what they need (the user and output folders, the names served)
by whoever registers them (`__init__.py` with comfy_host's getters); this module never
imports comfy_host.

The handlers are plain aiohttp; aiohttp (a ComfyUI dependency) is imported inside the
functions so that importing this module never needs it."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import os
import re
import socket
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, urlsplit

from .core.credentials import (
    ENV_VAR,
    delete_api_key,
    key_file_path,
    load_api_key,
    save_api_key,
    validate_key_text,
)
from .core.errors import KeyFileUnreadableError
from .nodes.words import node_text  # the routes answer the ComfyUI page: ComfyUI's words

log = logging.getLogger(__name__)

KEY_ROUTE = "/segmind_ltx2/key"
JOBS_ROUTE = "/segmind/jobs"
THUMB_ROUTE = "/segmind/thumb"
CLIP_ROUTE = "/segmind/clip"
LIMITS_ROUTE = "/segmind/limits"
CREDITS_ROUTE = "/segmind/credits/refresh"
TEAM_ROUTE = "/segmind_ltx2/team"
TEAM_STATUS_TTL = 15.0  # seconds the jobs tab's "where records are shared" line is reused (a Redis ping)
MAX_BODY_BYTES = 4096
THUMB_MAX_SIDE = 320
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
# last4 only for keys long enough that four characters give little away.
LAST4_MIN_LENGTH = 12

UserDirGetter = Callable[[], "str | os.PathLike[str]"]
OutputDirGetter = Callable[[], "str | os.PathLike[str]"]
HostNamesGetter = Callable[[], Iterable[str]]
ALLOWED_HOSTS_ENV = "SEGMIND_LTX2_ALLOWED_HOSTS"

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


# --------------------------------------------------------------------------- pure helpers


def _normalise_netloc(netloc: str, scheme: str | None) -> tuple[str, int | None] | None:
    """(hostname, port) of "host[:port]" with the scheme's default port filled in."""
    netloc = (netloc or "").strip().lower()
    if not netloc or "@" in netloc:
        return None
    try:
        parts = urlsplit("//" + netloc)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if port is None and scheme in _DEFAULT_PORTS:
        port = _DEFAULT_PORTS[scheme]
    return host, port


def _origin_matches(origin: str, host_header: str) -> bool:
    try:
        parsed = urlsplit(origin.strip())
    except ValueError:
        return False
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https"):
        return False
    o = _normalise_netloc(parsed.netloc, scheme)
    h = _normalise_netloc(host_header, scheme)
    if o is None or h is None:
        return False
    # A Host header without a port means the scheme's default port (filled in above), so
    # a page on another port of the same host (another origin) never matches it. A proxy
    # that drops the port must pass the client-facing host in X-Forwarded-Host.
    return o == h


def check_same_origin(method: str, headers: Mapping[str, str]) -> str | None:
    """None when the request may come from the ComfyUI page itself; else why not."""
    method = method.upper()
    unsafe = method not in ("GET", "HEAD", "OPTIONS")
    origin = headers.get("Origin")
    fetch_site = headers.get("Sec-Fetch-Site")

    if fetch_site is not None:
        fetch_site = fetch_site.strip().lower()
        allowed = {"same-origin"} if unsafe else {"same-origin", "none"}
        if fetch_site not in allowed:
            return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"

    if origin is not None:
        if origin.strip().lower() == "null":
            return "request from an opaque origin refused"
        hosts = [h for h in (headers.get("Host"), headers.get("X-Forwarded-Host")) if h]
        # X-Forwarded-Host may be a list "a, b": the first is the client-facing host.
        candidates = []
        for h in hosts:
            candidates.append(h.split(",")[0].strip())
        if not candidates:
            return "request without a Host header refused"
        if not any(_origin_matches(origin, h) for h in candidates):
            return "request from another site refused (Origin does not match this server)"
    return None


def allowed_host_names(listen: Iterable[str] = (), environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The names (besides IP addresses and localhost) this server answers to: the addresses
    it listens on, this machine's name, and the names the user lists in ALLOWED_HOSTS_ENV."""
    names = {str(n) for n in listen}
    try:
        names.add(socket.gethostname())
    except OSError:
        pass
    names.update((environ.get(ALLOWED_HOSTS_ENV) or "").split(","))
    return frozenset(n.strip().lower().rstrip(".") for n in names if n and n.strip())


def _host_name(value: str) -> str | None:
    """The host name of a Host header value "name[:port]" (lowercase, no trailing dot)."""
    try:
        name = urlsplit("//" + value.strip()).hostname
    except ValueError:
        return None
    return name.rstrip(".") if name else None


def is_served_name(name: str, allowed: Iterable[str]) -> bool:
    """True for a name a browser can only use to reach this very server: an IP address (a
    request to it goes to that address), localhost, or an allowed name (".x.org" allows
    every name under x.org). Any other name may be a stranger's that their DNS points here."""
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        pass
    if name == "localhost":
        return True
    for entry in allowed:
        if name == entry or (entry.startswith(".") and name.endswith(entry)):
            return True
    return False


def check_served_name(headers: Mapping[str, str], allowed: Iterable[str]) -> str | None:
    """None when the request was sent to a name this server answers to (see is_served_name);
    else why not. Both Host and a proxy's X-Forwarded-Host must pass: a rebinding page can
    add any X-Forwarded-Host it likes, but not change Host."""
    allowed = frozenset(allowed)
    for header in ("Host", "X-Forwarded-Host"):
        value = headers.get(header)
        if not value:
            continue
        name = _host_name(value.split(",")[0])
        if name is None:
            return f"unreadable {header} header"
        if not is_served_name(name, allowed):
            return (f"this server does not answer to the name {name[:100]!r} (a page under a foreign name "
                    f"may point it at this machine). If that is how you open ComfyUI, add it to "
                    f"{ALLOWED_HOSTS_ENV} (comma-separated) and restart ComfyUI")
    return None


def key_status(user_dir: "str | os.PathLike[str] | None") -> dict[str, Any]:
    """The status JSON; never contains the key. An unreadable key file is reported
    in "error" (a message saying what to change) instead of failing the request."""
    try:
        key, source = load_api_key(user_dir)
    except KeyFileUnreadableError as exc:
        return {"set": False, "source": None, "last4": None,
                "key_file": str(key_file_path(user_dir)) if user_dir is not None else None,
                "env_var": ENV_VAR, "env_overrides_file": False, "error": node_text(exc)}
    file_key: str | None = None
    if source == "env" and user_dir is not None:
        try:
            file_key = key_file_path(user_dir).read_text(encoding="utf-8-sig").strip() or None
        except (OSError, UnicodeDecodeError):  # unused while the variable is set: only informative
            file_key = None
    last4 = key[-4:] if key and len(key) >= LAST4_MIN_LENGTH else None
    return {
        "set": bool(key),
        "source": source if key else None,
        "last4": last4,
        "key_file": str(key_file_path(user_dir)) if user_dir is not None else None,
        "env_var": ENV_VAR,
        "env_overrides_file": bool(source == "env" and file_key),
    }


async def read_body(request: Any, limit: int) -> bytes | None:
    """The whole request body, or None when it passes `limit` bytes. One read() returns
    only what has arrived so far (a body split across TCP segments came in halves)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def _json_safe(value: Any) -> Any:
    """No NaN or infinity reaches the browser (its JSON.parse refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def live_jobs() -> list[dict[str, Any]]:
    """The process's job board (core.runtime), or [] while it is not there."""
    try:
        from .core import runtime
    except Exception:  # a core that fails to import must not break the panel
        return []
    current = getattr(runtime, "current", None)
    if not callable(current):
        return []
    try:
        return [dict(job) for job in current().board.snapshot()]
    except Exception as exc:
        log.warning("Segmind: the live jobs could not be listed (%s).", exc)
        return []


def team_payload(user_dir: "str | os.PathLike[str]") -> dict[str, Any]:
    """The team setting and which store is in use (core/shared_store.team_status); never the
    Redis address's password. A damaged team.json is reported in "error"."""
    from .core.shared_store import team_status

    try:
        return team_status(user_dir).as_dict()
    except Exception as exc:  # InvalidInputError: a team.json or variable to fix
        return {"store": None, "text": node_text(exc), "redis_url": "", "when_redis_down": "refuse",
                "from_env": False, "team_file": None, "error": node_text(exc)}


_team_seen: dict[str, tuple[float, dict[str, Any]]] = {}


def team_line(user_dir: "str | os.PathLike[str]") -> dict[str, Any]:
    """team_payload, reused for TEAM_STATUS_TTL: the jobs tab asks every few seconds."""
    import time

    key = str(user_dir)
    seen = _team_seen.get(key)
    if seen is None or time.monotonic() - seen[0] > TEAM_STATUS_TTL:
        seen = (time.monotonic(), team_payload(user_dir))
        _team_seen[key] = seen
    return seen[1]


def spend_payload(user_dir: "str | os.PathLike[str]") -> dict[str, Any]:
    from .core.credits import CREDITS_TTL, known_credits
    from .core.errors import LimitsFileError, SegmindError
    from .core.spend_limits import SpendLimits
    from .core.team_stores import record_stores

    out: dict[str, Any] = {"credits": known_credits(), "credits_fresh": known_credits(CREDITS_TTL) is not None}
    try:
        stores = record_stores(user_dir)  # with a team: every machine's spend today (Redis)
        out.update(today=stores.ledger.spent_today(), session=stores.ledger.spent_in_session(),
                   reserved=stores.reservations.in_flight())
    except SegmindError as exc:  # unknown, not $0 (records unreadable, the team's Redis down): paid runs are refused meanwhile
        out.update(today=None, session=None, reserved=None, limits_error=node_text(exc))
    try:
        out["limits"] = SpendLimits.load(user_dir).as_dict()
    except LimitsFileError as exc:
        out["limits"] = {"per_day": None, "per_run": None}
        out["limits_error"] = node_text(exc)
    return out


def _clip_ref(path: str | None, output_dir: Path) -> dict[str, str] | None:
    """{"filename", "subfolder", "type": "output"} for ComfyUI's /view of an output clip."""
    if not path:
        return None
    try:
        rel = Path(path).resolve().relative_to(Path(output_dir).resolve())
    except (OSError, ValueError):
        return None
    return {"filename": rel.name, "subfolder": rel.parent.as_posix() if rel.parent != Path(".") else "",
            "type": "output"}


def jobs_payload(user_dir: "str | os.PathLike[str]", output_dir: "str | os.PathLike[str]",
                 limit: int = 200) -> dict[str, Any]:
    """The jobs panel's data: live jobs, past jobs (ledger + cache, newest first), spend."""
    from .core.collect import recorded_jobs

    past = []
    for job in recorded_jobs(user_dir, output_dir, limit=limit):
        fp = job.fingerprint
        has_clip = bool(job.cached or job.clip_path)
        past.append({
            "request_id": job.request_id, "fingerprint": fp, "time": job.time, "model": job.model,
            "prompt": job.prompt, "width": job.width, "height": job.height,
            "num_frames": job.num_frames, "fps": job.fps, "seed": job.seed, "grid": job.grid,
            "cost": job.cost, "estimate": job.estimate, "collectable": job.collectable,
            "cached": job.cached, "run_id": job.run_id, "machine": job.machine,
            "thumb": f"{THUMB_ROUTE}?fingerprint={quote(fp)}" if fp and has_clip else None,
            "clip": _clip_ref(job.clip_path, Path(output_dir)),
            "clip_url": f"{CLIP_ROUTE}?fingerprint={quote(fp)}" if fp and job.cached else None,
        })
    return _json_safe({"live": live_jobs() + team_live_jobs(user_dir), "past": past, "spend": spend_payload(user_dir),
                       "team": team_line(user_dir)})


def team_live_jobs(user_dir: "str | os.PathLike[str]") -> list[dict[str, Any]]:
    """With a team Redis: the other machines' live jobs, each with its machine; else []."""
    try:
        from .core.team_stores import record_stores

        return record_stores(user_dir).live_jobs()
    except Exception as exc:  # Redis down (said by the spend lines) or a damaged setting
        log.debug("Segmind: the team's live jobs could not be listed (%s).", exc)
        return []


def _clip_for_fingerprint(user_dir: Path, output_dir: Path, fingerprint: str) -> Path | None:
    from .core.collect import output_clip
    from .core.ledger import Ledger
    from .core.result_cache import cache_directory

    cached = cache_directory(user_dir) / f"{fingerprint}.mp4"
    if cached.is_file():
        return cached
    for entry in Ledger(user_dir).entries(limit=10_000):
        if entry.fingerprint == fingerprint:
            clip = output_clip(entry.clip, output_dir)
            if clip is not None:
                return clip
    return None


def poster_jpeg(clip: Path, max_side: int = THUMB_MAX_SIDE) -> bytes:
    """A JPEG of the frame about one second in (the first frame of an image-to-video clip is
    the uploaded picture), at most max_side pixels on its long side. PyAV only (no Pillow)."""
    from fractions import Fraction

    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 24)
        want = max(0, int(rate))
        chosen = None
        for n, frame in enumerate(container.decode(stream)):
            chosen = frame
            if n >= want:
                break
        if chosen is None:
            raise ValueError("no video frame")
    scale = min(1.0, max_side / max(chosen.width, chosen.height))
    width = max(2, int(chosen.width * scale) // 2 * 2)
    height = max(2, int(chosen.height * scale) // 2 * 2)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    picture = chosen.reformat(width=width, height=height, format="yuvj420p")
    return b"".join(bytes(p) for p in encoder.encode(picture) + encoder.encode(None))


def thumbnail(user_dir: "str | os.PathLike[str]", output_dir: "str | os.PathLike[str]",
              fingerprint: str) -> bytes | None:
    """The poster frame of a past job's clip, made once and kept beside the cache entry
    (<cache>/<fingerprint>.jpg); None when the job has no clip any more."""
    from .core.result_cache import cache_directory

    if not _FINGERPRINT.fullmatch(fingerprint or ""):
        return None
    clip = _clip_for_fingerprint(Path(user_dir), Path(output_dir), fingerprint)
    if clip is None:
        return None
    thumb = cache_directory(user_dir) / f"{fingerprint}.jpg"
    try:
        if thumb.stat().st_mtime >= clip.stat().st_mtime:
            return thumb.read_bytes()
    except OSError:
        pass
    data = poster_jpeg(clip)
    tmp = thumb.with_name(f".{thumb.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        thumb.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, thumb)
    except OSError as exc:  # served anyway; made again next time
        log.info("Segmind: could not keep the thumbnail %s (%s).", thumb, exc.strerror or exc)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return data


# --------------------------------------------------------------------------- aiohttp handlers


def make_routes(user_dir_getter: UserDirGetter, output_dir_getter: OutputDirGetter,
                served_names: HostNamesGetter | None = None) -> list[Any]:
    """aiohttp RouteDefs for the pack's routes; `user_dir_getter()` gives ComfyUI's user
    folder, `output_dir_getter()` its output folder, `served_names()` the names besides IP
    addresses and localhost the server answers to (default: allowed_host_names())."""
    from aiohttp import web

    names = served_names or allowed_host_names

    def respond(payload: dict[str, Any], status: int = 200) -> "web.Response":
        return web.json_response(payload, status=status, headers=_NO_STORE)

    def same_origin(handler: Any) -> Any:
        """Every route answers only the ComfyUI page itself (check_same_origin): another
        site open in the browser can neither read the jobs nor change the key or limits."""
        async def guarded(request: "web.Request") -> "web.StreamResponse":
            reason = check_served_name(request.headers, names())
            if reason is not None:
                return respond({"error": f"Forbidden: {reason}."}, 403)
            reason = check_same_origin(request.method, request.headers)
            if reason is not None:
                return respond({"error": f"Forbidden: {reason}. Use the ComfyUI settings dialog."}, 403)
            return await handler(request)

        return guarded

    def user_dir() -> "str | os.PathLike[str]":
        return user_dir_getter()

    def output_dir() -> "str | os.PathLike[str]":
        return output_dir_getter()

    async def json_body(request: "web.Request") -> "tuple[Any, web.Response | None]":
        """(parsed JSON body, None), or (None, the error answer)."""
        if request.content_type != "application/json":
            return None, respond({"error": "Send JSON with Content-Type application/json."}, 415)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return None, respond({"error": "Request too large."}, 413)
        raw = await read_body(request, MAX_BODY_BYTES)
        if raw is None:
            return None, respond({"error": "Request too large."}, 413)
        if not raw.strip():
            return {}, None
        try:
            return json.loads(raw.decode("utf-8")), None
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None, respond({"error": "The request body is not valid JSON."}, 400)

    async def get_key(request: "web.Request") -> "web.Response":
        return respond(key_status(user_dir()))

    async def post_key(request: "web.Request") -> "web.Response":
        body, refused = await json_body(request)
        if refused is not None:
            return refused
        if not isinstance(body, dict) or not isinstance(body.get("key"), str):
            return respond({"error": 'Send {"key": "SG_..."}: the key must be a string.'}, 400)
        try:
            key = validate_key_text(body["key"])
        except Exception as exc:  # InvalidInputError: a message for the user, never the key
            return respond({"error": node_text(exc)}, 400)
        try:
            save_api_key(user_dir(), key)
        except OSError as exc:
            where = key_file_path(user_dir())
            return respond({"error": f"Could not write the key file {where}: {exc.strerror or exc}."}, 500)
        return respond(key_status(user_dir()))

    async def delete_key(request: "web.Request") -> "web.Response":
        try:
            delete_api_key(user_dir())
        except OSError as exc:
            where = key_file_path(user_dir())
            return respond({"error": f"Could not remove the key file {where}: {exc.strerror or exc}."}, 500)
        return respond(key_status(user_dir()))

    async def get_jobs(request: "web.Request") -> "web.Response":
        payload = await asyncio.to_thread(jobs_payload, user_dir(), output_dir())
        return respond(payload)

    def fingerprint_of(request: "web.Request") -> str | None:
        fp = request.query.get("fingerprint", "")
        return fp if _FINGERPRINT.fullmatch(fp) else None

    async def get_thumb(request: "web.Request") -> "web.Response":
        fp = fingerprint_of(request)
        if fp is None:
            return respond({"error": "Give ?fingerprint= with a job's fingerprint (64 hex digits)."}, 400)
        try:
            data = await asyncio.to_thread(thumbnail, user_dir(), output_dir(), fp)
        except Exception as exc:  # an unreadable clip: no thumbnail, never a traceback
            log.info("Segmind: no thumbnail for %s (%s).", fp[:12], exc)
            data = None
        if data is None:
            return respond({"error": "No clip of this job is left to make a thumbnail from."}, 404)
        return web.Response(body=data, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})

    async def get_clip(request: "web.Request") -> "web.StreamResponse":
        from .core.result_cache import cache_directory

        fp = fingerprint_of(request)
        if fp is None:
            return respond({"error": "Give ?fingerprint= with a job's fingerprint (64 hex digits)."}, 400)
        clip = cache_directory(user_dir()) / f"{fp}.mp4"
        # The cache holds clips as files (hard links), never symlinks: one planted there could
        # point anywhere this user can read.
        if clip.is_symlink() or not clip.is_file():
            return respond({"error": "This clip is no longer in the result cache."}, 404)
        return web.FileResponse(clip, headers={"Content-Type": "video/mp4", "Cache-Control": "private, max-age=3600",
                                               "X-Content-Type-Options": "nosniff"})

    def limits_answer() -> dict[str, Any]:
        from .core.errors import LimitsFileError
        from .core.spend_limits import SpendLimits, limits_path

        try:
            answer: dict[str, Any] = SpendLimits.load(user_dir()).as_dict()
        except LimitsFileError as exc:
            answer = {"per_day": None, "per_run": None, "error": node_text(exc)}
        answer["file"] = str(limits_path(user_dir()))
        return answer

    async def get_limits(request: "web.Request") -> "web.Response":
        return respond(_json_safe(limits_answer()))

    async def post_limits(request: "web.Request") -> "web.Response":
        from .core.errors import InvalidInputError, LimitsFileError
        from .core.spend_limits import SpendLimits, limits_path, parse_limit

        body, error = await json_body(request)
        if error is not None:
            return error
        if not isinstance(body, dict) or not set(body) <= {"per_day", "per_run"}:
            return respond({"error": 'Send {"per_day": dollars or null, "per_run": dollars or null}.'}, 400)
        try:
            limits = SpendLimits.load(user_dir())
        except LimitsFileError:
            limits = SpendLimits()  # a damaged file is replaced by what is sent now
        try:
            for name in ("per_day", "per_run"):
                if name in body:
                    setattr(limits, name, parse_limit(name, body[name]))
        except InvalidInputError as exc:
            return respond({"error": node_text(exc)}, 400)
        try:
            limits.save(user_dir())
        except OSError as exc:
            return respond({"error": f"Could not write {limits_path(user_dir())}: {exc.strerror or exc}."}, 500)
        return respond(_json_safe(limits_answer()))

    credits_lock = asyncio.Lock()

    async def post_credits(request: "web.Request") -> "web.Response":
        from .core.credentials import redact
        from .core.errors import SegmindError
        from .core.credits import CREDITS_TTL, known_credits, refresh_credits

        _, error = await json_body(request)
        if error is not None:
            return error

        def fetch() -> float | None:
            from .core.client import ClientConfig, SegmindClient
            from .core.credentials import require_api_key

            client = SegmindClient(require_api_key(user_dir()), ClientConfig.from_env(), user_dir=user_dir())
            return refresh_credits(client, CREDITS_TTL)

        async with credits_lock:  # one call for many clicks; each call spends the request budget
            cached = known_credits(CREDITS_TTL)
            if cached is not None:
                return respond(_json_safe({"credits": cached, "cached": True}))
            try:
                value = await asyncio.to_thread(fetch)
            except SegmindError as exc:
                return respond(_json_safe({"credits": known_credits(), "error": redact(node_text(exc))}))
        return respond(_json_safe({"credits": value, "cached": False}))

    async def get_team(request: "web.Request") -> "web.Response":
        return respond(_json_safe(await asyncio.to_thread(team_payload, user_dir())))

    async def post_team(request: "web.Request") -> "web.Response":
        from .core.errors import InvalidInputError
        from .core.shared_store import forget_clients, saved_redis_url, save_team_settings

        body, error = await json_body(request)
        if error is not None:
            return error
        url, when = (body.get("redis_url"), body.get("when_redis_down")) if isinstance(body, dict) else (0, 0)
        if (not isinstance(body, dict) or not set(body) <= {"redis_url", "when_redis_down"}
                or not (url is None or isinstance(url, str)) or not isinstance(when, str)):
            return respond({"error": 'Send {"redis_url": "redis://host:6379/0", "" (none) or null (keep the saved '
                                     'one), "when_redis_down": "refuse" or "local"}.'}, 400)
        try:
            save_team_settings(user_dir(), saved_redis_url(user_dir()) if url is None else url, when)
        except InvalidInputError as exc:
            return respond({"error": node_text(exc)}, 400)
        except ValueError:  # an address urllib cannot even split (a stray "[")
            return respond({"error": "That Redis address cannot be read: give one like redis://host:6379/0."}, 400)
        except OSError as exc:
            return respond({"error": f"Could not write the team setting: {exc.strerror or exc}."}, 500)
        forget_clients()  # the next job connects to the address saved now
        _team_seen.clear()
        return respond(_json_safe(await asyncio.to_thread(team_payload, user_dir())))

    return [
        web.get(KEY_ROUTE, same_origin(get_key), allow_head=False),
        web.get(TEAM_ROUTE, same_origin(get_team), allow_head=False),
        web.post(TEAM_ROUTE, same_origin(post_team)),
        web.post(KEY_ROUTE, same_origin(post_key)),
        web.delete(KEY_ROUTE, same_origin(delete_key)),
        web.get(JOBS_ROUTE, same_origin(get_jobs), allow_head=False),
        web.get(THUMB_ROUTE, same_origin(get_thumb), allow_head=False),
        web.get(CLIP_ROUTE, same_origin(get_clip), allow_head=False),
        web.get(LIMITS_ROUTE, same_origin(get_limits), allow_head=False),
        web.post(LIMITS_ROUTE, same_origin(post_limits)),
        web.post(CREDITS_ROUTE, same_origin(post_credits)),
    ]


def register_routes(route_table: Any, user_dir_getter: UserDirGetter, output_dir_getter: OutputDirGetter,
                    served_names: HostNamesGetter | None = None) -> None:
    """Add the routes to a `web.RouteTableDef` (PromptServer.instance.routes), which has
    no add_routes(); ComfyUI copies them under /api/... when it builds its app.

    No route keyword arguments (name=, allow_head=...): ComfyUI 0.3.64 copies each route
    with `api_routes.route(method, "/api" + path)(handler, **route.kwargs)`, and that
    decorator takes no keywords, so any kwargs stop the whole server from starting."""
    for route in make_routes(user_dir_getter, output_dir_getter, served_names):
        route_table.route(route.method, route.path)(route.handler)
