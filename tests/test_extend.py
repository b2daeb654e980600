"""Segmind LTX-2 Extend (issue 20, item 4): a clip continued from its last frame, one paid
segment per line of the prompts, joined with sound that runs on. Run as ComfyUI runs the
node (awaited, outside ComfyUI) against the local stand-in: each segment bills one job, a
re-queue bills nothing, a failure at segment 2 of 3 resumes there, the spend limits count
the whole Extend before any upload, and the free offline backend chains stand-in clips."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from clip_samples import RATE, left_channel, max_jump
from fake_segmind import make_mp4
from pack_loader import load_pack, pack_module

pack = load_pack()
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2Extend"]
errors = pack_module("core.errors")
comfy_host = pack_module("comfy_host")
extend_jobs = pack_module("core.extend_jobs")
SOURCE_FRAMES, SEGMENT_FRAMES, FPS = 26, 9, 24


def source_clip(folder: Path, frames: int = SOURCE_FRAMES) -> Path:
    """A 256x256, 24 fps clip with a 440 Hz tone (the stand-in's own pattern): 26 frames end
    the tone at two thirds of a cycle, where a segment's sound (from a third) does not meet it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "source.mp4"
    make_mp4(path, 256, 256, frames, FPS)
    return path


def extend(source: Path, prompts: str = "it walks on\nit stops", **over: Any) -> dict:
    inputs = dict(video=comfy_host.video_from_file(source), prompts=prompts, model="ltx-2-19b-i2v",
                  negative_prompt="blurry", num_frames=SEGMENT_FRAMES, seed=7, guidance_scale=4.0,
                  duration=6, resolution="1080p", generate_audio=True, fps="not sent", unique_id="5")
    return asyncio.run(NODE().extend(**{**inputs, **over}))


def submits(env: Any, path: str = "ltx-2-19b-i2v") -> list[dict]:
    return [r[3] for r in env.requests_log if r[0] == "POST" and r[1] == f"/v2/{path}"]


def joined_path(out: dict, env: Any) -> Path:
    image = out["ui"]["images"][0]
    return Path(env.output) / image["subfolder"] / image["filename"]


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(c.streams.video[0])]


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


# --------------------------------------------------------------------------- the node's face


def test_the_node_face() -> None:
    spec = NODE.INPUT_TYPES()
    assert list(spec["required"])[:3] == ["video", "prompts", "model"]
    assert spec["required"]["model"][0] == ["ltx-2-19b-i2v", "ltx-2-pro"]
    # 19B's fields but its size and rate (the clip's), then Pro's; Pro's fps only when set.
    assert list(spec["required"])[3:] == ["negative_prompt", "num_frames", "seed", "guidance_scale", "duration",
                                          "resolution", "generate_audio"]
    assert spec["optional"]["fps"][0] == ["not sent", 25, 50]
    assert spec["required"]["num_frames"][1]["tooltip"].startswith("LTX-2 19B only")
    assert spec["required"]["resolution"][1]["tooltip"].startswith("LTX-2 Pro only")
    assert {"force_rerun", "backend", "options"} <= set(spec["optional"])
    assert NODE.RETURN_NAMES == ("frames", "audio", "fps", "frame_count", "video") and NODE.CATEGORY == "Segmind/LTX-2"
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["SegmindLTX2Extend"] == "Segmind LTX-2 Extend"


# --------------------------------------------------------------------------- against the stand-in


def test_two_segments_bill_two_jobs_join_without_a_seam_and_a_requeue_bills_nothing(pack_env, tmp_path):
    pack_env.animate_uploads = True  # a segment shows its uploaded picture: a repeated frame would show
    source = source_clip(tmp_path / "in")
    out = extend(source)
    frames, audio, fps, count, video = out["result"]
    assert pack_env.jobs_submitted == 2
    sent = submits(pack_env)
    assert [s["prompt"] for s in sent] == ["it walks on", "it stops"]
    assert all((s["width"], s["height"], s["fps"], s["num_frames"]) == (256, 256, FPS, SEGMENT_FRAMES) for s in sent)
    # The length is the sum of the parts less the overlap: each segment's first frame is the
    # previous clip's last frame, shown once.
    want = SOURCE_FRAMES + 2 * (SEGMENT_FRAMES - 1)
    assert count == want and frames.shape[0] == want and fps == pytest.approx(FPS)
    path = joined_path(out, pack_env)
    assert Path(video.get_stream_source()) == path
    # The sound runs to the end of the last frame.
    assert audio["waveform"].shape[-1] >= want * RATE // FPS - 1
    wave = left_channel(path)
    assert len(wave) >= want * RATE // FPS - 1 and np.abs(wave[-RATE // 10:]).max() > 0.1
    # Seam: no frame shown twice. A segment's first frame is its picture, the previous last
    # frame again: the joined clip goes on with the segment's second frame instead.
    joined = frames_of(path)
    ids = out["ui"]["segmind"][0]["request_ids"]
    for seam, rid in zip(out["ui"]["segmind"][0]["seams"], ids):
        segment = frames_of(next(path.parent.glob(f"ltx2_i2v_*_{rid[:12]}.mp4")))
        assert diff(segment[0], joined[seam - 1]) < diff(segment[1], joined[seam - 1])  # frame 0 repeats it
        assert diff(joined[seam], segment[1]) < diff(joined[seam], segment[0]), seam
    # ...and no click: the largest step between samples at the seam is no larger than inside
    # the tones (a plain cut here jumps 0.35, the tone's own steps are 0.023).
    reference = max(max_jump(wave, int(0.2 * RATE), int(0.8 * RATE)),
                    max_jump(wave, len(wave) - int(0.3 * RATE), len(wave) - int(0.05 * RATE)))
    for seam in out["ui"]["segmind"][0]["seams"]:
        at = seam * RATE // FPS
        assert max_jump(wave, at - 1200, at + 1200) < 1.6 * reference, (seam, reference)
    summary = out["ui"]["segmind"][0]
    assert summary["segments"] == 2 and summary["paid_segments"] == 2 and len(summary["request_ids"]) == 2
    assert summary["estimate"] == pytest.approx(2 * one_segment_estimate())
    assert summary["cost"] == pytest.approx(2 * 0.455)

    again = extend(source)
    assert pack_env.jobs_submitted == 2 and len(submits(pack_env)) == 2  # nothing billed again
    assert again["result"][3] == want and again["ui"]["segmind"][0]["from_cache"] is True
    assert again["ui"]["segmind"][0]["paid_segments"] == 0


def test_a_failure_at_segment_2_of_3_resumes_there_paying_only_for_2_and_3(pack_env, tmp_path, monkeypatch):
    source = source_clip(tmp_path / "in")
    status = pack_module("nodes.extend")._SegmentStatus
    seen = status.__call__

    def refuse_segment_2(self, index, kind, data):  # the service refuses segment 2's submit
        if index == 1 and kind == "uploading":
            pack_env.fault("submit", status=400, json={"error": "bad prompt"})
        return seen(self, index, kind, data)

    monkeypatch.setattr(status, "__call__", refuse_segment_2)
    with pytest.raises(errors.SegmindAPIError) as failed:
        extend(source, "one\ntwo\nthree")
    assert pack_env.jobs_submitted == 1
    assert "stopped at segment 2 of 3" in str(failed.value) and "queue the same graph again" in str(failed.value)
    monkeypatch.setattr(status, "__call__", seen)
    out = extend(source, "one\ntwo\nthree")
    assert pack_env.jobs_submitted == 3  # segment 1 from the cache, 2 and 3 paid
    assert [s["prompt"] for s in submits(pack_env)] == ["one", "two", "two", "three"]  # the refused one, then 2, 3
    assert out["result"][3] == SOURCE_FRAMES + 3 * (SEGMENT_FRAMES - 1)
    assert out["ui"]["segmind"][0]["paid_segments"] == 2
    # Nothing stays reserved: the refused segment's and the unstarted one's were given back.
    assert pack_module("core.spend_check").reserved_total(pack_env.home) == pytest.approx(0.0)


def test_a_billed_segment_whose_clip_did_not_land_is_collected_not_paid_again(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    pack_env.fault("download", status=404, times=50)  # segment 1 is billed, its clip cannot be fetched now
    with pytest.raises(errors.SegmindError):
        extend(source)
    assert pack_env.jobs_submitted == 1
    pack_env.clear_faults()
    out = extend(source)
    assert pack_env.jobs_submitted == 2  # segment 1's job collected from the journal, segment 2 paid
    assert out["ui"]["segmind"][0]["paid_segments"] == 1  # the plan saw segment 1 as recorded (free)
    assert out["result"][3] == SOURCE_FRAMES + 2 * (SEGMENT_FRAMES - 1)


def one_segment_estimate() -> float:
    body = {"prompt": "p", "negative_prompt": "blurry", "width": 256, "height": 256, "num_frames": SEGMENT_FRAMES}
    return pack_module("core.params").estimate_cost(body, "ltx-2-19b-i2v")


def test_the_spend_limit_counts_the_whole_extend_before_any_upload(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    limits = pack_module("core.spend_limits")
    limits.SpendLimits(per_run=1.5 * one_segment_estimate()).save(pack_env.home)  # one segment fits, two do not
    with pytest.raises(errors.SpendLimitError) as refused:
        extend(source)
    assert "estimate for 2 clips" in str(refused.value)
    assert pack_env.jobs_submitted == 0 and pack_env.counts["uploads"] == 0 and pack_env.counts["credit_calls"] == 0
    assert pack_module("core.spend_check").reserved_total(pack_env.home) == pytest.approx(0.0)
    out = extend(source, "only one")
    assert out["result"][3] == SOURCE_FRAMES + SEGMENT_FRAMES - 1 and pack_env.jobs_submitted == 1


def test_the_credits_check_counts_the_whole_extend(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    pack_env.credits = 1.5 * one_segment_estimate()  # one segment's estimate, not two
    with pytest.raises(errors.InsufficientCreditsError):
        extend(source)
    assert pack_env.jobs_submitted == 0 and pack_env.counts["uploads"] == 0


def test_pro_segments_are_fitted_to_the_clip(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    out = extend(source, "a\nb", model="ltx-2-pro", duration=6, resolution="1080p")
    sent = submits(pack_env, "ltx-2-pro")
    assert [{k: v for k, v in s.items() if k != "image"} for s in sent] == [
        {"prompt": p, "duration": 6, "resolution": "1080p", "generate_audio": True} for p in "ab"]
    frames, audio, fps, count, _ = out["result"]
    # Pro's 25 fps segments (150 frames, the first dropped) resampled to the clip's 24 fps, at its size.
    assert count == SOURCE_FRAMES + 2 * round(149 * 24 / 25)
    assert tuple(frames.shape[1:3]) == (256, 256) and fps == pytest.approx(FPS)
    assert out["ui"]["segmind"][0]["estimate"] == pytest.approx(2 * 0.36)


def test_bad_inputs_are_refused_before_anything_is_sent(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    with pytest.raises(errors.InvalidInputError, match="one prompt per segment"):
        extend(source, " \n\n ")
    with pytest.raises(errors.InvalidInputError, match="ltx-2-19b-i2v or ltx-2-pro"):
        extend(source, model="ltx-2-fast")
    with pytest.raises(errors.InvalidInputError, match="'num_frames'"):
        extend(source, num_frames=0)
    assert pack_env.requests_log == []


def test_the_offline_backend_chains_free_stand_in_clips(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    out = extend(source, "a\nb", backend="offline preview")
    assert out["result"][3] == SOURCE_FRAMES + 2 * (SEGMENT_FRAMES - 1)
    assert out["ui"]["segmind"][0]["cost"] == 0.0
    assert pack_env.requests_log == []
    pro = extend(source, "a", backend="offline preview", model="ltx-2-pro", duration=6)
    assert pro["result"][3] == SOURCE_FRAMES + 6 * FPS - 1


# --------------------------------------------------------------------------- the core on its own


def test_the_plan_follows_the_chain_through_the_cache(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    values = {"negative_prompt": "blurry", "num_frames": SEGMENT_FRAMES, "seed": 7}
    bodies = extend_jobs.segment_bodies("ltx-2-19b-i2v", values, ["a", "b", "c"],
                                        extend_jobs.SourceClip.read(source))
    plan = extend_jobs.plan_extend(source, "ltx-2-19b-i2v", bodies, user_dir=pack_env.home,
                                   api_base=pack_env.api_base)
    assert [s.kind for s in plan.segments] == ["new", "later", "later"] and len(plan.paying) == 3
    assert "3 to pay" in plan.describe()
    extend(source, "a\nb")
    plan = extend_jobs.plan_extend(source, "ltx-2-19b-i2v", bodies, user_dir=pack_env.home,
                                   api_base=pack_env.api_base)
    assert [s.kind for s in plan.segments] == ["cached", "cached", "new"] and len(plan.paying) == 1
    assert plan.total == pytest.approx(plan.segments[2].estimate.amount)


@pytest.mark.parametrize("size, want", [((720, 1280), (720, 1280)), ((1920, 1080), (1280, 720)),
                                        ((64, 48), (341, 256)), ((3000, 200), (1280, 256))])
def test_a_19b_segment_takes_the_clip_s_size_within_segmind_s_range(size, want):
    from fractions import Fraction

    clip = extend_jobs.SourceClip(Path("x.mp4"), size[0], size[1], Fraction(24000, 1001), 100)
    fields = extend_jobs.clip_fields("ltx-2-19b-i2v", clip)
    assert (fields["width"], fields["height"]) == want and fields["fps"] == 24
    assert extend_jobs.clip_fields("ltx-2-pro", clip) == {}


def test_the_joined_clip_names_its_segments_jobs(pack_env, tmp_path):
    source = source_clip(tmp_path / "in")
    out = extend(source)
    meta = pack_module("core.provenance").read_provenance(joined_path(out, pack_env))
    assert meta["model"] == "extend" and meta["fields"]["prompts"] == ["it walks on", "it stops"]
    assert [s["request_id"] for s in meta["segments"]] == out["ui"]["segmind"][0]["request_ids"]
    assert meta["seams"] == [SOURCE_FRAMES, SOURCE_FRAMES + SEGMENT_FRAMES - 1]


def test_cancel_during_segment_2_gives_every_reservation_back_and_a_rerun_resumes(pack_env, tmp_path, monkeypatch):
    source = source_clip(tmp_path / "in")
    status = pack_module("nodes.extend")._SegmentStatus
    seen = status.__call__
    pressed = []

    def cancel_at_segment_2(self, index, kind, data):
        if index == 1:
            pressed.append(kind)
        return seen(self, index, kind, data)

    monkeypatch.setattr(status, "__call__", cancel_at_segment_2)
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: bool(pressed))
    with pytest.raises(errors.Cancelled):
        extend(source, "one\ntwo\nthree")
    assert pack_env.jobs_submitted == 1  # segment 1 only: Cancel came before segment 2 was sent
    assert pack_module("core.spend_check").reserved_total(pack_env.home) == pytest.approx(0.0)
    monkeypatch.setattr(comfy_host, "is_interrupted", lambda: False)
    out = extend(source, "one\ntwo\nthree")
    assert pack_env.jobs_submitted == 3 and out["ui"]["segmind"][0]["paid_segments"] == 2
