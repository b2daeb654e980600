"""Segmind LTX-2 Pro Image to Video: a still image and a prompt in, 1080p and up, frames + audio + video out."""
from __future__ import annotations

from ..core.models import LTX2_PRO
from .common import SegmindVideoNode


class SegmindLTX2ProImageToVideo(SegmindVideoNode):
    DESCRIPTION = ("Animates an image into a 6, 8 or 10 s video with sound using Segmind's LTX-2 Pro, at "
                   "1080p, 1440p or 2160p (about 71 s per clip). Priced per second by resolution ($0.06, "
                   "$0.12, $0.24: another host's rates, unconfirmed on Segmind); fps 25/50 is sent only "
                   "when set. Needs a Segmind API key, except with the free 'offline preview' backend, "
                   "which makes a small local clip (144 pixels tall, duration x fps frames) standing in "
                   "for the resolution.")
    MODEL = LTX2_PRO
