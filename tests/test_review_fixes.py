"""Regression tests for bugs found in review: each fails without its fix."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch

from fake_segmind import make_mp4
from runtimes import fresh_runtime
from pack_loader import load_pack, pack_module
from node_calls import call_node

pack = load_pack()
client_mod = pack_module("core.client")
transport_mod = pack_module("core.transport")
comfy_host = pack_module("comfy_host")
credentials = pack_module("core.credentials")
errors = pack_module("core.errors")
job_journal = pack_module("core.job_journal")
lifecycle = pack_module("core.lifecycle")
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]

IMAGE = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(3))
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)


class PausingBudget:
    """A request budget on a simulated clock: it only holds the pause a 429 asks for, and
    checks that nothing is sent before that pause is over."""

    def __init__(self, clock) -> None:
        self.clock, self.until = clock, 0.0

    def acquire(self, kind: str = "call", cancel_check=None) -> None:
        assert self.clock() >= self.until, "a request was sent before the 429's reset time"

    def rate_limited(self, wait_seconds) -> None:
        self.until = self.clock() + (wait_seconds or 0.0)


def queue(**over: Any) -> dict:
    return call_node(NODE(), image=IMAGE, prompt="x", negative_prompt="", unique_id="1", **{**SMALL, **over})


def attempt(**over: Any) -> Any:
    try:
        return queue(**over)
    except Exception as exc:  # judged by the test
        return exc


def journal_files(srv) -> list[Path]:
    return sorted(job_journal.journal_directory(srv.home).glob("*.json"))


def wait_until(condition, what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


# --------------------------------------------------------------------------- key leakage


class _Recorder(BaseHTTPRequestHandler):
    """GET /go redirects (302) to the other server's /file; /file answers a few bytes."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/go":
            self.send_response(302)
            self.send_header("Location", self.server.target + "/file")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server(body: bytes = b"") -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    srv.seen, srv.body, srv.target = [], body, ""
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return srv


def test_key_is_not_forwarded_on_a_redirect_to_another_host(tmp_path):
    segmind, cdn = _server(), _server(b"\x00" * 1000)
    try:
        base = f"http://127.0.0.1:{segmind.server_address[1]}"
        segmind.target = f"http://127.0.0.1:{cdn.server_address[1]}"
        cfg = client_mod.ClientConfig(api_base=base, storage_base=base)
        client = client_mod.SegmindClient("SG_secretkey123456", cfg)
        client.download(base + "/go", tmp_path / "clip.mp4")
        assert (tmp_path / "clip.mp4").stat().st_size == 1000
        assert segmind.seen[0]["x-api-key"] == "SG_secretkey123456"
        assert cdn.seen and all("x-api-key" not in h for h in cdn.seen)
    finally:
        for s in (segmind, cdn):
            s.shutdown()
            s.server_close()


# --------------------------------------------------------------------------- billing


def test_switching_to_sync_collects_the_recorded_paid_job(pack_env, monkeypatch):
    srv = pack_env
    srv.polls_until_done = 3
    armed = threading.Event()
    armed.set()
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: armed.is_set() and srv.counts["status_calls"] >= 1)
    assert isinstance(attempt(), errors.Cancelled) and len(journal_files(srv)) == 1
    armed.clear()
    out = attempt(api_mode="sync (v1)")  # same request, now in v1 mode
    assert not isinstance(out, Exception), out
    assert srv.jobs_submitted == 1 and not journal_files(srv)


def test_requeue_waits_for_a_cancelled_submit_sent_after_a_long_429_wait(pack_env, monkeypatch, use_runtime):
    """A 429 reset 85 s away delays the second submit attempt past a deadline counted from
    the first attempt; a re-queue must still wait for that attempt's answer."""
    srv = pack_env
    clock = {"offset": 0.0}
    real = time.monotonic
    monkeypatch.setattr(transport_mod.Transport, "_sleep",
                        lambda self, seconds: clock.__setitem__("offset", clock["offset"] + seconds))
    # The request budget's 429 pause, on the same simulated clock.
    budget = PausingBudget(lambda: real() + clock["offset"])
    use_runtime(fresh_runtime(budget=budget))
    srv.fault("submit", status=429, headers={"x-rate-limit-reset-at-utc": str(time.time() + 85)})
    srv.fault("submit", delay=1.0)
    armed = threading.Event()
    armed.set()
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: armed.is_set() and srv.counts["submits"] >= 2)
    assert isinstance(attempt(), errors.Cancelled) and not journal_files(srv)
    armed.clear()
    out = attempt()  # queued again while the second attempt is still on the wire
    assert not isinstance(out, Exception), out
    time.sleep(1.2)  # let any second submit be answered too
    assert srv.jobs_submitted == 1 and srv.counts["submits"] == 2


# --------------------------------------------------------------------------- weird answers


class _Resp:
    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body, self.headers = body, headers

    def iter_content(self, size: int):
        for i in range(0, len(self.body), 1000):
            yield self.body[i:i + 1000]

    def close(self) -> None:
        pass


@pytest.mark.parametrize("headers", [
    {"Content-Length": "abc"},                                # malformed
    {"Content-Length": "5000, 5000"},                         # duplicated header, joined
    {"Content-Length": "1200", "Content-Encoding": "gzip"},   # counts compressed bytes
])
def test_download_survives_odd_content_length(tmp_path, headers):
    client = client_mod.SegmindClient("SG_secretkey123456", client_mod.ClientConfig())
    body = b"\x01" * 5000
    client.transport.stream_to(_Resp(body, headers), tmp_path / "clip.mp4", stage="download")
    assert (tmp_path / "clip.mp4").read_bytes() == body


# --------------------------------------------------------------------------- the key file


def test_key_file_with_a_byte_order_mark_works(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    path = credentials.key_file_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xef\xbb\xbfSG_notepadkey123456\r\n")  # as Windows Notepad saves it
    assert credentials.require_api_key(tmp_path) == "SG_notepadkey123456"


@pytest.mark.parametrize("text", ["SG_firstline123456\n# my key", "SG_smart\u2026quote123456"])
def test_unusable_key_is_refused_before_anything_is_sent(tmp_path, monkeypatch, text):
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    path = credentials.key_file_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(errors.MissingAPIKeyError) as exc:
        credentials.require_api_key(tmp_path)
    assert str(path) in str(exc.value) and "SG_" not in str(exc.value).replace("SG_...", "")
    with pytest.raises(errors.InvalidInputError):
        credentials.validate_key_text("SG_smart\u2026quote123456")  # the settings route refuses it too


# --------------------------------------------------------------------------- command line


def test_cli_unusable_out_folder_fails_before_anything_is_sent(pack_env, tmp_path, capsys):
    cli = pack_module("__main__")
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    code = cli.main(["--backend", "segmind", "--t2v", "--prompt", "x", "--width", "256", "--height", "256",
                     "--num-frames", "9", "--out", str(blocker)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "Traceback" not in err
    assert pack_env.counts["submits"] == 0 and pack_env.jobs_submitted == 0


def test_empty_200_answer_to_a_submit_warns_it_may_be_billed(pack_env):
    pack_env.fault("submit", status=200, text="")
    exc = attempt()
    assert isinstance(exc, errors.SegmindError) and "dashboard" in str(exc)
    assert pack_env.counts["submits"] == 1  # not resent


def test_v1_clip_arriving_after_cancel_is_still_saved(pack_env, monkeypatch):
    """v1 has no request id: a clip paid for but cancelled while generating is kept anyway."""
    import threading
    import torch

    from pack_loader import load_pack, pack_module

    comfy_host = pack_module("comfy_host")
    errors = pack_module("core.errors")
    video_decode = pack_module("core.video_decode")
    node = load_pack().NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]()
    pack_env.fault("sync", delay=1.0)  # Segmind still generating when the user cancels
    flag = threading.Event()
    monkeypatch.setattr(comfy_host, "is_interrupted", flag.is_set)
    threading.Timer(0.3, flag.set).start()
    with pytest.raises(errors.Cancelled) as exc:
        with torch.inference_mode():
            call_node(node, image=torch.rand(1, 32, 32, 3), prompt="x", negative_prompt="", unique_id="1",
                          width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0,
                          api_mode="sync (v1)")
    assert "will still be saved" in str(exc.value)
    folder = pack_env.output / "segmind_ltx2"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not list(folder.glob("*.mp4")):
        time.sleep(0.05)
    clips = list(folder.glob("*.mp4"))
    assert pack_env.jobs_submitted == 1 and len(clips) == 1
    assert str(clips[0]) in str(exc.value)
    assert video_decode.probe_video(clips[0]).frame_count == 9
    assert not list(folder.glob("*.part"))


@pytest.mark.parametrize("status", ["ERROR", "CANCELLED"])
def test_a_job_status_that_ended_without_video_stops_the_wait(pack_env, status):
    """Not only the documented FAILED: a dead job must not be polled until timeout_seconds."""
    client_mod = pack_module("core.client")
    errors = pack_module("core.errors")
    cfg = client_mod.ClientConfig.from_env()
    client = client_mod.SegmindClient(pack_env.api_key, cfg)
    job = client.submit("ltx-2-19b-t2v", {"prompt": "x", "width": 256, "height": 256, "num_frames": 9,
                                          "fps": 8, "seed": 1, "guidance_scale": 4.0})
    pack_env.fault("status", json={"status": status}, times=5)
    started = time.monotonic()
    with pytest.raises(errors.SegmindJobFailed) as exc:
        client.wait(job, timeout=30)
    assert time.monotonic() - started < 5 and status.lower() in str(exc.value)
    assert pack_env.counts["status_calls"] == 1


# --------------------------------------------------------------------------- the disk


@pytest.mark.parametrize("api_mode", ["async (v2)", "sync (v1)"])
def test_unwritable_output_folder_fails_before_anything_is_paid(pack_env, api_mode):
    # A v1 clip that cannot be saved is lost for good; a v2 one waits for a fix. Either
    # way the user learns it before paying, with what to change.
    pack_env.output.mkdir(parents=True)
    (pack_env.output / lifecycle.OUTPUT_SUBFOLDER).write_text("a file where the folder should be")
    exc = attempt(api_mode=api_mode)
    assert isinstance(exc, errors.OutputFolderError), exc
    assert "Nothing was sent to Segmind" in str(exc) and "--output-directory" in str(exc)
    assert pack_env.counts["uploads"] == 0 and pack_env.counts["submits"] == 0
    assert pack_env.jobs_submitted == 0


def test_a_failed_disk_write_says_so_instead_of_blaming_the_network(tmp_path):
    client = client_mod.SegmindClient("SG_secretkey123456", client_mod.ClientConfig())
    dest = tmp_path / "clip.mp4"
    (tmp_path / "clip.mp4.part").mkdir()  # opening the partial file fails, as on a full or read-only disk
    with pytest.raises(errors.VideoError) as exc:
        client.transport.stream_to(_Resp(b"\x01" * 100, {"Content-Length": "100"}), dest, stage="download")
    assert "Could not write the video" in str(exc.value) and str(tmp_path) in str(exc.value)
    assert "broke off" not in str(exc.value)


def test_cache_entry_whose_record_cannot_be_written_leaves_no_orphan_clip(tmp_path):
    result_cache = pack_module("core.result_cache")
    cache = result_cache.ResultCache(tmp_path / "cache", max_bytes=10**9)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 1000)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "abc.json.tmp").mkdir()  # the record cannot be written
    with pytest.raises(OSError):
        cache.store("abc", clip, {"model": "m"})
    assert not (tmp_path / "cache" / "abc.mp4").exists()  # would never be found nor evicted
    assert clip.exists() and cache.lookup("abc") is None


@pytest.mark.parametrize("requeue", ["while_it_generates", "after_it_landed"])
def test_cancelled_v1_run_is_cached_when_it_lands_and_a_requeue_does_not_pay_again(pack_env, monkeypatch,
                                                                                   requeue):
    # v1 cannot be resumed by id: Segmind finishes (and bills) the cancelled run anyway.
    # Its clip is cached when it lands, and a re-queue meanwhile waits for it.
    result_cache = pack_module("core.result_cache")
    cached = lambda: list(result_cache.cache_directory(pack_env.home).glob("*.json"))  # noqa: E731
    # Segmind still generating when the user cancels; a second run (the bug) would take as long,
    # so the first one is billed by the time it returns.
    pack_env.fault("sync", delay=1.0, times=2)
    flag = threading.Event()
    monkeypatch.setattr(comfy_host, "is_interrupted", flag.is_set)
    threading.Timer(0.3, flag.set).start()
    assert isinstance(attempt(api_mode="sync (v1)"), errors.Cancelled)
    flag.clear()
    if requeue == "after_it_landed":
        wait_until(lambda: cached(), "the late clip to be cached")
    else:
        assert not cached()  # still generating: the re-queue has to wait for it
    out = attempt(api_mode="sync (v1)")
    assert not isinstance(out, Exception), out
    assert pack_env.jobs_submitted == 1 and len(cached()) == 1


def test_force_rerun_after_a_finished_run_still_pays_for_a_new_one(pack_env):
    # The in-flight marker of a finished run must not pass its cached clip off as the re-run.
    for seed, mode in ((11, "async (v2)"), (12, "sync (v1)")):  # a request of its own per mode
        assert not isinstance(attempt(api_mode=mode, seed=seed), Exception)
        before = pack_env.jobs_submitted
        assert not isinstance(attempt(api_mode=mode, seed=seed, force_rerun=True), Exception)
        assert pack_env.jobs_submitted == before + 1


@pytest.mark.parametrize("shape", ["mp4", "json_url"])
def test_a_v1_clip_lands_and_is_booked_whatever_the_moment_of_cancel(pack_env, monkeypatch, shape):
    # A v1 clip is paid for and has no id to fetch it by: Cancel before its answer (the clip
    # itself arriving slowly, or JSON naming it) returns at once, and the clip still lands,
    # is booked with its request id and cached, on the job's own worker.
    ledger = pack_module("core.ledger")
    result_cache = pack_module("core.result_cache")
    pack_env.sync_shape = shape
    pack_env.fault("sync", delay=0.6)
    pack_env.sync_body_delay = 0.5
    flag = threading.Event()
    monkeypatch.setattr(comfy_host, "is_interrupted", flag.is_set)
    threading.Timer(0.3, flag.set).start()
    out = attempt(api_mode="sync (v1)")
    assert isinstance(out, errors.Cancelled) and "will still be saved" in str(out)
    assert not list(result_cache.cache_directory(pack_env.home).glob("*.mp4"))  # still on its way
    wait_until(lambda: list(result_cache.cache_directory(pack_env.home).glob("*.mp4")), "the clip to be cached")
    wait_until(lambda: [e for e in ledger.Ledger(pack_env.home).entries() if e.clip], "the clip to be booked")
    (line,) = [e.as_dict() for e in ledger.Ledger(pack_env.home).entries()]
    assert line["request_id"] and line["cost"] is not None and Path(line["clip"]).is_file()
    assert pack_env.jobs_submitted == 1
