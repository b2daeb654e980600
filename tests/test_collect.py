"""The Collect Job node and core/collect.py against the local stand-in: a job is collected
by its request id without a new submit, from Segmind within its hour or from the cache
with no request at all; ids that are unknown, too old or unsafe get a clear message."""
from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path

import pytest

from fake_segmind import make_mp4
from pack_loader import load_pack, pack_module

pack = load_pack()
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2CollectJob"]
collect_mod = pack_module("core.collect")
client_mod = pack_module("core.client")
errors = pack_module("core.errors")
ledger_mod = pack_module("core.ledger")
cache_mod = pack_module("core.result_cache")
journal_mod = pack_module("core.job_journal")
prov = pack_module("core.provenance")

T2V = "ltx-2-19b-t2v"
BODY = {"prompt": "waves at dusk", "negative_prompt": "blurry", "width": 256, "height": 256,
        "num_frames": 9, "fps": 8, "seed": 3, "guidance_scale": 4.0}


@pytest.fixture
def env(pack_env):
    return pack_env


def submit_directly(env) -> str:
    """A paid job made outside the node (say, by an earlier session): its request id."""
    client = client_mod.SegmindClient(env.api_key, client_mod.ClientConfig.from_env())
    return client.submit(T2V, dict(BODY)).request_id


def collect(request_id: str = "", **kw) -> dict:
    return asyncio.run(NODE().collect(request_id=request_id, unique_id="9", **kw))


def cache(env):
    return cache_mod.ResultCache(cache_mod.cache_directory(env.home), int(5e9))


def test_node_face() -> None:
    spec = NODE.INPUT_TYPES()
    assert list(spec["required"]) == ["request_id"] and spec["required"]["request_id"][0] == "STRING"
    assert isinstance(spec["optional"]["recorded_job"][0], list)
    assert NODE.RETURN_TYPES == ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
    assert NODE.RETURN_NAMES == ("frames", "audio", "fps", "frame_count", "video")
    assert inspect.iscoroutinefunction(NODE.collect)  # ComfyUI awaits it; the work runs in a thread
    assert NODE.VALIDATE_INPUTS(recorded_job="a job no longer in the list") is True
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["SegmindLTX2CollectJob"] == "Segmind LTX-2 Collect Job"


def test_collects_a_live_job_without_paying_then_from_the_cache(env) -> None:
    rid = submit_directly(env)
    assert env.jobs_submitted == 1
    out = collect(rid)
    frames, audio, fps, count, video = out["result"]
    assert tuple(frames.shape) == (9, 256, 256, 3) and count == 9 and fps == pytest.approx(8.0)
    assert audio["sample_rate"] == 24000
    assert env.jobs_submitted == 1 and env.counts["submits"] == 1 and env.counts["uploads"] == 0
    assert env.counts["status_calls"] >= 1
    summary = out["ui"]["segmind"][0]
    assert summary["request_id"] == rid and summary["api_mode"] == "collect" and summary["cost"] == 0.0
    preview = out["ui"]["images"][0]
    mp4 = env.output / preview["subfolder"] / preview["filename"]
    assert Path(video.get_stream_source()) == mp4
    tag = prov.read_provenance(mp4)
    assert tag["request_id"] == rid and tag["cost"] == pytest.approx(0.455)  # the job's own cost

    env.reset_counts()
    again = collect(rid)  # now from the result cache: forever, with no request at all
    assert env.requests_log == [] and again["ui"]["segmind"][0]["from_cache"] is True
    assert again["result"][3] == 9


def test_a_cached_clip_is_returned_with_no_request_and_no_key(env, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("SEGMIND_API_KEY")
    clip = tmp_path / "old.mp4"
    make_mp4(clip, 128, 96, 9, 8)
    cache(env).store("ab" * 32, clip, {"model": T2V, "request": dict(BODY), "request_id": "cached-job-1",
                                       "cost": 0.455})
    out = collect("  cached-job-1 ")
    assert env.requests_log == []
    frames = out["result"][0]
    assert tuple(frames.shape) == (9, 96, 128, 3)
    assert out["ui"]["segmind"][0]["from_cache"] is True


def test_an_unknown_id_gives_a_clear_message(env) -> None:
    with pytest.raises(errors.UnknownJobError) as info:
        collect("0f0f0f0f-dead-beef-0000-123456789abc")
    msg = str(info.value)
    assert "0f0f0f0f-dead-beef-0000-123456789abc" in msg and "one hour" in msg and "404" in msg
    assert env.jobs_submitted == 0 and env.counts["submits"] == 0


@pytest.mark.parametrize("bad", ["x/../../../y", "abc?x=1", "id\x00nul", "a" * 200, "../v2/ltx-2-19b-t2v"])
def test_an_unsafe_id_is_refused_before_any_request(env, bad) -> None:
    with pytest.raises(errors.InvalidInputError, match="not a Segmind request id"):
        collect(bad)
    assert env.requests_log == []


def test_no_id_at_all_says_where_to_put_one(env) -> None:
    with pytest.raises(errors.InvalidInputError, match="request_id"):
        collect("")


def test_a_recorded_job_older_than_the_hour_is_refused_without_a_request(env) -> None:
    ledger_mod.Ledger(env.home).record({"request_id": "old-job-1", "model": T2V, "cost": 0.455,
                                        "time": time.time() - 3 * 3600, **BODY})
    with pytest.raises(errors.UnknownJobError, match="3.0 hours ago"):
        collect("old-job-1")
    assert env.requests_log == []


def test_a_journalled_output_url_is_downloaded_without_polling(env) -> None:
    rid = submit_directly(env)
    client = client_mod.SegmindClient(env.api_key, client_mod.ClientConfig.from_env())
    ref, _ = client.wait(client_mod.SubmittedJob(rid, T2V), 30)
    fingerprint = "cd" * 32
    journal = journal_mod.JobJournal(journal_mod.journal_directory(env.home))
    entry = journal.record(fingerprint, rid, T2V, client.config.api_base)
    journal.record_output(entry, ref[1])
    env.reset_counts()
    out = collect(rid)
    assert out["result"][3] == 9
    assert env.counts["status_calls"] == 0 and env.counts["result_calls"] == 0 and env.counts["downloads"] == 1
    assert env.jobs_submitted == 0
    # Cached under the request's own fingerprint, so the journal record has done its job.
    assert cache(env).lookup(fingerprint) is not None and journal.get(fingerprint) is None


def test_a_failed_job_says_there_is_nothing_to_collect(env) -> None:
    env.fault("submit", job_fails=True)
    rid = submit_directly(env)
    with pytest.raises(errors.SegmindJobFailed, match="no clip to collect"):
        collect(rid)


def test_a_cached_clip_that_no_longer_decodes_is_dropped(env, tmp_path) -> None:
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"\x00" * 5000)
    cache(env).store("ef" * 32, clip, {"model": T2V, "request": dict(BODY), "request_id": "broken-job"})
    with pytest.raises(errors.UnknownJobError):
        collect("broken-job")  # not in the cache any more, and Segmind does not know it
    assert not (cache_mod.cache_directory(env.home) / f"{'ef' * 32}.mp4").exists()


def test_picking_a_recorded_job_from_the_list(env) -> None:
    rid = submit_directly(env)
    ledger_mod.Ledger(env.home).record({"request_id": rid, "model": T2V, "cost": None, **BODY})
    choices = NODE.INPUT_TYPES()["optional"]["recorded_job"][0]
    label = next(c for c in choices if c.startswith(rid))
    assert "waves at dusk" in label
    out = collect("", recorded_job=label)
    assert out["ui"]["segmind"][0]["request_id"] == rid and env.jobs_submitted == 1


def test_recorded_jobs_merge_the_ledger_and_the_cache(env, tmp_path) -> None:
    clip = tmp_path / "c.mp4"
    make_mp4(clip, 128, 96, 9, 8)
    now = time.time()
    led = ledger_mod.Ledger(env.home)
    led.record({"request_id": "both", "fingerprint": "11" * 32, "cost": 0.3, "time": now - 100, **BODY})
    led.record({"request_id": "ledger-only", "cost": None, "time": now - 50, **BODY, "width": 720,
                "height": 1280, "num_frames": 181})
    cache(env).store("11" * 32, clip, {"request_id": "both", "request": dict(BODY), "cost": 0.3})
    cache(env).store("22" * 32, clip, {"request_id": "cache-only", "request": {**BODY, "prompt": "old"},
                                       "cost": 0.2})
    jobs = collect_mod.recorded_jobs(env.home, env.output, now=now)
    by_id = {j.request_id: j.as_dict() for j in jobs}
    assert set(by_id) == {"both", "ledger-only", "cache-only"}
    assert by_id["both"]["cached"] and by_id["both"]["cost"] == 0.3 and by_id["both"]["fingerprint"] == "11" * 32
    assert by_id["cache-only"]["prompt"] == "old" and by_id["cache-only"]["collectable"]
    assert by_id["ledger-only"]["grid"] == {"width": 736, "height": 1280, "num_frames": 185}
    assert by_id["ledger-only"]["collectable"]  # Segmind still holds it within the hour
    assert [j.request_id for j in jobs] == ["cache-only", "ledger-only", "both"]  # newest first (stored just now)


def test_a_ledger_clip_path_outside_the_output_folder_is_not_used(env, tmp_path) -> None:
    outside = tmp_path / "elsewhere.mp4"
    make_mp4(outside, 128, 96, 9, 8)
    ledger_mod.Ledger(env.home).record({"request_id": "moved-job", "clip": str(outside), "cost": 0.4,
                                        "time": time.time() - 7200, **BODY})
    with pytest.raises(errors.UnknownJobError):
        collect("moved-job")
    assert env.requests_log == []
