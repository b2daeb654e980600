"""Issue #3, "never pay twice, never lose a paid clip": every fault the service can throw,
injected into the local stand-in while the real node runs, checking what the user sees
and how many jobs were submitted (billed).

Tests that take the `matrix` fixture add a row to the fault matrix. When the whole module
ran, tools/write_fault_matrix.py writes the table into docs/fault-matrix.md between its
fault-matrix markers (tests/fault_rows.py); a run without --fault-matrix writes nothing."""
from __future__ import annotations

import json
import math
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch

from fault_rows import record
from runtimes import fresh_runtime
from pack_loader import load_pack, pack_module
from node_calls import call_node

pack = load_pack()
client_mod = pack_module("core.client")
transport_mod = pack_module("core.transport")
comfy_host = pack_module("comfy_host")
credentials = pack_module("core.credentials")
errors = pack_module("core.errors")
image_encode = pack_module("core.image_encode")
job_journal = pack_module("core.job_journal")
lifecycle = pack_module("core.lifecycle")
result_cache = pack_module("core.result_cache")
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]

REPO = Path(__file__).resolve().parent.parent
IMAGE = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(3))
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)
ERROR_CODES = (400, 401, 403, 404, 406, 410)
RETRIED_CODES = (429, 500, 502, 504)
# What each refused request's message must tell the user to do (errors.STATUS_HINTS).
ACTION = {400: "check 'prompt'", 401: "SEGMIND_API_KEY", 403: "permissions", 404: "not found",
          406: "top up", 410: "update the pack", 429: "wait a minute", 500: "try again",
          502: "try again", 504: "try again"}
RESUME = "queue the same graph again within the hour"


class PausingBudget:
    """A request budget on a simulated clock: it only holds the pause a 429 asks for, and
    checks that nothing is sent before that pause is over."""

    def __init__(self, clock) -> None:
        self.clock, self.until = clock, 0.0

    def acquire(self, kind: str = "call", cancel_check=None) -> None:
        assert self.clock() >= self.until, "a request was sent before the 429's reset time"

    def rate_limited(self, wait_seconds) -> None:
        self.until = self.clock() + (wait_seconds or 0.0)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def srv(pack_env):
    return pack_env


def queue(**over: Any) -> dict:
    """Queue the Image to Video node once, as ComfyUI would call it."""
    values = {**SMALL, **over}
    return call_node(NODE(), image=IMAGE, prompt="x", negative_prompt="", unique_id="1", **values)


_use_runtime: list[Any] = []  # the running test's use_runtime


@pytest.fixture(autouse=True)
def _restartable(use_runtime: Any) -> Iterator[None]:
    _use_runtime.append(use_runtime)
    yield
    _use_runtime.pop()


def restart() -> None:
    """What a ComfyUI restart loses: every in-process memo (disk state stays): a new runtime."""
    _use_runtime[-1](fresh_runtime())


def journal_files(srv) -> list[Path]:
    return sorted(job_journal.journal_directory(srv.home).glob("*.json"))


def cache_clips(srv) -> list[Path]:
    return sorted(result_cache.cache_directory(srv.home).glob("*.mp4"))


def cancel_when(monkeypatch, condition: Callable[[], bool]) -> threading.Event:
    """Press Cancel once `condition` holds; the returned event disarms it."""
    armed = threading.Event()
    armed.set()
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: armed.is_set() and condition())
    return armed


def wait_until(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


# --------------------------------------------------------------------------- fault matrix

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CLIP_NAME = re.compile(r"ltx2_i2v_\d{8}-\d{6}_[\w-]+\.mp4")


@dataclass
class Outcome:
    out: dict | None = None
    exc: BaseException | None = None

    def seen(self, tmp: Path) -> str:
        """What the user sees, with run-specific ids and paths made stable for the table."""
        if self.exc is None:
            summary = self.out["ui"]["segmind"][0]
            text = f"clip, {summary['frame_count']} frames {summary['width']}x{summary['height']}"
            if float(self.out["result"][1]["waveform"].abs().max()) == 0.0:
                text += " with silent audio"
            return text + (" from the cache, not billed" if summary["from_cache"] else "")
        text = f"{type(self.exc).__name__}: {self.exc}"
        text = _CLIP_NAME.sub("<clip>.mp4", _UUID.sub("<id>", text).replace(str(tmp), "<dir>"))
        return text.replace("|", "\\|")


def attempt(**over: Any) -> Outcome:
    try:
        return Outcome(out=queue(**over))
    except Exception as exc:  # the fault tests judge the exception themselves
        return Outcome(exc=exc)


class Matrix:
    def __init__(self, nodeid: str, tmp: Path) -> None:
        self.nodeid, self.tmp = nodeid, tmp

    def row(self, fault: str, stage: str, first: Outcome, srv, then: Outcome | None = None) -> None:
        again = then.seen(self.tmp) if then is not None else "-"
        record("fault-matrix", self.nodeid, fault, stage, first.seen(self.tmp), again, str(srv.jobs_submitted),
               str(srv.counts["uploads"]))


@pytest.fixture
def matrix(request, tmp_path) -> Matrix:
    return Matrix(request.node.nodeid, tmp_path)


# --------------------------------------------------------------------------- submit


@pytest.mark.parametrize("code", ERROR_CODES)
def test_submit_refused(srv, matrix, code):
    srv.fault("submit", status=code)
    first = attempt()
    assert type(first.exc) is errors.SegmindAPIError and first.exc.status == code
    assert ACTION[code] in str(first.exc) and "injected failure" in str(first.exc)
    assert srv.jobs_submitted == 0 and not journal_files(srv)
    then = attempt()  # the user fixed the cause and queues again
    assert then.exc is None and srv.jobs_submitted == 1
    matrix.row(f"HTTP {code} (JSON error)", "submit", first, srv, then)


@pytest.mark.parametrize("code", RETRIED_CODES)
def test_submit_retried_where_no_job_was_made(srv, matrix, code):
    srv.fault("submit", status=code)
    first = attempt()
    assert first.exc is None
    assert srv.counts["submits"] == 2 and srv.jobs_submitted == 1
    matrix.row(f"HTTP {code} once", "submit", first, srv)


def test_submit_failing_on_every_try(srv, matrix):
    srv.fault("submit", status=503, times=client_mod.ClientConfig().submit_attempts)
    first = attempt()
    assert type(first.exc) is errors.SegmindAPIError and first.exc.status == 503
    assert "try again" in str(first.exc) and srv.jobs_submitted == 0
    matrix.row("HTTP 503 on every try", "submit", first, srv)


def test_submit_html_error_page(srv, matrix):
    page = "<html><head><title>403 Forbidden</title></head><body><h1>cloudflare</h1></body></html>"
    srv.fault("submit", status=403, text=page)
    first = attempt()
    assert type(first.exc) is errors.SegmindAPIError and first.exc.status == 403
    assert "403 Forbidden" in str(first.exc) and "<" not in str(first.exc)
    assert srv.jobs_submitted == 0
    matrix.row("HTML error page (HTTP 403)", "submit", first, srv)


def test_submit_connection_reset_before_acceptance(srv, matrix):
    srv.fault("submit", reset=True)
    first = attempt()
    # Not provably undelivered, so never resent: the message says to check before paying again.
    assert type(first.exc) is errors.SegmindNetworkError and "dashboard" in str(first.exc)
    assert srv.counts["submits"] == 1 and srv.jobs_submitted == 0
    matrix.row("connection reset before acceptance", "submit", first, srv)


def test_submit_connection_reset_after_acceptance(srv, matrix):
    srv.fault("submit", reset_after_accept=True)
    first = attempt()
    # Billed but no request id ever arrived: the one loss no client can prevent (no
    # idempotency key, no job listing). It is never resent, and the user is told.
    assert type(first.exc) is errors.SegmindNetworkError and "billed" in str(first.exc)
    assert srv.counts["submits"] == 1 and srv.jobs_submitted == 1 and not journal_files(srv)
    matrix.row("connection reset after acceptance (answer lost)", "submit", first, srv)


def test_submit_refused_connection_is_retried(srv, matrix, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on: connect is refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("SEGMIND_API_BASE", dead)
    first = attempt()
    assert type(first.exc) is errors.SegmindNetworkError
    assert "tries" in str(first.exc) and "SEGMIND_API_BASE" in str(first.exc)
    assert srv.jobs_submitted == 0
    matrix.row("connection refused", "submit", first, srv)


# --------------------------------------------------------------------------- status and result


@pytest.mark.parametrize("stage", ["status", "result"])
@pytest.mark.parametrize("code", ERROR_CODES)
def test_refused_after_acceptance_is_resumed(srv, matrix, stage, code):
    srv.fault(stage, status=code)
    first = attempt()
    assert type(first.exc) is errors.SegmindAPIError and first.exc.status == code
    assert ACTION[code] in str(first.exc) and RESUME in str(first.exc)
    assert len(journal_files(srv)) == 1 and srv.jobs_submitted == 1
    restart()
    then = attempt()
    assert then.exc is None
    assert srv.jobs_submitted == 1 and srv.counts["submits"] == 1 and srv.counts["uploads"] == 1
    assert not journal_files(srv) and len(cache_clips(srv)) == 1
    matrix.row(f"HTTP {code} (JSON error)", stage, first, srv, then)


@pytest.mark.parametrize("stage", ["status", "result"])
@pytest.mark.parametrize("code", RETRIED_CODES)
def test_retried_after_acceptance(srv, matrix, stage, code):
    srv.fault(stage, status=code, times=2)
    first = attempt()
    assert first.exc is None and srv.jobs_submitted == 1
    assert srv.pending_faults(stage) == 0
    matrix.row(f"HTTP {code} twice", stage, first, srv)


def test_html_error_page_on_status_is_retried(srv, matrix):
    srv.fault("status", status=502, text="<html><head><title>502 Bad Gateway</title></head></html>")
    first = attempt()
    assert first.exc is None and srv.jobs_submitted == 1
    matrix.row("HTML error page (HTTP 502)", "status", first, srv)


def test_job_failed_422(srv, matrix):
    srv.fault("submit", job_fails=True)
    first = attempt()
    assert type(first.exc) is errors.SegmindJobFailed and first.exc.status == 422
    assert "adjust the prompt" in str(first.exc) and "queue again" in str(first.exc)
    # Nothing to collect: the record is dropped, so a new queue is a new run, not a re-poll.
    assert not journal_files(srv) and srv.jobs_submitted == 1
    matrix.row("job FAILED (HTTP 422)", "status", first, srv)


def test_result_holds_json_error_instead_of_video(srv, matrix):
    srv.fault("result", json={"status": "COMPLETED", "error": "output missing"})
    first = attempt()
    assert type(first.exc) is errors.VideoError and "holds no video" in str(first.exc)
    assert RESUME in str(first.exc) and len(journal_files(srv)) == 1
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 1
    matrix.row("JSON without a video", "result", first, srv, then)


# --------------------------------------------------------------------------- download


def test_download_connection_reset_mid_body(srv, matrix):
    srv.fault("download", reset=True)
    first = attempt()
    assert first.exc is None and srv.counts["downloads"] == 2 and srv.jobs_submitted == 1
    matrix.row("connection reset mid-body", "download", first, srv)


def test_download_truncated_mp4(srv, matrix):
    srv.fault("download", truncate=True)
    first = attempt()
    assert first.exc is None and srv.counts["downloads"] == 2 and srv.jobs_submitted == 1
    matrix.row("truncated MP4", "download", first, srv)


def test_download_corrupt_mp4(srv, matrix):
    srv.fault("download", corrupt=True, times=2)  # and again on the one free re-download
    first = attempt()
    assert type(first.exc) is errors.VideoError
    kept = re.search(r"kept at (\S+\.mp4)", str(first.exc))
    assert kept and Path(kept.group(1)).is_file() and RESUME in str(first.exc)
    assert srv.counts["downloads"] == 2 and len(journal_files(srv)) == 1
    status_calls = srv.counts["status_calls"]
    restart()
    then = attempt()
    # The journal kept the file's URL: collected without polling and without paying.
    assert then.exc is None and srv.jobs_submitted == 1 and srv.counts["status_calls"] == status_calls
    matrix.row("corrupt MP4 (twice)", "download", first, srv, then)


def test_download_json_error_instead_of_video(srv, matrix):
    srv.fault("download", json={"error": "file not ready"})
    first = attempt()
    assert type(first.exc) is errors.VideoError and "file not ready" in str(first.exc)
    assert RESUME in str(first.exc)
    assert not list((srv.output / lifecycle.OUTPUT_SUBFOLDER).glob("*.mp4"))  # nothing posing as a clip
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 1
    matrix.row("JSON error with HTTP 200", "download", first, srv, then)


def test_mp4_without_audio_gives_silence(srv, matrix):
    srv.fault("submit", no_audio=True)
    first = attempt()
    assert first.exc is None
    audio = first.out["result"][1]
    assert audio["waveform"].numel() > 0 and float(audio["waveform"].abs().max()) == 0.0
    assert srv.jobs_submitted == 1
    matrix.row("MP4 without an audio track", "download", first, srv)


# --------------------------------------------------------------------------- upload


def test_upload_failing_once_is_retried(srv, matrix):
    srv.fault("upload", status=500)
    first = attempt()
    assert first.exc is None and srv.counts["uploads"] == 2 and srv.jobs_submitted == 1
    matrix.row("HTTP 500 once", "upload", first, srv)


def test_upload_failing_for_good(srv, matrix):
    srv.fault("upload", status=502, times=client_mod.ClientConfig().get_attempts)
    first = attempt()
    assert type(first.exc) is errors.SegmindAPIError and "image upload" in str(first.exc)
    assert "try again" in str(first.exc) and srv.counts["submits"] == 0 and srv.jobs_submitted == 0
    matrix.row("HTTP 502 on every try", "upload", first, srv)


# --------------------------------------------------------------------------- time limit, expiry, 429


def test_server_slower_than_the_time_limit(srv, matrix):
    srv.polls_until_done = 10 ** 6
    srv.fault("status", delay=0.2)  # the first answer alone outlasts the limit: one poll, "queued"
    first = attempt(timeout_seconds=0.05)
    assert type(first.exc) is errors.SegmindTimeoutError and "queue the same graph again" in str(first.exc)
    assert first.exc.request_id in str(first.exc) and len(journal_files(srv)) == 1
    srv.polls_until_done = 0  # meanwhile the job finished on Segmind's side
    restart()
    then = attempt()
    assert then.exc is None
    assert srv.jobs_submitted == 1 and srv.counts["submits"] == 1 and not journal_files(srv)
    matrix.row("server slower than timeout_seconds", "status", first, srv, then)


def test_result_record_expired_on_resume(srv, matrix):
    srv.polls_until_done = 10 ** 6
    assert type(attempt(timeout_seconds=0.05).exc) is errors.SegmindTimeoutError
    with srv.lock:
        srv.jobs.clear()  # an hour later Segmind answers 404 for the record
    restart()
    first = attempt()
    assert type(first.exc) is job_journal.JobExpiredError
    assert "one hour" in str(first.exc) and "queue again to start a new run" in str(first.exc)
    assert not journal_files(srv) and srv.jobs_submitted == 1  # no silent second payment
    srv.polls_until_done = 1
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 2
    matrix.row("record gone on resume (404)", "status", first, srv, then)


def test_journal_entry_older_than_an_hour_is_not_resumed(srv, matrix):
    srv.polls_until_done = 10 ** 6
    assert type(attempt(timeout_seconds=0.05).exc) is errors.SegmindTimeoutError
    (entry,) = journal_files(srv)
    record = json.loads(entry.read_text())
    record["submitted_at"] -= job_journal.RESULT_TTL + 60
    entry.write_text(json.dumps(record))
    srv.reset_counts()
    restart()
    first = attempt()
    assert type(first.exc) is job_journal.JobExpiredError and "queue again" in str(first.exc)
    assert srv.counts["status_calls"] == 0 and not journal_files(srv)
    srv.polls_until_done = 1
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 1
    matrix.row("journal entry older than an hour", "status", first, srv, then)


def test_429_waits_for_the_reset_time(srv, matrix, monkeypatch, use_runtime):
    from datetime import datetime, timedelta, timezone

    reset_at = datetime.now(timezone.utc) + timedelta(seconds=40)
    srv.fault("submit", status=429, headers={"x-rate-limit-reset-at-utc": reset_at.isoformat()})
    waits: list[float] = []
    monkeypatch.setattr(transport_mod.Transport, "_sleep", lambda self, seconds: waits.append(seconds))
    # The request budget's 429 pause, on the same simulated clock.
    budget = PausingBudget(lambda: time.monotonic() + sum(waits))
    use_runtime(fresh_runtime(budget=budget))
    first = attempt()
    assert first.exc is None and srv.jobs_submitted == 1 and srv.counts["submits"] == 2
    assert 38 <= max(waits) <= 41  # the header's reset time, not a guess
    matrix.row("HTTP 429 with x-rate-limit-reset-at-utc 40 s ahead", "submit", first, srv)


def test_429_reset_too_far_away_fails_with_advice(srv, matrix):
    srv.fault("submit", status=429, headers={"x-rate-limit-reset-at-utc": str(time.time() + 3600)})
    first = attempt()
    assert type(first.exc) is errors.SegmindAPIError and first.exc.status == 429
    assert "wait a minute" in str(first.exc) and srv.jobs_submitted == 0
    matrix.row("HTTP 429, reset an hour away", "submit", first, srv)


# --------------------------------------------------------------------------- Cancel and restarts


def test_cancel_during_upload(srv, matrix, monkeypatch):
    srv.fault("upload", delay=30)
    armed = cancel_when(monkeypatch, lambda: srv.counts["uploads"] >= 1)
    first = attempt()
    assert type(first.exc) is errors.Cancelled
    assert srv.counts["submits"] == 0 and srv.jobs_submitted == 0 and not journal_files(srv)
    armed.clear()
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 1
    matrix.row("Cancel during the upload", "upload", first, srv, then)


def test_cancel_during_submit_keeps_the_job(srv, matrix, monkeypatch):
    srv.fault("submit", delay=0.3)
    armed = cancel_when(monkeypatch, lambda: srv.counts["submits"] >= 1)
    first = attempt()
    assert type(first.exc) is errors.Cancelled
    # The answer arrives after Cancel; it is still journalled, on the HTTP thread.
    wait_until(lambda: len(journal_files(srv)) == 1, "the journal entry of the accepted job")
    armed.clear()
    restart()
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 1 and srv.counts["submits"] == 1
    matrix.row("Cancel while the submit is in flight", "submit", first, srv, then)


def test_requeue_before_a_cancelled_submit_is_answered(srv, matrix, monkeypatch):
    srv.fault("submit", delay=1.0)
    armed = cancel_when(monkeypatch, lambda: srv.counts["submits"] >= 1)
    first = attempt()
    assert type(first.exc) is errors.Cancelled and not journal_files(srv)  # no answer yet
    armed.clear()
    then = attempt()  # queued again at once, in the same ComfyUI process
    assert then.exc is None and srv.jobs_submitted == 1 and srv.counts["submits"] == 1
    matrix.row("Cancel during the submit, queued again before its answer", "submit", first, srv, then)


def test_restart_between_submit_and_completion(srv, matrix, monkeypatch):
    srv.polls_until_done = 3
    armed = cancel_when(monkeypatch, lambda: srv.counts["status_calls"] >= 1)
    first = attempt()
    assert type(first.exc) is errors.Cancelled and len(journal_files(srv)) == 1
    armed.clear()
    restart()  # fresh process: new node, client, cache and journal objects
    then = attempt()
    assert then.exc is None
    assert srv.jobs_submitted == 1 and srv.counts["submits"] == 1 and srv.counts["uploads"] == 1
    matrix.row("Cancel while polling, then a restart", "status", first, srv, then)


def test_cancel_during_download(srv, matrix, monkeypatch):
    srv.fault("download", delay=30)
    armed = cancel_when(monkeypatch, lambda: srv.counts["downloads"] >= 1)
    first = attempt()
    assert type(first.exc) is errors.Cancelled
    (entry,) = journal_files(srv)
    assert json.loads(entry.read_text())["output_url"]
    armed.clear()
    restart()
    status_calls = srv.counts["status_calls"]
    then = attempt()
    assert then.exc is None and srv.jobs_submitted == 1 and srv.counts["status_calls"] == status_calls
    matrix.row("Cancel during the download", "download", first, srv, then)


def test_journal_is_written_before_polling(srv, tmp_path):
    seen: list[int] = []
    journal = job_journal.JobJournal(job_journal.journal_directory(srv.home))

    def on_event(kind: str, data: dict) -> None:
        if kind == "status":
            seen.append(len(list(journal.root.glob("*.json"))))

    rgb8 = image_encode.to_uint8_rgb(IMAGE)
    req = lifecycle.GenerationRequest(model="ltx-2-19b-i2v", image=image_encode.encode_image(rgb8),
                                      body={"prompt": "x", **SMALL})
    lifecycle.run_on_segmind(req, user_dir=srv.home, output_dir=tmp_path / "output", on_event=on_event)
    assert seen and all(n == 1 for n in seen)  # recorded at every poll
    assert not list(journal.root.glob("*.json"))  # and gone once the clip is safe


# --------------------------------------------------------------------------- cache


def test_second_identical_queue_is_a_cache_hit(srv, matrix):
    assert attempt().exc is None
    srv.reset_counts()
    restart()
    first = attempt()
    assert first.exc is None and first.out["ui"]["segmind"][0]["from_cache"] is True
    assert all(n == 0 for n in srv.counts.values()) and srv.jobs_submitted == 0  # not even an upload
    preview = first.out["ui"]["images"][0]
    assert (srv.output / preview["subfolder"] / preview["filename"]).is_file()
    assert len(list((srv.output / lifecycle.OUTPUT_SUBFOLDER).glob("*.mp4"))) == 2
    matrix.row("none: the same graph queued twice", "-", first, srv)


def test_changed_input_is_not_a_cache_hit(srv):
    assert attempt().exc is None
    assert attempt(guidance_scale=5.0).exc is None
    assert attempt(upload_format="jpeg").exc is None
    assert srv.jobs_submitted == 3 and len(cache_clips(srv)) == 3


def test_force_rerun_submits_once_more(srv, matrix):
    assert attempt().exc is None
    first = attempt(force_rerun=True)
    assert first.exc is None and first.out["ui"]["segmind"][0]["from_cache"] is False
    assert srv.jobs_submitted == 2 and len(cache_clips(srv)) == 1  # the new clip replaced the old
    then = attempt()
    assert then.out["ui"]["segmind"][0]["from_cache"] is True and srv.jobs_submitted == 2
    matrix.row("none: force_rerun on a cached request", "-", first, srv, then)


def test_interrupted_force_rerun_is_collected_not_lost(srv, matrix, monkeypatch):
    assert attempt().exc is None
    polled = srv.counts["status_calls"]
    armed = cancel_when(monkeypatch, lambda: srv.counts["status_calls"] > polled)
    first = attempt(force_rerun=True)
    assert type(first.exc) is errors.Cancelled and len(journal_files(srv)) == 1
    armed.clear()
    then = attempt()  # force_rerun back off: the paid rerun is collected, not the old clip
    assert then.exc is None and then.out["ui"]["segmind"][0]["from_cache"] is False
    assert srv.jobs_submitted == 2 and not journal_files(srv)  # the first clip, and the rerun once
    matrix.row("Cancel during a force_rerun, then queued without it", "status", first, srv, then)


def test_v1_sync_results_are_cached_too(srv):
    assert attempt(api_mode="sync (v1)").exc is None
    again = attempt(api_mode="sync (v1)")
    assert again.out["ui"]["segmind"][0]["from_cache"] is True and srv.jobs_submitted == 1


# --------------------------------------------------------------------------- the key


def test_key_appears_nowhere(srv, matrix, monkeypatch, caplog, capsys):
    import logging

    key = srv.api_key
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("SEGMIND_API_KEY")
    key_file = credentials.save_api_key(srv.home, key)  # the key comes from its file this time
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert attempt().exc is None
    # The server echoes the key back in its errors; none of it may leak.
    srv.fault("status", status=401, json={"error": f"invalid key {key}"})
    echoed = attempt(seed=2)
    seen = [str(echoed.exc)]
    srv.polls_until_done = 10 ** 6
    seen.append(str(attempt(seed=3, timeout_seconds=0.05).exc))
    srv.fault("upload", status=400, json={"error": f"bad upload for {key}"})
    seen.append(str(attempt(seed=4, upload_format="jpeg").exc))
    srv.fault("download", json={"error": f"no file for {key}"})
    srv.polls_until_done = 1
    seen.append(str(attempt(seed=5).exc))
    assert all(text and text != "None" for text in seen)
    captured = capsys.readouterr()
    for text in seen + [caplog.text, captured.out, captured.err]:
        assert key not in text
    files = [p for p in srv.home.parent.rglob("*") if p.is_file() and p != key_file]
    assert any(p.suffix == ".json" for p in files)  # journal and cache metadata were searched
    for path in files:
        assert key.encode() not in path.read_bytes(), path
    matrix.row("the server echoes the key in its error text", "status", echoed, srv)
