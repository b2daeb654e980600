"""The key routes (routes.py) on a real aiohttp server on 127.0.0.1: the key is stored
owner-only, never sent back, and only the ComfyUI page itself may use the routes."""
from __future__ import annotations

import asyncio
import json
import os
import stat
import time
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


def run(user_dir: Path, scenario, seen: Seen | None = None, output_dir: Path | None = None,
        served_names=None):
    """Start the routes on a real 127.0.0.1 server and run `scenario(call)`."""

    async def main():
        app = web.Application()
        out = lambda: str(output_dir if output_dir is not None else user_dir / "output")  # noqa: E731
        app.add_routes(routes_mod.make_routes(lambda: str(user_dir), out, served_names))
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
                body = await resp.read()
                text = body.decode("utf-8", "replace")
                if seen is not None:
                    seen.add(resp.status, resp.headers, text)
                if resp.content_type != "application/json":
                    return resp.status, body, resp.headers
                # Strict JSON, as the browser parses it: NaN or Infinity would fail here.
                data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
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
    routes_mod.register_routes(table, lambda: str(tmp_path), lambda: str(tmp_path / "output"))
    methods = sorted((r.method, r.path) for r in table)
    assert methods == sorted([("DELETE", PATH), ("GET", PATH), ("POST", PATH),
                              ("GET", "/segmind/jobs"), ("GET", "/segmind/thumb"), ("GET", "/segmind/clip"),
                              ("GET", "/segmind/limits"), ("POST", "/segmind/limits"),
                              ("POST", "/segmind/credits/refresh"),
                              ("GET", "/segmind_ltx2/team"), ("POST", "/segmind_ltx2/team")])
    # ComfyUI 0.3.64 server.add_routes copies every RouteDef like this; a route with
    # keyword arguments (e.g. allow_head=False) raised TypeError and ComfyUI did not start.
    api_routes = web.RouteTableDef()
    for route in table:
        api_routes.route(route.method, "/api" + route.path)(route.handler, **route.kwargs)
    app = web.Application()
    app.add_routes(api_routes)
    app.add_routes(table)
    paths = {r.resource.canonical for r in app.router.routes()}
    assert {"/api" + PATH, PATH, "/api/segmind/jobs", "/segmind/jobs"} <= paths


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
        # Nested too deep for the parser: the same 400, never a 500 with a traceback.
        status, data, _ = await call("POST", raw=b"[" * 4000, headers={"Content-Type": "application/json"})
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
    with pytest.raises(errors_mod.KeyFileUnreadableError) as info:
        credentials.require_api_key(tmp_path)
    assert errors_mod.Action.CHANGE_SETTING("api_key") in info.value.actions
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


# --------------------------------------------------------------------------- issue 12: the settings route


async def _raw_http(port: int, head: str, parts: list[bytes], pause: float = 0.2) -> tuple[int, bytes]:
    """Send a request over a plain socket, its body in separate writes with a pause
    between them (two TCP segments), and return (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode("latin-1") + parts[0])
    await writer.drain()
    for part in parts[1:]:
        await asyncio.sleep(pause)
        writer.write(part)
        await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_a_body_split_across_two_tcp_segments_is_read_whole(tmp_path: Path, fault_row) -> None:
    seen = Seen()
    body = json.dumps({"key": KEY}).encode()

    async def scenario(call, host):
        port = int(host.rsplit(":", 1)[1])
        head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
                f"Sec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        status, answer = await _raw_http(port, head, [body[:9], body[9:]])
        seen.add(status, {}, answer.decode())
        assert status == 200, answer
        assert json.loads(answer)["source"] == "file"
        # An oversized body is still refused when it comes in pieces.
        big = json.dumps({"key": KEY, "pad": "x" * 6000}).encode()
        head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        chunks = [f"{len(big[:3000]):x}\r\n".encode() + big[:3000] + b"\r\n",
                  f"{len(big[3000:]):x}\r\n".encode() + big[3000:] + b"\r\n0\r\n\r\n"]
        status, answer = await _raw_http(port, head, chunks)
        assert status == 413

    run(tmp_path, scenario)
    assert credentials.key_file_path(tmp_path).read_text(encoding="utf-8") == KEY
    seen.assert_never(KEY)
    fault_row("A valid key body split across two TCP segments (a pause between them)",
              "settings route POST /segmind_ltx2/key (routes.py read_body)",
              "The whole body is read (up to 4 KB, then 413) and the key is stored; before, only the "
              "first segment was read and the request was refused as 'not valid JSON'.")


def test_same_origin_holds_when_the_host_header_has_no_port(tmp_path: Path, fault_row) -> None:
    # ComfyUI on port 80: the browser sends "Host: 127.0.0.1". A page served from another
    # port of the same machine is another origin and must not change the key.
    assert routes_mod.check_same_origin("POST", {"Host": "127.0.0.1", "Origin": "http://127.0.0.1:9999"})
    assert routes_mod.check_same_origin("POST", {"Host": "localhost", "Origin": "http://localhost:8188"})
    assert routes_mod.check_same_origin("POST", {"Host": "box.example", "Origin": "http://box.example:8443"})
    assert routes_mod.check_same_origin("POST", {"Host": "127.0.0.1", "Origin": "http://127.0.0.1"}) is None
    assert routes_mod.check_same_origin("POST", {"Host": "127.0.0.1", "Origin": "http://127.0.0.1:80"}) is None
    assert routes_mod.check_same_origin("POST", {"Host": "box.example", "Origin": "https://box.example"}) is None
    credentials.save_api_key(tmp_path, "SG_previously_saved_key_1")

    async def scenario(call, host):
        for method, body in (("POST", {"key": KEY}), ("DELETE", None)):
            status, data, _ = await call(method, body, headers={"Host": "127.0.0.1",
                                                                "Origin": "http://127.0.0.1:9999"})
            assert status == 403 and "Forbidden" in data["error"]

    run(tmp_path, scenario)
    assert credentials.key_file_path(tmp_path).read_text(encoding="utf-8") == "SG_previously_saved_key_1"
    fault_row("A request with a Host header without a port (ComfyUI on port 80) from a page on another port",
              "settings route origin check (routes.py _origin_matches)",
              "Refused with 403: a port-less Host means the scheme's default port; before, any Origin port "
              "of the same host name was accepted and could replace or delete the key.")


# --------------------------------------------------------------------------- the jobs panel

ledger_mod = pack_module("core.ledger")
limits_mod = pack_module("core.spend_limits")
credits_mod = pack_module("core.credits")
cache_mod = pack_module("core.result_cache")
FP_OUT, FP_CACHED = "a1" * 32, "b2" * 32


@pytest.fixture(autouse=True)
def _fresh_spend_state():
    credits_mod.reset_credits()
    yield
    credits_mod.reset_credits()


def _two_past_jobs(user: Path, out: Path) -> tuple[Path, Path]:
    """A job whose clip is in the output folder and one whose clip is only in the cache."""
    from fake_segmind import make_mp4

    clip_dir = out / "segmind_ltx2"
    clip_dir.mkdir(parents=True)
    out_clip = clip_dir / "ltx2_i2v_first.mp4"
    make_mp4(out_clip, 128, 96, 9, 8)
    other = user / "other.mp4"
    user.mkdir(parents=True, exist_ok=True)
    make_mp4(other, 96, 128, 9, 8)
    now = time.time()
    led = ledger_mod.Ledger(user)
    led.record({"request_id": "req-first", "fingerprint": FP_OUT, "cost": 0.455, "estimate": 0.455,
                "prompt": "a fox", "width": 720, "height": 1280, "num_frames": 181, "fps": 24, "seed": 1,
                "clip": str(out_clip), "time": now - 60})
    led.record({"request_id": "req-second", "fingerprint": FP_CACHED, "cost": 0.3, "estimate": 0.455,
                "prompt": f"a cat {KEY}", "width": 256, "height": 256, "num_frames": 9, "fps": 8, "seed": 2,
                "clip": None, "time": now - 30})
    cache_mod.ResultCache(cache_mod.cache_directory(user), int(5e9)).store(
        FP_CACHED, other, {"request_id": "req-second", "request": {"prompt": "a cat"}, "cost": 0.3})
    return out_clip, cache_mod.cache_directory(user) / f"{FP_CACHED}.mp4"


class _Board:
    def snapshot(self):
        return [{"key": "job-1", "node_id": "5", "prompt_id": "p", "label": "a fox", "state": "processing",
                 "started": time.time() - 10, "elapsed": 10.0, "eta": float("nan"), "estimate_usd": 0.455,
                 "request_id": "r", "width": 736, "height": 1280, "num_frames": 185}]


def test_jobs_lists_live_and_past_jobs_with_spend(tmp_path: Path, runtime) -> None:
    user, out = tmp_path / "user", tmp_path / "output"
    _two_past_jobs(user, out)
    limits_mod.SpendLimits(per_day=5.0, per_run=None).save(user)
    credits_mod.note_credits(42.5)
    runtime.board = _Board()  # this test's process runtime (conftest)
    seen = Seen()

    async def scenario(call, host):
        status, data, headers = await call("GET", path="/segmind/jobs")
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert [j["state"] for j in data["live"]] == ["processing"] and data["live"][0]["eta"] is None
        past = data["past"]
        assert [j["request_id"] for j in past] == ["req-second", "req-first"]  # newest first
        second, first = past
        assert first["clip"] == {"filename": "ltx2_i2v_first.mp4", "subfolder": "segmind_ltx2", "type": "output"}
        assert first["thumb"] == f"/segmind/thumb?fingerprint={FP_OUT}" and first["clip_url"] is None
        assert second["clip"] is None and second["clip_url"] == f"/segmind/clip?fingerprint={FP_CACHED}"
        assert second["thumb"] == f"/segmind/thumb?fingerprint={FP_CACHED}"
        assert (first["cost"], second["cost"]) == (0.455, 0.3)
        assert first["grid"] == {"width": 736, "height": 1280, "num_frames": 185}
        assert first["collectable"] and second["collectable"]
        for field in ("prompt", "width", "height", "num_frames", "estimate", "time"):
            assert field in first
        spend = data["spend"]
        assert spend["today"] == pytest.approx(0.755) and spend["session"] == pytest.approx(0.755)
        assert spend["credits"] == 42.5 and spend["limits"] == {"per_day": 5.0, "per_run": None}

    run(user, scenario, seen, output_dir=out)
    seen.assert_never(KEY)


class _BrokenBoard:
    def snapshot(self):
        raise RuntimeError("the board is not there")


def test_jobs_without_a_job_board_lists_no_live_jobs(tmp_path: Path, runtime) -> None:
    runtime.board = _BrokenBoard()

    async def scenario(call, host):
        status, data, _ = await call("GET", path="/segmind/jobs")
        assert status == 200 and data["live"] == [] and data["past"] == []
        assert data["spend"]["today"] == 0 and data["spend"]["credits"] is None

    run(tmp_path / "user", scenario, output_dir=tmp_path / "output")


def test_thumbnail_is_a_jpeg_made_once_and_kept_beside_the_cache_entry(tmp_path: Path) -> None:
    user, out = tmp_path / "user", tmp_path / "output"
    out_clip, cached_clip = _two_past_jobs(user, out)
    thumb_of_output_clip = cache_mod.cache_directory(user) / f"{FP_OUT}.jpg"

    async def scenario(call, host):
        status, jpeg, headers = await call("GET", path=f"/segmind/thumb?fingerprint={FP_OUT}")
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
        made = thumb_of_output_clip.stat().st_mtime_ns
        status, again, _ = await call("GET", path=f"/segmind/thumb?fingerprint={FP_OUT}")
        assert again == jpeg and thumb_of_output_clip.stat().st_mtime_ns == made  # served from disk
        status, jpeg2, _ = await call("GET", path=f"/segmind/thumb?fingerprint={FP_CACHED}")
        assert status == 200 and jpeg2[:2] == b"\xff\xd8"
        status, data, _ = await call("GET", path="/segmind/thumb?fingerprint=../../etc/passwd")
        assert status == 400
        status, data, _ = await call("GET", path=f"/segmind/thumb?fingerprint={'c3' * 32}")
        assert status == 404

    run(user, scenario, output_dir=out)
    assert (cache_mod.cache_directory(user) / f"{FP_CACHED}.jpg").is_file()


def test_a_cached_clip_is_served_for_playback(tmp_path: Path) -> None:
    user, out = tmp_path / "user", tmp_path / "output"
    _, cached_clip = _two_past_jobs(user, out)

    async def scenario(call, host):
        status, data, headers = await call("GET", path=f"/segmind/clip?fingerprint={FP_CACHED}")
        assert status == 200 and headers["Content-Type"] == "video/mp4" and data == cached_clip.read_bytes()
        status, part, _ = await call("GET", path=f"/segmind/clip?fingerprint={FP_CACHED}",
                                     headers={"Range": "bytes=0-99"})
        assert status == 206 and part == cached_clip.read_bytes()[:100]
        status, _, _ = await call("GET", path=f"/segmind/clip?fingerprint={FP_OUT}")
        assert status == 404  # not in the cache: the panel plays it from output/ through /view

    run(user, scenario, output_dir=out)


def test_limits_are_read_changed_and_checked(tmp_path: Path) -> None:
    async def scenario(call, host):
        status, data, _ = await call("GET", path="/segmind/limits")
        assert status == 200 and data["per_day"] is None and data["per_run"] is None
        assert data["file"] == str(limits_mod.limits_path(tmp_path))
        status, data, _ = await call("POST", {"per_day": 5, "per_run": "1.5"}, path="/segmind/limits")
        assert status == 200 and (data["per_day"], data["per_run"]) == (5.0, 1.5)
        status, data, _ = await call("POST", {"per_run": None}, path="/segmind/limits")  # per_day kept
        assert (data["per_day"], data["per_run"]) == (5.0, None)
        status, data, _ = await call("POST", {"per_day": -2}, path="/segmind/limits")
        assert status == 400 and "US dollars" in data["error"]
        status, data, _ = await call("POST", {"daily": 3}, path="/segmind/limits")
        assert status == 400 and "per_day" in data["error"]
        status, data, _ = await call("POST", raw=b'{"per_day": 1}', path="/segmind/limits",
                                     headers={"Content-Type": "text/plain"})
        assert status == 415

    run(tmp_path, scenario)
    assert limits_mod.SpendLimits.load(tmp_path) == limits_mod.SpendLimits(5.0, None)


def test_a_damaged_limits_file_is_reported_and_replaced_by_a_post(tmp_path: Path) -> None:
    path = limits_mod.limits_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{oops")

    async def scenario(call, host):
        status, data, _ = await call("GET", path="/segmind/limits")
        assert status == 200 and str(path) in data["error"]
        status, data, _ = await call("GET", path="/segmind/jobs")
        assert str(path) in data["spend"]["limits_error"]
        status, data, _ = await call("POST", {"per_day": 2}, path="/segmind/limits")
        assert status == 200 and data["per_day"] == 2.0 and "error" not in data

    run(tmp_path, scenario, output_dir=tmp_path / "output")


def test_credits_refresh_is_reused_for_a_minute(tmp_path: Path, segmind_env) -> None:
    seen = Seen()

    async def scenario(call, host):
        status, data, _ = await call("POST", {}, path="/segmind/credits/refresh")
        assert status == 200 and data == {"credits": 100.0, "cached": False}
        status, data, _ = await call("POST", {}, path="/segmind/credits/refresh")
        assert data == {"credits": 100.0, "cached": True}
        status, data, _ = await call("GET", path="/segmind/jobs")
        assert data["spend"]["credits"] == 100.0

    run(tmp_path, scenario, seen, output_dir=tmp_path / "output")
    assert segmind_env.counts["credit_calls"] == 1
    seen.assert_never(segmind_env.api_key)


def test_credits_refresh_without_a_key_says_how_to_set_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)

    async def scenario(call, host):
        status, data, _ = await call("POST", {}, path="/segmind/credits/refresh")
        assert status == 200 and data["credits"] is None and "key" in data["error"].lower()

    run(tmp_path, scenario)


@pytest.mark.parametrize("method, path", [
    ("GET", "/segmind/jobs"), ("GET", "/segmind/limits"), ("POST", "/segmind/limits"),
    ("POST", "/segmind/credits/refresh"), ("GET", f"/segmind/thumb?fingerprint={'b2' * 32}"),
    ("GET", f"/segmind/clip?fingerprint={'b2' * 32}"),
])
def test_panel_routes_refuse_other_sites(tmp_path: Path, method: str, path: str) -> None:
    async def scenario(call, host):
        body = {"per_day": 0} if method == "POST" else None
        for headers in ({"Origin": "http://evil.example"}, {"Origin": None, "Sec-Fetch-Site": "cross-site"}):
            status, data, _ = await call(method, body, headers=headers, path=path)
            assert status == 403 and "Forbidden" in data["error"]

    run(tmp_path, scenario, output_dir=tmp_path / "output")
    assert not limits_mod.limits_path(tmp_path).exists()


# --------------------------------------------------------------------------- issue 19: DNS rebinding


def _past_job_with_cached_clip(user: Path, out: Path) -> None:
    _two_past_jobs(user, out)
    limits_mod.SpendLimits(per_day=2.0).save(user)
    credentials.save_api_key(user, KEY)


def test_a_foreign_name_pointed_at_this_machine_is_refused_on_every_route(tmp_path: Path, fault_row) -> None:
    # DNS rebinding: the attacker's page at attacker.example:<port>, its name now resolving to
    # 127.0.0.1. The browser sends Host and Origin both naming attacker.example: same-origin.
    user, out = tmp_path / "user", tmp_path / "output"
    _past_job_with_cached_clip(user, out)

    async def scenario(call, host):
        port = host.rsplit(":", 1)[1]
        foreign = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
        for method, path, body in (("POST", "/segmind/limits", {"per_day": None}), ("DELETE", PATH, None),
                                   ("GET", "/segmind/jobs", None), ("GET", f"/segmind/clip?fingerprint={FP_CACHED}", None),
                                   ("GET", f"/segmind/thumb?fingerprint={FP_CACHED}", None), ("GET", PATH, None),
                                   ("POST", "/segmind/credits/refresh", {})):
            for headers in (foreign, {**foreign, "Origin": None, "Sec-Fetch-Site": "same-origin"},
                            {**foreign, "X-Forwarded-Host": "localhost"}):
                status, data, _ = await call(method, body, headers=headers, path=path)
                assert status == 403, (method, path, headers, data)
                assert "attacker.example" in data["error"] and routes_mod.ALLOWED_HOSTS_ENV in data["error"]
        # The page itself, opened by address or as localhost, is served as before.
        status, data, _ = await call("GET", path="/segmind/jobs")
        assert status == 200 and [j["request_id"] for j in data["past"]] == ["req-second", "req-first"]
        local = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
        status, data, _ = await call("GET", headers=local, path="/segmind/limits")
        assert status == 200 and data["per_day"] == 2.0

    run(user, scenario, output_dir=out)
    assert limits_mod.SpendLimits.load(user).per_day == 2.0
    assert credentials.key_file_path(user).read_text(encoding="utf-8") == KEY
    fault_row("DNS rebinding: Host and Origin both attacker.example:<port>, the name resolving to 127.0.0.1",
              "every route (routes.py check_served_name)",
              "403 naming the foreign name and SEGMIND_LTX2_ALLOWED_HOSTS; limits, key, jobs and clips untouched. "
              "Before, the same-origin check passed it: the limit was lifted and the key deleted.")


def test_a_name_the_user_allows_or_comfyui_listens_on_is_served(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(routes_mod.ALLOWED_HOSTS_ENV, "comfy.lan, .proxy.example")

    async def scenario(call, host):
        port = host.rsplit(":", 1)[1]
        for name in ("comfy.lan", "pod-8188.proxy.example", "studio", "box-7"):
            headers = {"Host": f"{name}:{port}", "Origin": f"http://{name}:{port}"}
            status, data, _ = await call("POST", {"per_run": 1}, headers=headers, path="/segmind/limits")
            assert status == 200 and data["per_run"] == 1.0, (name, data)
        # Behind a proxy that sets Host to the loopback: the public name must be allowed too.
        status, _, _ = await call("GET", headers={"X-Forwarded-Host": "pod-1.proxy.example", "Origin": None},
                                  path="/segmind/limits")
        assert status == 200
        status, _, _ = await call("GET", headers={"X-Forwarded-Host": "other.example", "Origin": None},
                                  path="/segmind/limits")
        assert status == 403

    # "studio" as ComfyUI's --listen address, "box-7" as a further name the host reports.
    run(tmp_path, scenario, served_names=lambda: routes_mod.allowed_host_names(["studio", "box-7"]))


@pytest.mark.parametrize("name, ok", [
    ("127.0.0.1", True), ("10.1.2.3", True), ("[::1]", True), ("localhost", True), ("LOCALHOST.", True),
    ("attacker.example", False), ("localhost.attacker.example", False), ("127.0.0.1.nip.io", False),
    ("comfy.lan", True), ("a.proxy.example", True), ("proxy.example.evil", False),
])
def test_served_names(name: str, ok: bool) -> None:
    allowed = routes_mod.allowed_host_names([], {routes_mod.ALLOWED_HOSTS_ENV: "comfy.lan,.proxy.example"})
    assert (routes_mod.check_served_name({"Host": f"{name}:8188"}, allowed) is None) is ok


def test_the_host_module_and_the_routes_do_not_import_each_other() -> None:
    import ast

    root = Path(routes_mod.__file__).parent

    def imported(module: str) -> set[str]:
        names: set[str] = set()
        for node in ast.walk(ast.parse((root / module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
                names.update(alias.name for alias in node.names)
        return names

    assert not {"comfy_host", "comfy_host.py"} & imported("routes.py")
    assert not {"routes"} & imported("comfy_host.py")


def test_the_pack_registers_its_routes_on_comfyui_s_table_with_its_listen_address(tmp_path: Path, monkeypatch) -> None:
    # ComfyUI's modules as the pack finds them in sys.modules: a PromptServer with a route
    # table and the parsed --listen argument.
    import sys
    import types

    table = web.RouteTableDef()
    server = types.ModuleType("server")
    server.PromptServer = types.SimpleNamespace(instance=types.SimpleNamespace(routes=table))
    cli_args = types.ModuleType("comfy.cli_args")
    cli_args.args = types.SimpleNamespace(listen="studio,127.0.0.1")
    folder_paths = types.ModuleType("folder_paths")
    folder_paths.get_user_directory = lambda: str(tmp_path)
    folder_paths.get_output_directory = lambda: str(tmp_path / "output")
    for name, module in (("server", server), ("comfy.cli_args", cli_args), ("folder_paths", folder_paths)):
        monkeypatch.setitem(sys.modules, name, module)
    host = pack_module("comfy_host")
    assert host.listen_addresses() == ["studio", "127.0.0.1"]
    pack = sys.modules[routes_mod.__name__.rsplit(".", 1)[0]]
    pack._register_routes()
    assert ("POST", "/segmind/limits") in {(r.method, r.path) for r in table}
    app = web.Application()
    app.add_routes(table)

    async def main():
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            port = client.port
            for name, status in (("studio", 200), ("attacker.example", 403)):
                resp = await client.post("/segmind/limits", json={"per_day": 3},
                                         headers={"Host": f"{name}:{port}", "Origin": f"http://{name}:{port}"})
                assert resp.status == status, await resp.text()

    asyncio.run(main())
    assert limits_mod.SpendLimits.load(tmp_path).per_day == 3.0


def test_a_symlink_planted_in_the_cache_is_not_served(tmp_path: Path, fault_row) -> None:
    secret = tmp_path / "private.txt"
    secret.write_text("not a clip")
    cache = cache_mod.cache_directory(tmp_path)
    cache.mkdir(parents=True)
    (cache / f"{FP_CACHED}.mp4").symlink_to(secret)

    async def scenario(call, host):
        status, data, _ = await call("GET", path=f"/segmind/clip?fingerprint={FP_CACHED}")
        assert status == 404, data

    run(tmp_path, scenario)
    fault_row("A symlink planted in the result cache under a clip's name", "GET /segmind/clip",
              "404: only files are served from the cache; before, the link's target was sent.")
