"""Segmind LTX-2 Retake: a VIDEO from any node + a section (start_time, duration) + a prompt +
a mode -> the clip with that section made again by `ltx-retake-video`, with the same outputs
as Image to Video. Every check that can refuse runs before anything is paid or uploaded
(core/retake_job.py); the paid job is the pack's one lifecycle (core/lifecycle.py) with the
clip as its input; the offline backend is the free stand-in (the section tinted, its tone
swapped)."""
from __future__ import annotations

from typing import Any, Callable

from ..core.models import LTX_RETAKE
from .common import (NOT_SENT, SegmindVideoNode, _NodeStatus, _Reporter, _Reservations, _note_estimates,
                     _release_all, _reserve, _segmind_clip, cancel_signal, chosen_backend, clip_outputs, field_widget,
                     off_loop, optional_widgets)
from .words import in_node_words, speaks_node_words

FIELDS = ("start_time", "duration", "prompt", "mode")


class SegmindLTX2Retake(SegmindVideoNode):
    DESCRIPTION = ("Makes one section of a clip again with Segmind's LTX-2 Retake: its picture, its sound or "
                   "both, from start_time for duration seconds (at least 2), following the prompt; the rest of "
                   "the clip is kept, and the clip comes back at its own length, size and rate. The clip needs "
                   "at least 73 frames and is sent as an MP4 of at most 20 MB once encoded (checked before "
                   "paying). About $0.791 a retake (Segmind's quote; one price per retake is unconfirmed). "
                   "Needs a Segmind API key, except with the free 'offline preview' backend, which tints the "
                   "section and swaps its tone locally.")
    MODEL = LTX_RETAKE

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        optional = optional_widgets(with_image=False)
        kind, opts = optional["backend"]
        optional["backend"] = (kind, {**opts, "tooltip": "segmind: the real retake (paid, needs a key). offline "
                                                         "preview: a free local stand-in (the section tinted "
                                                         "magenta, its sound a higher tone) to wire and test a "
                                                         "graph."})
        return {
            "required": {
                "video": ("VIDEO", {"tooltip": "The clip to edit: a VIDEO from any node (Load Video, a Segmind "
                                               "node, Create Video); an MP4 of at least 73 frames."}),
                **{name: field_widget(cls.MODEL.field(name)) for name in FIELDS},
            },
            "optional": optional,
            "hidden": {"unique_id": "UNIQUE_ID", "prompt_graph": "PROMPT"},
        }

    @speaks_node_words
    async def generate(self, video: Any = None, unique_id: str | None = None, prompt_graph: Any = None,
                       **values: Any) -> dict:
        fields = {k: values.pop(k) for k in FIELDS if k in values and values[k] != NOT_SENT}
        options = {**(values.pop("options", None) or {}), **values}
        return await run_retake(video=video, fields=fields, options=options, node_id=unique_id,
                                prompt_graph=prompt_graph)


def _plan(video: Any, fields: dict, work: Callable[[str, Any], Any]) -> Any:
    """Inside the VIDEO's file (a temporary one for a clip held in memory): checks, then `work`."""
    from ..core.errors import InvalidInputError
    from ..core.retake_job import plan_retake
    from .decode_video import _video_file

    if video is None:
        raise InvalidInputError("Connect a VIDEO to 'video': the clip to retake (Load Video, or a Segmind node's "
                                "video output).")
    with _video_file(video, "") as path:
        plan = plan_retake(path, **fields)
        return work(path, plan)


async def run_retake(*, video: Any, fields: dict, options: dict, node_id: str | None,
                     prompt_graph: Any = None) -> dict:
    """The node's run: the checks, then the paid job or the offline stand-in, then the decode of
    what the graph consumes. ComfyUI's {"ui", "result"} with one-entry lists (as the other
    generation nodes)."""
    from .. import comfy_host
    from ..core.errors import Cancelled
    from ..core.offline_preview import BACKENDS

    backend = chosen_backend(options)
    consumed = comfy_host.consumed_outputs(prompt_graph, node_id)
    run_id = comfy_host.current_prompt_id()
    cancel, cancelled = cancel_signal()

    status = _NodeStatus(node_id, 1)
    reporter = _Reporter(status, 0)
    try:
        if backend == BACKENDS[1]:
            clip = await off_loop(lambda: _plan(video, fields, lambda path, plan: _offline(
                path, plan, reporter, cancelled)), cancel)
            api_mode = BACKENDS[1]
        else:
            req = await off_loop(lambda: _plan(video, fields, lambda _, plan: _request(plan, options)), cancel)
            await off_loop(lambda: _note_estimates([req], [reporter]), cancel)
            reserved = _Reservations(await off_loop(lambda: _reserve([req], options, run_id, cancelled), cancel,
                                                    orphaned=_release_all), run_id)
            try:
                clip = await off_loop(lambda: _segmind_clip(req, reserved, 0, options, reporter, node_id, run_id,
                                                            cancelled), cancel)
            finally:
                reserved.release_untaken()
            api_mode = options.get("api_mode") or "async (v2)"
        out = await off_loop(lambda: clip_outputs(clip, options, reporter, api_mode=api_mode, consumed=consumed,
                                                  cancel_check=cancelled), cancel)
    except Cancelled as exc:
        comfy_host.raise_interrupted(in_node_words(exc))
        raise
    return {"ui": out["ui"], "result": tuple([value] for value in out["result"])}


def _request(plan: Any, options: dict) -> Any:
    from ..core.retake_job import retake_request

    return retake_request(plan, api_mode=options.get("api_mode"), timeout=float(options.get("timeout_seconds", 900)))


def _offline(path: str, plan: Any, reporter: _Reporter, cancelled: Callable[[], bool]) -> Any:
    from .. import comfy_host
    from ..core.retake_job import retake_offline_clip

    reporter.status.update(reporter.index, "Rendering the offline retake (free, nothing is sent)...", None)
    return retake_offline_clip(path, plan, comfy_host.output_directory(), cancel_check=cancelled,
                               progress=lambda done, total: reporter.status.update(reporter.index, None,
                                                                                   900 * done / max(total, 1)))
