"""Small test clips for the join, Retake and Extend tests: solid frames whose red level
names the frame (so a repeated or missing frame shows), and a pure tone whose phase at
the clip's edges is known (so a click at a seam shows as a jump between samples)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

RATE = 24000
AMP = 0.3


def frame_red(tag: int) -> int:
    """The grey level (so also the red) that names frame `tag` (0..47)."""
    return 8 + 5 * tag


def tag_of(red: float) -> int:
    return int(round((red - 8) / 5))


def make_clip(path: Path, *, frames: int, fps: int | Fraction = 24, width: int = 64, height: int = 48,
              hz: float | None = 440.0, cosine: bool = False, first_tag: int = 0, rate: int = RATE) -> Path:
    """H.264 (lossless) + AAC stereo; frame i is solid grey of level frame_red(first_tag + i)
    (grey survives the RGB -> YUV -> RGB round trip within a level); the sound is AMP * sin
    (or cos) of `hz` for exactly the clip's duration, or no sound track when hz is None."""
    import av

    out = av.open(str(path), "w", format="mp4")
    vs = out.add_stream("libx264", rate=Fraction(fps))
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    vs.options = {"qp": "0", "preset": "ultrafast"}
    aus = out.add_stream("aac", rate=rate, layout="stereo") if hz is not None else None
    for i in range(frames):
        img = np.empty((height, width, 3), np.uint8)
        img[:] = frame_red(first_tag + i) % 256
        out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
    if aus is not None:
        n = int(round(frames / Fraction(fps) * rate))
        t = np.arange(n) / rate
        wave = AMP * (np.cos if cosine else np.sin)(2 * np.pi * hz * t)
        stereo = np.stack([wave, wave]).astype(np.float32)
        for s in range(0, n, 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, s:s + 1024]), format="fltp", layout="stereo")
            f.sample_rate, f.pts = rate, s
            out.mux(aus.encode(f))
        out.mux(aus.encode(None))
    out.mux(vs.encode(None))
    out.close()
    return path


def frame_tags(path: Path) -> list[int]:
    """Which tagged frame each frame of the clip is, from its mean red level."""
    import av

    with av.open(str(path)) as c:
        return [tag_of(f.to_ndarray(format="rgb24")[..., 0].mean()) for f in c.decode(c.streams.video[0])]


def mean_rgb(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0) for f in c.decode(c.streams.video[0])]


def left_channel(path: Path, rate: int = RATE) -> np.ndarray:
    """The decoded sound's left channel at `rate`, from the first video frame."""
    from pack_loader import pack_module

    wave, offset = pack_module("core.clip_frames").read_audio(path, rate)
    assert abs(offset) < 1e-3, offset
    return wave[0]


def max_jump(wave: np.ndarray, lo: int, hi: int) -> float:
    """The largest step between neighbouring samples in [lo, hi)."""
    part = wave[max(lo, 0):min(hi, len(wave))]
    return float(np.abs(np.diff(part)).max())
