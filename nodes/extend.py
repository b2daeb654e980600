"""Segmind LTX-2 Extend: a VIDEO continued from its last frame, one segment per line of the
prompts, with LTX-2 19B Image to Video or LTX-2 Pro, joined into one clip whose frames and
sound run on across the seams. Each segment is a paid job of its own (core/extend_jobs.py):
cached, journaled, booked and resumable; the whole Extend is counted against the spend
limits and the credits at once, before any upload. Same outputs as Image to Video, one clip."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..core.extend_jobs import EXTEND_MODELS, extend_fields
from ..core.models import LTX2_19B_I2V
from .common import CATEGORY, NOT_SENT, RETURN_NAMES, RETURN_TYPES, consumed_key, field_widget, optional_widgets
from .words import in_node_words, speaks_node_words

MODEL_CHOICES = tuple(m.path for m in EXTEND_MODELS)
_BAR_SEGMENTS, _BAR_JOIN = 800, 900  # of 1000: the segments, then the join, then the decode


def _widgets() -> tuple[dict[str, tuple], dict[str, tuple]]:
    """Every model's per-segment fields, once each, its tooltip naming the model it is for;
    (always sent, sent only when set)."""
    required: dict[str, tuple] = {}
    optional: dict[str, tuple] = {}
    for m in EXTEND_MODELS:
        short = "LTX-2 19B" if m is LTX2_19B_I2V else "LTX-2 Pro"
        for f in extend_fields(m):
            kind, opts = field_widget(f)
            opts = {**opts, "tooltip": f"{short} only. {opts.get('tooltip', '')}".strip()}
            (optional if f.optional else required).setdefault(f.name, (kind, opts))
    return required, optional


class _SegmentStatus:
    """Client events of segment k -> the node's text ('Segment 2/3: Processing...') and bar."""

    def __init__(self, node_id: str | None, count: int) -> None:
        from ..comfy_host import NodeProgress

        self.progress = NodeProgress(node_id)
        self.count = count
        self._lock = threading.Lock()

    def __call__(self, index: int, kind: str, data: dict) -> None:
        from ..core.params import DEFAULT_RUNTIME_SECONDS
        from ..core.status_text import describe

        line = describe(kind, data)
        done = 0.0  # of this segment: the wait, then the download
        if kind == "status":
            expected = float(data.get("expected") or DEFAULT_RUNTIME_SECONDS)
            done = 0.9 * min(1.0, float(data.get("elapsed") or 0) / (expected * 1.3))
        elif kind == "downloading" and data.get("total"):
            done = 0.9 + 0.1 * data.get("done", 0) / data["total"]
        elif kind == "cache_hit":
            done = 1.0
        with self._lock:
            if line:
                self.progress.text(f"Segment {index + 1}/{self.count}: {line}")
            self.progress.bar(_BAR_SEGMENTS * (index + done) / self.count)

    def say(self, line: str, frac: float | None = None) -> None:
        self.progress.text(line)
        if frac is not None:
            self.progress.bar(frac)

    def decode_progress(self, done: int, total: int) -> None:
        self.progress.bar(_BAR_JOIN + (1000 - _BAR_JOIN) * done / max(total, 1))

    @property
    def status(self) -> None:  # nodes.common._say reads .progress when there is no _NodeStatus
        return None


class SegmindLTX2Extend:
    DISPLAY_NAME = "Segmind LTX-2 Extend"
    CATEGORY = CATEGORY
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    FUNCTION = "extend"
    OUTPUT_NODE = True  # shows the extended clip on the node, so it runs with nothing downstream
    DESCRIPTION = ("Continues a clip from its last frame, one segment per line of 'prompts', with LTX-2 19B "
                   "(the clip's size and rate) or LTX-2 Pro (1080p and up), joined into one clip with sound "
                   "that runs on across the seams (no repeated frame, a 30 ms crossfade). Each segment is a paid "
                   "Segmind job, estimated, cached and resumable: queueing again after a failure pays only for "
                   "the segments not made yet. The free 'offline preview' backend chains local stand-in clips.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        required, optional = _widgets()
        return {
            "required": {
                "video": ("VIDEO", {"tooltip": "The clip to continue (from Load Video or any node making a VIDEO)."}),
                "prompts": ("STRING", {"multiline": True, "default": "",
                                       "tooltip": "One prompt per line: each line is one segment, made from the "
                                                  "previous segment's last frame (each billed)."}),
                "model": (list(MODEL_CHOICES), {"default": MODEL_CHOICES[0],
                          "tooltip": "ltx-2-19b-i2v: LTX-2 19B, at the clip's size and rate. ltx-2-pro: LTX-2 Pro at "
                                     "its resolution, fitted to the clip's size."}),
                **required,
            },
            "optional": {**optional, **optional_widgets(with_image=False)},
            "hidden": {"unique_id": "UNIQUE_ID", "prompt_graph": "PROMPT"},
        }

    @classmethod
    def IS_CHANGED(cls, unique_id: str | None = None, **_: Any) -> Any:
        return consumed_key(unique_id)

    @speaks_node_words
    async def extend(self, video: Any, prompts: str, model: str, unique_id: str | None = None,
                     prompt_graph: Any = None, **values: Any) -> dict:
        from .. import comfy_host
        from ..core.errors import Cancelled
        from ..core.offline_preview import BACKENDS
        from .common import cancel_signal, chosen_backend, off_loop
        from .decode_video import _video_file

        options = {**(values.pop("options", None) or {}), **values}
        backend = chosen_backend(options)
        fields = {k: v for k, v in values.items() if v != NOT_SENT}
        cancel, cancelled = cancel_signal()

        try:
            with _video_file(video, "") as source:
                run = _Run(Path(source), model, prompts, fields, options, unique_id, cancelled)
                await off_loop(run.prepare, cancel)
                if backend == BACKENDS[1]:
                    await off_loop(run.offline, cancel)
                else:
                    await off_loop(run.reserve, cancel, orphaned=_release)
                    await off_loop(run.paid, cancel)
                out = await off_loop(lambda: run.outputs(prompt_graph, backend), cancel)
        except Cancelled as exc:
            comfy_host.raise_interrupted(in_node_words(exc))
            raise
        return out


def _release(handles: Any) -> None:
    """Reservations made for a run that stopped waiting for them (nothing was sent)."""
    from .. import comfy_host
    from ..core.spend_check import release

    for handle in handles or ():
        release(comfy_host.user_directory(), handle)


class _Run:
    """One Extend run's steps, each on a thread of its own (see nodes.common.off_loop)."""

    def __init__(self, source: Path, model: str, prompts: str, fields: dict, options: dict,
                 node_id: str | None, cancelled: Any) -> None:
        self.source_path, self.model, self.text = source, model, prompts
        self.fields, self.options, self.node_id, self.cancelled = fields, options, node_id, cancelled
        self.handles: list[Any] | None = None
        self.result: Any = None
        self.plan: Any = None

    def prepare(self) -> None:
        from .. import comfy_host
        from ..core.extend_chain import segment_prompts
        from ..core.clip_saving import made_clip_path
        from ..core.extend_jobs import SourceClip, segment_bodies

        self.prompts = segment_prompts(self.text)
        self.source = SourceClip.read(self.source_path)
        self.bodies = segment_bodies(self.model, self.fields, self.prompts, self.source)
        self.dest = made_clip_path(comfy_host.output_directory(), "extended")
        self.run_id = comfy_host.current_prompt_id()
        self.status = _SegmentStatus(self.node_id, len(self.bodies))

    def offline(self) -> None:
        from .. import comfy_host
        from ..core.extend_jobs import run_extend_offline

        self.status.say(f"Rendering {len(self.bodies)} offline segments (free, nothing is sent)...")
        self.joined = run_extend_offline(
            self.source, self.model, self.bodies, self.dest, output_dir=comfy_host.output_directory(),
            cancel_check=self.cancelled,
            progress=lambda done, total: self.status.say(f"Joining {done}/{total} frames", _BAR_JOIN * done / total))
        self.cost, self.from_cache, self.request_ids = 0.0, False, []

    def reserve(self) -> list[Any]:
        from .. import comfy_host
        from ..core.client import ClientConfig
        from ..core.extend_jobs import plan_extend, reserve_extend
        from ..core.lifecycle import Session

        user = comfy_host.user_directory()
        config = ClientConfig.from_env()
        self.plan = plan_extend(self.source_path, self.model, self.bodies, user_dir=user, api_base=config.api_base,
                                force_rerun=bool(self.options.get("force_rerun", False)),
                                upload_format=self.options.get("upload_format", "png"))
        client = (Session.open(user, config).client(cancel_check=self.cancelled) if self.plan.paying else None)
        self.status.say(self.plan.describe())
        self.handles = reserve_extend(self.plan, user_dir=user, run_id=self.run_id, client=client,
                                      output_dir=comfy_host.output_directory())
        return self.handles

    def paid(self) -> None:
        from .. import comfy_host
        from ..core.extend_jobs import run_extend
        from ..core.lifecycle import API_MODES

        result = run_extend(
            self.source_path, self.model, self.bodies, self.dest, user_dir=comfy_host.user_directory(),
            output_dir=comfy_host.output_directory(), reserved=self.handles, run_id=self.run_id,
            api_mode=self.options.get("api_mode", API_MODES[0]), timeout=float(self.options.get("timeout_seconds", 900)),
            upload_format=self.options.get("upload_format", "png"),
            force_rerun=bool(self.options.get("force_rerun", False)), cancel_check=self.cancelled,
            on_event=self.status, node_id=self.node_id,
            progress=lambda done, total: self.status.say(f"Joining {done}/{total} frames",
                                                         _BAR_SEGMENTS + (_BAR_JOIN - _BAR_SEGMENTS) * done / total))
        self.joined, self.cost, self.from_cache = result.joined, result.cost, result.from_cache
        self.request_ids = [s.info.request_id for s in result.segments]

    def outputs(self, prompt_graph: Any, backend: str) -> dict:
        from .. import comfy_host
        from ..core.client import RunInfo
        from ..core.lifecycle import ClipResult
        from .common import clip_outputs

        consumed = comfy_host.consumed_outputs(prompt_graph, self.node_id)
        clip = ClipResult(path=self.joined.path, info=RunInfo(cost=self.cost), from_cache=self.from_cache)
        out = clip_outputs(clip, self.options, self.status, api_mode=backend, consumed=consumed,
                           cancel_check=self.cancelled)
        summary = out["ui"]["segmind"][0]
        summary.update(segments=len(self.bodies), model=self.model, request_ids=self.request_ids,
                       seams=list(self.joined.seams))
        if self.plan is not None:
            summary.update(estimate=self.plan.total, estimate_basis=self.plan.basis(),
                           paid_segments=len(self.plan.paying))
        done = (f"Done: {len(self.bodies)} segments joined, {self.joined.frame_count} frames "
                f"{self.joined.width}x{self.joined.height} @ {float(self.joined.fps):g} fps")
        if self.cost is not None and not self.from_cache:
            done += f", cost ${self.cost:.3f}"
        elif self.from_cache:
            done += ", every segment from the result cache (not billed)"
        self.status.say(done, 1000)
        return {"ui": out["ui"], "result": out["result"]}
