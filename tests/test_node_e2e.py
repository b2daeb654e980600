"""The Image to Video node end to end, loaded the way ComfyUI loads the pack, against the
local Segmind stand-in: outputs, the MP4 on disk, the preview, every answer shape."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from pack_loader import load_pack, pack_module
from node_calls import call_node

pack = load_pack()
comfy_host = pack_module("comfy_host")
errors = pack_module("core.errors")
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]

SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=7, guidance_scale=4.0)


@pytest.fixture
def env(pack_env):
    return pack_env


def run_node(image=None, prompt="a red fox runs", **over):
    image = torch.rand(1, 64, 96, 3) if image is None else image
    values = {**SMALL, **over}
    # ComfyUI runs every node under inference mode (execution.py); so does this test.
    with torch.inference_mode():
        return call_node(NODE(), image=image, prompt=prompt, negative_prompt="blurry", unique_id="5", **values)


def test_node_contract_matches_the_issue():
    spec = NODE.INPUT_TYPES()
    req = spec["required"]
    assert list(req) == ["image", "prompt", "negative_prompt", "width", "height", "num_frames",
                         "fps", "seed", "guidance_scale"]
    assert req["width"][1]["default"] == 720 and (req["width"][1]["min"], req["width"][1]["max"]) == (256, 1280)
    assert req["height"][1]["default"] == 1280
    assert (req["num_frames"][1]["default"], req["num_frames"][1]["max"]) == (181, 400)
    assert (req["fps"][1]["default"], req["fps"][1]["min"], req["fps"][1]["max"]) == (24, 1, 30)
    assert req["seed"][1]["default"] == 42 and req["seed"][1]["control_after_generate"] is True
    assert req["guidance_scale"] == ("FLOAT", {"default": 4.0, "min": 1.0, "max": 20.0, "step": 0.1, "round": 0.01})
    assert req["prompt"][1]["multiline"] and req["negative_prompt"][1]["default"].startswith("blurry, low quality")
    assert NODE.RETURN_TYPES == ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
    assert NODE.RETURN_NAMES == ("frames", "audio", "fps", "frame_count", "video")
    assert NODE.CATEGORY == "Segmind/LTX-2"
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["SegmindLTX2ImageToVideo"] == "Segmind LTX-2 Image to Video"
    assert not getattr(NODE, "API_NODE", False)  # would make the front end ask for a Comfy.org login


def test_v2_run_returns_frames_audio_video_and_keeps_the_mp4(env):
    out = run_node()
    frames, audio, fps, count, video = out["result"]
    # The stand-in rounds like the service (256x256 stays, 9 frames stays): read from the file.
    assert frames.dtype == torch.float32 and tuple(frames.shape) == (9, 256, 256, 3)
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0
    assert float((frames[0] - frames[-1]).abs().mean()) > 0.01  # it moves
    assert count == 9 and fps == pytest.approx(8.0)
    wave = audio["waveform"]
    assert audio["sample_rate"] == 24000 and wave.dtype == torch.float32
    assert wave.shape[0] == 1 and wave.shape[1] == 2
    assert wave.shape[2] == pytest.approx(24000 * 9 / 8, rel=0.1)
    preview = out["ui"]["images"][0]
    mp4 = env.output / preview["subfolder"] / preview["filename"]
    assert mp4.is_file() and mp4.stat().st_size > 1000 and preview["type"] == "output"
    assert out["ui"]["animated"] == [True]
    assert Path(video.get_stream_source()) == mp4
    summary = out["ui"]["segmind"][0]
    assert summary["cost"] == pytest.approx(0.455) and summary["frame_count"] == 9
    assert env.jobs_submitted == 1 and env.counts["uploads"] == 1


def test_request_carries_every_field_and_the_uploaded_url(env):
    run_node(prompt="waves at dusk")
    submit = [r for r in env.requests_log if r[0] == "POST" and r[1].startswith("/v2/")]
    assert len(submit) == 1
    body = submit[0][3]
    assert body["prompt"] == "waves at dusk" and body["negative_prompt"] == "blurry"
    assert {k: body[k] for k in SMALL} == SMALL
    assert body["image"].startswith("http://127.0.0.1")
    assert submit[0][2].get("x-api-key") == env.api_key


def test_real_size_comes_from_the_file_not_the_request(env):
    frames, _, _, count, _ = run_node(width=720, height=300, num_frames=12)["result"]
    assert tuple(frames.shape[1:3]) == (320, 736)  # the service's 32-grid, rounded up
    assert count == 17  # 8k+1, rounded up


def test_v1_sync_mode(env):
    out = run_node(api_mode="sync (v1)")
    assert out["result"][3] == 9
    assert env.counts["sync_runs"] == 1 and env.counts["submits"] == 0
    assert out["ui"]["segmind"][0]["api_mode"] == "sync (v1)"


@pytest.mark.parametrize("shape", ["json_url", "json_base64"])
def test_v1_json_answer_shapes(env, shape):
    env.sync_shape = shape
    assert run_node(api_mode="sync (v1)")["result"][3] == 9


@pytest.mark.parametrize("shape", ["list", "dict"])
def test_v2_result_output_shapes(env, shape):
    env.output_shape = shape
    assert run_node()["result"][3] == 9


def test_upload_answer_under_urls(env):
    env.upload_shape = "urls"
    assert run_node()["result"][3] == 9


def test_same_pixels_are_uploaded_once_per_session(env):
    image = torch.rand(1, 32, 32, 3)
    run_node(image=image, prompt="one", force_rerun=True)
    run_node(image=image.clone(), prompt="two", force_rerun=True)
    assert env.counts["uploads"] == 1 and env.jobs_submitted == 2


def test_missing_key_fails_before_anything_is_sent(env, monkeypatch):
    monkeypatch.delenv("SEGMIND_API_KEY")
    with pytest.raises(errors.MissingAPIKeyError) as exc:
        run_node()
    assert "SEGMIND_API_KEY" in str(exc.value) and "api_key" in str(exc.value)
    assert env.requests_log == []


def test_bad_input_fails_before_anything_is_sent(env):
    with pytest.raises(errors.InvalidInputError, match="'fps'"):
        run_node(fps=60)
    with pytest.raises(errors.InvalidInputError, match="batch_index"):
        run_node(batch_index=3)
    assert env.requests_log == []


def test_cancel_while_waiting_stops_quickly(env, monkeypatch):
    env.fault("status", delay=8.0)
    flag = threading.Event()
    monkeypatch.setattr(comfy_host, "is_interrupted", flag.is_set)
    threading.Timer(0.5, flag.set).start()
    started = time.monotonic()
    with pytest.raises(errors.Cancelled):  # outside ComfyUI the host raises the core Cancelled
        run_node()
    assert time.monotonic() - started < 3.0  # the stalled status call is not waited for
    assert env.jobs_submitted == 1


def test_progress_text_reports_each_stage(env, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(comfy_host.NodeProgress, "text", lambda self, msg: seen.append(msg))
    run_node()
    joined = "\n".join(seen)
    for stage in ("Uploading", "Submitted", "Queued", "Downloading", "Decoding", "Done"):
        assert stage in joined, (stage, seen)


def test_every_saved_clip_carries_its_request_and_never_the_key(env):
    """Issue 14: provenance in the MP4's metadata and in a JSON beside it, read back by
    core.provenance; the key appears in neither."""
    provenance = pack_module("core.provenance")
    picture = torch.rand(1, 64, 96, 3, generator=torch.Generator().manual_seed(11))
    out = run_node(picture, prompt="a heron lands")
    mp4 = Path(out["result"][4].get_stream_source())
    meta = provenance.read_provenance(mp4)
    rid = out["ui"]["segmind"][0]["request_id"]
    assert meta["request_id"] == rid and meta["model"] == "ltx-2-19b-i2v" and meta["cost"] == pytest.approx(0.455)
    assert meta["fields"]["prompt"] == "a heron lands" and meta["fields"]["seed"] == SMALL["seed"]
    assert meta["fields"]["image"].startswith("http://127.0.0.1")  # the uploaded first frame
    beside = provenance.provenance_json_path(mp4)
    assert beside.is_file()
    key = env.api_key.encode()
    assert key not in mp4.read_bytes() and key not in beside.read_bytes()
    # The cached copy is the tagged file: a re-queue hands out the same provenance.
    again = run_node(picture, prompt="a heron lands")
    assert env.jobs_submitted == 1 and again["ui"]["segmind"][0]["from_cache"]
    assert provenance.read_provenance(Path(again["result"][4].get_stream_source()))["request_id"] == rid
