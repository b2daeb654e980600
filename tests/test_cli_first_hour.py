"""A newcomer's first hour with the command line (issue 21): the clip follows the picture,
one set of picture checks, manifest columns named as columns, files named after the
picture and kept once per clip, a cache cleared only when asked, pipes, Ctrl-C, offline
ids and provenance, JSON errors, the small words, spend limits and today's spend, and
--seconds, collect --all, globs, recursive folders and prompts beside pictures."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import picture, run
from pack_loader import PACK_ROOT, pack_module

cli = pack_module("__main__")
provenance = pack_module("core.provenance")
ledger = pack_module("core.ledger")
spend_limits = pack_module("core.spend_limits")
LAUNCHER = PACK_ROOT / "segmind_ltx2.py"
TINY = ["--num-frames", "2", "--fps", "8"]



@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    return tmp_path



def clips(dirs: Path) -> Path:
    return dirs / "output" / "segmind_ltx2"


def child_env(dirs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEGMIND_API_KEY"}
    return {**env, "SEGMIND_LTX2_OUTPUT": str(dirs / "output"), "SEGMIND_LTX2_HOME": str(dirs / "user"),
            "PYTHONPATH": ""}


# --------------------------------------------------------------------------- the picture's shape


def test_a_landscape_picture_makes_a_landscape_clip_by_default(dirs, capsys):
    pic = picture(dirs / "wide.png", width=480, height=270)
    code, out, err = run(capsys, "--image", str(pic), "--prompt", "x", *TINY, "--json")
    assert code == 0, err
    clip = json.loads(out)["clips"][0]
    assert (clip["width"], clip["height"]) == (1280, 720)  # was 720x1280 with the middle cut out


def test_fit_match_keeps_the_shape_within_the_size_given(dirs, capsys):
    pic = picture(dirs / "wide.png", width=480, height=270)
    code, out, err = run(capsys, "--image", str(pic), "--prompt", "x", "--width", "512", "--height", "512",
                         "--dry-run")
    assert code == 0 and "offline preview 512x288" in out, out + err


def test_fit_crop_fills_the_size_and_says_how_much_it_cuts(dirs, capsys):
    pic = picture(dirs / "wide.png", width=480, height=270)
    code, out, err = run(capsys, "--image", str(pic), "--prompt", "x", "--width", "720", "--height", "1280",
                         "--fit", "crop", "--dry-run")
    assert code == 0 and "offline preview 720x1280" in out
    assert "--fit crop cuts away 68% of the 480x270 picture" in err and "--fit match" in err
    code, out, err = run(capsys, "--image", str(pic), "--prompt", "x", "--fit", "crop", "--dry-run")
    assert "offline preview 1280x720" in out and "cuts away" not in err  # same shape: nothing to say


# --------------------------------------------------------------------------- one set of checks


def test_offline_refuses_a_picture_too_small_to_animate_as_a_paid_run_does(dirs, capsys):
    pic = picture(dirs / "dot.png", width=1, height=1)
    code, _, err = run(capsys, "--image", str(pic), "--prompt", "x", *TINY)
    assert code == 2 and "1x1 pixels, too small to animate" in err and not clips(dirs).exists()


def test_a_folder_reports_an_unreadable_and_a_too_small_picture_in_one_pass(dirs, capsys):
    folder = dirs / "shots"
    picture(folder / "good.png", width=64, height=64)
    picture(folder / "tiny.png", width=8, height=8)
    (folder / "broken.png").write_bytes(b"not a picture")
    code, _, err = run(capsys, "--images-dir", str(folder), "--prompt", "x", *TINY)
    assert code == 2 and "broken.png" in err and "could not be read" in err
    assert "tiny.png" in err and "too small" in err and not clips(dirs).exists()


# --------------------------------------------------------------------------- manifest columns


def test_manifest_errors_name_columns_as_columns(dirs, capsys):
    pic = picture(dirs / "a.png", width=64, height=64)
    (dirs / "bad.csv").write_text(f"image,prompt,num_frames\n{pic.name},x,999\n")
    code, _, err = run(capsys, "--manifest", str(dirs / "bad.csv"))
    assert code == 2 and "column num_frames is 999" in err and "--num-frames" not in err
    (dirs / "flag.csv").write_text(f"image,prompt,--num-frames\n{pic.name},x,9\n")
    code, _, err = run(capsys, "--manifest", str(dirs / "flag.csv"))
    assert code == 2 and "unknown column '--num-frames'" in err
    columns = err.split("The columns are:")[1]
    assert "num_frames" in columns and "--num-frames" not in columns


# --------------------------------------------------------------------------- names, one set of files


def test_clips_are_named_after_the_picture_and_a_rerun_keeps_one_set_of_files(dirs, capsys):
    pic = picture(dirs / "harbour.png", width=64, height=64)
    for _ in range(2):
        code, _, err = run(capsys, "--image", str(pic), "--prompt", "boats", *TINY)
        assert code == 0, err
    names = sorted(p.name for p in clips(dirs).iterdir() if not p.name.startswith("results-"))
    assert names == ["harbour.json", "harbour.mp4", "harbour.summary.json", "harbour.wav"]
    # A different clip of the same picture does not overwrite it.
    code, _, _ = run(capsys, "--image", str(pic), "--prompt", "gulls", *TINY)
    assert code == 0 and (clips(dirs) / "harbour-2.mp4").is_file()
    assert json.loads((clips(dirs) / "harbour.summary.json").read_text())["request"]["prompt"] == "boats"


def test_a_manifest_name_names_the_files_and_a_rerun_of_the_batch_adds_none(dirs, capsys):
    picture(dirs / "a.png", width=64, height=64)
    (dirs / "m.csv").write_text("image,prompt,name\na.png,x,opening shot\na.png,y,\n")
    for _ in range(3):
        code, _, err = run(capsys, "--manifest", str(dirs / "m.csv"), *TINY)
        assert code == 0, err
    mp4s = sorted(p.name for p in clips(dirs).glob("*.mp4"))
    assert mp4s == ["a.mp4", "opening_shot.mp4"]
    assert len(list(clips(dirs).glob("*.wav"))) == 2 and len(list(clips(dirs).glob("*.summary.json"))) == 2


# --------------------------------------------------------------------------- pipes, Ctrl-C, offline ids


def test_jobs_into_a_closed_pipe_ends_quietly(dirs):
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "jobs"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=child_env(dirs), cwd=dirs)
    proc.stdout.close()  # `jobs | head` after head has read its lines
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_ctrl_c_on_an_offline_batch_keeps_what_finished_and_says_nothing_of_billing(dirs):
    for name in ("a", "b", "c"):
        picture(dirs / f"{name}.png", width=64, height=64, seed=ord(name))
    manifest = dirs / "m.csv"  # a quick clip, then two long ones
    manifest.write_text("image,prompt,num_frames,width,height\na.png,x,2,256,256\n"
                        "b.png,x,400,1280,1280\nc.png,x,400,1280,1280\n")
    results = dirs / "r.jsonl"
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "--manifest", str(manifest), "--fps", "8",
                             "--parallel", "1", "--results", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(dirs), cwd=dirs)
    deadline = time.monotonic() + 120
    # Ctrl-C once the first clip is done and the second is being rendered.
    while not (list(clips(dirs).glob("*.summary.json")) and list(clips(dirs).glob("*.mp4.part"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Nothing was sent and nothing is billed (offline preview)" in err
    assert "Segmind" not in err and "interrupted: interrupted" not in err
    assert "b.png: interrupted: stopped by Ctrl-C" in err
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["offline", "interrupted", "skipped"]
    assert Path(rows[0]["video"]).is_file() and str(results) in err


def test_collect_of_an_offline_id_needs_no_key_and_makes_no_second_copy(dirs, capsys):
    pic = picture(dirs / "p.png", width=64, height=64)
    code, out, _ = run(capsys, "--image", str(pic), "--prompt", "x", *TINY, "--json")
    rid = json.loads(out)["clips"][0]["request_id"]
    assert rid.startswith("offline-")
    code, out, err = run(capsys, "collect", rid)
    assert code == 0 and "already in the output folder" in out and "key" not in err.lower()
    assert len(list(clips(dirs).glob("*.mp4"))) == 1
    code, _, err = run(capsys, "collect", "offline-0123456789abcdef")
    assert code == 2 and "offline preview" in err and "SEGMIND_API_KEY" not in err


def test_offline_clips_carry_provenance_like_paid_ones(dirs, capsys):
    pic = picture(dirs / "p.png", width=64, height=64)
    code, out, _ = run(capsys, "--image", str(pic), "--prompt", "fog lifts", *TINY, "--json")
    video = Path(json.loads(out)["clips"][0]["video"])
    meta = provenance.read_provenance(video)
    assert meta["model"] == "ltx-2-19b-i2v" and meta["fields"]["prompt"] == "fog lifts"
    assert meta["cost"] == 0 and meta["api_mode"] == "offline preview" and meta["request_id"].startswith("offline-")
    assert provenance.provenance_json_path(video).is_file()


# --------------------------------------------------------------------------- --json errors, small words


@pytest.mark.parametrize("argv", [["--image", "missing.png", "--prompt", "x"], ["--width", "abc"]])
def test_with_json_an_error_is_a_json_object_on_stdout(dirs, capsys, argv):
    try:
        code = cli.main([*argv, "--json"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["exit_code"] == 2 and out["error"]


def test_the_small_words(dirs, capsys, tmp_path):
    pic = picture(dirs / "p.png", width=64, height=64)
    code, out, _ = run(capsys, "--image", str(pic), "--prompt", "x", "--num-frames", "1", "--fps", "8")
    assert code == 0 and " 1 frame @" in out
    (dirs / "one.csv").write_text("image,prompt\np.png,x\n")
    code, out, _ = run(capsys, "--manifest", str(dirs / "one.csv"), *TINY)
    assert code == 0 and "\n1 clip: " in out
    with pytest.raises(SystemExit):
        cli.main(["--image", str(pic), "--prompt", "x", "--results", "r.txt"])
    assert "r.jsonl or r.csv" in capsys.readouterr().err
    code, _, err = run(capsys, "--image", str(dirs), "--prompt", "x")
    assert code == 2 and "is a folder" in err and "--images-dir" in err
    code, out, _ = run(capsys, "--backend", "segmind", "--image", str(pic), "--prompt", "x", "--num-frames", "400",
                       "--dry-run")
    assert code == 0 and "401 frames (LTX-2 renders 8k+1 frames: that is past the documented 1..400" in out


# --------------------------------------------------------------------------- limits and spend


def test_limits_and_spend_use_the_files_the_nodes_use(dirs, capsys):
    user = dirs / "user"
    code, out, _ = run(capsys, "limits", "--per-day", "5", "--per-run", "$1.50")
    assert code == 0 and "$5.00" in out and "$1.50" in out
    saved = spend_limits.SpendLimits.load(user)
    assert (saved.per_day, saved.per_run) == (5.0, 1.5)
    code, out, _ = run(capsys, "limits", "--per-run", "off", "--json")
    assert json.loads(out)["per_run"] is None and spend_limits.SpendLimits.load(user).per_day == 5.0
    code, _, err = run(capsys, "limits", "--per-day", "lots")
    assert code == 2 and "--per-day" in err
    ledger.Ledger(user).record({"request_id": "job-1", "cost": 0.455, "prompt": "waves", "time": time.time()})
    code, out, _ = run(capsys, "spend")
    assert code == 0 and "Spent today: $0.455 of the $5.00 daily limit ($4.54 left)" in out and "job-1" in out
    code, out, _ = run(capsys, "spend", "--json")
    assert json.loads(out)["today_usd"] == pytest.approx(0.455)


# --------------------------------------------------------------------------- wanted by the same user


def test_seconds_instead_of_counting_frames(dirs, capsys):
    pic = picture(dirs / "p.png", width=64, height=64)
    code, out, _ = run(capsys, "--image", str(pic), "--prompt", "x", "--seconds", "0.5", "--fps", "8", "--dry-run")
    assert code == 0 and "4 frames" in out
    code, _, err = run(capsys, "--image", str(pic), "--prompt", "x", "--seconds", "1", "--num-frames", "9")
    assert code == 2 and "--seconds and --num-frames" in err


def test_images_dir_takes_globs_subfolders_and_a_prompt_beside_each_picture(dirs, capsys):
    root = dirs / "shots"
    picture(root / "top.png", width=64, height=64)
    picture(root / "day2" / "deep.png", width=64, height=64, seed=1)
    (root / "day2" / "deep.txt").write_text("the tide comes in\n")
    code, out, _ = run(capsys, "--images-dir", str(root), "--prompt", "x", "--dry-run")
    assert code == 0 and "top.png" in out and "deep.png" not in out
    code, out, _ = run(capsys, "--images-dir", str(root), "--recursive", "--prompt", "x", "--dry-run", "--json")
    assert [r["label"] for r in json.loads(out)["rows"]] == ["day2/deep.png", "top.png"]
    code, out, _ = run(capsys, "--images-dir", str(root / "**" / "*.png"), "--prompt", "x", "--json", *TINY)
    made = {Path(c["video"]).name: c["prompt"] for c in json.loads(out)["clips"]}
    assert made == {"day2_deep.mp4": "the tide comes in", "top.mp4": "x"}
    code, _, err = run(capsys, "--images-dir", str(root), "--recursive", "--dry-run")
    assert code == 2 and "no prompt for top.png" in err and "deep" not in err.split("no prompt for")[1].split(":")[0]
