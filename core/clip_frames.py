"""Reading a clip as arrays, for the tools that make a clip out of clips (Join, Extend,
Retake's offline stand-in): its length, its frames one at a time, its last frame (the
next Extend segment's picture) and its sound resampled to one rate and layout.

The ComfyUI-shaped decode (float32 tensors) is core/video_decode.py; this module hands
out uint8 and numpy, frame by frame, so a clip of any length never sits in memory whole.
av and numpy are imported inside functions: importing this module stays cheap."""
from __future__ import annotations

import os
from fractions import Fraction
from typing import Any, Callable, Iterator

from .errors import Cancelled, InvalidInputError, VideoError
from .video_decode import VideoInfo, probe_video

__all__ = ["VideoInfo", "probe_video", "probe_clip", "clip_rate", "iter_frames", "last_frame", "read_audio"]


def _open(path: str | os.PathLike) -> Any:
    from .video_decode import _open as open_checked  # the decoder's own checks and wording

    return open_checked(path)


def _errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.error.FFmpegError, OSError, ValueError)


def clip_rate(path: str | os.PathLike) -> Fraction:
    """The frame rate as an exact fraction (24, 25, 24000/1001...), as the stream declares it:
    a float would make two clips of the same rate compare unequal."""
    container = _open(path)
    try:
        if not container.streams.video:
            raise VideoError(f"No video stream in {os.fspath(path)}.")
        vs = container.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    finally:
        container.close()
    if not rate or rate <= 0:
        return Fraction(probe_video(path).fps).limit_denominator(1001)
    return Fraction(rate)


def probe_clip(path: str | os.PathLike, what: str = "The clip") -> tuple[VideoInfo, Fraction]:
    """A clip the user gave (to retake, continue or join), probed: (its facts, its exact
    rate), or InvalidInputError saying what to give instead. `what` names it in the message
    ("The clip to retake", "Clip 2")."""
    import av

    p = os.fspath(path)
    try:
        return probe_video(p), clip_rate(p)
    except VideoError as exc:
        raise InvalidInputError(f"{what} cannot be read ({exc}). Give a video file (an MP4 with a video "
                                "stream).") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InvalidInputError(f"{what} cannot be read ({exc}). Give a video file (an MP4).") from None


def iter_frames(path: str | os.PathLike, cancel_check: Callable[[], bool] | None = None) -> Iterator[Any]:
    """Every video frame (av.VideoFrame) in presentation order; one at a time in memory."""
    p = os.fspath(path)
    container = _open(p)
    try:
        if not container.streams.video:
            raise VideoError(f"No video stream in {p}.")
        try:
            for frame in container.decode(container.streams.video[0]):
                if cancel_check is not None and cancel_check():
                    raise Cancelled("Cancelled by the user.")
                yield frame
        except _errors() as exc:
            raise VideoError(f"The video {p} broke off while reading it ({exc}); it is probably "
                             "truncated or corrupt.") from exc
    finally:
        container.close()


def last_frame(path: str | os.PathLike) -> Any:
    """The clip's last frame as uint8 RGB [H, W, 3] (Extend's picture for the next segment).

    Seeks to the last keyframe and decodes from there, so a long clip costs one GOP, not
    the whole clip; falls back to reading it all when the file cannot seek."""
    import numpy as np

    p = os.fspath(path)
    container = _open(p)
    last = None
    try:
        vs = container.streams.video[0] if container.streams.video else None
        if vs is None:
            raise VideoError(f"No video stream in {p}.")
        try:
            if vs.duration and vs.time_base:
                container.seek(int(vs.start_time or 0) + int(vs.duration), stream=vs, backward=True,
                               any_frame=False)
            for frame in container.decode(vs):
                last = frame
        except _errors():
            last = None
    finally:
        container.close()
    if last is None:  # the seek found nothing: read the clip from its start
        for frame in iter_frames(p):
            last = frame
    if last is None:
        raise VideoError(f"No frame of {p} could be decoded; the file is probably truncated or corrupt.")
    return np.ascontiguousarray(last.to_ndarray(format="rgb24"), dtype=np.uint8)


def read_audio(path: str | os.PathLike, rate: int, channels: int = 2) -> tuple[Any, float] | None:
    """The whole sound track as float32 [channels, samples] at `rate`, and where it starts
    in seconds after the first video frame (usually 0); None when the clip has no sound.

    Every clip is resampled to the caller's rate and layout, so clips made at 24 kHz and
    at 48 kHz join without a question."""
    import av
    import numpy as np

    p = os.fspath(path)
    container = _open(p)
    try:
        if not container.streams.audio:
            return None
        astream = container.streams.audio[0]
        vs = container.streams.video[0] if container.streams.video else None
        v0 = float(vs.start_time * vs.time_base) if vs is not None and vs.start_time is not None and vs.time_base else 0.0
        layout = "stereo" if channels == 2 else "mono" if channels == 1 else None
        if layout is None:
            raise ValueError(f"read_audio: channels must be 1 or 2, got {channels}.")
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks: list[Any] = []
        first: float | None = None
        try:
            for frame in container.decode(astream):
                if first is None and frame.time is not None:
                    first = float(frame.time)
                chunks.extend(rf.to_ndarray() for rf in resampler.resample(frame))
            chunks.extend(rf.to_ndarray() for rf in resampler.resample(None))
        except _errors() as exc:
            raise VideoError(f"Could not decode the audio track of {p} ({exc}).") from exc
    finally:
        container.close()
    wave = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    return np.ascontiguousarray(wave, dtype=np.float32), (first if first is not None else v0) - v0
