"""LTX-2 Pro Image to Video (ltx-2-pro) and LTX-2 Fast Text to Video (ltx-2-fast): two
descriptors (core/models.py) and their nodes, run against the local stand-in (which checks
their bodies with its own table, FAMILY_FIELDS) and the free offline backend."""
from __future__ import annotations

from pathlib import Path

import av
import pytest

from pack_loader import load_pack, pack_module
from node_calls import call_node

pack = load_pack()
models = pack_module("core.models")
params = pack_module("core.params")
errors = pack_module("core.errors")
PRO_NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ProImageToVideo"]
FAST_NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2FastTextToVideo"]
I2V = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]


def picture():
    import torch

    return torch.rand(1, 90, 160, 3)


def submits(env, path: str) -> list[dict]:
    return [r[3] for r in env.requests_log if r[0] == "POST" and r[1] == f"/v2/{path}"]


def streams(clip: Path) -> tuple[int, bool, tuple[int, int]]:
    """(frames decoded, has a sound stream, (width, height)) of an MP4."""
    with av.open(str(clip)) as container:
        has_audio = bool(container.streams.audio)
        video = container.streams.video[0]
        size = (video.width, video.height)
        count = sum(1 for _ in container.decode(video=0))
    return count, has_audio, size


def clip_of(out: dict, env) -> Path:
    return Path(env.output) / out["ui"]["images"][0]["subfolder"] / out["ui"]["images"][0]["filename"]


# --------------------------------------------------------------------------- the descriptors


def test_the_two_descriptors():
    pro, fast = models.MODELS["ltx-2-pro"], models.MODELS["ltx-2-fast"]
    assert [f.name for f in pro.fields] == ["image", "prompt", "duration", "resolution", "generate_audio", "fps"]
    assert [f.name for f in fast.fields] == ["prompt", "duration", "resolution", "generate_audio"]
    assert pro.field("duration").choices == fast.field("duration").choices == (6, 8, 10)
    assert pro.field("resolution").choices == ("1080p", "1440p", "2160p") and pro.field("resolution").default == "1080p"
    assert fast.field("resolution").choices == ("1080p", "1440p", "2160p", "2k") and fast.field("resolution").default == "2k"
    assert (pro.field("duration").default, fast.field("duration").default) == (6, 8)
    assert pro.field("fps").optional and pro.field("fps").choices == (25, 50)
    assert not pro.price.confirmed and not fast.price.confirmed
    assert pro.takes("image") and not fast.takes("image") and pro.grid is None and fast.grid is None


def test_an_unset_fps_is_left_out_of_the_body():
    body = params.build_body("ltx-2-pro", {"prompt": " a lighthouse "})
    assert body == {"prompt": "a lighthouse", "duration": 6, "resolution": "1080p", "generate_audio": True}
    assert params.build_body("ltx-2-pro", {"prompt": "p", "fps": "50"})["fps"] == 50
    with pytest.raises(errors.InvalidInputError, match="choose one of 25, 50") as exc:
        params.build_body("ltx-2-pro", {"prompt": "p", "fps": 30})
    assert exc.value.field == "fps"
    with pytest.raises(errors.InvalidInputError, match="choose one of 1080p, 1440p, 2160p"):
        params.build_body("ltx-2-pro", {"prompt": "p", "resolution": "2k"})
    assert params.build_body("ltx-2-fast", {"prompt": "p"}) == {"prompt": "p", "duration": 8, "resolution": "2k",
                                                               "generate_audio": True}


@pytest.mark.parametrize("path, values, usd, seconds", [
    ("ltx-2-pro", {}, 0.36, 71.0),
    ("ltx-2-pro", {"duration": 10, "resolution": "1440p"}, 1.20, 71.0 * 10 / 6),
    ("ltx-2-pro", {"duration": 8, "resolution": "2160p"}, 1.92, 71.0 * 8 / 6),
    ("ltx-2-fast", {}, 0.80, 47.0),
    ("ltx-2-fast", {"duration": 6, "resolution": "1080p"}, 0.30, 47.0 * 6 / 8),   # the page's "$0.30"
    ("ltx-2-fast", {"duration": 10, "resolution": "2160p"}, 2.00, 47.0 * 10 / 8),  # ... "- $2.00"
    ("ltx-2-fast", {"duration": 8, "resolution": "1440p"}, 0.80, 47.0),
])
def test_the_estimate_per_model(path, values, usd, seconds):
    body = params.build_body(path, {"prompt": "p", **values})
    assert params.estimate_cost(body, path) == pytest.approx(usd)
    assert params.expected_runtime(body, path) == pytest.approx(seconds)
    # A ledger line or job names its model: the estimate follows it.
    assert params.estimate_cost({**body, "model": path}) == pytest.approx(usd)


def test_the_size_and_length_a_resolution_and_duration_name():
    assert models.LTX2_PRO.rendered({"resolution": "2160p", "duration": 8}) == (3840, 2160, 200)
    assert models.LTX2_PRO.rendered({"resolution": "1080p", "duration": 6, "fps": 50}) == (1920, 1080, 300)
    assert models.LTX2_FAST.rendered({}) == (2560, 1440, 200)


# --------------------------------------------------------------------------- the node faces


def test_the_node_faces():
    pro, fast = PRO_NODE.INPUT_TYPES(), FAST_NODE.INPUT_TYPES()
    assert list(pro["required"]) == ["image", "prompt", "duration", "resolution", "generate_audio"]
    assert pro["required"]["duration"][0] == [6, 8, 10] and pro["required"]["resolution"][1]["default"] == "1080p"
    assert pro["optional"]["fps"][0] == ["not sent", 25, 50] and pro["optional"]["fps"][1]["default"] == "not sent"
    assert "unconfirmed" in pro["optional"]["fps"][1]["tooltip"]
    # Batches and the rest of the I2V node's options, but no fit: the resolution fixes the size.
    assert list(pro["optional"]) == ["fps", *(n for n in I2V.INPUT_TYPES()["optional"] if n != "fit")]
    assert list(fast["required"]) == ["prompt", "duration", "resolution", "generate_audio"]
    assert fast["required"]["resolution"] == (["1080p", "1440p", "2160p", "2k"], {
        "default": "2k", "tooltip": models.LTX2_FAST.field("resolution").tooltip})
    assert list(fast["optional"]) == ["force_rerun", "backend", "options"]
    for name, node, title in [("SegmindLTX2ProImageToVideo", PRO_NODE, "Segmind LTX-2 Pro Image to Video"),
                              ("SegmindLTX2FastTextToVideo", FAST_NODE, "Segmind LTX-2 Fast Text to Video")]:
        assert pack.NODE_DISPLAY_NAME_MAPPINGS[name] == title
        assert (node.RETURN_NAMES, node.CATEGORY) == (("frames", "audio", "fps", "frame_count", "video"), "Segmind/LTX-2")
        assert "unconfirmed" in node.DESCRIPTION and "offline preview" in node.DESCRIPTION


# --------------------------------------------------------------------------- runs against the stand-in


def test_pro_runs_bills_one_job_and_a_requeue_bills_nothing(pack_env):
    inputs = dict(image=picture(), prompt="waves on a pier", duration=6, resolution="1440p", generate_audio=True,
                  fps="not sent", unique_id="3")
    out = call_node(PRO_NODE(), **inputs)
    frames, audio, fps, count, _ = out["result"]
    assert count == 6 * 25 and frames.shape[0] == 150 and fps == pytest.approx(25.0)
    assert audio["sample_rate"] > 0 and audio["waveform"].shape[-1] > 0
    assert pack_env.jobs_submitted == 1
    sent = submits(pack_env, "ltx-2-pro")
    assert len(sent) == 1 and sent[0]["image"].startswith("http")
    assert {k: v for k, v in sent[0].items() if k != "image"} == {
        "prompt": "waves on a pier", "duration": 6, "resolution": "1440p", "generate_audio": True}  # no fps
    assert streams(clip_of(out, pack_env))[1] is True
    summary = out["ui"]["segmind"][0]
    assert summary["estimate"] == pytest.approx(0.72) and not summary["from_cache"]

    again = call_node(PRO_NODE(), **inputs)
    assert again["ui"]["segmind"][0]["from_cache"] is True and again["result"][3] == 150
    assert pack_env.jobs_submitted == 1 and len(submits(pack_env, "ltx-2-pro")) == 1


def test_pro_sends_fps_when_set_and_leaves_the_sound_out(pack_env):
    out = call_node(PRO_NODE(), image=picture(), prompt="a kite", duration=6, resolution="1080p",
                    generate_audio=False, fps=50, unique_id="4")
    assert out["result"][3] == 6 * 50 and out["result"][2] == pytest.approx(50.0)
    assert submits(pack_env, "ltx-2-pro")[0]["fps"] == 50
    count, has_audio, _ = streams(clip_of(out, pack_env))
    assert count == 300 and has_audio is False
    assert pack_env.jobs_submitted == 1


def test_pro_batches_one_clip_per_picture(pack_env):
    import torch

    from node_calls import call_node_lists

    out = call_node_lists(PRO_NODE(), image=torch.rand(2, 90, 160, 3), prompt="p", duration=6,
                          resolution="1080p", generate_audio=False, batch_mode="every picture", unique_id="6")
    assert out["result"][3] == [150, 150] and pack_env.jobs_submitted == 2


def test_fast_runs_bills_one_job_and_a_requeue_bills_nothing(pack_env):
    inputs = dict(prompt="a fox in the snow", duration=8, resolution="2k", generate_audio=False, unique_id="7")
    out = call_node(FAST_NODE(), **inputs)
    frames, _, fps, count, _ = out["result"]
    assert count == 8 * 25 and frames.shape[0] == 200 and fps == pytest.approx(25.0)
    sent = submits(pack_env, "ltx-2-fast")
    assert sent == [{"prompt": "a fox in the snow", "duration": 8, "resolution": "2k", "generate_audio": False}]
    assert streams(clip_of(out, pack_env))[1] is False
    assert pack_env.jobs_submitted == 1 and out["ui"]["segmind"][0]["estimate"] == pytest.approx(0.80)
    again = call_node(FAST_NODE(), **inputs)
    assert again["ui"]["segmind"][0]["from_cache"] is True and pack_env.jobs_submitted == 1


def test_fast_accepts_every_listed_resolution(pack_env):
    out = call_node(FAST_NODE(), prompt="p", duration=6, resolution="2160p", generate_audio=True, unique_id="8")
    assert out["result"][3] == 150 and submits(pack_env, "ltx-2-fast")[0]["resolution"] == "2160p"
    with pytest.raises(errors.InvalidInputError, match="'resolution'"):
        call_node(FAST_NODE(), prompt="p", duration=6, resolution="4k", generate_audio=True, unique_id="8")
    assert pack_env.jobs_submitted == 1


# --------------------------------------------------------------------------- the offline backend


@pytest.mark.parametrize("node, inputs, frames, size, audio", [
    (PRO_NODE, dict(image=None, duration=6, resolution="2160p", generate_audio=True, fps=50), 300, (256, 144), True),
    (FAST_NODE, dict(duration=8, resolution="1080p", generate_audio=False), 200, (256, 144), False),
])
def test_the_offline_backend_makes_a_free_small_clip(pack_env, node, inputs, frames, size, audio):
    if "image" in inputs:
        inputs = {**inputs, "image": picture()}
    out = call_node(node(), prompt="offline", backend="offline preview", unique_id="9", **inputs)
    assert out["result"][3] == frames and tuple(out["result"][0].shape[1:3]) == (size[1], size[0])
    assert out["ui"]["segmind"][0]["cost"] == 0.0
    count, has_audio, got_size = streams(clip_of(out, pack_env))
    assert (count, has_audio, got_size) == (frames, audio, size)
    assert pack_env.jobs_submitted == 0 and not [r for r in pack_env.requests_log if r[0] == "POST"]
