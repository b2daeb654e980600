"""Extend on Segmind: a clip continued from its last frame by one paid segment per prompt,
each segment a generation of its own through the job lifecycle (core/lifecycle.py:
cached, journaled, booked), then joined (core/extend_chain.py, core/clip_join.py).

- Models: LTX-2 19B Image to Video (a segment takes the clip's size, brought within
  Segmind's 256..1280, and its frame rate; the other fields are the user's) or LTX-2 Pro
  (its resolution picks the size, its duration the length; the join fits the segments to
  the clip's size and rate).
- Never paid twice: segment k's picture is the last frame of segment k-1's saved clip, so a
  run that failed at segment k re-derives the same requests when run again: segments before
  k come from the result cache, a job already accepted for k is collected from the journal,
  and only the rest is paid.
- Counted at once: plan_extend walks the chain through the result cache (the free segments)
  and counts every segment after as paying; reserve_extend checks them all together
  against the spend limits and the credits before any upload, one reservation per segment.

av, numpy and the HTTP client are imported inside functions: importing this stays cheap."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

from .clip_join import JoinedClip
from .errors import Action, Cancelled, InvalidInputError, SegmindError
from .models import LTX2_19B_I2V, LTX2_PRO, Field, Model, model as descriptor
from .picture_fit import MAX_VIDEO_SIDE, MIN_VIDEO_SIDE

EXTEND_MODELS: tuple[Model, ...] = (LTX2_19B_I2V, LTX2_PRO)
FROM_CLIP = ("width", "height", "fps")   # a 19B segment takes these from the clip it continues
LATER = "later"  # a segment whose picture comes from a segment not made yet: counted as paying
MAX_FPS = 30     # the 19B field's range: a faster clip is continued at 30 fps and conformed


def extend_model(model: str | Model) -> Model:
    """The descriptor of a model Extend can use, or InvalidInputError naming the choices."""
    try:
        found = descriptor(model)
    except KeyError:
        found = None
    if found not in EXTEND_MODELS:
        raise InvalidInputError(f"Extend continues a clip with {' or '.join(m.path for m in EXTEND_MODELS)}, "
                                f"not {model!r}: {Action.SET_FIELD('model')} to one of them.", field="model")
    return found


def extend_fields(model: str | Model) -> tuple[Field, ...]:
    """The model's fields a user sets for every segment (the prompts are one per segment; a
    19B segment's size and rate are the clip's)."""
    m = extend_model(model)
    return tuple(f for f in m.settings if f.name != "prompt" and not (m.grid is not None and f.name in FROM_CLIP))


@dataclass(frozen=True)
class SourceClip:
    """The clip to continue, as probed."""
    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int

    @classmethod
    def read(cls, path: str | os.PathLike) -> "SourceClip":
        from .clip_frames import probe_clip

        info, rate = probe_clip(path, "The clip to continue")
        return cls(Path(path), int(info.width), int(info.height), rate, int(info.frame_count))


def clip_fields(model: str | Model, source: SourceClip) -> dict[str, Any]:
    """What a segment takes from the clip: for 19B its size (scaled into 256..1280, aspect
    kept as far as the range allows) and its rate (whole, 1..30); nothing for Pro."""
    m = extend_model(model)
    if m.grid is None:
        return {}
    w, h = source.width, source.height
    scale = min(1.0, MAX_VIDEO_SIDE / max(w, h))
    scale = max(scale, MIN_VIDEO_SIDE / min(w, h)) if min(w, h) * scale < MIN_VIDEO_SIDE else scale
    width = max(MIN_VIDEO_SIDE, min(MAX_VIDEO_SIDE, int(round(w * scale))))
    height = max(MIN_VIDEO_SIDE, min(MAX_VIDEO_SIDE, int(round(h * scale))))
    fps = max(1, min(MAX_FPS, int(round(float(source.fps)))))
    return {"width": width, "height": height, "fps": fps}


def segment_bodies(model: str | Model, values: dict[str, Any], prompts: Sequence[str],
                   source: SourceClip) -> list[dict[str, Any]]:
    """One request body per prompt (checked against the descriptor: an error names the field)."""
    from .params import build_body

    m = extend_model(model)
    if not prompts:
        raise InvalidInputError("Extend needs one prompt per segment, one a line: none was given.",
                                field="prompts")
    names = {f.name for f in extend_fields(m)}
    kept = {k: v for k, v in values.items() if k in names and v is not None}
    return [build_body(m, {**kept, **clip_fields(m, source), "prompt": p}) for p in prompts]


def segment_size(model: str | Model, body: dict[str, Any], picture: Any) -> tuple[int, int]:
    """The segment's width and height: the body's, or what its resolution renders."""
    if "width" in body and "height" in body:
        return int(body["width"]), int(body["height"])
    rendered = descriptor(model).rendered(body)
    return (rendered[0], rendered[1]) if rendered else (int(picture.shape[1]), int(picture.shape[0]))


def segment_image(picture: Any, model: str | Model, body: dict[str, Any], upload_format: str = "png") -> Any:
    """The encoded upload of a segment's picture (the previous clip's last frame), scaled down
    when far larger than the segment. The same frame always gives the same pixel hash, so
    the same request fingerprint: that is what makes a re-run find its segments."""
    from .image_encode import encode_image, fit_for_upload

    return encode_image(fit_for_upload(picture, *segment_size(model, body, picture)), upload_format)


# --------------------------------------------------------------------------- the plan


@dataclass
class SegmentPlan:
    index: int
    body: dict[str, Any]
    kind: str                     # pay_plan's CACHED, RECORDED, NEW, or LATER
    estimate: Any = None          # learned_estimate.Estimate when it pays
    request_id: str | None = None
    hit: Any = field(default=None, repr=False)

    @property
    def pays(self) -> bool:
        from .pay_plan import NEW

        return self.kind in (NEW, LATER)

    @property
    def amount(self) -> float:
        return self.estimate.amount if self.pays and self.estimate is not None else 0.0


@dataclass
class ExtendPlan:
    model: str
    segments: list[SegmentPlan]

    @property
    def paying(self) -> list[SegmentPlan]:
        return [s for s in self.segments if s.pays]

    @property
    def total(self) -> float:
        return sum(s.amount for s in self.segments)

    def basis(self) -> str | None:
        from .learned_estimate import bases_of

        return bases_of([s.estimate for s in self.paying if s.estimate is not None])

    def describe(self) -> str:
        """'3 segments of ltx-2-19b-i2v: 1 cached (free), 2 to pay, estimated $0.910.'"""
        from .spend_check import money

        n = len(self.segments)
        free = n - len(self.paying)
        parts = [f"{free} free (cached or already paid)"] if free else []
        if self.paying:
            parts.append(f"{len(self.paying)} to pay, estimated {money(self.total)}")
        return f"{n} segment{'s' if n != 1 else ''} of {self.model}: {', '.join(parts) or 'nothing to pay'}."


def plan_extend(source: str | os.PathLike, model: str | Model, bodies: Sequence[dict[str, Any]], *,
                user_dir: str | os.PathLike, api_base: str, force_rerun: bool = False,
                upload_format: str = "png", damaged_pays: bool = False) -> ExtendPlan:
    """What an Extend will pay for, from local state only (nothing is sent): the chain is
    followed through the result cache for as long as each segment's clip is there; the
    first segment that is not (a new job, or one already accepted and recorded, which is
    collected free) ends what can be known, and every segment after it counts as paying."""
    from .clip_frames import last_frame
    from .job_journal import JobJournal, journal_directory
    from .learned_estimate import ChargeHistory
    from .pay_plan import CACHED, decide
    from .result_cache import ResultCache, cache_directory, request_fingerprint

    m = extend_model(model)
    cache = ResultCache.from_env(cache_directory(Path(user_dir)))
    journal = JobJournal(journal_directory(Path(user_dir)))
    charges = ChargeHistory.load(user_dir)
    segments: list[SegmentPlan] = []
    clip: Path | None = Path(source)
    for index, body in enumerate(bodies):
        if clip is None:
            segments.append(SegmentPlan(index, body, LATER, charges.estimate(m.path, body)))
            continue
        image = segment_image(last_frame(clip), m, body, upload_format)
        decision = decide(request_fingerprint(m.path, body, image, api_base), api_base, cache, journal,
                          force_rerun, damaged_pays)
        plan = SegmentPlan(index, body, decision.kind, request_id=decision.request_id, hit=decision.hit)
        if plan.pays:
            plan.estimate = charges.estimate(m.path, body)
        segments.append(plan)
        clip = Path(decision.hit.path) if decision.kind == CACHED else None
    return ExtendPlan(m.path, segments)


def reserve_extend(plan: ExtendPlan, *, user_dir: str | os.PathLike, run_id: str | None, client: Any = None,
                   output_dir: str | os.PathLike | None = None) -> list[Any]:
    """Every paying segment of the Extend checked as one against the spend limits (and, given
    a client, the credits left), before any upload, and reserved: one handle per segment
    (NOTHING_RESERVED for a free one), for run_extend(reserved=...). With `output_dir`, its
    room for every paid segment is checked first."""
    from .clip_saving import OUTPUT_SUBFOLDER, ensure_writable, expected_clip_bytes
    from .spend_check import NOTHING_RESERVED, guard_before_paying

    paying = plan.paying
    if not paying:
        return [NOTHING_RESERVED for _ in plan.segments]
    if output_dir is not None:
        ensure_writable(Path(output_dir) / OUTPUT_SUBFOLDER, sum(expected_clip_bytes(s.body) for s in paying))
    handles = iter(guard_before_paying(user_dir, run_id, [s.amount for s in paying], client,  # LEDGER CALL SITE
                                       plan.basis()))
    return [next(handles) if s.pays else NOTHING_RESERVED for s in plan.segments]


# --------------------------------------------------------------------------- the run


@dataclass
class ExtendResult:
    joined: JoinedClip
    segments: list[Any]           # lifecycle.ClipResult per segment, in order

    @property
    def cost(self) -> float | None:
        """What this run was charged (cached segments cost nothing); None when unknown."""
        costs = [s.info.cost for s in self.segments if not s.from_cache]
        return None if any(c is None for c in costs) else float(sum(costs))

    @property
    def from_cache(self) -> bool:
        return all(s.from_cache for s in self.segments)


def run_extend(source: str | os.PathLike, model: str | Model, bodies: Sequence[dict[str, Any]],
               dest: str | os.PathLike, *, user_dir: str | os.PathLike, output_dir: str | os.PathLike,
               reserved: Sequence[Any] | None = None, run_id: str | None = None, api_mode: str | None = None,
               timeout: float = 900.0, upload_format: str = "png", force_rerun: bool = False,
               cancel_check: Callable[[], bool] | None = None,
               on_event: Callable[[int, str, dict], None] | None = None, node_id: str | None = None,
               origin: str = "comfyui", config: Any = None,
               progress: Callable[[int, int], None] | None = None) -> ExtendResult:
    """`source` continued by one segment per body, each a run_on_segmind of its own, joined
    into `dest`. `reserved`: reserve_extend's handles (None: planned and reserved here, all
    segments at once). A failure stops the chain: the segments made are saved and cached,
    so the same Extend run again resumes where it stopped, paying only for the rest."""
    from .client import ClientConfig
    from .extend_chain import extend_clip
    from .lifecycle import API_MODES, GenerationRequest, Session, _add_hint, run_on_segmind
    from .spend_check import NOTHING_RESERVED, release

    m = extend_model(model)
    config = config or ClientConfig.from_env()
    if reserved is None:
        plan = plan_extend(source, m, bodies, user_dir=user_dir, api_base=config.api_base,
                           force_rerun=force_rerun, upload_format=upload_format)
        client = Session.open(Path(user_dir), config).client(cancel_check=cancel_check) if plan.paying else None
        reserved = reserve_extend(plan, user_dir=user_dir, run_id=run_id, client=client, output_dir=output_dir)
    handles = list(reserved)
    if len(handles) != len(bodies):
        raise ValueError("run_extend: one reservation per segment")
    made: list[Any] = []

    def make_segment(index: int, picture: Any) -> Path:
        image = segment_image(picture, m, bodies[index], upload_format)
        req = GenerationRequest(model=m.path, body=dict(bodies[index]), image=image,
                                api_mode=api_mode or API_MODES[0], timeout=timeout)
        handle, handles[index] = handles[index], NOTHING_RESERVED

        def event(kind: str, data: dict) -> None:
            if on_event is not None:
                on_event(index, kind, data)

        result = run_on_segmind(req, user_dir=Path(user_dir), output_dir=Path(output_dir),
                                cancel_check=cancel_check, on_event=event, force_rerun=force_rerun,
                                node_id=node_id, run_id=run_id, reserved=handle, source=origin, config=config)
        made.append(result)
        return result.path

    try:
        joined, _ = extend_clip(source, len(bodies), make_segment, dest, conform=True,
                                cancel_check=cancel_check, progress=progress)
    except BaseException as exc:
        for index, handle in enumerate(handles):  # segments never started: nothing was sent for them
            handles[index] = NOTHING_RESERVED
            release(user_dir, handle)
        # force_rerun pays for every segment again: the free resume needs it off.
        again = f"{Action.RUN_AGAIN} without {Action.SET_FIELD('force_rerun')}" if force_rerun else f"{Action.RUN_AGAIN}"
        if isinstance(exc, SegmindError) and not isinstance(exc, Cancelled) and len(made) == len(bodies):
            both = "both segments are" if len(made) == 2 else f"all {len(made)} segments are" if len(made) > 1 \
                else "the segment is"
            _add_hint(exc, f"(The join failed after every segment was made: {both} saved and cached, so the same "
                           f"Extend run again joins them without paying again: {again}.)")
        elif isinstance(exc, SegmindError) and made and len(made) < len(bodies):
            done = len(made)
            _add_hint(exc, f"(Extend stopped at segment {done + 1} of {len(bodies)}: segment"
                           f"{'s 1-' if done > 1 else ' '}{done} {'are' if done > 1 else 'is'} saved and "
                           f"cached, so the same Extend run again resumes at segment {done + 1} without paying "
                           f"for {'them' if done > 1 else 'it'} again: {again}.)")
        raise
    result = ExtendResult(joined, made)
    _tag(result, m, bodies, source)
    return result


def _tag(result: ExtendResult, model: Model, bodies: Sequence[dict[str, Any]], source: str | os.PathLike) -> None:
    """The joined clip's provenance: what continued which clip, and each segment's job (never
    raises: the clip is what was paid for)."""
    segments = [{"request_id": s.info.request_id, "cost": s.info.cost, "from_cache": s.from_cache,
                 "fields": dict(b), "clip": s.path.name} for s, b in zip(result.segments, bodies)]
    _write_tag(result.joined, model, bodies, source, result.cost, segments)


def _write_tag(joined: JoinedClip, model: Model, bodies: Sequence[dict[str, Any]], source: str | os.PathLike,
               cost: float | None, segments: list[dict[str, Any]], **extra: Any) -> None:
    from .provenance import provenance_meta, write_provenance

    write_provenance(joined.path, provenance_meta(
        "extend", {"model": model.path, "prompts": [b.get("prompt") for b in bodies]}, request_id=None,
        cost=cost, source=Path(source).name, segments=segments, seams=list(joined.seams), **extra))


def run_extend_offline(source: SourceClip, model: str | Model, bodies: Sequence[dict[str, Any]],
                       dest: str | os.PathLike, *, output_dir: str | os.PathLike,
                       cancel_check: Callable[[], bool] | None = None,
                       progress: Callable[[int, int], None] | None = None) -> JoinedClip:
    """The free offline Extend (core/offline_edits.py: stand-in segments of the model's length,
    chained and joined as the paid ones are), its segments beside the paid clips, the joined
    clip tagged with its provenance like a paid Extend's, marked free."""
    from .clip_saving import OUTPUT_SUBFOLDER
    from .offline_edits import extend_offline

    m = extend_model(model)
    joined, paths = extend_offline(source.path, [str(b["prompt"]) for b in bodies], dest,
                                   Path(output_dir) / OUTPUT_SUBFOLDER,
                                   num_frames=offline_frames(m, bodies[0], source),
                                   cancel_check=cancel_check, progress=progress)
    segments = [{"request_id": None, "cost": 0.0, "from_cache": False, "fields": dict(b), "clip": p.name}
                for p, b in zip(paths, bodies)]
    _write_tag(joined, m, bodies, source.path, 0.0, segments, api_mode="offline preview")
    return joined


def offline_frames(model: str | Model, body: dict[str, Any], source: SourceClip) -> int:
    """How many frames an offline stand-in segment has: what the model would make, at the
    clip's rate (19B: num_frames; Pro: duration seconds)."""
    m = extend_model(model)
    if m.grid is not None:
        return int(body["num_frames"])
    return max(2, int(math.ceil(float(body["duration"]) * float(source.fps))))
