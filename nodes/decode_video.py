"""Decode Video (lean): any VIDEO or MP4 path -> IMAGE frames, AUDIO, fps, frame count,
with the pack's lean decoder (one preallocated float32 tensor, options applied on
uint8). A drop-in for VIDEO -> Get Video Components when memory is tight.

A typed path is read only from ComfyUI's input, output and temp folders, like ComfyUI's
own loaders: a workflow from someone else must not read any file on the machine, nor
learn from the error whether one exists."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from .words import in_node_words, speaks_node_words

_MAX_FRAMES = 1_000_000


class SegmindLTX2DecodeVideo:
    DISPLAY_NAME = "Decode Video (lean, Segmind LTX-2)"
    CATEGORY = "Segmind/LTX-2"
    RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT", "INT")
    RETURN_NAMES = ("frames", "audio", "fps", "frame_count")
    FUNCTION = "decode"
    DESCRIPTION = ("Decodes a video into frames and audio with about a third of the peak memory of "
                   "Get Video Components, several times faster. Connect a VIDEO or type a file path.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {},
            "optional": {
                "video": ("VIDEO", {"tooltip": "A video from Load Video or a Segmind node. Used instead of path when connected."}),
                "path": ("STRING", {"default": "", "tooltip": "A video file (MP4, WebM, MOV...) in ComfyUI's input, output "
                                                           "or temp folder, used when no VIDEO is connected. A name alone "
                                                           "is looked up in the input folder."}),
                "frame_load_cap": ("INT", {"default": 0, "min": 0, "max": _MAX_FRAMES,
                                           "tooltip": "Keep at most this many frames (0 = all)."}),
                "skip_first_frames": ("INT", {"default": 0, "min": 0, "max": _MAX_FRAMES,
                                              "tooltip": "Drop this many frames from the start (the audio is cut to match)."}),
                "select_every_nth": ("INT", {"default": 1, "min": 1, "max": 1000,
                                             "tooltip": "Keep every n-th frame; fps is divided by n."}),
                "custom_width": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8,
                                         "tooltip": "Resize frames to this width (0 = keep; alone it keeps the aspect ratio)."}),
                "custom_height": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8,
                                          "tooltip": "Resize frames to this height (0 = keep; alone it keeps the aspect ratio)."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    @speaks_node_words
    def decode(self, video: Any = None, path: str = "", frame_load_cap: int = 0, skip_first_frames: int = 0,
               select_every_nth: int = 1, custom_width: int = 0, custom_height: int = 0,
               unique_id: str | None = None) -> tuple[Any, dict, float, int]:
        from ..comfy_host import NodeProgress, is_interrupted, raise_interrupted
        from ..core.errors import Cancelled
        from ..core.video_decode import decode_video

        bar = NodeProgress(unique_id, total=1000)

        def progress(done: int, total: int) -> None:
            bar.bar(1000 * done / max(total, 1))

        try:
            with _video_file(video, path) as file_path:
                result = decode_video(file_path, frame_load_cap=frame_load_cap, skip_first_frames=skip_first_frames,
                                      select_every_nth=select_every_nth, custom_width=custom_width,
                                      custom_height=custom_height, cancel_check=is_interrupted, progress=progress)
        except Cancelled as exc:
            raise_interrupted(in_node_words(exc))  # ComfyUI shows an interruption, not a failure
            raise
        return (result.frames, result.audio, float(result.fps), int(result.frame_count))


class _video_file:
    """Context manager giving a file path for a VIDEO input or a typed path.

    A VIDEO held in memory (BytesIO) is spilled to a temporary file, removed on exit,
    because the decoder reads the file twice (frames, then audio)."""

    def __init__(self, video: Any, path: str) -> None:
        self._video, self._path = video, (path or "").strip().strip('"')
        self._tmp: str | None = None

    def __enter__(self) -> str:
        if self._video is not None:
            get_source = getattr(self._video, "get_stream_source", None)
            save_to = getattr(self._video, "save_to", None)
            if not callable(get_source) and callable(save_to):
                return self._saved(save_to)  # a VIDEO made in memory: written out once
            if not callable(get_source):
                raise InvalidInputError(
                    "This VIDEO input cannot be read as a file (it has no get_stream_source); "
                    "save it with Save Video and pass the path instead.")
            try:
                source = get_source()
            except (ValueError, OSError) as exc:
                if not callable(save_to):
                    raise InvalidInputError(f"This VIDEO input cannot be read ({exc}); save it with Save Video "
                                            "and pass the path instead.") from None
                # ComfyUI's default stream source writes into a BytesIO with no file name, from
                # which PyAV cannot tell the format (Create Video's VIDEO): a .mp4 file it can.
                return self._saved(save_to)
            if isinstance(source, (str, os.PathLike)):
                return os.fspath(source)
            if isinstance(source, io.IOBase) or hasattr(source, "read"):
                return self._spill(source)
            raise InvalidInputError(f"Unsupported VIDEO source {type(source).__name__}; pass a file path instead.")
        if self._path:
            return resolve_video_path(self._path)
        raise InvalidInputError("Connect a VIDEO input or type a video file path: neither was given.")

    def _saved(self, save_to: Any) -> str:
        fd, self._tmp = tempfile.mkstemp(suffix=".mp4", prefix="segmind_decode_")
        os.close(fd)
        save_to(self._tmp)
        return self._tmp

    def _spill(self, stream: Any) -> str:
        fd, self._tmp = tempfile.mkstemp(suffix=".mp4", prefix="segmind_decode_")
        if hasattr(stream, "seek"):
            stream.seek(0)
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(stream, f, 1 << 20)
        if hasattr(stream, "seek"):
            stream.seek(0)  # leave the VIDEO readable for other nodes
        return self._tmp

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass


# ComfyUI's annotation for a file in another of its folders, e.g. "clip.mp4 [output]".
_ANNOTATIONS = {" [input]": "input", " [output]": "output", " [temp]": "temp"}


def _folder(name: str) -> Path | None:
    """One of ComfyUI's folders, through comfy_host (the only module touching ComfyUI);
    None where the host does not know it (input and temp outside ComfyUI)."""
    from .. import comfy_host

    getter = getattr(comfy_host, f"{name}_directory", None)
    found = getter() if callable(getter) else None
    return Path(found) if found else None


def allowed_video_roots() -> dict[str, Path]:
    """The folders a typed path may read from: ComfyUI's input, output and temp, by name."""
    roots = {}
    for name in ("input", "output", "temp"):
        folder = _folder(name)
        if folder is not None:
            roots[name] = folder
    return roots


def _inside(path: str, root: str) -> bool:
    path, root = os.path.normcase(path), os.path.normcase(root)
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # another drive (Windows)
        return False


def resolve_video_path(typed: str) -> str:
    """The real path of a typed video path, if it lies in an allowed folder.

    A name alone (or a relative path) is looked up in the input folder; "name [output]"
    / "[temp]" in those folders, as in ComfyUI. Symlinks and ".." are resolved before
    the check. A path outside is refused with the same message whether or not a file is
    there, so the node cannot be used to learn what exists elsewhere."""
    roots = allowed_video_roots()
    name, base = typed, "input"
    for suffix, folder in _ANNOTATIONS.items():
        if name.endswith(suffix):
            name, base = name[: -len(suffix)], folder
            break
    try:
        name = os.path.expanduser(name)
        candidate = name if os.path.isabs(name) else os.path.join(roots.get(base, Path.cwd() / base), name)
        real = os.path.realpath(candidate)
        if any(_inside(real, os.path.realpath(root)) for root in roots.values()):
            return real
    except (ValueError, OSError):  # a NUL byte, a name too long: no file could be there
        pass
    where = "; ".join(f"{label}: {root}" for label, root in roots.items())
    raise InvalidInputError(
        f"'path' {typed!r} is not in a folder this node reads from. It reads only ComfyUI's input, "
        f"output and temp folders ({where}); a name alone is looked up in the input folder. Copy the "
        "video into the input folder and type its name, or connect a VIDEO input (Load Video) instead.")
