"""Segmind LTX-2 Image to Video: a still image and a prompt in, frames + audio + video out."""
from __future__ import annotations

from ..core.models import LTX2_19B_I2V
from .common import SegmindVideoNode


class SegmindLTX2ImageToVideo(SegmindVideoNode):
    DESCRIPTION = ("Animates an image into a video with synchronized sound using Segmind's LTX-2-19B "
                   "(about $0.455 and 2 minutes per clip at the defaults). Needs a Segmind API key, "
                   "except with the free 'offline preview' backend.")
    MODEL = LTX2_19B_I2V
