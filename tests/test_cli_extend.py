"""The command line's `extend` and `join` (cli/extend.py): offline (free, no key), paid against
the stand-in (every segment's estimate first, a rerun bills nothing, a failure resumes where
it stopped), refused whole by the spend limits or --max-cost before any upload."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import run, submit_refused_after_each_booking
from clip_samples import make_clip
from fake_segmind import make_mp4
from pack_loader import pack_module

FPS = 24


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    make_mp4(path, 256, 256, 26, FPS)
    return path


@pytest.fixture
def prompts(tmp_path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("the fox looks up\n\nthe fox runs off\n", encoding="utf-8")
    return path


def probe(path: Path):
    return pack_module("core.video_decode").probe_video(path)


def test_extend_offline_is_free_and_needs_no_key(capsys, pack_env, monkeypatch, clip, prompts, tmp_path):
    monkeypatch.delenv("SEGMIND_API_KEY")
    out = tmp_path / "long.mp4"
    code, stdout, err = run(capsys, "extend", str(clip), "--prompts", str(prompts), "--num-frames", "9",
                            "-o", str(out), "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["video"] == str(out) and summary["segments"] == 2 and summary["cost"] == 0.0
    assert summary["frame_count"] == probe(out).frame_count == 26 + 2 * 8
    assert Path(summary["summary"]).is_file() and Path(summary["audio"]).is_file() and summary["audio"].endswith(".wav")
    assert pack_env.requests_log == []


def test_extend_paid_shows_every_segment_then_a_rerun_bills_nothing(capsys, pack_env, clip, tmp_path):
    argv = ["extend", str(clip), "--prompt", "one", "--prompt", "two", "--num-frames", "9", "--backend", "segmind"]
    code, out, err = run(capsys, *argv, "--dry-run")
    assert code == 0 and "2 segments of ltx-2-19b-i2v: 2 to pay" in out and pack_env.requests_log == []
    assert "Segment 1: new" in out and "Segment 2: later" in out
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert "2 segments of ltx-2-19b-i2v: 2 to pay" in err
    summary = json.loads(out)
    assert pack_env.jobs_submitted == 2 and summary["paid_segments"] == 2 and len(summary["request_ids"]) == 2
    assert summary["frame_count"] == 26 + 2 * 8 and summary["cost"] == pytest.approx(2 * 0.455)
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0 and "2 free (cached or already paid)" in err
    assert pack_env.jobs_submitted == 2 and json.loads(out)["paid_segments"] == 0


def test_extend_refused_whole_by_the_spend_limit_or_max_cost(capsys, pack_env, clip):
    argv = ["extend", str(clip), "--prompt", "one", "--prompt", "two", "--num-frames", "9", "--backend", "segmind"]
    code, out, err = run(capsys, *argv, "--max-cost", "0.001")
    assert code == 2 and "above --max-cost" in err
    body = {"prompt": "p", "width": 256, "height": 256, "num_frames": 9}
    one = pack_module("core.params").estimate_cost(body, "ltx-2-19b-i2v")
    pack_module("core.spend_limits").SpendLimits(per_run=1.5 * one).save(pack_env.home)
    code, out, err = run(capsys, *argv)
    assert code == 2 and "spend limit per run" in err and "the `limits` command" in err
    assert pack_env.requests_log == [] or all(r[1].endswith("credits") for r in pack_env.requests_log)
    assert pack_env.counts["uploads"] == 0 and pack_env.jobs_submitted == 0


def test_extend_resumes_after_a_failure_paying_only_for_the_rest(capsys, pack_env, clip, monkeypatch):
    argv = ["extend", str(clip), "--prompt", "one", "--prompt", "two", "--prompt", "three", "--num-frames", "9",
            "--backend", "segmind"]
    # Segment 2's submit is refused: the fault is queued once segment 1 is booked with its cost.
    with submit_refused_after_each_booking(pack_env, monkeypatch):
        code, out, err = run(capsys, *argv)
    assert code == 1 and "stopped at segment 2 of 3" in err and "run the same command again" in err
    assert pack_env.jobs_submitted == 1
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert "1 free (cached or already paid), 2 to pay" in err
    assert pack_env.jobs_submitted == 3 and json.loads(out)["paid_segments"] == 2


@pytest.mark.parametrize("argv, words", [
    (["--num-frames", "9"], "either as --prompts FILE"),
    (["--prompt", "a", "--duration", "8"], "--duration is not a setting of LTX-2 19B"),
    (["--prompt", "a", "--model", "pro", "--num-frames", "9"], "--num-frames is not a setting of LTX-2 Pro"),
    (["--prompt", "a", "--num-frames", "0"], "--num-frames is 0"),
    (["--prompt", "a", "-o", "x.mov"], "name it x.mp4"),
])
def test_extend_bad_input_says_what_to_change(capsys, pack_env, clip, argv, words):
    code, out, err = run(capsys, "extend", str(clip), *argv)
    assert code == 2 and words in err, err


def test_join_two_clips_and_refuse_or_conform_another_size(capsys, pack_env, tmp_path):
    a = make_clip(tmp_path / "a.mp4", frames=12)
    b = make_clip(tmp_path / "b.mp4", frames=8, first_tag=11, hz=660.0)
    c = make_clip(tmp_path / "c.mp4", frames=6, width=48, height=64)
    out = tmp_path / "ab.mp4"
    code, stdout, err = run(capsys, "join", str(a), str(b), str(a), "-o", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout)["frame_count"] == probe(out).frame_count == 32
    code, stdout, err = run(capsys, "join", str(a), str(b), "--drop-first-frame", "-o", str(out))
    assert code == 0 and "19 frames" in stdout
    code, stdout, err = run(capsys, "join", str(a), str(c), "-o", str(out))
    assert code == 2 and "Clip 2 is 48x64" in err and "add --conform" in err
    code, stdout, err = run(capsys, "join", str(a), str(c), "-o", str(out), "--conform")
    assert code == 0 and probe(out).width == 64
    code, stdout, err = run(capsys, "join", str(a), "-o", str(out))
    assert code == 2 and "two clips or more" in err
