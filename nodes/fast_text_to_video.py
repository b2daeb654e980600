"""Segmind LTX-2 Fast Text to Video: a prompt in, a quick draft clip, frames + audio + video out."""
from __future__ import annotations

from ..core.models import LTX2_FAST
from .common import SegmindVideoNode


class SegmindLTX2FastTextToVideo(SegmindVideoNode):
    DESCRIPTION = ("Makes a 6, 8 or 10 s video with sound from a text prompt using Segmind's LTX-2 Fast "
                   "(about 47 s per clip). Priced per second by resolution ($0.05 at 1080p, $0.10 at 1440p "
                   "or 2k, $0.20 at 2160p: Segmind's \"$0.30 - $2.00\" read per second, unconfirmed). Needs a "
                   "Segmind API key, except with the free 'offline preview' backend, which makes a small "
                   "local clip (144 pixels tall, duration x 25 fps frames) standing in for the resolution.")
    MODEL = LTX2_FAST
