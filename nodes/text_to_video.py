"""Segmind LTX-2 Text to Video: a prompt in, frames + audio + video out (no picture)."""
from __future__ import annotations

from ..core.models import LTX2_19B_T2V
from .common import SegmindVideoNode


class SegmindLTX2TextToVideo(SegmindVideoNode):
    DESCRIPTION = ("Makes a video with synchronized sound from a text prompt using Segmind's LTX-2-19B. "
                   "Priced like Image to Video, by size and frame count (about $0.455 and 2 minutes at "
                   "720x1280, 181 frames); the node shows the estimate for its size before you run. Needs a "
                   "Segmind API key, except with the free 'offline preview' backend.")
    MODEL = LTX2_19B_T2V
