"""nodes.decode_video.SegmindLTX2DecodeVideo, loaded the way ComfyUI loads the pack."""
from __future__ import annotations

import io
import os
import shutil
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


@pytest.fixture(autouse=True)
def comfy_folders(clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """ComfyUI's input (the folder holding `clip`), output and temp folders, as comfy_host reports them."""
    folders = {"input": clip.parent, "output": tmp_path / "output", "temp": tmp_path / "temp"}
    host = pack_module("comfy_host")
    for name, folder in folders.items():
        folder.mkdir(exist_ok=True)
        monkeypatch.setattr(host, f"{name}_directory", lambda folder=folder: folder, raising=False)
    return folders


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


def test_bad_path_is_a_video_error(node_mod: Any, errors: Any, comfy_folders: dict[str, Path]) -> None:
    with pytest.raises(errors.VideoError):
        _run(node_mod, path=str(comfy_folders["input"] / "nope.mp4"))


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


# --------------------------------------------------------------------------- issue 12: typed paths


def test_a_name_or_annotated_path_reads_from_comfyui_folders(node_mod: Any, clip: Path,
                                                              comfy_folders: dict[str, Path], fault_row: Any) -> None:
    shutil.copy(clip, comfy_folders["output"] / "out.mp4")
    shutil.copy(clip, comfy_folders["temp"] / "tmp.mp4")
    for path in ("clip.mp4", "clip.mp4 [input]", "out.mp4 [output]", "tmp.mp4 [temp]",
                 str(comfy_folders["output"] / "out.mp4"), str(comfy_folders["temp"] / "tmp.mp4")):
        assert _run(node_mod, path=path)[3] == N_FRAMES, path
    fault_row("Decode node: a video name or a path inside ComfyUI's folders", "Decode Video (lean) node, 'path'",
              "A name alone is read from the input folder, 'name [output]'/'[temp]' from those folders, "
              "an absolute path inside input/output/temp as typed.")


def test_a_path_outside_comfyui_folders_is_refused_without_telling_whether_it_exists(
        node_mod: Any, errors: Any, clip: Path, comfy_folders: dict[str, Path], tmp_path: Path,
        fault_row: Any) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(clip, outside / "there.mp4")
    link = comfy_folders["input"] / "link_out.mp4"
    if not link.is_symlink():
        os.symlink(outside / "there.mp4", link)  # a link inside input to a file outside
    input_rel = os.path.relpath(outside, comfy_folders["input"])
    messages = {}
    for label, path in {"exists": str(outside / "there.mp4"), "missing": str(outside / "absent.mp4"),
                        "dotdot": os.path.join(input_rel, "there.mp4"), "symlink": "link_out.mp4",
                        "system": "/etc/passwd", "home": "~/x.mp4", "nul": "a\x00b.mp4"}.items():
        with pytest.raises(errors.InvalidInputError) as exc:
            _run(node_mod, path=path)
        text = str(exc.value)
        assert "input" in text and "output" in text and "temp" in text, text
        assert str(comfy_folders["input"]) in text
        messages[label] = text.replace(repr(path), "<path>")
    # The same words for a file that exists and one that does not.
    assert messages["exists"] == messages["missing"] == messages["dotdot"] == messages["system"]
    assert "not found" not in messages["exists"] and "empty" not in messages["exists"]
    # A connected VIDEO is not limited: it comes from another node, not from a typed path.
    assert _run(node_mod, video=FakeVideo(str(outside / "there.mp4")))[3] == N_FRAMES
    fault_row("Decode node: a typed path outside ComfyUI's folders (absolute, '..', a symlink out, /etc/passwd)",
              "Decode Video (lean) node, 'path'",
              "Refused before opening, with the same message whether or not the file exists; the message "
              "names the input, output and temp folders. A connected VIDEO input is unaffected.")
