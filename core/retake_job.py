"""One LTX-2 Retake (`ltx-retake-video`) as the node and the command line both make it: the
clip read and every check done before anything is paid or uploaded (core/retake_rules.py,
core/input_clip.py), the request body from the descriptor (core/models.py LTX_RETAKE), then
either the paid job (core/lifecycle.py, with the clip as its input) or the free offline
stand-in (core/offline_edits.py), landing where a paid clip would, with its provenance."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .models import LTX_RETAKE
from .retake_rules import RetakeSection, check_retake, retake_mode

MODEL = LTX_RETAKE.path


@dataclass(frozen=True)
class RetakePlan:
    """What a Retake will send: the body without the clip, the clip, the section it remakes."""

    body: dict[str, Any]
    clip: Any            # core.input_clip.InputClip
    section: RetakeSection

    @property
    def mode(self) -> str:
        return str(self.body["mode"])


def plan_retake(path: str | os.PathLike, *, start_time: Any, duration: Any, prompt: Any = "",
                mode: Any = LTX_RETAKE.field("mode").default) -> RetakePlan:
    """Every check before paying, each refusal saying what to change: the mode (Segmind's value,
    or audio / video / both), the clip (a readable MP4 of at least 73 frames, at most
    3840x2160), the section (2 s or more, inside the clip), the clip's size inline; then the
    fields against the descriptor. Reads the clip into memory last, once it is known to fit."""
    from .input_clip import probe_input, read_input_clip
    from .params import build_body, finite_number

    mode_value = retake_mode(mode)
    info = probe_input(path)
    start = finite_number(start_time) if not isinstance(start_time, str) else finite_number(start_time.strip())
    seconds = finite_number(duration) if not isinstance(duration, str) else finite_number(duration.strip())
    section, mode_value = check_retake(info.width, info.height, info.frame_count, info.fps,
                                       start_time if start is None else start,
                                       duration if seconds is None else seconds, mode_value)
    body = build_body(LTX_RETAKE, {"start_time": start, "duration": seconds,
                                   "prompt": "" if prompt is None else prompt, "mode": mode_value})
    return RetakePlan(body=body, clip=read_input_clip(path, info), section=section)


def retake_request(plan: RetakePlan, *, api_mode: str | None = None, timeout: float = 900.0) -> Any:
    """The paid job's GenerationRequest (core/lifecycle.py): the clip is its input."""
    from .lifecycle import API_MODES, GenerationRequest

    return GenerationRequest(model=MODEL, body=dict(plan.body), api_mode=api_mode or API_MODES[0],
                             timeout=float(timeout), video=plan.clip)


def retake_offline_clip(source: str | os.PathLike, plan: RetakePlan, output_dir: Path,
                        cancel_check: Callable[[], bool] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> Any:
    """The free offline Retake (the section tinted, its tone swapped), landing where a paid clip
    would, tagged as the free preview it is. A lifecycle.ClipResult, cost 0."""
    from .client import RunInfo
    from .clip_saving import clip_path
    from .lifecycle import ClipResult
    from .offline_edits import retake_offline
    from .provenance import provenance_meta, write_provenance

    request_id = f"offline-{uuid.uuid4().hex}"
    dest = clip_path(Path(output_dir), MODEL, request_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    retake_offline(source, dest, plan.body["start_time"], plan.body["duration"], plan.mode,
                   cancel_check=cancel_check, progress=progress)
    write_provenance(dest, provenance_meta(MODEL, plan.body, request_id=request_id, cost=0.0,
                                           api_mode="offline preview", input_clip=plan.clip.record()))
    return ClipResult(path=dest, info=RunInfo(request_id=request_id, cost=0.0))
