"""HTTP routes the pack adds to ComfyUI's server: the Segmind API key entry.

    GET    /segmind_ltx2/key   -> status
    POST   /segmind_ltx2/key   JSON {"key": "SG_..."} -> stores it, answers status
    DELETE /segmind_ltx2/key   -> removes the key file, answers status

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
Residual risk, shared with every ComfyUI route: DNS rebinding (a foreign page served
under a name that resolves to this machine) passes an Origin/Host comparison.

The handlers are plain aiohttp; aiohttp (a ComfyUI dependency) is imported inside the
functions so that importing this module never needs it."""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from .core.credentials import (
    ENV_VAR,
    delete_api_key,
    key_file_path,
    load_api_key,
    save_api_key,
    validate_key_text,
)
from .core.errors import KeyFileUnreadableError

KEY_ROUTE = "/segmind_ltx2/key"
MAX_BODY_BYTES = 4096
# last4 only for keys long enough that four characters give little away.
LAST4_MIN_LENGTH = 12

UserDirGetter = Callable[[], "str | os.PathLike[str]"]

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
    if o[0] != h[0]:
        return False
    # A Host header without a port means the scheme's default port (filled in above);
    # a proxy may strip the port from Host while the page keeps it in Origin: accept a
    # port-less Host as long as the host names agree.
    return o[1] == h[1] or ":" not in host_header.strip().rsplit("]", 1)[-1]


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


def key_status(user_dir: "str | os.PathLike[str] | None") -> dict[str, Any]:
    """The status JSON; never contains the key. An unreadable key file is reported
    in "error" (a message saying what to change) instead of failing the request."""
    try:
        key, source = load_api_key(user_dir)
    except KeyFileUnreadableError as exc:
        return {"set": False, "source": None, "last4": None,
                "key_file": str(key_file_path(user_dir)) if user_dir is not None else None,
                "env_var": ENV_VAR, "env_overrides_file": False, "error": str(exc)}
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


# --------------------------------------------------------------------------- aiohttp handlers


def make_routes(user_dir_getter: UserDirGetter) -> list[Any]:
    """aiohttp RouteDefs for the key routes; `user_dir_getter()` gives ComfyUI's user folder."""
    from aiohttp import web

    def respond(payload: dict[str, Any], status: int = 200) -> "web.Response":
        return web.json_response(payload, status=status, headers=_NO_STORE)

    def refuse(request: "web.Request") -> "web.Response | None":
        reason = check_same_origin(request.method, request.headers)
        if reason is None:
            return None
        return respond({"error": f"Forbidden: {reason}. Use the ComfyUI settings dialog."}, 403)

    def user_dir() -> "str | os.PathLike[str]":
        return user_dir_getter()

    async def get_key(request: "web.Request") -> "web.Response":
        bad = refuse(request)
        if bad is not None:
            return bad
        return respond(key_status(user_dir()))

    async def post_key(request: "web.Request") -> "web.Response":
        bad = refuse(request)
        if bad is not None:
            return bad
        if request.content_type != "application/json":
            return respond({"error": 'Send JSON: {"key": "SG_..."} with Content-Type application/json.'}, 415)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return respond({"error": "Request too large: send only the API key."}, 413)
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return respond({"error": "Request too large: send only the API key."}, 413)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return respond({"error": 'The request body is not valid JSON: send {"key": "SG_..."}.'}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("key"), str):
            return respond({"error": 'Send {"key": "SG_..."}: the key must be a string.'}, 400)
        try:
            key = validate_key_text(body["key"])
        except Exception as exc:  # InvalidInputError: a message for the user, never the key
            return respond({"error": str(exc)}, 400)
        try:
            save_api_key(user_dir(), key)
        except OSError as exc:
            where = key_file_path(user_dir())
            return respond({"error": f"Could not write the key file {where}: {exc.strerror or exc}."}, 500)
        return respond(key_status(user_dir()))

    async def delete_key(request: "web.Request") -> "web.Response":
        bad = refuse(request)
        if bad is not None:
            return bad
        try:
            delete_api_key(user_dir())
        except OSError as exc:
            where = key_file_path(user_dir())
            return respond({"error": f"Could not remove the key file {where}: {exc.strerror or exc}."}, 500)
        return respond(key_status(user_dir()))

    return [
        web.get(KEY_ROUTE, get_key, allow_head=False),
        web.post(KEY_ROUTE, post_key),
        web.delete(KEY_ROUTE, delete_key),
    ]


def register_routes(route_table: Any, user_dir_getter: UserDirGetter) -> None:
    """Add the routes to a `web.RouteTableDef` (PromptServer.instance.routes), which has
    no add_routes(); ComfyUI copies them under /api/... when it builds its app.

    No route keyword arguments (name=, allow_head=...): ComfyUI 0.3.64 copies each route
    with `api_routes.route(method, "/api" + path)(handler, **route.kwargs)`, and that
    decorator takes no keywords, so any kwargs stop the whole server from starting."""
    for route in make_routes(user_dir_getter):
        route_table.route(route.method, route.path)(route.handler)
