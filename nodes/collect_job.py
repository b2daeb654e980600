"""Segmind LTX-2 Collect Job: a request id in (typed, or picked from the recorded jobs),
the same outputs as the generation nodes out, never paying: from the result cache
forever, else from Segmind within its hour (core.collect)."""
from __future__ import annotations

from typing import Any
from .words import in_node_words, speaks_node_words

NONE = "(type a request id above)"
# The generation nodes' outputs (nodes/common.py), repeated so this node's face does not
# move when that module changes.
RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
RETURN_NAMES = ("frames", "audio", "fps", "frame_count", "video")


def _recorded_choices(limit: int = 100) -> list[str]:
    """NONE, then the collectable recorded jobs, newest first; never fails (the node list
    must load even when the user folder is in poor shape)."""
    try:
        from .. import comfy_host
        from ..core.collect import job_label, recorded_jobs

        jobs = recorded_jobs(comfy_host.user_directory(), comfy_host.output_directory(), limit=limit)
        return [NONE] + [job_label(j) for j in jobs if j.request_id and j.collectable]
    except Exception:
        return [NONE]


class _Reporter:
    """Client events and decode progress as status text and a bar on this node (the shape
    nodes.common.clip_outputs expects: .progress, .decode_progress, callable)."""

    def __init__(self, node_id: str | None) -> None:
        from ..comfy_host import NodeProgress

        self.progress = NodeProgress(node_id)

    def __call__(self, kind: str, data: dict) -> None:
        from ..core.status_text import describe

        if kind == "cache_hit":
            self.progress.text("Collecting the recorded clip from the result cache (not billed)")
            return
        line = describe(kind, data)
        if line:
            self.progress.text(line)
        if kind == "downloading" and data.get("total"):
            self.progress.bar(900 * data["done"] / data["total"])

    def decode_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.bar(900 + 100 * done / total)
        if done >= total or done % 16 == 0:
            self.__call__("decoding", {"done": done, "total": total})


class SegmindLTX2CollectJob:
    DISPLAY_NAME = "Segmind LTX-2 Collect Job"
    CATEGORY = "Segmind/LTX-2"
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    FUNCTION = "collect"
    OUTPUT_NODE = True  # shows the clip's preview like the generation nodes
    DESCRIPTION = ("Gets back the clip of a Segmind LTX-2 job by its request id, without paying: from the "
                   "result cache at any time, or from Segmind within the hour it keeps a job's result. "
                   "Never submits a new job.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "request_id": ("STRING", {"default": "", "tooltip":
                               "The Segmind request id of a job (the jobs panel and each node's summary show it). "
                               "Leave empty to use the recorded job picked below."}),
            },
            "optional": {
                "recorded_job": (_recorded_choices(), {"default": NONE, "tooltip":
                                 "A job recorded on this machine that can still be collected. Used when "
                                 "request_id is empty."}),
                "timeout_seconds": ("INT", {"default": 900, "min": 10, "max": 3600, "step": 10, "tooltip":
                                    "How long to wait when the job is still running on Segmind."}),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    @classmethod
    def VALIDATE_INPUTS(cls, recorded_job: Any = None) -> bool:
        # Named here so ComfyUI skips its "value not in list" check: a workflow saved with a
        # job that has since left the list must still load and queue; the run checks the id.
        return True

    @speaks_node_words
    async def collect(self, request_id: str = "", recorded_job: str = NONE, timeout_seconds: int = 900,
                      unique_id: str | None = None) -> dict:
        import threading

        from .common import off_loop

        # Everything blocking (cache, network, decode) off ComfyUI's event loop, on a thread
        # that stops when ComfyUI cancels this node (as the generation nodes' clips do).
        cancel = threading.Event()
        return await off_loop(lambda: self._collect(request_id, recorded_job, timeout_seconds, unique_id,
                                                      cancel), cancel)

    def _collect(self, request_id: str, recorded_job: str, timeout_seconds: int, unique_id: str | None,
                 cancel: Any = None) -> dict:
        from .. import comfy_host
        from ..core.collect import API_MODE, collect_clip, validate_request_id
        from ..core.errors import Cancelled
        from .common import clip_outputs

        typed = request_id.strip() if isinstance(request_id, str) else ""
        picked = recorded_job if isinstance(recorded_job, str) and recorded_job != NONE else ""
        rid = validate_request_id(typed or picked)
        reporter = _Reporter(unique_id)
        reporter.progress.text(f"Collecting job {rid} (not billed)...")
        try:
            def cancelled() -> bool:
                return (cancel is not None and cancel.is_set()) or comfy_host.is_interrupted()

            clip = collect_clip(rid, user_dir=comfy_host.user_directory(), output_dir=comfy_host.output_directory(),
                                cancel_check=cancelled, on_event=reporter, timeout=float(timeout_seconds))
            return clip_outputs(clip, {}, reporter, api_mode=API_MODE, cancel_check=cancelled)
        except Cancelled as exc:
            comfy_host.raise_interrupted(in_node_words(exc))
            raise
