"""Joining clips into one MP4 with sound that runs on across the seams.

- Frames: every clip's frames in order, re-encoded once (H.264 yuv420p, like Segmind's).
  With `drop_first_frame_of_next` each later clip loses its first frame: an Extend
  segment starts on the previous clip's last frame, and showing it twice is a visible stall.
- Sound: every clip's track is laid on the timeline of its kept frames (sample-exact, so
  the picture and the sound stay together however many clips there are), resampled to
  one rate, a clip without sound gives silence for its length, and the track runs to the
  end of the last frame. At each seam the two sounds are crossfaded over
  CROSSFADE_SECONDS (30 ms, equal-power): long enough that no click is heard, short
  enough that no word is smeared. The fade is centred on the seam and needs sound from
  just past the end of the earlier clip and just before the start of the later one:
  the real samples when the track has them (a dropped first frame's own sound is exactly
  that), else the track mirrored at the seam, which is continuous there. What a track
  holds past its clip's last frame is the encoder's padding, never taken for sound.
- Size and rate: clips that differ from the first are refused with what to change,
  or, with `conform=True`, scaled to fit the first clip's size (black bars, aspect kept)
  and resampled to its frame rate (frames repeated or skipped by time).

Output length: the sum of the clips' frames less the dropped first frames (at the first
clip's rate; a conformed clip keeps its duration). av and numpy are imported inside
functions: importing this module stays cheap."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import InvalidInputError

CROSSFADE_SECONDS = 0.03  # 20-50 ms hides a seam's click without smearing speech; 30 ms is the middle
SILENT_RATE = 24000       # the output's sound rate when no clip has sound (LTX-2's own rate)
_RATE_TOLERANCE = 1e-4    # relative: 23.976 and 24000/1001 are one rate; 24 is another (0.1% off)


class ClipMismatchError(InvalidInputError):
    """A clip's size or frame rate differs from the first clip's and conforming was not
    asked for. The fields let a front end word the choice in its own terms."""

    def __init__(self, index: int, size: tuple[int, int], fps: float,
                 first_size: tuple[int, int], first_fps: float) -> None:
        self.index, self.size, self.fps = index, size, fps
        self.first_size, self.first_fps = first_size, first_fps
        differs = []
        if size != first_size:
            differs.append(f"is {size[0]}x{size[1]} (clip 1 is {first_size[0]}x{first_size[1]})")
        if not same_rate(fps, first_fps):
            differs.append(f"runs at {fps:g} fps (clip 1 at {first_fps:g} fps)")
        super().__init__(
            f"Clip {index + 1} {' and '.join(differs)}. Clips joined as they are must share the first "
            f"clip's size and frame rate: make clip {index + 1} {first_size[0]}x{first_size[1]} at "
            f"{first_fps:g} fps, or have the join conform it (scaled and padded to "
            f"{first_size[0]}x{first_size[1]}, resampled to {first_fps:g} fps).")


@dataclass
class JoinedClip:
    path: Path
    frame_count: int
    fps: Fraction
    width: int
    height: int
    audio_rate: int
    audio_samples: int
    seams: list[int] = field(default_factory=list)  # output frame where each later clip starts

    @property
    def duration(self) -> float:
        return self.frame_count / float(self.fps)


@dataclass
class _Part:
    path: str
    width: int
    height: int
    fps: Fraction
    frames: int        # in the file
    dropped: int       # first frames left out
    out_frames: int    # frames it contributes at the output rate


def same_rate(a: float | Fraction, b: float | Fraction) -> bool:
    return abs(float(a) - float(b)) <= _RATE_TOLERANCE * max(abs(float(a)), abs(float(b)), 1e-9)


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides: an odd side loses one pixel."""
    return max(2, width - width % 2), max(2, height - height % 2)


def plan_join(paths: Sequence[str | os.PathLike], *, conform: bool = False,
              drop_first_frame_of_next: bool = False) -> list[_Part]:
    """Probe every clip and check they can be joined (before any work is done); what each
    contributes. Raises InvalidInputError / ClipMismatchError saying what to change."""
    from .clip_frames import probe_clip

    if len(paths) < 2:
        raise InvalidInputError(f"Joining needs two clips or more; {len(paths)} given. Give another clip.")
    parts: list[_Part] = []
    for i, path in enumerate(paths):
        p = os.fspath(path)
        info, fps = probe_clip(p, f"Clip {i + 1}")
        dropped = 1 if (i > 0 and drop_first_frame_of_next) else 0
        if info.frame_count - dropped < 1:
            raise InvalidInputError(f"Clip {i + 1} has a single frame, which is the one dropped as the "
                                    "repeat of the previous clip's last frame: leave that clip out, or keep "
                                    "first frames.")
        first = parts[0] if parts else None
        if first is not None and ((info.width, info.height) != (first.width, first.height)
                                  or not same_rate(fps, first.fps)) and not conform:
            raise ClipMismatchError(i, (info.width, info.height), float(fps),
                                    (first.width, first.height), float(first.fps))
        out_fps = first.fps if first is not None else fps
        kept = info.frame_count - dropped
        out_frames = kept if same_rate(fps, out_fps) else max(1, round(kept * out_fps / fps))
        parts.append(_Part(p, info.width, info.height, fps, info.frame_count, dropped, out_frames))
    return parts


def join_clips(paths: Sequence[str | os.PathLike], dest: str | os.PathLike, *, conform: bool = False,
               drop_first_frame_of_next: bool = False, crossfade_seconds: float = CROSSFADE_SECONDS,
               cancel_check: Callable[[], bool] | None = None,
               progress: Callable[[int, int], None] | None = None) -> JoinedClip:
    """Join `paths` in order into the MP4 `dest` (written whole or not at all)."""
    from .clip_writer import ClipWriter

    if not 0 <= crossfade_seconds <= 1:
        raise InvalidInputError(f"crossfade_seconds must be within 0..1, got {crossfade_seconds!r}.")
    parts = plan_join(paths, conform=conform, drop_first_frame_of_next=drop_first_frame_of_next)
    first = parts[0]
    width, height = even_size(first.width, first.height)
    fps = first.fps
    audio, rate = _joined_audio(parts, fps, crossfade_seconds)
    total = sum(p.out_frames for p in parts)
    seams, start = [], 0
    with ClipWriter(dest, width, height, fps, audio, rate) as writer:
        for index, part in enumerate(parts):
            if index:
                seams.append(start)
            for frame in _part_frames(part, fps, width, height, cancel_check):
                writer.write(frame)
                if progress is not None:
                    progress(writer.frames, total)
            start += part.out_frames
    return JoinedClip(path=Path(dest), frame_count=total, fps=fps, width=width, height=height,
                      audio_rate=rate, audio_samples=int(audio.shape[1]), seams=seams)


# --------------------------------------------------------------------------- frames


def _part_frames(part: _Part, fps: Fraction, width: int, height: int,
                 cancel_check: Callable[[], bool] | None) -> Any:
    """The part's frames at the output rate and size: exactly `part.out_frames` of them."""
    from .clip_frames import iter_frames

    same = same_rate(part.fps, fps)
    k, last = 0, None
    for index, frame in enumerate(iter_frames(part.path, cancel_check)):
        if index < part.dropped:
            continue
        if (frame.width, frame.height) != (width, height):
            frame = _fit(frame, width, height)
        last = frame
        # Output frame k shows the source frame on screen at its time (by rate, not index).
        while k < part.out_frames and (same and part.dropped + k == index or not same
                                       and part.dropped + math.floor(k * part.fps / fps) == index):
            yield frame
            k += 1
        if k >= part.out_frames:
            return
    while last is not None and k < part.out_frames:  # the file held fewer frames than it declared
        yield last
        k += 1


def _fit(frame: Any, width: int, height: int) -> Any:
    """uint8 RGB [height, width, 3]: the frame scaled to fit, centred on black."""
    import numpy as np

    scale = min(width / frame.width, height / frame.height)
    w, h = max(1, min(width, round(frame.width * scale))), max(1, min(height, round(frame.height * scale)))
    rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA" if scale < 1 else "BICUBIC")
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    canvas[y:y + h, x:x + w] = rgb.to_ndarray()
    return canvas


# --------------------------------------------------------------------------- sound


class _Track:
    """One clip's sound on its own clock (sample 0 = its first video frame); silence where
    the track has nothing."""

    def __init__(self, wave: Any, offset: int) -> None:
        self.wave, self.offset = wave, offset

    def has(self, lo: int, hi: int) -> bool:
        return self.wave.shape[1] > 0 and lo - self.offset >= 0 and hi - self.offset <= self.wave.shape[1]

    def get(self, lo: int, hi: int) -> Any:
        import numpy as np

        out = np.zeros((2, max(0, hi - lo)), np.float32)
        a, b = max(lo - self.offset, 0), min(hi - self.offset, self.wave.shape[1])
        if b > a:
            out[:, a + self.offset - lo:b + self.offset - lo] = self.wave[:, a:b]
        return out


def _joined_audio(parts: list[_Part], fps: Fraction, crossfade_seconds: float) -> tuple[Any, int]:
    """float32 [2, S] for the whole joined clip, S = its duration in samples."""
    import numpy as np

    from .clip_frames import read_audio

    rate = _output_rate(parts)
    tracks = []
    for part in parts:
        read = read_audio(part.path, rate)
        wave, offset = read if read is not None else (np.zeros((2, 0), np.float32), 0.0)
        tracks.append(_Track(wave, int(round(offset * rate))))
    bounds = [0]
    for part in parts:
        bounds.append(bounds[-1] + part.out_frames)
    edges = [int(round(Fraction(b) / fps * rate)) for b in bounds]  # sample-exact, no drift
    out = np.zeros((2, edges[-1]), np.float32)
    starts = [int(round(Fraction(p.dropped) / p.fps * rate)) for p in parts]  # each clip's own clock
    for i, track in enumerate(tracks):
        length = edges[i + 1] - edges[i]
        out[:, edges[i]:edges[i + 1]] = track.get(starts[i], starts[i] + length)
    half = int(round(crossfade_seconds * rate / 2))
    for i in range(1, len(parts)):
        h = min(half, (edges[i] - edges[i - 1]) // 2, (edges[i + 1] - edges[i]) // 2)
        if h <= 0:
            continue
        before = tracks[i - 1]
        end = starts[i - 1] + (edges[i] - edges[i - 1])  # the earlier clip's kept end, its clock
        after = tracks[i]
        begin = starts[i]
        # Past the earlier clip's own last frame a track holds the encoder's padding (AAC fills
        # its last block with near silence), not sound: fading into it clicks like a cut.
        own_end = int(round(Fraction(parts[i - 1].frames) / parts[i - 1].fps * rate))
        tail = (before.get(end - h, end + h) if before.has(end, end + h) and end + h <= own_end
                else _mirrored_after(before.get(end - h, end)))
        head = after.get(begin - h, begin + h) if after.has(begin - h, begin) else _mirrored_before(after.get(begin, begin + h))
        x = (np.arange(2 * h, dtype=np.float64) + 0.5) / (2 * h)
        fade_out, fade_in = np.cos(x * np.pi / 2), np.sin(x * np.pi / 2)  # equal power
        out[:, edges[i] - h:edges[i] + h] = (tail * fade_out + head * fade_in).astype(np.float32)
    return out, rate


def _mirrored_after(last: Any) -> Any:
    """[last h samples, then them mirrored]: continuous at the join, same spectrum."""
    import numpy as np

    return np.concatenate([last, last[:, ::-1]], axis=1)


def _mirrored_before(first: Any) -> Any:
    import numpy as np

    return np.concatenate([first[:, ::-1], first], axis=1)


def _output_rate(parts: list[_Part]) -> int:
    """The first clip with sound sets the rate (Segmind's clips: 24 kHz)."""
    from .clip_frames import probe_video

    for part in parts:
        info = probe_video(part.path)
        if info.has_audio and info.audio_sample_rate:
            return int(info.audio_sample_rate)
    return SILENT_RATE
