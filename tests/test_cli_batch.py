"""The command line against the Segmind stand-in: batches from a manifest or a folder, cost
first (estimate, --max-cost, the question in a terminal, the credits, --dry-run), paying
only for what is missing on a second run, `jobs` and `collect`, and never the key."""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import picture, run
from pack_loader import pack_module

cli = pack_module("__main__")
lifecycle = pack_module("core.lifecycle")
params = pack_module("core.params")

SMALL = ["--width", "256", "--height", "256", "--num-frames", "9", "--fps", "8"]



@pytest.fixture
def manifest(tmp_path) -> Path:
    """Three clips: three pictures beside a CSV that names them relatively (one prompt has a comma)."""
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3):
        picture(folder / f"p{i}.png", i)
    path = folder / "clips.csv"
    path.write_text("image,prompt,seed\np0.png,waves roll in,1\np1.png,\"rain, then sun\",2\np2.png,leaves fall,3\n")
    return path



def paid(pack_env, *argv: str) -> list[str]:
    return ["--backend", "segmind", *SMALL, "--out", str(pack_env.output), *argv]


def finish_every_job(srv) -> None:
    """The service finishes the jobs it is generating now (instead of the test waiting)."""
    with srv.lock:
        for job in srv.jobs.values():
            job.due_at = srv.clock()


def results_of(stdout: str) -> dict:
    return json.loads(stdout)


# --------------------------------------------------------------------------- batches


def test_manifest_of_three_rows_bills_three_jobs_then_nothing(pack_env, manifest, capsys, tmp_path):
    results = tmp_path / "results.csv"
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--results", str(results)))
    assert code == 0, err
    assert pack_env.jobs_submitted == 3 and pack_env.counts["uploads"] == 3
    clips = sorted((pack_env.output / "segmind_ltx2").glob("*.mp4"))
    assert len(clips) == 3
    for clip in clips:
        assert clip.with_suffix(".wav").is_file() and (clip.parent / f"{clip.stem}.summary.json").is_file()
    rows = list(csv.DictReader(results.open()))
    assert [r["row"] for r in rows] == ["1", "2", "3"] and {r["status"] for r in rows} == {"paid"}
    assert {Path(r["video"]) for r in rows} == set(clips)
    assert all(r["request_id"] and float(r["cost"]) == pytest.approx(0.455) for r in rows)
    assert "3 clips: 3 paid" in out and "ROW" in out and "Results: " + str(results) in out
    # The same manifest again: everything is in the result cache, nothing is paid or uploaded.
    pack_env.reset_counts()
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--json"))
    assert code == 0, err
    report = results_of(out)
    assert pack_env.jobs_submitted == 0 and pack_env.counts["uploads"] == 0 and not pack_env.requests_log
    assert [c["status"] for c in report["clips"]] == ["cached"] * 3 and report["paid_usd"] == 0
    assert all(Path(c["video"]).is_file() for c in report["clips"])
    saved = [json.loads(line) for line in Path(report["results_file"]).read_text().splitlines()]
    assert [r["request_id"] for r in saved] == [r["request_id"] for r in rows]
    assert "Estimated cost: $0" in err
    # ...and lands on the same files: still one MP4, WAV, provenance and summary per clip, named after its picture.
    folder = pack_env.output / "segmind_ltx2"
    assert sorted(p.name for p in folder.glob("*.mp4")) == ["p0.mp4", "p1.mp4", "p2.mp4"]
    assert len(list(folder.glob("*.wav"))) == 3 and len(list(folder.glob("*.summary.json"))) == 3
    assert sorted(p.name for p in folder.glob("p?.json")) == ["p0.json", "p1.json", "p2.json"]
    assert {Path(c["video"]) for c in report["clips"]} == set(clips)


def test_images_dir_makes_one_clip_per_picture_and_identical_rows_pay_once(pack_env, tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    picture(folder / "a.png", 1)
    picture(folder / "b.png", 2)
    (folder / "notes.txt").write_text("not a picture")
    code, out, err = run(capsys, *paid(pack_env, "--images-dir", str(folder), "--prompt", "drift", "--json"))
    assert code == 0, err
    assert pack_env.jobs_submitted == 2
    assert [c["name"] for c in results_of(out)["clips"]] == ["a.png", "b.png"]
    # Two rows asking for exactly the same clip: one job, both rows get it.
    twice = tmp_path / "twice.jsonl"
    twice.write_text(json.dumps({"image": str(folder / "a.png"), "prompt": "again", "seed": 9}) + "\n"
                     + "# a comment line\n\n"
                     + json.dumps({"image": str(folder / "a.png"), "prompt": "again", "seed": 9}) + "\n")
    pack_env.reset_counts()
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(twice), "--json"))
    assert code == 0, err
    clips = results_of(out)["clips"]
    assert pack_env.jobs_submitted == 1
    assert [c["status"] for c in clips] == ["paid", "same as row 1"] and clips[0]["video"] == clips[1]["video"]


def test_a_job_recorded_by_an_interrupted_run_is_collected_by_the_same_command(pack_env, manifest, capsys):
    """Running a manifest again pays only for what is missing: a job that was submitted
    (and billed) but not collected is picked up by its id, and `jobs` says how."""
    pack_env.generation_seconds = 30.0  # still generating when the 0.3 s time limit runs out
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--timeout", "0.3", "--json"))
    assert code == 1  # every row timed out, but each is billed and recorded
    assert pack_env.jobs_submitted == 3
    report = results_of(out)
    assert {c["status"] for c in report["clips"]} == {"failed"}
    first = report["clips"][0]["error"]
    assert "--timeout" in first and "run the same command again" in first
    assert "timeout_seconds" not in first and "queue" not in first.lower()
    code, out, _ = run(capsys, "jobs", "--json")
    jobs = results_of(out)["jobs"]
    assert len(jobs) == 3 and all(j["collectable"] and "collect " + j["request_id"] in j["collect"] for j in jobs)
    pack_env.reset_counts()
    finish_every_job(pack_env)
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--json"))
    assert code == 0, err
    assert pack_env.jobs_submitted == 0 and pack_env.counts["uploads"] == 0
    assert [c["status"] for c in results_of(out)["clips"]] == ["collected"] * 3
    assert "3 recorded job(s) to collect" in err and "Estimated cost: $0" in err


def test_collect_by_request_id_saves_the_clip_without_paying(pack_env, tmp_path, capsys):
    pic = picture(tmp_path / "one.png", 5)
    pack_env.generation_seconds = 30.0  # still generating when the 0.2 s time limit runs out
    code, out, err = run(capsys, *paid(pack_env, "--image", str(pic), "--prompt", "x", "--timeout", "0.2"))
    assert code == 1 and pack_env.jobs_submitted == 1
    request_id = next(iter(pack_env.jobs))
    assert request_id in err and "--timeout" in err
    pack_env.reset_counts()
    finish_every_job(pack_env)
    code, out, err = run(capsys, "collect", request_id, "--out", str(tmp_path / "got"), "--json")
    assert code == 0, err
    summary = results_of(out)
    assert pack_env.jobs_submitted == 0 and summary["request_id"] == request_id and summary["frame_count"] == 9
    assert Path(summary["video"]).is_file() and Path(summary["audio"]).is_file()
    assert Path(summary["video"]).parent == tmp_path / "got" / "segmind_ltx2"
    # Collected again into the same folder: the clip is there, so no request and no second set of files.
    pack_env.reset_counts()
    code, out, err = run(capsys, "collect", request_id, "--out", str(tmp_path / "got"))
    assert code == 0 and not pack_env.requests_log and "already in the output folder" in out
    assert len(list((tmp_path / "got" / "segmind_ltx2").glob("*.mp4"))) == 1
    assert len(list((tmp_path / "got" / "segmind_ltx2").glob("*.wav"))) == 1
    # Now cached: collected into another folder with no request at all.
    code, out, err = run(capsys, "collect", request_id, "--out", str(tmp_path / "elsewhere"))
    assert code == 0 and not pack_env.requests_log and "from the result cache" in out


def test_collect_all_gets_every_recorded_clip_not_on_disk_without_paying(pack_env, tmp_path, capsys):
    pack_env.generation_seconds = 1.0
    for seed in (5, 6):
        pic = picture(tmp_path / f"p{seed}.png", seed)
        code, _, _ = run(capsys, *paid(pack_env, "--image", str(pic), "--prompt", "x", "--timeout", "0.2"))
        assert code == 1
    assert pack_env.jobs_submitted == 2
    pack_env.reset_counts()
    code, out, err = run(capsys, "collect", "--all", "--out", str(tmp_path / "got"), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert sorted(c["request_id"] for c in got["collected"]) == sorted(pack_env.jobs) and not got["failed"]
    assert pack_env.jobs_submitted == 0
    code, out, _ = run(capsys, "collect", "--all", "--out", str(tmp_path / "got"))
    assert code == 0 and "Nothing to collect" in out
    assert len(list((tmp_path / "got" / "segmind_ltx2").glob("*.mp4"))) == 2


def test_collect_refuses_a_malformed_id_before_any_request(pack_env, capsys):
    code, _, err = run(capsys, "collect", "../../etc/passwd")
    assert code == 2 and "request id" in err and not pack_env.requests_log


# --------------------------------------------------------------------------- cost first


def test_dry_run_prints_the_exact_requests_and_sends_nothing(pack_env, manifest, capsys, monkeypatch):
    monkeypatch.delenv("SEGMIND_API_KEY")  # no key needed to see what would be sent
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--dry-run"))
    assert code == 0, err
    assert pack_env.requests_log == [] and pack_env.jobs_submitted == 0
    assert f"POST {pack_env.api_base}/v2/ltx-2-19b-i2v" in out
    assert '"image": "<upload of p0.png>"' in out and '"prompt": "rain, then sun"' in out
    assert '"num_frames": 9' in out and '"seed": 3' in out
    each = params.estimate_cost({"width": 256, "height": 256, "num_frames": 9})
    assert each * 3 < 0.01 and "Estimated cost: < $0.01 for 3 new clips" in out and "nothing was sent" in out
    assert not (pack_env.output / "segmind_ltx2").exists()  # not even a folder made
    code, out, _ = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--dry-run", "--json"))
    plan = results_of(out)
    assert code == 0 and plan["dry_run"] and len(plan["rows"]) == 3 and pack_env.requests_log == []
    submit = plan["rows"][0]["requests"][-1]
    assert submit["body"]["image"] == "<upload of p0.png>" and submit["body"]["width"] == 256


def test_max_cost_below_the_estimate_refuses_before_any_upload(pack_env, manifest, capsys):
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--max-cost", "0.001"))
    assert code == 2 and "--max-cost" in err and "Nothing was sent" in err
    assert pack_env.requests_log == [] and pack_env.jobs_submitted == 0
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--max-cost", "5"))
    assert code == 0, err
    assert pack_env.jobs_submitted == 3


def test_a_spend_limit_refuses_the_whole_batch_before_any_upload(pack_env, manifest, capsys):
    ledger = pack_module("core.ledger")
    limits = pack_module("core.spend_limits")
    per_clip = pack_module("core.params").estimate_cost({"width": 256, "height": 256, "num_frames": 9})
    limits.SpendLimits(per_day=None, per_run=2.5 * per_clip).save(pack_env.home)  # two clips fit, three do not
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(manifest)))
    assert code == 2 and "spend limit per run" in err and "the `limits` command" in err and "Nothing was sent" in err
    assert pack_env.counts["uploads"] == 0 and pack_env.jobs_submitted == 0
    limits.SpendLimits(per_day=None, per_run=None).save(pack_env.home)
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(manifest)))
    assert code == 0, err
    assert pack_env.jobs_submitted == 3
    today = ledger.Ledger(pack_env.home).spent_today()
    assert today == pytest.approx(3 * 0.455)  # the stand-in's charge per clip, as recorded


def test_default_size_estimate_is_the_quoted_price_at_the_grid_size(pack_env, tmp_path, capsys):
    pic = picture(tmp_path / "one.png", 7)
    code, out, _ = run(capsys, "--backend", "segmind", "--image", str(pic), "--prompt", "x", "--dry-run",
                       "--fit", "crop")
    # The default box (720x1280), turned to the landscape picture and filled by --fit crop.
    assert code == 0 and "$0.455 (rendered at 1280x736, 185 frames)" in out
    assert pack_env.requests_log == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_a_dear_run_asks_first(pack_env, tmp_path, capsys, monkeypatch):
    pic = picture(tmp_path / "one.png", 8)
    dear = ["--backend", "segmind", "--image", str(pic), "--prompt", "x", "--num-frames", "400",
            "--width", "1280", "--height", "1280", "--out", str(pack_env.output)]
    assert params.estimate_cost({"width": 1280, "height": 1280, "num_frames": 400}) > 1
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, _, err = run(capsys, *dear)
    assert code == 2 and "Proceed? [y/N]" in err and "Not started" in err
    assert pack_env.requests_log == []  # not even the credits check
    # (A small clip from here on, with the threshold lowered: making a 1280x1280 one takes long.)
    monkeypatch.setattr(pack_module("cli.run"), "CONFIRM_ABOVE_USD", 0.0)
    small = [*paid(pack_env, "--image", str(pic), "--prompt", "x"), "--json"]
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    code, _, err = run(capsys, *small)
    assert code == 0 and "Proceed?" in err and pack_env.jobs_submitted == 1
    # --yes does not ask.
    monkeypatch.setattr(sys, "stdin", _Terminal(""))
    code, _, err = run(capsys, *small, "--seed", "2", "--yes")
    assert code == 0 and "Proceed?" not in err and pack_env.jobs_submitted == 2


def test_without_a_terminal_a_run_above_the_small_sum_needs_yes(pack_env, tmp_path, capsys, monkeypatch, fault_row):
    # Issue 19 item 11: a script or a pipe (no terminal to ask) used to start paying any sum.
    pic = picture(tmp_path / "one.png", 8)
    monkeypatch.setattr(pack_module("cli.run"), "CONFIRM_ABOVE_USD", 0.0)  # a small clip stands for a dear batch
    small = [*paid(pack_env, "--image", str(pic), "--prompt", "x"), "--json"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, *small, "--seed", "3")
    assert code == 2 and "no terminal to ask" in err and "--yes" in err and "Proceed?" not in err
    assert pack_env.jobs_submitted == 0 and pack_env.counts["uploads"] == 0
    code, _, err = run(capsys, *small, "--seed", "3", "--yes")
    assert code == 0 and pack_env.jobs_submitted == 1
    fault_row("A paid run above $1 with standard input not a terminal and no --yes",
              "command line cost gate (cli/run.py pay_gate)",
              "Refused before anything is sent, asking for --yes; before, it started paying without a question.")


def test_not_enough_credits_refuses_before_any_upload(pack_env, manifest, capsys):
    pack_env.credits = 0.001
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(manifest)))
    assert code == 2 and "credits" in err and "Nothing was sent" in err
    assert pack_env.counts["credit_calls"] == 1 and pack_env.counts["uploads"] == 0
    assert pack_env.jobs_submitted == 0


def test_a_bad_manifest_lists_every_bad_row_and_sends_nothing(pack_env, tmp_path, capsys):
    picture(tmp_path / "ok.png", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("image,prompt,num_frames\nok.png,fine,9\nmissing.png,x,9\nok.png,,9\nok.png,y,900\n")
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(bad)))
    assert code == 2 and "Nothing was sent" in err
    assert "bad.csv line 3" in err and "no such file" in err
    assert "bad.csv line 4: the prompt is empty" in err
    assert "bad.csv line 5" in err and "900" in err
    assert pack_env.requests_log == []
    unknown = tmp_path / "cols.csv"
    unknown.write_text("image,prompt,api_key\nok.png,x,SG_secretvalue12345\n")
    code, _, err = run(capsys, *paid(pack_env, "--manifest", str(unknown)))
    assert code == 2 and "unknown column 'api_key'" in err and "SG_secretvalue" not in err


def test_a_fatal_answer_stops_the_rows_not_started_yet(pack_env, manifest, capsys):
    """After a 401, every other row would fail the same way: they are not started."""
    pack_env.fault("upload", status=401, times=10)
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--parallel", "1", "--json"))
    assert code == 1
    statuses = [c["status"] for c in results_of(out)["clips"]]
    assert statuses == ["failed", "skipped", "skipped"] and pack_env.counts["uploads"] == 1


# --------------------------------------------------------------------------- never the key


@pytest.mark.parametrize("argv", [
    ["--api-key", "SG_mistyped0123456789"],
    ["--image", "x.png", "--prompt", "x", "SG_mistyped0123456789"],
    ["--api", "SG_mistyped0123456789"],
])
def test_a_key_on_the_command_line_is_never_echoed(pack_env, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "SG_mistyped" not in err and "0123456789" not in err
    assert "SEGMIND_API_KEY" in err  # and where the key goes instead


def test_the_environments_key_is_never_printed_whatever_its_shape(pack_env, capsys, monkeypatch):
    monkeypatch.setenv("SEGMIND_API_KEY", "plainkey-without-prefix-42")
    with pytest.raises(SystemExit):
        cli.main(["--prompt", "x", "plainkey-without-prefix-42"])
    assert "plainkey-without-prefix-42" not in capsys.readouterr().err


# --------------------------------------------------------------------------- output and progress


def test_quiet_prints_only_the_summary(pack_env, manifest, capsys):
    code, out, err = run(capsys, *paid(pack_env, "--manifest", str(manifest), "--quiet"))
    assert code == 0 and err == "" and "3 clips" in out


def test_status_lines_without_a_terminal_and_live_bars_in_one(pack_env, capsys):
    progress_mod = pack_module("cli.progress")
    plain = progress_mod.Progress(slots=1, bars=False, lines=True)
    bar = plain.job("[1/2] a.png")
    bar.event("submitted", {"request_id": "r1"})
    bar.event("status", {"status": "PROCESSING", "elapsed": 3, "eta": 50, "expected": 60})
    bar.close()
    plain.close()
    err = capsys.readouterr().err
    assert "[1/2] a.png: Submitted (request r1)" in err and "Processing" in err and "\r" not in err
    live = progress_mod.Progress(slots=2, bars=True, lines=True)
    one, two = live.job("[1/2] a.png"), live.job("[2/2] b.png")
    assert (one.position, two.position) == (0, 1)  # one line per job in flight
    one.event("status", {"status": "PROCESSING", "elapsed": 3, "eta": 50, "expected": 60})
    two.event("downloading", {"done": 1 << 20, "total": 4 << 20})
    one.close()
    two.close()
    live.close()
    err = capsys.readouterr().err
    assert "[1/2] a.png processing" in err and "left" in err and "[2/2] b.png downloading" in err
    assert "25%" in err
