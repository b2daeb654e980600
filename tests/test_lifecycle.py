"""Issue 18 (one lifecycle; the two sync v1 double-bill races) and issue 19 items 6 and 8
(billed v1 runs whose clip fails are booked; lock files and lock waits), driven through the
node as ComfyUI calls it, against the local stand-in."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from pack_loader import load_pack, pack_module
from node_calls import call_node

pack = load_pack()
client_mod = pack_module("core.client")
comfy_host = pack_module("comfy_host")
errors = pack_module("core.errors")
ledger_mod = pack_module("core.ledger")
result_cache = pack_module("core.result_cache")
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]

REPO = Path(__file__).resolve().parent.parent
IMAGE = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(18))
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)
V1 = "sync (v1)"


def queue(**over: Any) -> dict:
    return call_node(NODE(), image=IMAGE, prompt="lifecycle", negative_prompt="", unique_id="1",
                     **{**SMALL, **over})


def attempt(**over: Any) -> tuple[dict | None, BaseException | None]:
    try:
        return queue(**over), None
    except Exception as exc:  # judged by each test
        return None, exc


def press_cancel_when(monkeypatch, condition: Callable[[], bool]) -> Callable[[], None]:
    """Cancel (ComfyUI's interrupt flag) once `condition` holds; returns the disarm switch."""
    armed = [True]
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: armed[0] and condition())
    return lambda: armed.__setitem__(0, False)


def wait_until(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def cache_clips(srv) -> list[Path]:
    return sorted(result_cache.cache_directory(srv.home).glob("*.mp4"))


def output_clips(srv) -> list[Path]:
    return sorted((srv.output / "segmind_ltx2").glob("*.mp4"))


def ledger_lines(srv) -> list[dict]:
    return [line.as_dict() for line in ledger_mod.Ledger(srv.home).entries()]


# --------------------------------------------------------------------------- the two v1 races


def test_cancel_as_a_v1_answer_starts_arriving_keeps_the_paid_clip(pack_env, monkeypatch):
    """Race 1: Cancel the moment the billed answer's headers arrive, its body a moment later.
    The clip must still land (output and cache) and be booked, the message must say only what
    is true, and queueing again must reuse the clip instead of paying a second run."""
    srv = pack_env
    srv.sync_body_delay = 0.5
    disarm = press_cancel_when(monkeypatch, lambda: bool(srv.sync_headers_sent))
    pressed = time.monotonic()
    out, exc = attempt(api_mode=V1)
    assert type(exc) is errors.Cancelled, exc
    assert time.monotonic() - pressed < 5
    text = str(exc)
    assert "billed" in text and "queue" in text.lower()
    wait_until(lambda: cache_clips(srv) and output_clips(srv), "the billed clip to land in the cache and output")
    wait_until(lambda: [e for e in ledger_lines(srv) if e.get("clip")], "the billed clip to be booked")
    disarm()
    again, exc2 = attempt(api_mode=V1)
    assert exc2 is None, exc2
    assert again["ui"]["segmind"][0]["from_cache"]
    assert srv.jobs_submitted == 1 and srv.counts["sync_runs"] == 1


def test_requeue_while_a_cancelled_v1_clip_is_still_landing_waits_for_it(pack_env, monkeypatch):
    """Race 2: Cancel during a v1 body that takes longer than any grace, then queue again at
    once: the re-queue must wait for (or collect) the clip still landing, never pay again."""
    srv = pack_env
    # Only the code before the lifecycle had a grace; with it 0.2 s, Cancel returned mid-body.
    monkeypatch.setattr(client_mod, "V1_SAVE_GRACE_SECONDS", 0.2, raising=False)
    srv.sync_body_delay = 1.5
    disarm = press_cancel_when(monkeypatch, lambda: bool(srv.sync_headers_sent)
                               and time.monotonic() > srv.sync_headers_sent[0] + 0.3)
    out, exc = attempt(api_mode=V1)
    assert type(exc) is errors.Cancelled, exc
    disarm()
    again, exc2 = attempt(api_mode=V1)  # at once, in the same process
    assert exc2 is None, exc2
    assert srv.jobs_submitted == 1 and srv.counts["sync_runs"] == 1
    assert again["ui"]["segmind"][0]["from_cache"]


# --------------------------------------------------------------------------- billed v1 runs that fail


def test_a_damaged_clip_in_a_billed_v1_answer_is_booked(pack_env, fault_row):
    srv = pack_env
    srv.fault("sync", corrupt=True)
    out, exc = attempt(api_mode=V1)
    assert exc is not None and "billed" in str(exc), exc
    assert srv.jobs_submitted == 1
    lines = ledger_lines(srv)
    assert len(lines) == 1 and lines[0]["cost"] is not None and lines[0]["clip"] is None
    assert ledger_mod.Ledger(srv.home).spent_today() > 0
    fault_row("v1 answers 200 with a damaged clip", "run (v1 sync)",
              "booked in the ledger with its cost (billed), reservation kept; the message says it was billed")


def test_a_billed_v1_answer_whose_video_url_is_gone_is_booked_and_keeps_its_reservation(pack_env, monkeypatch,
                                                                                         fault_row):
    srv = pack_env
    srv.sync_shape = "json_url"
    srv.fault("download", status=404, times=10)
    released: list[float] = []
    spend_check = pack_module("core.spend_check")
    real_release = spend_check.release
    monkeypatch.setattr(spend_check, "release", lambda user_dir, handle: released.append(handle.amount)
                        or real_release(user_dir, handle))
    out, exc = attempt(api_mode=V1)
    assert exc is not None and "billed" in str(exc), exc
    assert srv.jobs_submitted == 1
    lines = ledger_lines(srv)
    assert len(lines) == 1 and lines[0]["cost"] is not None
    assert not [a for a in released if a], "a billed run's reservation was given back"
    fault_row("v1 answers 200 naming a video URL that answers 404", "download (v1)",
              "booked in the ledger with its cost (billed), reservation kept; the message says it was billed")


# --------------------------------------------------------------------------- the request lock


def test_lock_files_do_not_pile_up(pack_env, fault_row):
    srv = pack_env
    for seed in (1, 2, 3):
        out, exc = attempt(seed=seed)
        assert exc is None, exc
    locks = srv.home / "segmind" / "locks"
    assert srv.jobs_submitted == 3
    assert not list(locks.glob("*.lock")) if locks.exists() else True
    fault_row("many requests, one after another", "request lock (locks/)",
              "each lock file is removed by its holder as its job ends: none pile up")


_HOLDER = r"""
import sys
sys.path.insert(0, {tests!r})
import torch
from pack_loader import load_pack
from node_calls import call_node
pack = load_pack()
node = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]()
image = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(18))
call_node(node, image=image, prompt="lifecycle", negative_prompt="", unique_id="1", api_mode="sync (v1)",
          **{small!r})
"""


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_run_waiting_on_a_suspended_holder_stops_by_its_time_limit(pack_env, fault_row):
    """Another process holds the request's lock and is suspended (Ctrl-Z): a run with a 4 s
    time limit stops waiting by then, with a message saying why and that nothing was paid."""
    srv = pack_env
    srv.generation_seconds = 60  # the holder's v1 run stays on the wire
    child = subprocess.Popen([sys.executable, "-c", _HOLDER.format(tests=str(REPO / "tests"), small=SMALL)],
                             env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: srv.counts["sync_runs"] >= 1 or child.poll() is not None, "the holder's run", 60)
        assert child.poll() is None, child.communicate()[1][-2000:]
        os.kill(child.pid, signal.SIGSTOP)
        started = time.monotonic()
        box: list[Any] = []
        runner = threading.Thread(target=lambda: box.append(attempt(api_mode=V1, timeout_seconds=4)), daemon=True)
        runner.start()
        runner.join(12)
        took = time.monotonic() - started
        assert not runner.is_alive(), "still waiting for the suspended holder's lock"
        out, exc = box[0]
        assert exc is not None and took < 8, (exc, took)
        text = str(exc)
        assert "another" in text.lower() and "not" in text and "timeout_seconds" in text, text
        assert srv.counts["sync_runs"] == 1  # the waiting run paid nothing
        fault_row("another process holds the request's lock and is suspended (SIGSTOP)", "request lock wait",
                  "the waiting run (4 s limit) stops by its limit: " + text.replace(str(srv.home), "<home>"))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


# --------------------------------------------------------------------------- the states


def _generation(srv, tmp_path, **req: Any) -> Any:
    lifecycle = pack_module("core.lifecycle")
    image_encode = pack_module("core.image_encode")
    rgb8 = image_encode.to_uint8_rgb(IMAGE)
    request = lifecycle.GenerationRequest(model="ltx-2-19b-i2v", image=image_encode.encode_image(rgb8),
                                          body={"prompt": "states", **SMALL}, **req)
    session = lifecycle.Session.open(srv.home)
    books = lifecycle.Bookkeeping(ledger_mod.Ledger(srv.home))
    return lifecycle.Generation(request, session, tmp_path / "output", books=books, reserved=0.0,
                                force_rerun=False, node_id=None, on_event=None)


@pytest.mark.parametrize("api_mode", ["async (v2)", V1])
def test_a_generation_passes_through_its_states_in_order(pack_env, tmp_path, api_mode):
    lifecycle = pack_module("core.lifecycle")
    S = lifecycle.State
    first = _generation(pack_env, tmp_path, api_mode=api_mode)
    clip = first.run(None)
    assert clip.path.is_file() and not clip.from_cache
    middle = [S.POLLING] if api_mode != V1 else []
    assert first.history == [S.PLANNED, S.UPLOADING, S.SUBMITTED, *middle, S.DOWNLOADING, S.SAVED, S.BOOKED]
    again = _generation(pack_env, tmp_path, api_mode=api_mode)
    assert again.run(None).from_cache and again.history == [S.PLANNED, S.REUSED]
    assert pack_env.jobs_submitted == 1


def test_a_refused_run_ends_refused_and_a_broken_billed_one_failed_after_billing(pack_env, tmp_path):
    lifecycle = pack_module("core.lifecycle")
    pack_env.fault("submit", status=400)
    refused = _generation(pack_env, tmp_path)
    with pytest.raises(errors.SegmindAPIError):
        refused.run(None)
    assert refused.state is lifecycle.State.REFUSED
    pack_env.fault("sync", corrupt=True)
    broken = _generation(pack_env, tmp_path, api_mode=V1)
    with pytest.raises(errors.SegmindError):
        broken.run(None)
    assert broken.state is lifecycle.State.FAILED_AFTER_BILLING


_ENDING = r"""
import os, sys
sys.path.insert(0, {tests!r})
from pack_loader import pack_module
lifecycle = pack_module("core.lifecycle")
req = lifecycle.GenerationRequest(model="ltx-2-19b-t2v", api_mode="sync (v1)",
                                  body={{"prompt": "ending", **{small!r}}})
try:
    lifecycle.run_on_segmind(req, user_dir={home!r}, output_dir={out!r},
                             cancel_check=lambda: os.path.exists({flag!r}))
except Exception as exc:
    print(type(exc).__name__)
"""


def test_a_process_ending_after_cancel_lets_the_billed_v1_clip_land_first(pack_env, tmp_path):
    """The command line's Ctrl-C: the run is cancelled and the process ends at once, while the
    billed v1 clip is still arriving. It must land, be booked and cached before the exit."""
    srv = pack_env
    srv.sync_body_delay = 1.0
    flag = tmp_path / "cancel"
    code = _ENDING.format(tests=str(REPO / "tests"), small=SMALL, home=str(srv.home), out=str(srv.output),
                          flag=str(flag))
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: srv.sync_headers_sent or child.poll() is not None, "the billed answer", 60)
        flag.write_text("")
        stdout, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert "Cancelled" in stdout, stderr[-2000:]
    assert cache_clips(srv) and output_clips(srv)
    (line,) = ledger_lines(srv)
    assert line["clip"] and line["cost"] is not None and srv.jobs_submitted == 1
