"""A hostile service at the transport and protocol depth (issue 12): the key never leaks
nor travels where it should not, no paid clip is lost to bad metadata or a full disk, and
every body read from the network is bounded. Each test fails without its fix and records
a row of the hardening table (fault_row)."""
from __future__ import annotations

import json
import math
import os
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from fake_segmind import make_mp4
from pack_loader import pack_module

client_mod = pack_module("core.client")
credentials = pack_module("core.credentials")
errors = pack_module("core.errors")

KEY = "SG_testkey0123456789abcd"  # the stand-in's key
RUN = {"prompt": "x", "width": 256, "height": 256, "num_frames": 9, "fps": 8, "seed": 1, "guidance_scale": 4.0}
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fill a disk")


class FreeBudget:
    """A request budget that never waits and records what passed through it."""

    def __init__(self) -> None:
        self.acquired: list[tuple[str, str]] = []
        self.rate_limited_with: list[float | None] = []

    def acquire(self, kind: str = "call", cancel_check: Callable[[], None] | None = None) -> None:
        self.acquired.append((kind, threading.current_thread().name))
        if cancel_check is not None:
            cancel_check()

    def rate_limited(self, wait_seconds: float | None) -> None:
        self.rate_limited_with.append(wait_seconds)


def make_client(base: str, key: str = KEY, **kw: Any) -> Any:
    cfg = client_mod.ClientConfig(api_base=base, storage_base=base, poll_interval=0.01, poll_interval_max=0.02,
                                  backoff_base=0.01, backoff_max=0.01)
    kw.setdefault("budget", FreeBudget())
    return client_mod.SegmindClient(key, cfg, **kw)


def leaks(text: str, key: str = KEY) -> bool:
    """Any recognisable piece of the key (its secret tail) in the text."""
    return key[3:] in text or key[-8:] in text or key[-8:].upper() in text


# --------------------------------------------------------------------------- a tiny server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.server.route(self)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.hits.append(self.path)
        self.server.route(self)

    def stream(self, status: int, ctype: str, length: int | None, limit: int, chunk: int = 1 << 20,
               pause: float = 0.0) -> None:
        """Send `limit` bytes (spaces) at most, counting what the client took; a client
        that hangs up ends it. Sets server.ended when done."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.send_header("Connection", "close")
            self.end_headers()
            block = b" " * chunk
            while self.server.sent < limit:
                self.wfile.write(block)
                self.server.sent += len(block)
                time.sleep(pause)
        except OSError:
            pass
        finally:
            self.close_connection = True
            self.server.ended.set()

    def answer(self, status: int, body: bytes = b"", ctype: str = "video/mp4", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.hits, srv.sent, srv.ended = [], 0, threading.Event()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def wait_until(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


# --------------------------------------------------------------------------- the key


@pytest.mark.parametrize("status", ["FAILED", "ERROR", "CANCELLED"])
def test_job_ended_in_a_200_status_answer_redacts_the_key_and_names_no_422(fake_segmind, fault_row, status):
    client = make_client(fake_segmind.api_base)
    job = client.submit("ltx-2-19b-t2v", RUN)
    fake_segmind.fault("status", json={"status": status, "error": f"request with key {KEY} was dropped"})
    with pytest.raises(errors.SegmindJobFailed) as exc:
        client.wait(job, timeout=30)
    text = str(exc.value)
    assert not leaks(text) and "HTTP 422" not in text
    assert status.lower() in text and "dropped" in text and job.request_id in text
    fault_row(f"status answers HTTP 200 {status} with the key in its error", "status",
              "message redacts the key; says the job ended, not HTTP 422")


def test_a_status_word_carrying_the_key_is_redacted_before_it_is_shown(fake_segmind, fault_row):
    events: list[dict] = []
    client = make_client(fake_segmind.api_base, on_event=lambda kind, data: events.append(data))
    job = client.submit("ltx-2-19b-t2v", RUN)
    fake_segmind.fault("status", json={"status": f"busy {KEY.lower()}"})
    client.wait(job, timeout=30)
    shown = [str(e.get("status")) for e in events if "status" in e]
    assert shown and not any(leaks(s) or leaks(s, KEY.upper()) for s in shown)
    fault_row("status word holds the key (lower-cased)", "status", "the status shown on the node is redacted")


def _json_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _html_escaped(text: str) -> str:
    return "".join(f"&#{ord(c)};" for c in text)


@pytest.mark.parametrize("case, ctype, body", [
    ("JSON-escaped, in a field the client does not know", "application/json",
     '{"reason": "bad key ' + _json_escaped(KEY) + '"}'),
    ("HTML-escaped, in an error page's title", "text/html",
     "<html><head><title>bad key " + _html_escaped(KEY) + "</title></head></html>"),
    ("split by tags, in an error page", "text/html",
     "<html><body><p>bad key " + KEY[:10] + "<b>" + KEY[10:] + "</b></p></body></html>"),
])
def test_a_key_echoed_back_in_any_encoding_is_redacted(fake_segmind, fault_row, case, ctype, body):
    fake_segmind.fault("credits", status=400, text=body, content_type=ctype)
    with pytest.raises(errors.SegmindAPIError) as exc:
        make_client(fake_segmind.api_base).credits()
    text = str(exc.value)
    assert "bad key" in text and not leaks(text)
    assert _json_escaped(KEY[-8:]) not in text and _html_escaped(KEY[-8:]) not in text
    fault_row(f"error echoes the key {case}", "credits", "the raw text is redacted before decoding and after")


@pytest.mark.parametrize("text", ["SG_abc<def>ghij1", 'SG_"quoted"key123', "SG_key&amp;12345", "SG_key%2F123456"])
def test_a_key_outside_segmind_alphabet_is_refused_when_entered_or_loaded(tmp_path, monkeypatch, fault_row, text):
    with pytest.raises(errors.InvalidInputError) as typed:
        credentials.validate_key_text(text)
    monkeypatch.setenv(credentials.ENV_VAR, text)
    with pytest.raises(errors.MissingAPIKeyError) as loaded:
        credentials.require_api_key(tmp_path)
    for exc in (typed.value, loaded.value):
        assert "letters, digits" in str(exc) and text not in str(exc)
    fault_row("a key with characters outside letters, digits, _ and -", "settings, key file, environment",
              str(loaded.value))


class _RecordingSession:
    """Stands in for requests.Session: records the headers of each request and answers
    every one with a four-byte video."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def request(self, method: str, url: str, headers: dict | None = None, **kw: Any) -> Any:
        self.sent.append((url, dict(headers or {})))
        return _Answer()


class _Answer:
    status_code = 200
    headers = {"Content-Type": "video/mp4", "Content-Length": "4"}

    def iter_content(self, size: int) -> Iterator[bytes]:
        yield b"\x00\x00\x00\x18"

    def close(self) -> None:
        pass


@pytest.mark.parametrize("base, url, gets_key", [
    ("https://api.segmind.com", "https://api.segmind.com/files/a.mp4", True),
    ("https://api.segmind.com", "https://workflows-api.segmind.com/a.mp4", True),
    ("https://api.segmind.com", "http://api.segmind.com/files/a.mp4", False),         # clear text
    ("https://api.segmind.com", "https://api.segmind.com:8443/files/a.mp4", False),   # another port
    ("https://api.segmind.com", "https://cdn.example.com/a.mp4", False),
    ("http://127.0.0.1:9100", "http://127.0.0.1:9100/files/a.mp4", True),              # the stand-in
    ("http://127.0.0.1:9100", "http://127.0.0.1:9101/files/a.mp4", False),
    ("http://127.0.0.1:9100", "http://api.segmind.com/files/a.mp4", False),
])
def test_the_key_goes_only_over_https_to_segmind_or_exactly_to_a_configured_base(tmp_path, fault_row,
                                                                                 base, url, gets_key):
    session = _RecordingSession()
    cfg = client_mod.ClientConfig(api_base=base, storage_base=base)
    client = client_mod.SegmindClient(KEY, cfg, session=session, budget=FreeBudget())
    client.download(url, tmp_path / "clip.mp4")
    ((sent_to, headers),) = session.sent
    assert sent_to == url and ("x-api-key" in headers) is gets_key
    fault_row(f"result URL {url} (base {base})", "download", "sent with the key" if gets_key else "sent without the key")


def test_a_plain_http_base_off_this_machine_is_refused(fault_row):
    with pytest.raises(errors.SegmindError) as exc:
        client_mod.SegmindClient(KEY, client_mod.ClientConfig(api_base="http://api.segmind.com"), budget=FreeBudget())
    assert "clear text" in str(exc.value) and "SEGMIND_API_BASE" in str(exc.value)
    fault_row("SEGMIND_API_BASE=http://api.segmind.com", "before any request", str(exc.value))


# --------------------------------------------------------------------------- paid clips


@needs_dev_full
def test_a_base64_v1_answer_on_a_full_disk_gives_a_message_and_leaves_no_part_file(fake_segmind, tmp_path, fault_row):
    fake_segmind.sync_shape = "json_base64"
    dest = tmp_path / "clip.mp4"
    part = dest.with_name(dest.name + ".part")
    part.symlink_to("/dev/full")  # every write there fails with ENOSPC, as on a full disk
    with pytest.raises(errors.VideoError) as exc:
        make_client(fake_segmind.api_base).run_sync("ltx-2-19b-t2v", RUN, dest, timeout=30)
    assert "disk is full" in str(exc.value) and "free some disk space" in str(exc.value)
    assert not os.path.lexists(part) and not dest.exists()
    fault_row("v1 answer carries the clip as base64; the disk is full", "run (v1 sync)",
              str(exc.value).replace(str(tmp_path), "<tmp>"))


@pytest.mark.parametrize("seed", ["inf", "nan", "1e400", "-inf"])
def test_a_non_finite_seed_header_does_not_lose_the_paid_v1_clip(fake_segmind, tmp_path, fault_row, seed):
    fake_segmind.fault("sync", headers={"x-seed-value": seed, "x-cost": "nan", "x-remaining-credits": "inf"})
    dest = tmp_path / "clip.mp4"
    info = make_client(fake_segmind.api_base).run_sync("ltx-2-19b-t2v", RUN, dest, timeout=30)
    assert dest.stat().st_size > 0 and fake_segmind.jobs_submitted == 1
    assert info.seed is None and info.cost is None and info.remaining_credits is None
    fault_row(f"v1 answer with x-seed-value: {seed}, x-cost: nan", "run (v1 sync)",
              "the clip is saved first; seed and cost are left unknown")


def test_non_finite_metrics_never_leave_the_client(fake_segmind, fault_row):
    client = make_client(fake_segmind.api_base)
    job = client.submit("ltx-2-19b-t2v", RUN)
    fake_segmind.fault("status", json={"status": "COMPLETED", "output": fake_segmind.video_url(job.request_id),
                                       "metrics": {"cost": math.nan, "remaining_credits": math.inf,
                                                   "inference_time": -math.inf, "queue_time": 0.5}})
    _, info = client.wait(job, timeout=30)
    numbers = [info.cost, info.remaining_credits, info.inference_time, info.queue_time]
    assert numbers == [None, None, None, 0.5]
    fault_row("status metrics hold NaN and Infinity", "status", "those numbers are left unknown")


@pytest.mark.parametrize("case, body", [
    ("JSON nested 100,000 levels deep", "[" * 100000 + "]" * 100000),
    ("JSON cut short", '{"request_id": "abc'),
    ("a JSON string, not an object", '"accepted"'),
])
def test_an_unreadable_submit_answer_may_be_billed_and_is_never_resent(fake_segmind, fault_row, case, body):
    fake_segmind.fault("submit", status=200, text=body, content_type="application/json")
    with pytest.raises(errors.SegmindError) as exc:
        make_client(fake_segmind.api_base).submit("ltx-2-19b-t2v", RUN)
    assert "billed" in str(exc.value) and "dashboard" in str(exc.value)
    assert fake_segmind.counts["submits"] == 1
    fault_row(f"submit answers HTTP 200 with {case}", "submit", "may have been accepted and billed: check the "
              "dashboard; not resent")


# --------------------------------------------------------------------------- bounded reads


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_status_answer_is_not_read_whole(server, fault_row, declared):
    def route(h: _Handler) -> None:
        if h.command == "POST":
            h.answer(200, json.dumps({"request_id": "job-1"}).encode(), "application/json")
        else:  # 1.5 GB declared; 64 MB really sent at most, so a client without a cap stops too
            h.stream(200, "application/json", 1_500_000_000 if declared else None, limit=64 << 20)

    server.route = route
    client = make_client(server.base)
    job = client.submit("ltx-2-19b-t2v", RUN)
    with pytest.raises(errors.SegmindError) as exc:
        client.wait(job, timeout=30)
    wait_until(server.ended.is_set, "the server to notice the client hung up")
    assert "more than 8 MB" in str(exc.value)
    assert server.sent < 24 << 20 and server.hits.count("/v2/requests/job-1/status") == 1
    fault_row(f"status answer of 1.5 GB ({'declared' if declared else 'no Content-Length'})", "status",
              "at most 8 MB is read; " + str(exc.value))


@pytest.mark.parametrize("declared", [True, False])
def test_a_download_larger_than_the_request_can_produce_is_cut_off(server, tmp_path, fault_row, declared):
    server.route = lambda h: h.stream(200, "video/mp4", (64 << 20) if declared else None, limit=64 << 20)
    dest = tmp_path / "clip.mp4"
    with pytest.raises(errors.VideoError) as exc:
        make_client(server.base).download(server.base + "/clip.mp4", dest, max_bytes=2 << 20)
    wait_until(server.ended.is_set, "the server to notice the client hung up")
    assert "more than 2 MB" in str(exc.value) and server.sent < 24 << 20
    assert server.hits == ["/clip.mp4"] and not dest.exists() and not list(tmp_path.iterdir())
    fault_row("the video is 64 MB where the request allows 2 MB", "download", str(exc.value))


def test_the_clip_bound_follows_the_request():
    small = client_mod.clip_size_bound(RUN)
    assert 16 << 20 < small < 64 << 20
    assert client_mod.clip_size_bound({**RUN, "width": 1280, "height": 1280, "num_frames": 400}) == 2 << 30
    assert client_mod.clip_size_bound({"prompt": "x"}) == 2 << 30


def test_a_v1_body_streaming_forever_stops_at_the_cap(server, tmp_path, fault_row):
    # A v1 answer is billed and its save runs to its end whatever Cancel says (the
    # lifecycle's rule), but never past what the request can produce.
    limit = 512 << 20
    server.route = lambda h: h.stream(200, "video/mp4", None, limit=limit, chunk=256 << 10)
    client = make_client(server.base)
    dest = tmp_path / "clip.mp4"
    with pytest.raises(errors.VideoError) as exc:
        client.run_sync("ltx-2-19b-t2v", RUN, dest, timeout=30)
    wait_until(server.ended.is_set, "the save to stop reading", limit=60)
    cap = client_mod.clip_size_bound(RUN)
    assert server.sent < cap + (16 << 20) and "more than" in str(exc.value)
    assert not list(tmp_path.iterdir())  # no partial file stays
    fault_row("v1 answer streams without end", "run (v1 sync)",
              f"the save stops at the request's bound ({cap >> 20} MB here) and removes its partial file")


@needs_dev_full
def test_a_full_disk_during_a_download_is_not_retried(server, tmp_path, fault_row):
    body = make_mp4(None, 64, 64, 9, 8)
    server.route = lambda h: h.answer(200, body)
    dest = tmp_path / "clip.mp4"
    dest.with_name(dest.name + ".part").symlink_to("/dev/full")
    with pytest.raises(errors.VideoError) as exc:
        make_client(server.base).download(server.base + "/clip.mp4", dest)
    assert server.hits == ["/clip.mp4"]
    assert "disk is full" in str(exc.value) and "free some disk space" in str(exc.value)
    assert "network" not in str(exc.value) and not os.path.lexists(dest.with_name(dest.name + ".part"))
    fault_row("the disk fills up during the download (ENOSPC)", "download",
              str(exc.value).replace(str(tmp_path), "<tmp>"))


def test_a_redirect_loop_ends_after_a_few_hops(server, tmp_path, fault_row):
    def route(h: _Handler) -> None:
        h.answer(302, headers={"Location": "/loop"})

    server.route = route
    with pytest.raises(errors.SegmindError) as exc:
        make_client(server.base).download(server.base + "/loop", tmp_path / "clip.mp4")
    text = str(exc.value)
    assert "redirect" in text and "internet" not in text and "network" in text  # "not ... your network"
    assert len(server.hits) <= 6
    fault_row("the result URL redirects to itself", "download", text)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/clip.mp4"])
@pytest.mark.parametrize("how", ["redirect", "answer"])
def test_a_non_http_url_is_refused_naming_its_scheme(server, tmp_path, fault_row, target, how):
    server.route = lambda h: h.answer(302, headers={"Location": target})
    url = server.base + "/go" if how == "redirect" else target
    with pytest.raises(errors.SegmindError) as exc:
        make_client(server.base).download(url, tmp_path / "clip.mp4")
    scheme = target.split(":")[0]
    text = str(exc.value)
    assert f"'{scheme}:'" in text and "internet" not in text
    assert len(server.hits) == (1 if how == "redirect" else 0)
    fault_row(f"{'a redirect to' if how == 'redirect' else 'a result URL'} {target}", "download", text)


# --------------------------------------------------------------------------- the request budget


def test_every_request_to_segmind_passes_the_budget_and_a_cdn_download_does_not(fake_segmind, server, tmp_path):
    budget = FreeBudget()
    client = make_client(fake_segmind.api_base, budget=budget)
    client.upload_image("data:image/png;base64," + "iVBORw0KGgo=")
    job = client.submit("ltx-2-19b-t2v", RUN)
    ref, _ = client.wait(job, timeout=30)
    client.save_output(ref, tmp_path / "a.mp4")
    client.credits()
    kinds = [kind for kind, _ in budget.acquired]
    polls = fake_segmind.counts["status_calls"]
    # The stand-in serves videos from another origin, as Segmind does from its storage: not budgeted.
    api_calls = sum(fake_segmind.counts.values()) - fake_segmind.counts["downloads"]
    assert kinds.count("poll") == polls and len(kinds) == api_calls and fake_segmind.counts["downloads"] == 1
    server.route = lambda h: h.answer(200, b"\x00" * 100)  # another origin: a CDN
    before = len(budget.acquired)
    client.download(server.base + "/b.mp4", tmp_path / "b.mp4")
    assert len(budget.acquired) == before


def test_a_429_tells_the_budget_when_the_limit_resets(fake_segmind):
    budget = FreeBudget()
    fake_segmind.fault("credits", status=429, headers={"x-rate-limit-reset-at-utc": str(time.time() + 0.05)})
    fake_segmind.fault("credits", status=429)
    make_client(fake_segmind.api_base, budget=budget).credits()
    first, second = budget.rate_limited_with
    assert first is not None and 0 <= first <= 0.1 and second is None
    assert fake_segmind.counts["credit_calls"] == 3


# --------------------------------------------------------------------------- the key file


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")
def test_saving_the_key_never_follows_a_planted_symlink(tmp_path, monkeypatch, fault_row):
    path = credentials.key_file_path(tmp_path / "user")
    path.parent.mkdir(parents=True)
    victims = {name: tmp_path / f"victim-{n}" for n, name in enumerate(
        [path.name, path.name + ".tmp", ".api_key.planted.tmp"])}
    for name, victim in victims.items():
        victim.write_text("untouched")
        (path.parent / name).symlink_to(victim)
    tokens = iter(["planted", "fresh", "spare"])  # the first temporary name is already taken by a link
    monkeypatch.setattr(credentials.secrets, "token_hex", lambda n=None: next(tokens))
    credentials.save_api_key(tmp_path / "user", KEY)
    assert all(v.read_text() == "untouched" for v in victims.values())
    assert not path.is_symlink() and path.read_text() == KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fault_row("symlinks planted at the key file's final and temporary names", "settings: save the key",
              "written to a fresh exclusive file, then renamed over the link; no link is followed")
