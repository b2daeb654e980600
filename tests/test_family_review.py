"""Defects found reviewing the LTX-2 family (Retake, Extend, Join) with fresh eyes: each
bad input from the terminal ends in a message saying what to change (no traceback), an
output that cannot be written is found before anything is paid, and the offline Retake
takes a clip of any size."""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from cli_helpers import run, submit_refused_after_each_booking
from clip_samples import make_clip
from pack_loader import pack_module


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "scene.mp4", frames=96, fps=24, width=64, height=48)


@pytest.fixture
def not_a_video(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("not a clip", encoding="utf-8")
    return path


@pytest.mark.parametrize("argv", [
    ["extend", "{bad}", "--prompt", "a"],
    ["join", "{good}", "{bad}"],
    ["retake", "{bad}", "--start", "0"],
])
def test_a_file_that_is_not_a_clip_is_refused_saying_what_to_give(capsys, pack_env, clip, not_a_video, argv):
    argv = [a.format(bad=not_a_video, good=clip) for a in argv] + ["--out", str(pack_env.output)]
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert "notes.mp4" in err and "Give" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["join", "extend"])
def test_an_output_file_that_cannot_be_written_is_refused_before_anything(capsys, pack_env, clip, tmp_path,
                                                                          command):
    blocker = tmp_path / "a_file"
    blocker.write_text("x", encoding="utf-8")
    dest = blocker / "joined.mp4"  # its folder is a file
    argv = (["join", str(clip), str(clip)] if command == "join" else
            ["extend", str(clip), "--prompt", "a", "--num-frames", "9", "--backend", "segmind"])
    code, out, err = run(capsys, *argv, "-o", str(dest))
    assert code == 2, err
    assert str(blocker) in err and "-o" in err and "Traceback" not in err
    assert pack_env.jobs_submitted == 0 and pack_env.requests_log == []


def test_a_section_refusal_names_the_flag_on_the_command_line(capsys, pack_env, clip):
    code, out, err = run(capsys, "retake", str(clip), "--start", "-1", "--out", str(pack_env.output))
    assert code == 2 and "--start-time" in err, err
    code, out, err = run(capsys, "retake", str(clip), "--start", "0", "--seconds", "1", "--out", str(pack_env.output))
    assert code == 2 and "--duration" in err, err


def test_a_section_refusal_names_the_input_on_the_node(tmp_path, clip):
    retake_job = pack_module("core.retake_job")
    words = pack_module("nodes.words")
    errors = pack_module("core.errors")
    with pytest.raises(errors.InvalidInputError) as raised:
        retake_job.plan_retake(clip, start_time=-1, duration=2)
    assert "'start_time'" in str(words.in_node_words(raised.value))


def _odd_clip(path: Path, frames: int = 80) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 255, 143, "yuv444p"
        for i in range(frames):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(np.full((143, 255, 3), 3 * i, np.uint8), format="rgb24")))
        out.mux(vs.encode(None))
    return path


def test_the_offline_retake_of_an_odd_sized_clip_is_made(capsys, pack_env, tmp_path):
    odd = _odd_clip(tmp_path / "odd.mp4")
    code, out, err = run(capsys, "retake", str(odd), "--start", "0", "--seconds", "2", "--json",
                         "--out", str(pack_env.output))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["frame_count"] == 80 and (summary["width"], summary["height"]) == (254, 142)


def test_an_offline_extend_carries_its_provenance_in_the_mp4_and_json(capsys, pack_env, clip):
    """As the paid Extend and every offline clip do: what continued which clip, marked free."""
    provenance = pack_module("core.provenance")
    code, out, err = run(capsys, "extend", str(clip), "--prompt", "a", "--prompt", "b", "--num-frames", "9",
                         "--json", "--out", str(pack_env.output))
    assert code == 0, err
    video = Path(json.loads(out)["video"])
    meta = provenance.read_provenance(video)
    assert meta is not None and meta["model"] == "extend" and meta["cost"] == 0.0
    assert meta["api_mode"] == "offline preview" and meta["fields"]["prompts"] == ["a", "b"]
    assert meta["source"] == clip.name and len(meta["segments"]) == 2
    assert json.loads(provenance.provenance_json_path(video).read_text(encoding="utf-8"))["model"] == "extend"


def test_a_join_failing_after_every_segment_was_paid_says_they_are_kept_and_a_rerun_pays_nothing(
        capsys, pack_env, clip, monkeypatch):
    chain = pack_module("core.extend_chain")
    errors = pack_module("core.errors")
    argv = ["extend", str(clip), "--prompt", "a", "--prompt", "b", "--num-frames", "9", "--backend", "segmind",
            "--out", str(pack_env.output)]

    def broken_join(*_, **__):
        raise errors.VideoError("The disk went away while joining.")

    with monkeypatch.context() as patched:
        patched.setattr(chain, "join_clips", broken_join)
        code, out, err = run(capsys, *argv)
    assert code == 1 and "went away" in err
    assert "both segments are saved and cached" in err and "run the same command again" in err, err
    assert pack_env.jobs_submitted == 2
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert pack_env.jobs_submitted == 2 and json.loads(out)["paid_segments"] == 0


def test_a_pro_job_is_collected_by_its_request_id_never_paying_again(pack_env):
    """The issue: Collect Job takes a Pro job by its request id, as it does a Retake's."""
    import asyncio

    import torch

    from node_calls import call_node

    nodes = pack_module("nodes.pro_image_to_video")
    out = call_node(nodes.SegmindLTX2ProImageToVideo(), image=torch.rand(1, 90, 160, 3), prompt="waves",
                    duration=6, resolution="1080p", generate_audio=True, fps="not sent", unique_id="3")
    rid = out["ui"]["segmind"][0]["request_id"]
    (Path(pack_env.output) / out["ui"]["images"][0]["subfolder"] / out["ui"]["images"][0]["filename"]).unlink()
    for cached in (Path(pack_env.home) / "segmind" / "cache").glob("*.mp4"):
        cached.unlink()  # neither on disk nor cached: fetched from Segmind again, unbilled
    collect = pack_module("nodes.collect_job").SegmindLTX2CollectJob()
    got = asyncio.run(collect.collect(request_id=rid, unique_id="9"))
    assert got["result"][3] == 150 and pack_env.jobs_submitted == 1
    provenance = pack_module("core.provenance").read_provenance(got["result"][4].get_stream_source())
    assert provenance["model"] == "ltx-2-pro" and provenance["request_id"] == rid


@pytest.mark.parametrize("argv, flags, wrong", [
    (["retake", "{clip}", "--start", "0", "--backend", "segmind", "--dry-run", "--max-cost", "0.1"],
     "a retake has one price, whatever its section", "--num-frames"),
    (["--model", "pro", "--image", "{picture}", "--prompt", "x", "--backend", "segmind", "--dry-run",
      "--max-cost", "0.01"], "--duration, --resolution", "--num-frames"),
])
def test_max_cost_says_what_makes_this_model_cheaper(capsys, pack_env, clip, tmp_path, argv, flags, wrong):
    from cli_helpers import picture

    pic = picture(tmp_path / "p.png")
    argv = [a.format(clip=clip, picture=pic) for a in argv] + ["--out", str(pack_env.output)]
    code, out, err = run(capsys, *argv)
    assert code == 2 and "above --max-cost" in err, err
    assert flags in err and wrong not in err, err


def test_a_per_second_estimate_says_so_not_scaled_by_size():
    history = pack_module("core.learned_estimate").ChargeHistory()
    basis = history.estimate("ltx-2-pro", {"duration": 6, "resolution": "1080p", "prompt": "x"}).basis()
    assert basis == "a price per second by resolution (unconfirmed)"
    assert "scaled by size" in history.estimate("ltx-2-19b-i2v", {"width": 720, "height": 1280,
                                                                   "num_frames": 181}).basis()


def test_a_failure_with_force_rerun_on_does_not_promise_a_free_resume(capsys, pack_env, clip, monkeypatch):
    """force_rerun pays for every segment again: the hint after a failure must say to turn it
    off, or the 'resumes without paying' it promises is false."""
    argv = ["extend", str(clip), "--prompt", "a", "--prompt", "b", "--num-frames", "9", "--backend", "segmind",
            "--force-rerun", "--out", str(pack_env.output)]
    with submit_refused_after_each_booking(pack_env, monkeypatch):
        code, out, err = run(capsys, *argv)
    assert code == 1 and "stopped at segment 2 of 2" in err, err
    assert "without --force-rerun" in err, err


def test_a_pro_estimate_learns_what_segmind_really_charged(pack_env):
    """LTX2_FAMILY.md: 'the estimate should learn from what was really charged'. A Pro body has
    no width, height nor num_frames: the ledger line and the comparison use the size and length
    its resolution and duration render, so a Pro clip charged above its rate raises the next
    comparable one's estimate (as for 19B and Retake)."""
    import torch

    from node_calls import call_node

    learned = pack_module("core.learned_estimate")
    body = {"prompt": "x", "duration": 6, "resolution": "1080p", "generate_audio": True}
    assert learned.ChargeHistory.load(pack_env.home).estimate("ltx-2-pro", body).amount == pytest.approx(0.36)
    pack_env.prices["ltx-2-pro"] = 0.5
    nodes = pack_module("nodes.pro_image_to_video")
    call_node(nodes.SegmindLTX2ProImageToVideo(), image=torch.rand(1, 90, 160, 3), prompt="waves", duration=6,
              resolution="1080p", generate_audio=True, fps="not sent", unique_id="3")
    history = learned.ChargeHistory.load(pack_env.home)
    again = history.estimate("ltx-2-pro", {**body, "prompt": "y"})
    assert again.amount == pytest.approx(0.5) and "Segmind charged $0.500" in again.basis()
    bigger = history.estimate("ltx-2-pro", {**body, "resolution": "2160p"})  # larger: never below it
    assert bigger.amount == pytest.approx(1.44)
    smaller_than_charged = history.estimate("ltx-2-pro", {**body, "duration": 8, "resolution": "1080p"})
    assert smaller_than_charged.amount == pytest.approx(0.5)  # 8 s at 1080p: $0.48 by rate, $0.50 learned
