"""nodes.join_clips.SegmindLTX2JoinClips, loaded the way ComfyUI loads the pack (no ComfyUI):
VIDEO inputs as ComfyUI hands them (lists, INPUT_IS_LIST), the outputs of the generation
nodes, refusal or conforming of another size, frames decoded only when something takes them."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from clip_samples import RATE, frame_tags, make_clip
from pack_loader import load_pack, pack_module


@pytest.fixture(scope="module")
def node_mod() -> Any:
    return pack_module("nodes.join_clips")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("joinnode")
    return {"a": make_clip(d / "a.mp4", frames=12, first_tag=0),
            "b": make_clip(d / "b.mp4", frames=8, first_tag=11, hz=660.0),
            "c": make_clip(d / "c.mp4", frames=6, first_tag=30, hz=None),
            "upright": make_clip(d / "upright.mp4", frames=6, width=48, height=64, first_tag=20)}


@pytest.fixture(autouse=True)
def output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    return tmp_path / "output"


class FakeVideo:
    """What the node needs of ComfyUI's VideoFromFile."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def get_stream_source(self) -> Any:
        return self.source


class InMemoryVideo:
    """A VIDEO with no file behind it (ComfyUI's VideoFromComponents): only save_to."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip

    def save_to(self, path: str) -> None:
        Path(path).write_bytes(self.clip.read_bytes())


def _run(node_mod: Any, *videos: Any, mode: str = "refuse", drop: bool = False, **more: Any) -> dict:
    """Call the node as ComfyUI does with INPUT_IS_LIST: every input a list."""
    kwargs = {f"video_{i + 1}": (v if isinstance(v, list) else [v]) for i, v in enumerate(videos)}
    return node_mod.SegmindLTX2JoinClips().join(on_mismatch=[mode], drop_first_frame_of_next=[drop],
                                                unique_id=["7"], **kwargs, **more)


def test_node_interface_and_registry(node_mod: Any) -> None:
    cls = node_mod.SegmindLTX2JoinClips
    assert cls.RETURN_TYPES == ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
    assert cls.RETURN_NAMES == ("frames", "audio", "fps", "frame_count", "video")
    assert cls.CATEGORY == "Segmind/LTX-2" and cls.INPUT_IS_LIST is True
    inputs = cls.INPUT_TYPES()
    assert inputs["required"]["video_1"][0] == "VIDEO"
    assert inputs["required"]["on_mismatch"][0] == ["refuse", "conform to the first clip"]
    assert inputs["required"]["drop_first_frame_of_next"][1]["default"] is False
    assert [k for k, v in inputs["optional"].items() if v[0] == "VIDEO"] == ["video_2", "video_3", "video_4"]
    pack = load_pack()
    assert pack.NODE_CLASS_MAPPINGS["SegmindLTX2JoinClips"] is cls
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["SegmindLTX2JoinClips"] == "Segmind LTX-2 Join Clips"


def test_join_three_clips(node_mod: Any, clips: dict[str, Path], output: Path) -> None:
    out = _run(node_mod, FakeVideo(str(clips["a"])), FakeVideo(io.BytesIO(clips["b"].read_bytes())),
               InMemoryVideo(clips["c"]))
    frames, audio, fps, count, video = out["result"]
    assert count == 26 and fps == 24.0 and isinstance(fps, float) and isinstance(count, int)
    assert tuple(frames.shape) == (26, 48, 64, 3)
    assert audio["sample_rate"] == RATE and audio["waveform"].shape[-1] == 26 * RATE // 24  # to the end
    path = Path(video.get_stream_source())
    assert path.parent == output / "segmind_ltx2" and path.is_file()
    assert frame_tags(path) == list(range(12)) + list(range(11, 19)) + list(range(30, 36))
    assert out["ui"]["images"][0] == {"filename": path.name, "subfolder": "segmind_ltx2", "type": "output",
                                      "format": "video/mp4"}


def test_a_list_on_one_input_and_dropped_first_frames(node_mod: Any, clips: dict[str, Path]) -> None:
    out = _run(node_mod, [FakeVideo(str(clips["a"])), FakeVideo(str(clips["b"]))], drop=True)
    assert out["result"][3] == 12 + 7
    assert frame_tags(Path(out["result"][4].get_stream_source())) == list(range(19))  # 11 once


def test_another_size_refused_or_conformed(node_mod: Any, clips: dict[str, Path]) -> None:
    errors = pack_module("core.errors")
    with pytest.raises(errors.InvalidInputError) as exc:
        _run(node_mod, FakeVideo(str(clips["a"])), FakeVideo(str(clips["upright"])))
    text = str(exc.value)
    assert "Clip 2 is 48x64 (clip 1 is 64x48)" in text and "set on_mismatch to 'conform to the first clip'" in text
    out = _run(node_mod, FakeVideo(str(clips["a"])), FakeVideo(str(clips["upright"])),
               mode="conform to the first clip")
    assert tuple(out["result"][0].shape) == (18, 48, 64, 3)


def test_one_clip_is_a_clear_error(node_mod: Any, clips: dict[str, Path]) -> None:
    errors = pack_module("core.errors")
    with pytest.raises(errors.InvalidInputError, match="Connect a second clip to video_2"):
        _run(node_mod, FakeVideo(str(clips["a"])))


def test_frames_not_taken_are_not_decoded(node_mod: Any, clips: dict[str, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    host = pack_module("comfy_host")
    graph = {"7": {"class_type": "SegmindLTX2JoinClips", "inputs": {}},
             "9": {"class_type": "SaveVideo", "inputs": {"video": ["7", 4]}}}
    monkeypatch.setattr(host, "running_prompt", lambda: graph)
    out = _run(node_mod, FakeVideo(str(clips["a"])), FakeVideo(str(clips["b"])))
    frames, audio, _, count, _ = out["result"]
    assert tuple(frames.shape) == (1, 1, 1, 3) and audio["waveform"].shape[-1] == 1 and count == 20
    assert node_mod.SegmindLTX2JoinClips.IS_CHANGED(unique_id=["7"]) == "video"


def test_cancel_becomes_the_interruption(node_mod: Any, clips: dict[str, Path], output: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    host = pack_module("comfy_host")
    errors = pack_module("core.errors")
    monkeypatch.setattr(host, "is_interrupted", lambda: True)
    with pytest.raises(errors.Cancelled):
        _run(node_mod, FakeVideo(str(clips["a"])), FakeVideo(str(clips["b"])))
    assert not list(output.rglob("*.mp4")) and not list(output.rglob("*.part"))
