"""The offline stand-ins of Retake and Extend: free, local, no key, nothing sent. They
make clips of the shape the service would (same length, size and rate for Retake; the
clip continued by segments for Extend) so a graph can be wired and tried before paying.

- Retake: the input clip with the section [start, start + duration) tinted (video modes)
  and its sound swapped for another tone (audio modes), faded in and out at the section's
  edges so the swap itself makes no click.
- Extend: one offline preview segment (core/offline_preview.py) per prompt, each from the
  previous clip's last frame, joined by core/clip_join.py as the real Extend is.

numpy and av are imported inside functions: importing this module stays cheap."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from .clip_join import CROSSFADE_SECONDS, JoinedClip, even_size
from .retake_rules import RetakeSection, check_retake

TINT_RGB = (255, 40, 200)  # magenta: no generated scene is likely to be this colour
TINT_STRENGTH = 0.35
RETAKE_TONE_HZ = (523.25, 784.0)  # a fifth higher than the offline preview's 220/330 Hz: heard at once
_RETAKE_TONE_LEVEL = 0.12
SILENT_RATE = 24000


def retake_tone(num_samples: int, rate: int) -> Any:
    """Stereo float32 [2, num_samples]: the tone that marks a retaken section's sound."""
    import numpy as np

    t = np.arange(num_samples, dtype=np.float64) / rate
    mono = (sum(np.sin(2 * math.pi * hz * t) for hz in RETAKE_TONE_HZ) / len(RETAKE_TONE_HZ) * _RETAKE_TONE_LEVEL)
    return np.stack([mono, mono * 0.8]).astype(np.float32)


def retake_offline(source: str | os.PathLike, dest: str | os.PathLike, start_time: float, duration: float,
                   mode: str, cancel_check: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[Path, RetakeSection]:
    """The offline Retake of `source` into `dest`, after the same checks as a paid one.
    Same frame count, size and rate as the input; (the clip, the section made again)."""
    import numpy as np

    from .clip_frames import clip_rate, iter_frames, probe_video, read_audio
    from .clip_writer import ClipWriter

    info = probe_video(source)
    fps = clip_rate(source)
    section, mode_value = check_retake(info.width, info.height, info.frame_count, float(fps),
                                       start_time, duration, mode)
    tint_video = mode_value in ("replace_video", "replace_audio_and_video")
    swap_audio = mode_value in ("replace_audio", "replace_audio_and_video")

    rate = info.audio_sample_rate or SILENT_RATE
    samples = int(round(info.frame_count / fps * rate))
    read = read_audio(source, rate)
    audio = np.zeros((2, samples), np.float32)
    if read is not None:
        wave, offset = read
        lo = int(round(offset * rate))
        n = max(0, min(wave.shape[1], samples - max(lo, 0)))
        audio[:, max(lo, 0):max(lo, 0) + n] = wave[:, max(-lo, 0):max(-lo, 0) + n]
    if swap_audio:
        a, b = int(round(section.start * rate)), min(samples, int(round(section.end * rate)))
        ramp = max(1, min(int(CROSSFADE_SECONDS * rate), (b - a) // 2))
        mix = np.ones(b - a)
        mix[:ramp] = np.linspace(0, 1, ramp)
        mix[-ramp:] = np.minimum(mix[-ramp:], np.linspace(1, 0, ramp))
        audio[:, a:b] = audio[:, a:b] * (1 - mix) + retake_tone(b - a, rate) * mix

    width, height = even_size(info.width, info.height)
    tint = np.array(TINT_RGB, np.float32) * TINT_STRENGTH
    first = int(math.ceil(section.start * fps - 1e-9))
    last = int(math.ceil(section.end * fps - 1e-9))  # frames [first, last) show the section
    with ClipWriter(dest, width, height, fps, audio, rate) as writer:
        for index, frame in enumerate(iter_frames(source, cancel_check)):
            if index >= info.frame_count:
                break
            if tint_video and first <= index < last:
                rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
                frame = np.clip(rgb * (1 - TINT_STRENGTH) + tint, 0, 255).astype(np.uint8)
            writer.write(frame)
            if progress is not None:
                progress(index + 1, info.frame_count)
    return Path(dest), section


def extend_offline(source: str | os.PathLike, prompts: Sequence[str], dest: str | os.PathLike,
                   work_dir: str | os.PathLike, num_frames: int = 121,
                   cancel_check: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> tuple[JoinedClip, list[Path]]:
    """The offline Extend: one offline preview segment of `num_frames` per prompt, at the
    source's size and (whole) rate, each from the previous clip's last frame, joined into
    `dest`. The segments land in `work_dir`; (the joined clip, the segments)."""
    from .clip_frames import probe_video
    from .extend_chain import extend_clip
    from .offline_preview import write_preview_mp4

    info = probe_video(source)
    fps = max(1, int(round(info.fps)))
    width, height = even_size(info.width, info.height)
    folder = Path(work_dir)
    stem = Path(dest).stem

    def make_segment(index: int, picture: Any) -> Path:
        return write_preview_mp4(folder / f"{stem}_segment{index + 1}.mp4", picture, width, height,
                                 num_frames, fps, cancel_check=cancel_check)

    return extend_clip(source, len(prompts), make_segment, dest, cancel_check=cancel_check, progress=progress)
