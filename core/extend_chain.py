"""Extend's story, whatever makes the segments: the clip continued from its last frame,
segment after segment, then joined into one clip whose frames and sound run on (each
segment starts on the previous clip's last frame, which the join drops).

`make_segment(index, picture)` makes one segment from a uint8 RGB picture and returns
its MP4: a paid job (cached, journaled and booked by the job lifecycle, so a run that
failed at segment 4 makes 1-3 again from the cache without paying) or the offline stand-in.
A cached segment gives the same file, so the next segment's picture, and with it the next
request, is the same on a re-run."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from .clip_join import CROSSFADE_SECONDS, JoinedClip, join_clips
from .errors import Cancelled, InvalidInputError

MAX_SEGMENTS = 20  # each is a paid generation; a longer list is more likely a pasted text than a plan


def segment_prompts(text: str) -> list[str]:
    """One prompt per non-empty line, in order."""
    prompts = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if not prompts:
        raise InvalidInputError("Extend needs one prompt per segment, one a line: none was given. Write what "
                                "happens next, one line per segment.", field="prompts")
    if len(prompts) > MAX_SEGMENTS:
        raise InvalidInputError(f"{len(prompts)} segments asked for (one per line of the prompts); Extend "
                                f"makes at most {MAX_SEGMENTS} in one run. Split the list over several runs.")
    return prompts


def extend_clip(source: str | os.PathLike, segment_count: int,
                make_segment: Callable[[int, Any], str | os.PathLike], dest: str | os.PathLike, *,
                conform: bool = True, crossfade_seconds: float = CROSSFADE_SECONDS,
                cancel_check: Callable[[], bool] | None = None,
                progress: Callable[[int, int], None] | None = None) -> tuple[JoinedClip, list[Path]]:
    """`source` continued by `segment_count` segments into `dest`; (the joined clip, the
    segments' own files). `conform`: a segment of another size or rate (a model that fixes
    its own resolution) is fitted to the source's instead of refused."""
    from .clip_frames import last_frame

    if segment_count < 1:
        raise InvalidInputError("Extend needs at least one segment.")
    clips: list[Path] = [Path(source)]
    for index in range(segment_count):
        if cancel_check is not None and cancel_check():
            raise Cancelled("Cancelled by the user.")
        picture = last_frame(clips[-1])
        clips.append(Path(make_segment(index, picture)))
    joined = join_clips(clips, dest, conform=conform, drop_first_frame_of_next=True,
                        crossfade_seconds=crossfade_seconds, cancel_check=cancel_check, progress=progress)
    return joined, clips[1:]

