"""What LTX-2 Retake (`ltx-retake-video`) takes, checked before anything is paid: each
refusal says what to change. Pure functions over numbers (a probed clip's size, frame
count and rate), plus the inline form the clip is sent in.

Sources (../shared/segmind/LTX2_FAMILY.md): Segmind's page gives `video_uri` ("URL or
data URI"), `start_time`, `duration` (at least 2 s; 2 to 20 recommended), `prompt` and
`mode`. The 73-frame minimum, the 3840x2160 maximum and the clamping of a section that
runs past the end are Lightricks' own API's rules for the same operation, assumed here.
Segmind states no size limit for a data URI: the pack sets INLINE_LIMIT_BYTES itself."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Action, InvalidInputError
from .models import RETAKE_MODES as MODES

MIN_FRAMES = 73             # Lightricks: the input clip needs at least 73 frames (about 3 s at 24 fps)
MAX_LONG_SIDE = 3840        # Lightricks: at most 3840x2160, either orientation
MAX_SHORT_SIDE = 2160
MIN_SECTION_SECONDS = 2.0   # Segmind's page: duration at least 2
RECOMMENDED_MAX_SECTION_SECONDS = 20.0  # Segmind's page recommends 2 to 20; longer is not refused
# The data URI's own length (base64 is 4/3 of the file): 20 MB keeps the request body well
# under what HTTP front ends commonly accept (often 25-32 MB), and a 10 s LTX-2 clip at
# 720p (a few MB) far inside it. Segmind states no limit: an assumption of the pack.
INLINE_LIMIT_BYTES = 20 * 1000 * 1000

# Segmind's mode values (MODES, one list in core/models.py), and the short words a front end
# may show for them.
MODE_WORDS = {"both": "replace_audio_and_video", "video": "replace_video", "audio": "replace_audio"}


@dataclass(frozen=True)
class RetakeSection:
    start: float      # seconds from the clip's first frame
    duration: float   # what will be made again (after clamping to the clip's end)
    clip_seconds: float
    clamped: bool     # the asked-for section ran past the end and was cut there

    @property
    def end(self) -> float:
        return self.start + self.duration


def retake_mode(mode: str) -> str:
    """Segmind's mode value for `mode` (its own value, or audio / video / both)."""
    value = MODE_WORDS.get(str(mode).strip().lower(), str(mode).strip())
    if value not in MODES:
        raise InvalidInputError(f"mode {mode!r} is not one Retake knows: pick audio, video or both "
                                f"({', '.join(MODES)}).")
    return value


def check_clip(width: int, height: int, frame_count: int, fps: float) -> float:
    """The clip's length in seconds, if Retake takes a clip of this size and length."""
    if frame_count < MIN_FRAMES:
        seconds = MIN_FRAMES / fps if fps > 0 else 0
        raise InvalidInputError(
            f"The clip has {frame_count} frames; Retake needs at least {MIN_FRAMES} "
            f"(about {seconds:.1f} s at {fps:g} fps). Use a longer clip, or extend this one first.")
    if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
        raise InvalidInputError(
            f"The clip is {width}x{height}; Retake takes at most {MAX_LONG_SIDE}x{MAX_SHORT_SIDE} "
            f"(or {MAX_SHORT_SIDE}x{MAX_LONG_SIDE} upright). Scale it down first.")
    if fps <= 0:
        raise InvalidInputError("The clip declares no frame rate, so a section in seconds cannot be placed "
                                "in it. Re-save it with a frame rate (Save Video does).")
    return frame_count / fps


def check_section(start_time: float, duration: float, clip_seconds: float) -> RetakeSection:
    """The section to make again, clamped to the clip's end as the service does."""
    for name, value in (("start_time", start_time), ("duration", duration)):
        if not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
            raise InvalidInputError(f"{name} must be a number of seconds, got {value!r}: "
                                    f"{Action.SET_FIELD(name)} to one.", field=name)
    if duration < MIN_SECTION_SECONDS:
        raise InvalidInputError(f"duration is {duration:g} s; Retake makes again at least "
                                f"{MIN_SECTION_SECONDS:g} s. Set {Action.SET_FIELD('duration')} to "
                                f"{MIN_SECTION_SECONDS:g} or more.", field="duration")
    if start_time < 0:
        raise InvalidInputError(f"start_time is {start_time:g} s; the clip starts at 0. Set "
                                f"{Action.SET_FIELD('start_time')} to 0 or more.", field="start_time")
    latest = clip_seconds - MIN_SECTION_SECONDS
    if start_time >= clip_seconds:
        raise InvalidInputError(
            f"start_time {start_time:g} s is past the clip's end ({clip_seconds:.2f} s long). "
            f"Set {Action.SET_FIELD('start_time')} to at most {max(latest, 0):.2f} s.", field="start_time")
    end = min(start_time + duration, clip_seconds)
    if end - start_time < MIN_SECTION_SECONDS:
        raise InvalidInputError(
            f"The section from {start_time:g} s runs past the clip's end ({clip_seconds:.2f} s), leaving "
            f"{end - start_time:.2f} s, under Retake's {MIN_SECTION_SECONDS:g} s. "
            f"Set {Action.SET_FIELD('start_time')} to at most {max(latest, 0):.2f} s.", field="start_time")
    return RetakeSection(start=float(start_time), duration=float(end - start_time),
                         clip_seconds=float(clip_seconds), clamped=start_time + duration > clip_seconds)


def check_retake(width: int, height: int, frame_count: int, fps: float,
                 start_time: float, duration: float, mode: str) -> tuple[RetakeSection, str]:
    """Every check before paying: the clip, the section, the mode. (section, Segmind mode)."""
    mode_value = retake_mode(mode)
    seconds = check_clip(width, height, frame_count, fps)
    return check_section(start_time, duration, seconds), mode_value


def inline_size(file_bytes: int) -> int:
    """Length of a data URI for a file of `file_bytes` bytes (prefix + base64)."""
    return len(_PREFIX) + 4 * ((file_bytes + 2) // 3)


def check_inline_size(file_bytes: int) -> int:
    """The data URI's length, if the clip may be sent inline."""
    size = inline_size(file_bytes)
    if size > INLINE_LIMIT_BYTES:
        raise InvalidInputError(
            f"The clip is {file_bytes / 1e6:.1f} MB, {size / 1e6:.1f} MB once written into the request "
            f"(as a data URI), above the {INLINE_LIMIT_BYTES / 1e6:.0f} MB the pack sends inline. Trim the "
            f"clip to a little more than the section to make again, or lower its resolution, then {Action.RETRY}.")
    return size


_PREFIX = "data:video/mp4;base64,"

