"""The command line's --model 19b|pro|fast: each model's own flags (from its descriptor), a
manifest's `model` column mixing models in one batch, the estimate per model, offline runs
of Pro and Fast, and one paid run of each against the Segmind stand-in (a rerun bills none)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import picture, run
from pack_loader import PACK_ROOT, pack_module

cli = pack_module("__main__")

SMALL_19B = ["--width", "256", "--height", "256", "--num-frames", "9", "--fps", "8"]




def subprocess_cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """The command line as a user runs it (`python -m <pack>`), offline: free, no key."""
    env = {"PATH": "/usr/bin:/bin", "SEGMIND_LTX2_OUTPUT": str(tmp_path / "output"),
           "SEGMIND_LTX2_HOME": str(tmp_path / "user"), "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", PACK_ROOT.name, *argv], cwd=PACK_ROOT.parent, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def photo(tmp_path) -> Path:
    return picture(tmp_path / "photo.png")


# --------------------------------------------------------------------------- flags


def test_help_lists_model_and_each_models_own_flags(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for words in ("--model", "--duration", "--resolution", "--generate-audio", "--no-generate-audio", "--fps"):
        assert words in text


@pytest.mark.parametrize("argv, words", [
    (["--model", "pro", "--prompt", "x"], "LTX-2 Pro animates a picture"),
    (["--model", "fast", "--prompt", "x", "--image", "{photo}"], "LTX-2 Fast makes a clip from text alone"),
    (["--model", "fast", "--t2v", "--prompt", "x"], "--t2v picks LTX-2 19B"),
    (["--model", "fast", "--prompt", "x", "--num-frames", "9"], "--num-frames is not a setting of LTX-2 Fast"),
    (["--prompt", "x", "--image", "{photo}", "--duration", "8"], "--duration is not a setting of LTX-2 19B"),
    (["--model", "fast", "--prompt", "x", "--seconds", "4"], "takes --duration"),
])
def test_bad_model_choices_are_refused_saying_what_to_change(capsys, photo, tmp_path, argv, words):
    argv = [a.replace("{photo}", str(photo)) for a in argv]
    code, out, err = run(capsys, *argv, "--dry-run", "--out", str(tmp_path / "o"))
    assert code != 0
    assert words in err


def test_a_duration_no_model_takes_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--model", "fast", "--prompt", "x", "--duration", "7", "--dry-run"])
    assert stop.value.code == 2 and "invalid choice: 7" in capsys.readouterr().err


def test_dry_run_of_pro_and_fast_sends_each_models_body(capsys, photo, tmp_path, segmind_env):
    code, out, err = run(capsys, "--backend", "segmind", "--dry-run", "--model", "pro", "--image", str(photo),
                         "--prompt", "waves", "--duration", "8", "--resolution", "1440p", "--no-generate-audio",
                         "--fps", "50", "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "/v2/ltx-2-pro" in out or "/v1/ltx-2-pro" in out
    assert '"duration": 8' in out and '"resolution": "1440p"' in out and '"generate_audio": false' in out
    assert '"fps": 50' in out and "2560x1440" in out
    code, out, err = run(capsys, "--backend", "segmind", "--dry-run", "--model", "fast", "--prompt", "waves",
                         "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "ltx-2-fast" in out and '"resolution": "2k"' in out and '"duration": 8' in out
    assert "upload-asset" not in out


# --------------------------------------------------------------------------- manifests


def test_manifest_rows_of_three_models_in_one_batch_estimated_per_model(capsys, tmp_path, segmind_env):
    picture(tmp_path / "a.png", 1)
    picture(tmp_path / "b.png", 2)
    manifest = tmp_path / "clips.csv"
    manifest.write_text("model,image,prompt,duration,resolution,num_frames\n"
                        "19b,a.png,one,,,9\npro,b.png,two,6,1080p,\nfast,,three,10,2160p,\n")
    code, out, err = run(capsys, "--backend", "segmind", "--dry-run", "--manifest", str(manifest),
                         "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "ltx-2-19b-i2v" in out and "ltx-2-pro" in out and "ltx-2-fast" in out
    assert "by model: 19b 1 clip" in out and "pro 1 clip $0.360" in out and "fast 1 clip $2.00" in out


@pytest.mark.parametrize("line, words", [
    ("fast,a.png,x,,", "LTX-2 Fast makes a clip from text alone"),
    ("pro,,x,,", "LTX-2 Pro animates a picture"),
    ("turbo,a.png,x,,", "model 'turbo' is not one of 19b, pro, fast"),
    ("19b,a.png,x,8,", "duration is not a setting of LTX-2 19B"),
    ("pro,a.png,x,,9", "num_frames is not a setting of LTX-2 Pro"),
])
def test_a_bad_model_row_is_refused_naming_its_line(capsys, tmp_path, line, words):
    picture(tmp_path / "a.png")
    manifest = tmp_path / "clips.csv"
    manifest.write_text(f"model,image,prompt,duration,num_frames\n{line}\n")
    code, out, err = run(capsys, "--dry-run", "--manifest", str(manifest), "--out", str(tmp_path / "o"))
    assert code != 0
    assert "clips.csv line 2" in err and words in err


# --------------------------------------------------------------------------- offline runs


def test_offline_runs_of_pro_and_fast_make_clips(tmp_path, photo):
    done = subprocess_cli(tmp_path, "--model", "pro", "--image", str(photo), "--prompt", "waves roll in",
                          "--duration", "6", "--json")
    assert done.returncode == 0, done.stderr
    done2 = subprocess_cli(tmp_path, "--model", "fast", "--prompt", "rain then sun", "--no-generate-audio", "--json")
    assert done2.returncode == 0, done2.stderr
    clips = sorted((tmp_path / "output").rglob("*.mp4"))
    assert len(clips) == 2
    pro, fast = (json.loads(d.stdout)["clips"][0] for d in (done, done2))
    assert pro["model"] == "ltx-2-pro" and pro["frame_count"] == 150 and pro["audio_channels"]
    assert fast["model"] == "ltx-2-fast" and fast["frame_count"] == 200 and fast["request"]["generate_audio"] is False


# --------------------------------------------------------------------------- paid runs


@pytest.mark.parametrize("model_args", [
    ["--model", "19b", *SMALL_19B, "--image", "{photo}"],
    ["--model", "pro", "--image", "{photo}"],
    ["--model", "fast"],
], ids=["19b", "pro", "fast"])
def test_one_paid_run_of_each_model_bills_one_job_and_a_rerun_none(pack_env, capsys, photo, model_args):
    argv = ["--backend", "segmind", "--prompt", "waves roll in", "--out", str(pack_env.output), "--json",
            *[a.replace("{photo}", str(photo)) for a in model_args]]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert pack_env.jobs_submitted == 1
    clip = json.loads(out)["clips"][0]
    assert Path(clip["video"]).is_file() and clip["status"] != "failed"
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert pack_env.jobs_submitted == 1  # the rerun reuses the clip: nothing billed again
