"""nodes.decode_video.SegmindLTX2DecodeVideo, loaded the way ComfyUI loads the pack."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pack_loader import PACK_ROOT, pack_module
from test_video_decode import FPS, H, W, frame_ids, make_test_clip

N_FRAMES = 9


@pytest.fixture(scope="module")
def node_mod() -> Any:
    return pack_module("nodes.decode_video")


@pytest.fixture(scope="module")
def errors() -> Any:
    return pack_module("core.errors")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("node") / "clip.mp4", frames=N_FRAMES)


class FakeVideo:
    """What the node needs of ComfyUI's VideoInput."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def get_stream_source(self) -> Any:
        return self.source


def test_node_interface(node_mod: Any) -> None:
    cls = node_mod.SegmindLTX2DecodeVideo
    assert cls.RETURN_TYPES == ("IMAGE", "AUDIO", "FLOAT", "INT")
    assert cls.RETURN_NAMES == ("frames", "audio", "fps", "frame_count")
    assert cls.CATEGORY == "Segmind/LTX-2"
    assert cls.DISPLAY_NAME == "Decode Video (lean, Segmind LTX-2)"
    assert callable(getattr(cls(), cls.FUNCTION))
    inputs = cls.INPUT_TYPES()
    opt = inputs["optional"]
    assert opt["video"][0] == "VIDEO" and opt["path"][0] == "STRING"
    defaults = {k: opt[k][1]["default"] for k in
                ("frame_load_cap", "skip_first_frames", "select_every_nth", "custom_width", "custom_height")}
    assert defaults == {"frame_load_cap": 0, "skip_first_frames": 0, "select_every_nth": 1,
                        "custom_width": 0, "custom_height": 0}
    assert all(opt[k][0] == "INT" and opt[k][1]["max"] >= 400 for k in defaults)


def _run(node_mod: Any, **kw: Any) -> tuple:
    return node_mod.SegmindLTX2DecodeVideo().decode(**kw)


def test_path_input(node_mod: Any, clip: Path) -> None:
    frames, audio, fps, count = _run(node_mod, path=str(clip))
    assert tuple(frames.shape) == (N_FRAMES, H, W, 3)
    assert count == N_FRAMES and fps == FPS and isinstance(fps, float) and isinstance(count, int)
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape[:2] == (1, 2)
    assert frame_ids(frames) == list(range(N_FRAMES))


def test_video_input_with_path_source_and_options(node_mod: Any, clip: Path) -> None:
    frames, _, fps, count = _run(node_mod, video=FakeVideo(str(clip)), path="ignored.mp4",
                                 skip_first_frames=1, select_every_nth=2, frame_load_cap=3, custom_width=32)
    assert frame_ids(frames) == [1, 3, 5]
    assert tuple(frames.shape) == (3, 24, 32, 3) and count == 3 and fps == FPS / 2


def test_video_input_with_bytesio_source(node_mod: Any, clip: Path) -> None:
    buf = io.BytesIO(clip.read_bytes())
    buf.seek(100)  # wherever another node left it
    frames, audio, _, count = _run(node_mod, video=FakeVideo(buf))
    assert count == N_FRAMES and frame_ids(frames) == list(range(N_FRAMES))
    assert buf.tell() == 0  # left rewound for the next reader
    leftovers = list(Path(node_mod.tempfile.gettempdir()).glob("segmind_decode_*"))
    assert leftovers == []  # temp file removed


def test_no_input_is_a_clear_error(node_mod: Any, errors: Any) -> None:
    with pytest.raises(errors.InvalidInputError, match="VIDEO"):
        _run(node_mod)
    with pytest.raises(errors.InvalidInputError):
        _run(node_mod, path="   ")


def test_bad_path_is_a_video_error(node_mod: Any, errors: Any, tmp_path: Path) -> None:
    with pytest.raises(errors.VideoError):
        _run(node_mod, path=str(tmp_path / "nope.mp4"))


def test_cancel_propagates(node_mod: Any, errors: Any, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = pack_module("comfy_host")
    monkeypatch.setattr(host, "is_interrupted", lambda: True)
    with pytest.raises(errors.Cancelled):
        _run(node_mod, path=str(clip))


def test_import_is_light() -> None:
    # Loading the pack and this node must not pull in torch/av/cv2 (ComfyUI start-up time).
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pack_loader import pack_module\n"
        "pack_module('nodes.decode_video'); pack_module('core.video_decode')\n"
        "heavy = sorted(m for m in ('torch', 'av', 'cv2', 'numpy') if m in sys.modules)\n"
        "print(','.join(heavy))\n" % str(PACK_ROOT / "tests"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"imported at load time: {r.stdout.strip()}"
