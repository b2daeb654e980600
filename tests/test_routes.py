"""The key routes (routes.py) on a real aiohttp server on 127.0.0.1: the key is stored
owner-only, never sent back, and only the ComfyUI page itself may use the routes."""
from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from pack_loader import pack_module  # noqa: E402

routes_mod = pack_module("routes")
credentials = pack_module("core.credentials")
errors_mod = pack_module("core.errors")

KEY = "SG_0123456789abcdefWXYZ"
ENV_KEY = "SG_fromtheenvironment9876"
PATH = routes_mod.KEY_ROUTE


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(credentials.ENV_VAR, raising=False)


class Seen:
    """Every response body and header the tests received, to search for the key."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, status: int, headers: Any, body: str) -> None:
        self.texts.append(body)
        self.texts.extend(f"{k}: {v}" for k, v in headers.items())

    def assert_never(self, secret: str) -> None:
        for text in self.texts:
            assert secret not in text


def run(user_dir: Path, scenario, seen: Seen | None = None):
    """Start the routes on a real 127.0.0.1 server and run `scenario(call)`."""

    async def main():
        app = web.Application()
        app.add_routes(routes_mod.make_routes(lambda: str(user_dir)))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            host = f"127.0.0.1:{client.port}"

            async def call(method: str, body: Any = None, headers: dict | None = None,
                           raw: bytes | None = None, path: str = PATH):
                h = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
                if headers:
                    h.update(headers)
                h = {k: v for k, v in h.items() if v is not None}
                kwargs: dict[str, Any] = {"headers": h}
                if raw is not None:
                    kwargs["data"] = raw
                elif body is not None:
                    kwargs["data"] = json.dumps(body)
                    h.setdefault("Content-Type", "application/json")
                resp = await client.request(method, path, **kwargs)
                text = await resp.text()
                if seen is not None:
                    seen.add(resp.status, resp.headers, text)
                data = json.loads(text) if resp.content_type == "application/json" else None
                return resp.status, data, resp.headers

            return await scenario(call, host)

    return asyncio.run(main())


# --------------------------------------------------------------------------- storing


def test_post_stores_key_owner_only_and_never_returns_it(tmp_path: Path) -> None:
    seen = Seen()

    async def scenario(call, host):
        status, data, headers = await call("GET")
        assert status == 200
        assert data == {"set": False, "source": None, "last4": None,
                        "key_file": str(credentials.key_file_path(tmp_path)),
                        "env_var": "SEGMIND_API_KEY", "env_overrides_file": False}
        status, data, headers = await call("POST", {"key": "  " + KEY + "\n"})
        assert status == 200, data
        assert data["set"] is True and data["source"] == "file" and data["last4"] == "WXYZ"
        assert headers["Cache-Control"] == "no-store"
        status, data, _ = await call("GET")
        assert data["set"] is True and data["source"] == "file" and data["last4"] == "WXYZ"

    run(tmp_path, scenario, seen)
    path = credentials.key_file_path(tmp_path)
    assert path.read_text(encoding="utf-8") == KEY
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    seen.assert_never(KEY)
    seen.assert_never(KEY[:-4])  # not even a prefix: only the last four characters


def test_delete_removes_the_file(tmp_path: Path) -> None:
    credentials.save_api_key(tmp_path, KEY)

    async def scenario(call, host):
        status, data, _ = await call("DELETE")
        assert status == 200 and data["set"] is False and data["source"] is None
        status, data, _ = await call("DELETE")  # again: nothing to remove, still fine
        assert status == 200 and data["set"] is False

    run(tmp_path, scenario)
    assert not credentials.key_file_path(tmp_path).exists()


def test_routes_are_also_reachable_under_api_prefix_when_comfy_copies_them(tmp_path: Path) -> None:
    # register_routes adds to a RouteTableDef, as comfy_host does with PromptServer.routes.
    table = web.RouteTableDef()
    routes_mod.register_routes(table, lambda: str(tmp_path))
    methods = sorted((r.method, r.path) for r in table)
    assert methods == [("DELETE", PATH), ("GET", PATH), ("POST", PATH)]
    # ComfyUI 0.3.64 server.add_routes copies every RouteDef like this; a route with
    # keyword arguments (e.g. allow_head=False) raised TypeError and ComfyUI did not start.
    api_routes = web.RouteTableDef()
    for route in table:
        api_routes.route(route.method, "/api" + route.path)(route.handler, **route.kwargs)
    app = web.Application()
    app.add_routes(api_routes)
    app.add_routes(table)
    paths = sorted({r.resource.canonical for r in app.router.routes()})
    assert paths == ["/api" + PATH, PATH]


# --------------------------------------------------------------------------- environment


def test_env_key_wins_and_is_reported_as_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = Seen()
    monkeypatch.setenv(credentials.ENV_VAR, ENV_KEY)

    async def scenario(call, host):
        status, data, _ = await call("GET")
        assert data["set"] is True and data["source"] == "env" and data["last4"] == "9876"
        assert data["env_overrides_file"] is False
        status, data, _ = await call("POST", {"key": KEY})
        assert status == 200
        # Stored, but the environment still wins, and the answer says so.
        assert data["source"] == "env" and data["last4"] == "9876"
        assert data["env_overrides_file"] is True

    run(tmp_path, scenario, seen)
    assert credentials.key_file_path(tmp_path).read_text(encoding="utf-8") == KEY
    seen.assert_never(KEY)
    seen.assert_never(ENV_KEY)


# --------------------------------------------------------------------------- refusing


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "null"},
    {"Origin": None, "Sec-Fetch-Site": "cross-site"},
    {"Origin": None, "Sec-Fetch-Site": "same-site"},
    {"Origin": "http://127.0.0.1:1"},  # another local port is another origin
    {"Origin": "https://127.0.0.1"},
])
def test_foreign_requests_are_refused_and_store_nothing(tmp_path: Path, headers: dict) -> None:
    seen = Seen()

    async def scenario(call, host):
        for method, body in (("POST", {"key": KEY}), ("DELETE", None), ("GET", None)):
            status, data, _ = await call(method, body, headers=headers)
            assert status == 403, (method, headers)
            assert "Forbidden" in data["error"]

    credentials.save_api_key(tmp_path, "SG_previously_saved_key_1")
    run(tmp_path, scenario, seen)
    # Neither replaced nor deleted.
    assert credentials.key_file_path(tmp_path).read_text(encoding="utf-8") == "SG_previously_saved_key_1"
    seen.assert_never(KEY)
    seen.assert_never("SG_previously_saved_key_1")


def test_typed_address_may_read_status_but_not_change_it(tmp_path: Path) -> None:
    async def scenario(call, host):
        status, _, _ = await call("GET", headers={"Origin": None, "Sec-Fetch-Site": "none"})
        assert status == 200
        status, _, _ = await call("POST", {"key": KEY}, headers={"Origin": None, "Sec-Fetch-Site": "none"})
        assert status == 403

    run(tmp_path, scenario)
    assert not credentials.key_file_path(tmp_path).exists()


def test_non_browser_client_on_the_machine_is_accepted(tmp_path: Path) -> None:
    async def scenario(call, host):
        status, data, _ = await call("POST", {"key": KEY}, headers={"Origin": None, "Sec-Fetch-Site": None})
        assert status == 200 and data["source"] == "file"

    run(tmp_path, scenario)
    assert credentials.key_file_path(tmp_path).exists()


def test_post_must_be_json(tmp_path: Path) -> None:
    async def scenario(call, host):
        # A cross-site form could send text/plain without a preflight: refused by type too.
        status, data, _ = await call("POST", raw=json.dumps({"key": KEY}).encode(),
                                     headers={"Content-Type": "text/plain"})
        assert status == 415 and "JSON" in data["error"]

    run(tmp_path, scenario)
    assert not credentials.key_file_path(tmp_path).exists()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body, expected", [
    ({"key": ""}, "empty"),
    ({"key": "   "}, "empty"),
    ({"key": "SG_abc def123456"}, "spaces"),
    ({"key": "SG_1"}, "does not look like"),
    ({"key": "SG_" + "x" * 300}, "does not look like"),
    ({"key": 12345678}, "must be a string"),
    ({"api_key": KEY}, "must be a string"),
    (["SG_0123456789"], "must be a string"),
])
def test_bad_keys_are_rejected_with_a_helpful_message(tmp_path: Path, body: Any, expected: str) -> None:
    seen = Seen()

    async def scenario(call, host):
        status, data, _ = await call("POST", body)
        assert status == 400
        assert expected in data["error"]

    run(tmp_path, scenario, seen)
    assert not credentials.key_file_path(tmp_path).exists()
    if isinstance(body, dict) and isinstance(body.get("key"), str) and body["key"].strip():
        seen.assert_never(body["key"].strip())


def test_invalid_json_and_oversized_bodies(tmp_path: Path) -> None:
    async def scenario(call, host):
        status, data, _ = await call("POST", raw=b"{not json", headers={"Content-Type": "application/json"})
        assert status == 400 and "not valid JSON" in data["error"]
        big = json.dumps({"key": KEY, "pad": "x" * 10000}).encode()
        status, data, _ = await call("POST", raw=big, headers={"Content-Type": "application/json"})
        assert status == 413

    run(tmp_path, scenario)
    assert not credentials.key_file_path(tmp_path).exists()


def test_short_keys_do_not_reveal_last4(tmp_path: Path) -> None:
    async def scenario(call, host):
        status, data, _ = await call("POST", {"key": "SG_abcdefg"})  # 10 characters
        assert status == 200 and data["set"] is True and data["last4"] is None

    run(tmp_path, scenario)


@pytest.mark.parametrize("spoil", ["folder", "binary"])
def test_unreadable_key_file_is_reported_not_a_server_error(tmp_path: Path, spoil: str) -> None:
    # A key file that exists but cannot be read (a folder in its place, bytes that are
    # not text) used to make GET answer 500 and the node fail with a raw OSError.
    key_file = credentials.key_file_path(tmp_path)
    key_file.parent.mkdir(parents=True)
    if spoil == "folder":
        key_file.mkdir()
    else:
        key_file.write_bytes(b"\xff\xfe\x00S\x00G")  # UTF-16 saved by an editor

    async def scenario(call, host):
        status, data, _ = await call("GET")
        assert status == 200 and data["set"] is False
        assert str(key_file) in data["error"] and "cannot be read" in data["error"]

    run(tmp_path, scenario)
    with pytest.MonkeyPatch.context() as mp:  # the variable wins; the file is not needed then
        mp.setenv(credentials.ENV_VAR, ENV_KEY)

        async def with_env(call, host):
            status, data, _ = await call("GET")
            assert status == 200 and data["source"] == "env" and data["set"] is True

        run(tmp_path, with_env)
    with pytest.raises(errors_mod.KeyFileUnreadableError, match="Settings > Segmind"):
        credentials.require_api_key(tmp_path)
    assert isinstance(errors_mod.KeyFileUnreadableError("x"), errors_mod.MissingAPIKeyError)


# --------------------------------------------------------------------------- origin check unit


@pytest.mark.parametrize("method, headers, ok", [
    ("POST", {"Host": "127.0.0.1:8188", "Origin": "http://127.0.0.1:8188"}, True),
    ("POST", {"Host": "localhost:8188", "Origin": "http://LOCALHOST:8188"}, True),
    ("POST", {"Host": "[::1]:8188", "Origin": "http://[::1]:8188"}, True),
    ("POST", {"Host": "box.example", "Origin": "https://box.example"}, True),
    ("POST", {"Host": "box.example:443", "Origin": "https://box.example"}, True),
    ("POST", {"Host": "127.0.0.1:8188", "X-Forwarded-Host": "pod-8188.proxy.example",
              "Origin": "https://pod-8188.proxy.example"}, True),
    ("POST", {"Host": "127.0.0.1:8188", "Origin": "http://localhost:8188"}, False),
    ("POST", {"Host": "127.0.0.1:8188", "Origin": "http://127.0.0.1:8189"}, False),
    ("POST", {"Host": "127.0.0.1:8188", "Origin": "file://"}, False),
    ("POST", {"Origin": "http://127.0.0.1:8188"}, False),
    ("GET", {"Host": "127.0.0.1:8188"}, True),
    ("GET", {"Host": "127.0.0.1:8188", "Sec-Fetch-Site": "same-origin"}, True),
    ("DELETE", {"Host": "127.0.0.1:8188", "Sec-Fetch-Site": "cross-site"}, False),
])
def test_check_same_origin(method: str, headers: dict, ok: bool) -> None:
    assert (routes_mod.check_same_origin(method, headers) is None) is ok
