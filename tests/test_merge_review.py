"""Defects found reviewing the merge of the six branches: each test failed before its fix."""
from __future__ import annotations

import pytest

from pack_loader import pack_module

cli = pack_module("__main__")

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    return tmp_path


def test_check_key_prints_the_services_credits_without_control_characters_or_the_key(segmind_env, dirs, capsys,
                                                                                       monkeypatch):
    """--check-key printed the credits answer as the service sent it: an escape sequence
    reached the terminal raw, and a service echoing the key had it printed."""
    monkeypatch.setenv("SEGMIND_API_KEY", segmind_env.api_key)
    segmind_env.credits = f"12.5{ESCAPES} {segmind_env.api_key}"
    code = cli.main(["--check-key"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Credits left: 12.5" in out and "owned" in out
    assert not any(ch in out for ch in ("\x1b", "\x07", "\x9b", "\u202e")), out
    assert segmind_env.api_key not in out


def test_the_jobs_panel_words_an_unreadable_ledger_as_comfyui_does(tmp_path):
    """The panel's spend payload said an unreadable ledger in the neutral words ("then try
    again") where every other message to the ComfyUI page is in ComfyUI's ("queue again")."""
    routes = pack_module("routes")
    (tmp_path / "segmind" / "ledger.jsonl").mkdir(parents=True)
    said = routes.spend_payload(tmp_path)["limits_error"]
    assert "cannot be read" in said and "queue again" in said.lower() and "try again" not in said


def test_a_node_run_cancelled_while_its_spend_check_waits_leaves_no_reservation(pack_env):
    """ComfyUI cancels a node's coroutine (another node was interrupted or failed) while its
    spend check waits for the reservations file (another process holds it): the check then
    reserves on its thread and hands the reservations to a coroutine that is gone. They were
    kept in reservations.json, counted against the per-day limit for 12 hours."""
    import asyncio
    import time

    import torch
    from filelock import FileLock

    from pack_loader import load_pack

    i2v = load_pack().NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]
    reservations = pack_module("core.reservations")
    folder = pack_module("core.user_folder").UserFolder(pack_env.home)
    small = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)

    def generate(prompt: str):
        picture = torch.rand(1, 48, 64, 3, generator=torch.Generator().manual_seed(len(prompt)))
        return i2v().generate(image=picture, prompt=prompt, negative_prompt="", unique_id="7", **small)

    asyncio.run(generate("first"))  # a paid run: the credits left are known for the next minute
    store = reservations.reservations_for(pack_env.home)
    assert store.in_flight() == 0

    holder = FileLock(str(folder.reservations_lock))  # another process, updating the reservations
    holder.acquire()

    async def main() -> None:
        task = asyncio.create_task(generate("second"))
        deadline = time.monotonic() + 20
        while not reservations.FileReservations._thread_lock.locked():  # the check is waiting for the file
            assert time.monotonic() < deadline, "the node run never reached its spend check"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        holder.release()
    deadline = time.monotonic() + 10
    while store.in_flight() > 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # the orphaned check finishing on its thread
    assert store.in_flight() == 0
    assert pack_env.jobs_submitted == 1


def test_a_crop_warning_names_a_picture_without_its_control_characters(dirs, capsys):
    """The note before a run ("photo.png: --fit crop cuts away 90% ...") printed the
    picture's file name raw: an escape sequence in a file name reached the terminal."""
    import cv2
    import numpy as np

    folder = dirs / "pictures"
    folder.mkdir()
    ok, png = cv2.imencode(".png", np.full((100, 1000, 3), 120, np.uint8))
    (folder / f"wide{ESCAPES}.png").write_bytes(png.tobytes())
    code = cli.main(["--images-dir", str(folder), "--prompt", "a pan", "--fit", "crop", "--width", "256",
                     "--height", "256", "--num-frames", "9", "--fps", "8", "--dry-run"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "crop cuts away" in captured.err and "owned" in captured.err
    assert not any(ch in captured.err + captured.out for ch in ("\x1b", "\x07", "\x9b", "\u202e"))


def test_an_empty_prompt_on_the_command_line_names_the_flag(dirs, capsys):
    """The empty-prompt error named the node's widget ('prompt') in the terminal: the field
    was written into the text by hand, and cli.fields.field_words dropped the action
    markers of any error without a `detail` (str(exc)) before the terminal worded it."""
    code = cli.main(["--t2v", "--prompt", "  ", "--backend", "offline", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert "prompt is empty" in err and "--prompt" in err and "'prompt'" not in err, err


def test_a_duplicate_clip_that_ends_up_paying_is_checked_against_the_limit(pack_env, tmp_path):
    """Two identical pictures in one batch: the spend check reserves one clip (the second is a
    duplicate that waits for the first's clip). When the first is billed but its clip is lost
    (a damaged v1 answer), the second pays a new run, with nothing reserved and no check:
    two clips billed under a per-day limit that fits one."""
    import torch

    from node_calls import call_node_lists
    from pack_loader import load_pack

    i2v = load_pack().NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]
    limits = pack_module("core.spend_limits")
    errors = pack_module("core.errors")
    limits.SpendLimits(per_day=0.6, per_run=None).save(pack_env.home)  # one $0.455 clip fits, not two
    history = pack_module("core.learned_estimate").ChargeHistory
    small = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)
    assert history.load(pack_env.home).estimate(
        pack_module("core.params").LTX2_19B_I2V.path, {**small, "prompt": "dup", "negative_prompt": ""}).amount < 0.6
    pack_env.fault("sync", corrupt=True)  # the first v1 answer: billed, its clip damaged
    one = torch.rand(1, 48, 64, 3, generator=torch.Generator().manual_seed(5))
    with pytest.raises(errors.SegmindError):
        call_node_lists(i2v(), image=torch.cat([one, one]), prompt="dup", negative_prompt="", unique_id="3",
                        batch_mode="every picture", api_mode="sync (v1)", **small)
    assert pack_env.counts["sync_runs"] == 1, "the duplicate paid a second run past the per-day limit"
    assert pack_module("core.ledger").Ledger(pack_env.home).spent_today() <= 0.6 + 1e-9
