"""The command line's `retake`: the free offline retake, the paid one against the stand-in
(one job, a rerun paying nothing), every refusal before anything is sent (exit 2), the cost
gate and the dry run, JSON on stdout."""
from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from cli_helpers import run
from clip_samples import make_clip
from pack_loader import pack_module

PATH = "ltx-retake-video"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("cli_retake") / "scene.mp4", frames=181, fps=24, width=64, height=48)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("cli_retake_short") / "short.mp4", frames=60, fps=24)


def retake(pack_env, clip: Path, *argv: str) -> list[str]:
    return ["retake", str(clip), "--start", "2", "--seconds", "3", "--prompt", "a wave breaks", "--mode", "video",
            "--out", str(pack_env.output), *argv]


def frames_of(path: str) -> tuple[int, tuple[int, int]]:
    with av.open(path) as c:
        vs = c.streams.video[0]
        return sum(1 for _ in c.decode(video=0)), (vs.width, vs.height)


def test_offline_retake_is_free_and_keeps_the_clip(pack_env, clip, capsys):
    code, out, err = run(capsys, *retake(pack_env, clip, "--json"))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["backend"] == "offline" and summary["cost"] == 0.0 and summary["status"] == "offline"
    assert Path(summary["video"]).name == "scene_retake.mp4" and Path(summary["audio"]).is_file()
    assert frames_of(summary["video"]) == (181, (64, 48))
    assert summary["request"] == {"start_time": 2.0, "duration": 3.0, "prompt": "a wave breaks",
                                  "mode": "replace_video"}
    assert pack_env.requests_log == []


def test_paid_retake_bills_once_and_a_rerun_pays_nothing(pack_env, clip, capsys):
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind", "--json"))
    assert code == 0, err
    first = json.loads(out)
    assert first["status"] == "paid" and first["cost"] == pytest.approx(0.791) and first["model"] == PATH
    assert frames_of(first["video"]) == (181, (64, 48))
    assert "Estimated cost: $0.79" in err and "unconfirmed" in err
    assert pack_env.jobs_submitted == 1
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind", "--json"))
    again = json.loads(out)
    assert code == 0 and again["status"] == "cached" and again["cost"] == 0.0 and "Estimated cost: $0" in err
    assert again["video"] == first["video"] and pack_env.jobs_submitted == 1


@pytest.mark.parametrize("argv, words", [
    (("--start", "8"), "past the clip's end"),
    (("--seconds", "1"), "at least 2"),
])
def test_refusals_send_nothing(pack_env, clip, capsys, argv, words):
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind", *argv))
    assert code == 2 and words in err
    assert pack_env.requests_log == [] and pack_env.jobs_submitted == 0


def test_a_short_clip_is_refused_with_json(pack_env, short, capsys):
    code, out, err = run(capsys, *retake(pack_env, short, "--backend", "segmind", "--json"))
    assert code == 2 and "60 frames; Retake needs at least 73" in json.loads(out)["error"]
    assert pack_env.requests_log == []


def test_max_cost_and_dry_run(pack_env, clip, capsys):
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind", "--max-cost", "0.5"))
    assert code == 2 and "above --max-cost" in err and pack_env.requests_log == []
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind", "--dry-run", "--json"))
    plan = json.loads(out)
    assert code == 0 and plan["dry_run"] and plan["state"] == "new" and plan["estimate_usd"] == pytest.approx(0.791)
    assert plan["request"]["mode"] == "replace_video" and "sha256" in plan["request"]["video_uri"]
    assert pack_env.requests_log == []


def test_a_spend_limit_refuses_before_the_upload(pack_env, clip, capsys):
    pack_module("core.spend_limits").SpendLimits(per_day=0.5, per_run=None).save(pack_env.home)
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind"))
    assert code == 2 and "spend limit" in err
    assert pack_env.counts["uploads"] == 0 and pack_env.jobs_submitted == 0


def test_the_help_lists_the_subcommand(capsys):
    with pytest.raises(SystemExit):
        pack_module("__main__").main(["retake", "--help"])
    out = capsys.readouterr().out
    assert "--start" in out and "--seconds" in out and "--mode" in out


def test_the_same_offline_retake_again_replaces_its_own_files(pack_env, clip, capsys):
    first = json.loads(run(capsys, *retake(pack_env, clip, "--json"))[1])
    again = json.loads(run(capsys, *retake(pack_env, clip, "--json"))[1])
    other = json.loads(run(capsys, *retake(pack_env, clip, "--json", "--mode", "audio"))[1])
    assert again["video"] == first["video"] and other["video"] != first["video"]


def test_a_paid_retake_is_listed_and_collected_by_its_request_id(pack_env, clip, capsys):
    code, out, err = run(capsys, *retake(pack_env, clip, "--backend", "segmind", "--json", "--mode", "both"))
    rid = json.loads(out)["request_id"]
    code, out, err = run(capsys, "jobs", "--json", "--out", str(pack_env.output))
    assert code == 0 and rid in out and PATH in out
    code, out, err = run(capsys, "collect", rid, "--json", "--out", str(pack_env.output))
    assert code == 0, err
    assert frames_of(json.loads(out)["video"]) == (181, (64, 48)) and pack_env.jobs_submitted == 1
