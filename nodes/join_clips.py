"""Segmind LTX-2 Join Clips: two to four VIDEOs (or a list of them on any input) -> one clip
with sound that runs on across the seams (core/clip_join.py), with the same outputs as the
generation nodes. Clips of another size or rate than the first are refused saying what to
change, or conformed to the first when the user picks so. Free and local: nothing is sent."""
from __future__ import annotations

import contextlib
from typing import Any

from ..core.errors import InvalidInputError
from .common import CATEGORY, RETURN_NAMES, RETURN_TYPES, consumed_key
from .words import in_node_words, speaks_node_words

ON_MISMATCH = ("refuse", "conform to the first clip")
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
        """Which outputs the queued graph consumes: frames and audio nothing takes are not
        decoded, so wiring one in later must run the node again."""
        return consumed_key(unique_id)

    @speaks_node_words
    def join(self, video_1: Any, on_mismatch: Any = ON_MISMATCH[0], drop_first_frame_of_next: Any = False,
             video_2: Any = None, video_3: Any = None, video_4: Any = None, unique_id: Any = None) -> dict:
        from .. import comfy_host
        from ..core.clip_join import ClipMismatchError, join_clips
        from ..core.clip_saving import OUTPUT_SUBFOLDER, made_clip_path
        from ..core.errors import Cancelled
        from .common import decode_consumed
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
        dest = made_clip_path(comfy_host.output_directory(), "joined")
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
            consumed = comfy_host.consumed_outputs(comfy_host.running_prompt(), node_id)
            frames, audio, *_ = decode_consumed(dest, consumed, {}, _JoinProgress(bar))
        except Cancelled as exc:
            comfy_host.raise_interrupted(in_node_words(exc))
            raise
        bar.text(f"Done: {joined.frame_count} frames {joined.width}x{joined.height} @ {float(joined.fps):g} fps "
                 f"from {len(paths)} clips")
        bar.bar(1000)
        preview = {"filename": dest.name, "subfolder": OUTPUT_SUBFOLDER, "type": "output", "format": "video/mp4"}
        return {"ui": {"images": [preview], "animated": [True]},
                "result": (frames, audio, float(joined.fps), int(joined.frame_count),
                           comfy_host.video_from_file(dest))}


class _JoinProgress:
    """The node's text and bar for the shared decode (nodes.common.decode_consumed): the
    join fills the bar's first half, the decode the second."""

    def __init__(self, bar: Any) -> None:
        self.progress = bar

    def decode_progress(self, done: int, total: int) -> None:
        self.progress.bar(500 + 500 * done / max(total, 1))
