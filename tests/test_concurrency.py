"""Issue 11, many clips at once: nodes in flight together, image batches as output lists,
one request budget, one run per request (threads and processes), decoding only what the
graph uses. Against the stand-in with a generation delay."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from node_calls import call_node_lists
from pack_loader import load_pack, pack_module
from runtimes import Clock, fresh_runtime

pack = load_pack()
comfy_host = pack_module("comfy_host")
errors = pack_module("core.errors")
result_cache = pack_module("core.result_cache")
job_journal = pack_module("core.job_journal")
request_budget = pack_module("core.request_budget")
poll_schedule = pack_module("core.poll_schedule")
flight_lock = pack_module("core.flight_lock")
runtime_mod = pack_module("core.runtime")
I2V = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)


def pictures(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 48, 64, 3, generator=torch.Generator().manual_seed(seed))


def generate(prompt: str = "x", image: torch.Tensor | None = None, **over: Any):
    """The node's coroutine, not yet awaited."""
    node_id = over.pop("unique_id", "7")
    return I2V().generate(image=pictures(1) if image is None else image, prompt=prompt,
                          negative_prompt="", unique_id=node_id, **{**SMALL, **over})


def together(*coros: Any) -> list[Any]:
    async def main() -> list[Any]:
        return await asyncio.gather(*coros, return_exceptions=True)

    return asyncio.run(main())


OVERLAP = 0.6


@pytest.fixture
def slow(pack_env):
    """The stand-in takes 0.2 s to make a clip (polls every 10 ms). A test that asserts jobs
    overlap sets `OVERLAP` seconds instead, so a loaded machine cannot finish one first."""
    pack_env.generation_seconds = 0.2
    return pack_env


# --------------------------------------------------------------------------- nodes in flight together


def test_three_nodes_wait_for_segmind_together(slow):
    slow.generation_seconds = OVERLAP
    outs = together(*(generate(f"clip {i}", unique_id=str(i)) for i in range(3)))
    assert not [o for o in outs if isinstance(o, BaseException)], outs
    jobs = list(slow.jobs.values())
    assert slow.jobs_submitted == 3 and len(jobs) == 3
    # Every job was submitted before the first one was done: they waited side by side.
    assert max(j.submitted_at for j in jobs) < min(j.completed_at for j in jobs)
    # Each node's outputs are its own clip.
    ids = {o["ui"]["segmind"][0]["request_id"] for o in outs}
    assert ids == set(slow.jobs)


def test_the_event_loop_stays_free_while_nodes_wait(slow):
    """The node's coroutine hands every blocking step to a thread: the loop ticks on."""
    slow.generation_seconds = OVERLAP
    ticks: list[float] = []

    async def main() -> Any:
        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.05)

        tick = asyncio.create_task(ticker())
        try:
            return await generate("loop")
        finally:
            tick.cancel()

    asyncio.run(main())
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 10 and max(gaps) < 0.5, max(gaps)


def test_cancel_stops_every_node_and_requeue_bills_nothing(slow, monkeypatch):
    slow.generation_seconds = 30.0
    pressed = threading.Event()
    monkeypatch.setattr(comfy_host, "is_interrupted", pressed.is_set)

    def press_once_all_submitted() -> None:
        while slow.jobs_submitted < 3:
            time.sleep(0.01)
        pressed.set()

    threading.Thread(target=press_once_all_submitted, daemon=True).start()
    start = time.monotonic()
    outs = together(*(generate(f"cancel {i}", unique_id=str(i)) for i in range(3)))
    assert all(isinstance(o, errors.Cancelled) for o in outs), outs
    assert time.monotonic() - start < 10  # not the 30 s generation
    journal = sorted(job_journal.journal_directory(slow.home).glob("*.json"))
    assert len(journal) == 3  # every paid job recorded for collection
    pressed.clear()
    slow.generation_seconds = 0.2
    for j in slow.jobs.values():  # the service finishes them meanwhile
        j.due_at = slow.clock()
    outs = together(*(generate(f"cancel {i}", unique_id=str(i)) for i in range(3)))
    assert not [o for o in outs if isinstance(o, BaseException)], outs
    assert slow.jobs_submitted == 3  # collected, not paid again


def test_a_coroutine_cancelled_by_comfyui_stops_its_thread(slow):
    """ComfyUI cancels the other nodes' tasks when one fails or is interrupted (asyncio.run
    shutting down): the job's thread must stop too, and its paid job stay recorded."""
    slow.generation_seconds = 30.0

    async def main() -> None:
        task = asyncio.create_task(generate("cancelled task"))
        while slow.jobs_submitted < 1:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    polls = slow.counts["status_calls"]
    time.sleep(0.6)
    assert slow.counts["status_calls"] <= polls + 1  # the thread stopped polling
    assert len(list(job_journal.journal_directory(slow.home).glob("*.json"))) == 1


# --------------------------------------------------------------------------- batches


def test_a_batch_of_four_pictures_is_four_clips_in_flight_together(slow):
    slow.generation_seconds = OVERLAP
    out = call_node_lists(I2V(), image=pictures(4), prompt="batch", negative_prompt="", unique_id="3",
                          batch_mode="every picture", **SMALL)
    frames, audio, fps, counts, videos = out["result"]
    assert len(frames) == len(audio) == len(fps) == len(counts) == len(videos) == 4
    assert slow.jobs_submitted == 4 and slow.counts["uploads"] == 4
    jobs = list(slow.jobs.values())
    assert max(j.submitted_at for j in jobs) < min(j.completed_at for j in jobs)
    assert len(out["ui"]["images"]) == 4 and len({p["filename"] for p in out["ui"]["images"]}) == 4
    assert [s["frame_count"] for s in out["ui"]["segmind"]] == [9] * 4
    # Queued again: every clip from the cache, nothing billed.
    again = call_node_lists(I2V(), image=pictures(4), prompt="batch", negative_prompt="", unique_id="3",
                            batch_mode="every picture", **SMALL)
    assert slow.jobs_submitted == 4 and all(s["from_cache"] for s in again["ui"]["segmind"])


def test_duplicate_pictures_in_a_batch_are_one_job(slow, monkeypatch):
    monkeypatch.setenv("SEGMIND_LTX2_CACHE_MAX_GB", "0")  # not even the cache: the lock shares the clip
    one = pictures(1, seed=5)
    out = call_node_lists(I2V(), image=torch.cat([one, one, pictures(1, seed=6)]), prompt="dup",
                          negative_prompt="", unique_id="3", batch_mode="every picture", **SMALL)
    assert len(out["result"][0]) == 3
    assert slow.jobs_submitted == 2 and slow.counts["uploads"] == 2


def test_one_picture_mode_takes_batch_index(slow):
    out = call_node_lists(I2V(), image=pictures(3), prompt="one", negative_prompt="", unique_id="3",
                          batch_index=2, **SMALL)
    assert len(out["result"][0]) == 1 and slow.jobs_submitted == 1


def test_a_failed_clip_does_not_cut_off_the_others(slow):
    slow.fault("submit", status=400, json={"error": "bad picture"})
    with pytest.raises(errors.SegmindAPIError) as exc:
        call_node_lists(I2V(), image=pictures(3), prompt="mixed", negative_prompt="", unique_id="3",
                        batch_mode="every picture", **SMALL)
    assert "1 of 3 clips failed" in str(exc.value) and "2 others are saved" in str(exc.value)
    assert len(list(result_cache.cache_directory(slow.home).glob("*.mp4"))) == 2


# --------------------------------------------------------------------------- never twice


def test_two_identical_nodes_at_once_bill_one_job(slow):
    outs = together(generate("same"), generate("same"))
    assert not [o for o in outs if isinstance(o, BaseException)], outs
    assert slow.jobs_submitted == 1 and slow.counts["uploads"] == 1
    assert sorted(o["ui"]["segmind"][0]["from_cache"] for o in outs) == [False, True]


def test_a_requeue_while_the_first_run_waits_bills_nothing(slow, monkeypatch):
    slow.generation_seconds = OVERLAP
    monkeypatch.setenv("SEGMIND_LTX2_CACHE_MAX_GB", "0")

    async def main() -> list[Any]:
        first = asyncio.create_task(generate("requeue"))
        while slow.jobs_submitted < 1:
            await asyncio.sleep(0.01)
        return await asyncio.gather(first, generate("requeue"))

    outs = asyncio.run(main())
    assert slow.jobs_submitted == 1
    assert outs[1]["ui"]["segmind"][0]["request_id"] == outs[0]["ui"]["segmind"][0]["request_id"]


CHILD = Path(__file__).resolve().parent / "request_child.py"
CHILD_BODY = {"prompt": "two processes", "negative_prompt": "", "width": 256, "height": 256, "num_frames": 9,
              "fps": 8, "seed": 1, "guidance_scale": 4.0}


def test_two_processes_with_the_same_request_bill_one_job(slow, tmp_path):
    """Two processes sharing the user folder (two ComfyUIs, or ComfyUI and the command line)
    start the same request at the same moment: the lock taken before the upload makes the
    second wait for the first and reuse its clip."""
    slow.generation_seconds = 0.3
    slow.fault("upload", delay=0.3, times=2)  # both are on the wire before either is accepted
    env = {**os.environ}
    (tmp_path / "ready").mkdir()
    argv = [str(slow.home), str(tmp_path / "out"), str(tmp_path / "ready"), "2"]
    procs = [subprocess.Popen([sys.executable, str(CHILD), *argv, str(n), json.dumps(CHILD_BODY)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    answers = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [a[1][-2000:] for a in answers]
    results = [json.loads(a[0].strip().splitlines()[-1]) for a in answers]
    assert slow.jobs_submitted == 1 and slow.counts["uploads"] == 1
    assert results[0]["request_id"] == results[1]["request_id"]
    assert sorted(r["from_cache"] for r in results) == [False, True]


def test_many_writes_of_one_cache_entry_keep_it(tmp_path):
    cache = result_cache.ResultCache(tmp_path / "cache", int(1e9))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 4096)
    failures: list[BaseException] = []

    def store() -> None:
        try:
            for _ in range(20):
                cache.store("f" * 64, clip, {"request_id": "r"})
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    meta = json.loads((tmp_path / "cache" / f"{'f' * 64}.json").read_text())
    assert meta["size"] == 4096 and (tmp_path / "cache" / f"{'f' * 64}.mp4").stat().st_size == 4096


# --------------------------------------------------------------------------- decode only what is used


def _graph(consumer_inputs: dict[str, list]) -> dict:
    return {"7": {"class_type": "SegmindLTX2ImageToVideo", "inputs": {}},
            "9": {"class_type": "SaveVideo", "inputs": consumer_inputs}}


def test_a_graph_that_only_saves_the_video_never_decodes_frames(slow, monkeypatch):
    video_decode = pack_module("core.video_decode")
    calls: list[Any] = []
    real = video_decode.decode_video
    monkeypatch.setattr(video_decode, "decode_video", lambda *a, **k: calls.append(a) or real(*a, **k))
    out = call_node_lists(I2V(), image=pictures(1), prompt="video only", negative_prompt="", unique_id="7",
                          prompt_graph=_graph({"video": ["7", 4]}), **SMALL)
    frames = out["result"][0][0]
    assert not calls and frames.numel() == 3  # a one-pixel placeholder, not 9 frames
    assert out["result"][3] == [9] and out["ui"]["segmind"][0]["decoded"] is False
    full = call_node_lists(I2V(), image=pictures(1), prompt="video only", negative_prompt="", unique_id="7",
                           prompt_graph=_graph({"images": ["7", 0]}), **SMALL)
    assert tuple(full["result"][0][0].shape) == (9, 256, 256, 3) and calls
    assert slow.jobs_submitted == 1  # the second run came from the cache


def test_a_graph_that_takes_only_the_sound_gets_it_without_the_frames(slow, monkeypatch):
    video_decode = pack_module("core.video_decode")
    monkeypatch.setattr(video_decode, "decode_video", lambda *a, **k: pytest.fail("frames decoded"))
    graph = {"7": {"class_type": "SegmindLTX2ImageToVideo", "inputs": {}},
             "9": {"class_type": "PreviewAudio", "inputs": {"audio": ["7", 1]}}}
    out = call_node_lists(I2V(), image=pictures(1), prompt="sound only", negative_prompt="", unique_id="7",
                          prompt_graph=graph, **SMALL)
    audio = out["result"][1][0]
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape[1] == 2
    # 9 frames at 8 fps: 1.125 s of sound, not a placeholder sample
    assert abs(audio["waveform"].shape[2] - 1.125 * 24000) <= 24000 * 0.05


def test_is_changed_follows_the_consumers_so_comfyui_never_reuses_a_placeholder(monkeypatch):
    graph = _graph({"video": ["7", 4]})
    monkeypatch.setattr(comfy_host, "running_prompt", lambda: graph)
    video_only = I2V.IS_CHANGED(unique_id="7")
    assert video_only == I2V.IS_CHANGED(unique_id="7")  # the same graph: ComfyUI may reuse outputs
    graph["9"]["inputs"]["images"] = ["7", 0]
    assert I2V.IS_CHANGED(unique_id="7") != video_only  # a frames consumer wired in: run again
    monkeypatch.setattr(comfy_host, "running_prompt", lambda: None)
    unknown = I2V.IS_CHANGED(unique_id="7")
    assert unknown != unknown  # NaN: never equal, never reused


def test_decodes_take_turns(slow, monkeypatch):
    video_decode = pack_module("core.video_decode")
    active, peak = [0], [0]
    lock = threading.Lock()
    real = video_decode.decode_video

    def counting(*a: Any, **k: Any) -> Any:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.1)
            return real(*a, **k)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(video_decode, "decode_video", counting)
    outs = together(*(generate(f"turns {i}", unique_id=str(i)) for i in range(3)))
    assert not [o for o in outs if isinstance(o, BaseException)], outs
    assert peak[0] == 1


# --------------------------------------------------------------------------- the request budget


def test_budget_never_exceeds_its_window(monkeypatch):
    clock = Clock(1000.0)
    budget = request_budget.RequestBudget(sleep=clock.advance, clock=clock, per_minute=5)
    sent = []
    for _ in range(12):
        budget.acquire("call")
        sent.append(clock.now)
    for i in range(len(sent) - 5):
        assert sent[i + 5] - sent[i] >= 60.0  # any 6 requests span more than a minute


def test_polls_leave_room_for_each_waiting_jobs_result(monkeypatch):
    clock = Clock(1000.0)
    budget = request_budget.RequestBudget(sleep=clock.advance, clock=clock, per_minute=10, active_jobs=lambda: 3)
    start = clock.now
    for _ in range(7):
        budget.acquire("poll")
    assert clock.now - start < 60  # 10 - 3 reserved: seven polls fit in the first minute
    budget.acquire("poll")
    assert clock.now - start >= 60  # the eighth waits for the window: room stays for 3 results
    calls_start = clock.now
    for _ in range(3):
        budget.acquire("call")
    assert clock.now == calls_start  # the reserved room is there for the results


def test_many_jobs_space_their_polls_to_fit_the_budget():
    one = request_budget.RequestBudget(50, active_jobs=lambda: 1)
    eight = request_budget.RequestBudget(50, active_jobs=lambda: 8)
    free = request_budget.RequestBudget(5, active_jobs=lambda: 1)
    assert one.poll_floor() < 1.5  # one job on pro: a finished clip is seen within ~1 s
    # Eight jobs each polling at the floor send at most what the budget leaves for polls.
    assert 8 * (60.25 / eight.poll_floor()) <= 50 - 8
    assert free.poll_floor() >= 12  # free plan: 5 a minute, one kept for the result


def test_a_429_pauses_every_job_until_the_reset(monkeypatch):
    clock = Clock(1000.0)
    budget = request_budget.RequestBudget(sleep=clock.advance, clock=clock, per_minute=50)
    for _ in range(5):
        budget.acquire("call")
    budget.rate_limited(20.0)
    before = clock.now
    budget.acquire("call")
    assert clock.now - before >= 20.0


def test_budget_is_set_by_plan_or_number(monkeypatch):
    monkeypatch.delenv("SEGMIND_LTX2_REQUESTS_PER_MINUTE", raising=False)
    monkeypatch.delenv("SEGMIND_LTX2_PLAN", raising=False)
    process = runtime_mod.Runtime()  # as a process starts: the budget follows the settings
    assert process.budget().per_minute == 50
    monkeypatch.setenv("SEGMIND_LTX2_PLAN", "free")
    assert process.budget().per_minute == 5
    monkeypatch.setenv("SEGMIND_LTX2_REQUESTS_PER_MINUTE", "12")
    assert process.budget().per_minute == 12
    monkeypatch.setenv("SEGMIND_LTX2_REQUESTS_PER_MINUTE", "lots")
    with pytest.raises(errors.InvalidInputError, match="requests a minute"):
        process.budget()


def test_a_rate_limited_batch_meets_no_429_with_the_budget_at_the_servers_limit(slow):
    # A one-second "minute": the batch needs more requests than one window allows.
    slow.rate_limit, slow.rate_window = 12, 1.0
    with runtime_mod.use(fresh_runtime(window=1.0, requests_per_minute=12)):
        out = call_node_lists(I2V(), image=pictures(4, seed=9), prompt="limited", negative_prompt="",
                              unique_id="3", batch_mode="every picture", **SMALL)
    assert len(out["result"][0]) == 4 and slow.jobs_submitted == 4
    assert slow.counts["rate_limited"] == 0


def test_poll_gap_is_sparse_early_and_dense_near_the_end():
    gap = lambda elapsed: poll_schedule.PollSchedule().gap(elapsed=elapsed, expected=100.0, first=1.0, longest=15.0)
    assert gap(0.5) <= 2.0  # an early first look
    assert gap(10) == 15.0  # far from the end: sparse
    assert gap(97) == 1.0  # near the end: dense
    assert 1.0 < gap(160) <= 15.0  # running long: easing off


def test_comfyuis_progress_hook_never_takes_a_cancel_away_from_the_clips(monkeypatch):
    """ComfyUI 0.3.64's progress hook raises its interruption and clears the flag on every bar
    update after Cancel. From a clip's worker thread that would cut a paid download mid-file
    and hide the Cancel from the node's other clips: the bar keeps the flag set and raises nothing."""
    import types

    class Interrupt(Exception):
        pass

    flag = {"set": True}
    mm = types.SimpleNamespace(
        InterruptProcessingException=Interrupt,
        interrupt_current_processing=lambda value=True: flag.update(set=value),
        processing_interrupted=lambda: flag["set"])

    class Bar:
        def __init__(self, total, node_id=None):
            pass

        def update_absolute(self, value, total):  # main.py's hook
            if flag["set"]:
                flag["set"] = False
                raise Interrupt()

    modules = {"comfy.model_management": mm, "comfy.utils": types.SimpleNamespace(ProgressBar=Bar)}
    monkeypatch.setattr(comfy_host, "_module", modules.get)
    progress = comfy_host.NodeProgress("5")
    progress.bar(500)  # must not raise
    assert comfy_host.is_interrupted()  # every clip still sees the Cancel


def test_a_clip_cached_between_the_first_look_and_the_lock_is_not_paid_again(slow, monkeypatch):
    """Run B looks at the cache just before run A stores its clip and takes the lock just after
    A releases it: B must look again under the lock instead of paying."""
    result_cache = pack_module("core.result_cache")
    image = pictures(1, seed=21)
    call_node_lists(I2V(), image=image, prompt="stale", negative_prompt="", unique_id="7", **SMALL)
    real, calls = result_cache.ResultCache.lookup, []

    def stale_first_look(self: Any, fingerprint: str) -> Any:
        calls.append(fingerprint)
        return None if len(calls) <= 2 else real(self, fingerprint)  # the spend check's and the first look

    monkeypatch.setattr(result_cache.ResultCache, "lookup", stale_first_look)
    out = call_node_lists(I2V(), image=image, prompt="stale", negative_prompt="", unique_id="7", **SMALL)
    assert slow.jobs_submitted == 1 and out["ui"]["segmind"][0]["from_cache"]


def test_after_cancel_the_lock_is_held_until_the_submit_in_flight_is_answered(slow, monkeypatch):
    """A Cancel while the submit is on the wire: another process must not pay for the same
    request before that answer (journalled) arrives, so the request's file lock stays held."""
    slow.fault("submit", delay=0.8)
    # Cancel as soon as the submit has reached the stand-in (it answers 0.8 s later).
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: slow.counts["submits"] >= 1)
    with pytest.raises(errors.Cancelled):
        call_node_lists(I2V(), image=pictures(1, seed=22), prompt="handover", negative_prompt="", unique_id="7",
                        **SMALL)
    locks = list(flight_lock.lock_directory(slow.home).glob("*.lock"))
    assert len(locks) == 1
    assert flight_lock.try_lock_file(locks[0]) is None  # what another process would try: still held
    deadline = time.monotonic() + 10
    while locks[0].exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not locks[0].exists()  # released (and removed) once the answer came and the job ended
    assert slow.jobs_submitted == 1
    assert len(list(job_journal.journal_directory(slow.home).glob("*.json"))) == 1
