"""The Text to Video node: its contract, a run against the local Segmind stand-in (same
client and decoder as Image to Video) and the free offline preview backend."""
from __future__ import annotations

import pytest

from pack_loader import load_pack, pack_module
from node_calls import call_node

pack = load_pack()
params = pack_module("core.params")
errors = pack_module("core.errors")
T2V = pack.NODE_CLASS_MAPPINGS["SegmindLTX2TextToVideo"]
I2V = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]

SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=7, guidance_scale=4.0)


@pytest.fixture
def env(pack_env):
    return pack_env


def run_t2v(prompt: str = "a storm rolls over the sea", **over):
    return call_node(T2V(), prompt=prompt, negative_prompt="blurry", unique_id="9", **{**SMALL, **over})


def test_contract_same_outputs_no_image_inputs():
    spec = T2V.INPUT_TYPES()
    assert list(spec["required"]) == ["prompt", "negative_prompt", "width", "height", "num_frames",
                                      "fps", "seed", "guidance_scale"]
    req = spec["required"]
    # Product page of ltx-2-19b-t2v: height 768, 161 frames (width not stated there: 1280).
    assert (req["width"][1]["default"], req["height"][1]["default"], req["num_frames"][1]["default"]) == (1280, 768, 161)
    assert req["seed"][1]["control_after_generate"] is True
    opt = list(spec["optional"])
    assert "batch_index" not in opt and "upload_format" not in opt
    assert opt == [name for name in I2V.INPUT_TYPES()["optional"] if name not in ("batch_mode", "batch_index", "fit")]
    assert spec["optional"]["backend"][0] == ["segmind", "offline preview"]
    assert spec["optional"]["backend"][1]["default"] == "segmind"
    assert (T2V.RETURN_TYPES, T2V.RETURN_NAMES, T2V.CATEGORY) == (I2V.RETURN_TYPES, I2V.RETURN_NAMES, "Segmind/LTX-2")
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["SegmindLTX2TextToVideo"] == "Segmind LTX-2 Text to Video"
    assert params.T2V_MODEL == "ltx-2-19b-t2v"


def test_backend_follows_force_rerun_or_comes_first():
    opt = list(I2V.INPUT_TYPES()["optional"])
    assert opt.index("backend") == (opt.index("force_rerun") + 1 if "force_rerun" in opt else 0)
    assert "api_mode" not in opt  # off the node's face: the Options node carries it


def test_t2v_run_sends_no_image_and_returns_a_clip(env):
    out = run_t2v()
    frames, audio, fps, count, video = out["result"]
    assert tuple(frames.shape) == (9, 256, 256, 3) and count == 9 and fps == pytest.approx(8.0)
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape[1] == 2
    submits = [r for r in env.requests_log if r[0] == "POST" and r[1].startswith("/v2/")]
    assert [r[1] for r in submits] == ["/v2/ltx-2-19b-t2v"]
    body = submits[0][3]
    assert "image" not in body and body["prompt"] == "a storm rolls over the sea"
    assert {k: body[k] for k in SMALL} == SMALL
    assert env.counts["uploads"] == 0 and env.jobs_submitted == 1
    preview = out["ui"]["images"][0]
    mp4 = env.output / preview["subfolder"] / preview["filename"]
    assert mp4.is_file() and preview["filename"].startswith("ltx2_t2v_")
    assert out["ui"]["segmind"][0]["cost"] == pytest.approx(0.455)


def test_t2v_offline_backend_needs_no_key_and_sends_nothing(env, monkeypatch):
    monkeypatch.delenv("SEGMIND_API_KEY")
    out = run_t2v(backend="offline preview", width=320, height=256, num_frames=17, fps=12)
    frames, audio, fps, count, _ = out["result"]
    assert tuple(frames.shape) == (17, 256, 320, 3) and count == 17 and fps == pytest.approx(12.0)
    assert float((frames[0] - frames[-1]).abs().mean()) > 0.01  # the placeholder picture moves
    assert float(audio["waveform"].abs().max()) > 0.01
    assert env.requests_log == []
    summary = out["ui"]["segmind"][0]
    assert summary["cost"] == 0 and summary["api_mode"] == "offline preview"


def test_t2v_bad_input_names_the_field(env):
    with pytest.raises(errors.InvalidInputError, match="'height'"):
        run_t2v(height=2000)
    with pytest.raises(errors.InvalidInputError, match="prompt"):
        run_t2v(prompt="  ")
    with pytest.raises(errors.InvalidInputError, match="'backend'"):
        run_t2v(backend="local")
    assert env.requests_log == []
