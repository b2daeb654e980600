"""Segmind LTX-2 Join Clips: two to four VIDEOs (or a list of them on any input) -> one clip
with sound that runs on across the seams (core/clip_join.py), with the same outputs as the
generation nodes. Clips of another size or rate than the first are refused saying what to
change, or conformed to the first when the user picks so. Free and local: nothing is sent."""
from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from .words import speaks_node_words

CATEGORY = "Segmind/LTX-2"
RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
RETURN_NAMES = ("frames", "audio", "fps", "frame_count", "video")
FRAMES_SLOT, AUDIO_SLOT = 0, 1
ON_MISMATCH = ("refuse", "conform to the first clip")
OUTPUT_SUBFOLDER = "segmind_ltx2"  # beside the generated clips, where the preview is served from
VIDEO_INPUTS = ("video_1", "video_2", "video_3", "video_4")


def _one(value: Any) -> Any:
    """A widget's value: every input arrives as a list (INPUT_IS_LIST); a widget's holds one."""
    return value[0] if isinstance(value, list) and value else value


class SegmindLTX2JoinClips:
    DISPLAY_NAME = "Segmind LTX-2 Join Clips"
    CATEGORY = CATEGORY
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    FUNCTION = "join"
    OUTPUT_NODE = True  # shows the joined clip on the node, so it runs with nothing downstream
    # Every clip of a list (a batch from Image to Video) joins in order, instead of ComfyUI
    # running the node once per clip.
    INPUT_IS_LIST = True
    DESCRIPTION = ("Joins clips one after another into one clip, with a short crossfade of the sound at each "
                   "seam so it plays through without a click. Free and local.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        clip = "A clip (VIDEO) from Load Video or a Segmind node; a list of clips joins in order."
        return {
            "required": {
                "video_1": ("VIDEO", {"tooltip": "The first clip: its size and frame rate are the joined clip's."}),
                "on_mismatch": (list(ON_MISMATCH), {
                    "default": ON_MISMATCH[0],
                    "tooltip": "A clip of another size or frame rate than the first: refuse (the error says "
                               "what differs), or conform it (scaled to fit with black bars, frames repeated "
                               "or skipped to the first clip's rate)."}),
                "drop_first_frame_of_next": ("BOOLEAN", {
                    "default": False,
                    "tooltip": "Leave out each later clip's first frame: turn on when a clip starts on the "
                               "previous clip's last frame (a continuation), so that frame is not shown twice."}),
            },
            "optional": {name: ("VIDEO", {"tooltip": clip}) for name in VIDEO_INPUTS[1:]},
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    @classmethod
    def IS_CHANGED(cls, unique_id: Any = None, **_: Any) -> Any:
        """Which outputs the queued graph consumes (as the generation nodes do): frames and
        audio nothing takes are not decoded, so wiring one in later must run the node again."""
        from ..comfy_host import consumed_outputs, running_prompt

        consumed = consumed_outputs(running_prompt(), _one(unique_id))
        if consumed is None:
            return float("nan")  # unknown: never reuse (NaN equals nothing)
        return ",".join(RETURN_NAMES[i] for i in sorted(consumed) if i < len(RETURN_NAMES))

    @speaks_node_words
    def join(self, video_1: Any, on_mismatch: Any = ON_MISMATCH[0], drop_first_frame_of_next: Any = False,
             video_2: Any = None, video_3: Any = None, video_4: Any = None, unique_id: Any = None) -> dict:
        from .. import comfy_host
        from ..core.clip_join import ClipMismatchError, join_clips
        from ..core.errors import Cancelled
        from .decode_video import _video_file

        node_id = _one(unique_id)
        mode = _one(on_mismatch)
        if mode not in ON_MISMATCH:
            raise InvalidInputError(f"on_mismatch {mode!r} is not one of: {', '.join(ON_MISMATCH)}.")
        videos = [v for value in (video_1, video_2, video_3, video_4)
                  for v in (value if isinstance(value, list) else [value]) if v is not None]
        if len(videos) < 2:
            raise InvalidInputError(f"Join Clips needs two clips or more; {len(videos)} connected. Connect a "
                                    "second clip to video_2 (or a list of clips to video_1).")
        bar = comfy_host.NodeProgress(node_id, total=1000)
        dest = _joined_path(comfy_host.output_directory())
        try:
            with contextlib.ExitStack() as files:
                paths = [files.enter_context(_video_file(v, "")) for v in videos]
                bar.text(f"Joining {len(paths)} clips...")
                try:
                    joined = join_clips(paths, dest, conform=mode == ON_MISMATCH[1],
                                        drop_first_frame_of_next=bool(_one(drop_first_frame_of_next)),
                                        cancel_check=comfy_host.is_interrupted,
                                        progress=lambda done, total: bar.bar(500 * done / max(total, 1)))
                except ClipMismatchError as exc:
                    raise InvalidInputError(f"{exc} On this node: set on_mismatch to "
                                            f"'{ON_MISMATCH[1]}' to have it done here.") from None
            frames, audio = self._decoded(dest, node_id, bar)
        except Cancelled as exc:
            comfy_host.raise_interrupted(exc)
            raise
        bar.text(f"Done: {joined.frame_count} frames {joined.width}x{joined.height} @ {float(joined.fps):g} fps "
                 f"from {len(paths)} clips")
        bar.bar(1000)
        preview = {"filename": dest.name, "subfolder": OUTPUT_SUBFOLDER, "type": "output", "format": "video/mp4"}
        return {"ui": {"images": [preview], "animated": [True]},
                "result": (frames, audio, float(joined.fps), int(joined.frame_count),
                           comfy_host.video_from_file(dest))}

    @staticmethod
    def _decoded(path: Path, node_id: Any, bar: Any) -> tuple[Any, dict]:
        """Frames and audio, each only if some node takes it (a graph that saves the VIDEO
        never builds the float32 frames)."""
        import torch

        from .. import comfy_host
        from ..core.video_decode import decode_audio, decode_video

        consumed = comfy_host.consumed_outputs(comfy_host.running_prompt(), node_id)
        want_frames = consumed is None or FRAMES_SLOT in consumed
        want_audio = consumed is None or AUDIO_SLOT in consumed
        if want_frames:
            bar.text("Decoding the joined clip...")
            decoded = decode_video(path, cancel_check=comfy_host.is_interrupted,
                                   progress=lambda done, total: bar.bar(500 + 500 * done / max(total, 1)))
            return decoded.frames, decoded.audio
        frames = torch.zeros((1, 1, 1, 3), dtype=torch.float32)  # a placeholder, never the whole clip
        audio = (decode_audio(path) if want_audio
                 else {"waveform": torch.zeros((1, 2, 1), dtype=torch.float32), "sample_rate": 24000})
        return frames, audio


def _joined_path(output_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(output_dir) / OUTPUT_SUBFOLDER / f"joined_{stamp}_{uuid.uuid4().hex[:12]}.mp4"
