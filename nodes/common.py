"""What the Segmind nodes share: widget definitions built from core.params, and one
run (host callbacks -> core pipeline -> decode -> ComfyUI outputs and UI)."""
from __future__ import annotations

from typing import Any

from ..core.params import DEFAULT_NEGATIVE_PROMPT, NumberField

CATEGORY = "Segmind/LTX-2"
RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
RETURN_NAMES = ("frames", "audio", "fps", "frame_count", "video")

# Progress-bar budget (of 1000): the wait dominates, decode is the tail.
_BAR_UPLOAD, _BAR_WAIT_END, _BAR_DOWNLOAD_END = 30, 850, 900


def number_widget(f: NumberField, **extra: Any) -> tuple:
    if f.integer:
        opts: dict[str, Any] = {"default": int(f.default), "min": int(f.minimum), "max": int(f.maximum), "step": 1}
    else:
        opts = {"default": float(f.default), "min": float(f.minimum), "max": float(f.maximum), "step": 0.1, "round": 0.01}
    opts.update(extra)
    return ("INT" if f.integer else "FLOAT", opts)


def prompt_widgets(negative_default: str = DEFAULT_NEGATIVE_PROMPT) -> dict[str, tuple]:
    return {
        "prompt": ("STRING", {"multiline": True, "default": "",
                              "tooltip": "Describe the video scene, motion and any spoken words or sounds."}),
        "negative_prompt": ("STRING", {"multiline": True, "default": negative_default,
                                       "tooltip": "What to avoid in the video."}),
    }


def number_widgets(fields: tuple[NumberField, ...]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for f in fields:
        if f.name == "seed":
            # The front end validates this flag as a boolean and defaults the control to
            # "randomize"; web/ switches new nodes to "fixed" so a re-queue never bills again.
            out[f.name] = number_widget(f, control_after_generate=True)
        else:
            out[f.name] = number_widget(f)
    return out


def optional_widgets(with_image: bool) -> dict[str, tuple]:
    from ..core.offline_preview import BACKENDS
    from ..core.pipeline import API_MODES

    opts: dict[str, tuple] = {
        "force_rerun": ("BOOLEAN", {"default": False,
                        "tooltip": "Run on Segmind again (billed) even though this exact request already has a "
                                   "cached clip. Off: an identical request reuses its clip for free."}),
        "backend": (list(BACKENDS), {"default": BACKENDS[0],
                    "tooltip": "segmind: the real LTX-2 clip (paid, needs a key). offline preview: a free local "
                               "stand-in (the picture slowly zooms, a soft tone plays) to wire and test a graph."}),
        "api_mode": (list(API_MODES), {"default": API_MODES[0],
                     "tooltip": "async (v2): submit, then poll (recommended for a 2-minute job). sync (v1): one long request."}),
        "timeout_seconds": ("INT", {"default": 900, "min": 60, "max": 3600, "step": 30,
                            "tooltip": "How long to wait for Segmind before giving up (the job keeps running there)."}),
    }
    if with_image:
        from ..core.image_encode import UPLOAD_FORMATS

        opts["batch_index"] = ("INT", {"default": 0, "min": 0, "max": 4095,
                               "tooltip": "Which picture of an image batch to animate (LTX-2 animates one)."})
        opts["upload_format"] = (list(UPLOAD_FORMATS), {"default": UPLOAD_FORMATS[0],
                                 "tooltip": "png: lossless first frame. jpeg: smaller upload."})
    opts.update({
        "frame_load_cap": ("INT", {"default": 0, "min": 0, "max": 400, "tooltip": "Keep at most this many frames (0 = all)."}),
        "skip_first_frames": ("INT", {"default": 0, "min": 0, "max": 400}),
        "select_every_nth": ("INT", {"default": 1, "min": 1, "max": 400}),
        "custom_width": ("INT", {"default": 0, "min": 0, "max": 8192, "tooltip": "Resize the decoded frames (0 = keep)."}),
        "custom_height": ("INT", {"default": 0, "min": 0, "max": 8192, "tooltip": "Resize the decoded frames (0 = keep)."}),
    })
    return opts


DECODE_OPTIONS = ("frame_load_cap", "skip_first_frames", "select_every_nth", "custom_width", "custom_height")


class _Reporter:
    """Turns client events into progress text and a moving bar on the node."""

    def __init__(self, node_id: str | None) -> None:
        from ..comfy_host import NodeProgress

        self.progress = NodeProgress(node_id)
        self._last_decode_text = 0.0

    def __call__(self, kind: str, data: dict) -> None:
        from ..core.params import DEFAULT_RUNTIME_SECONDS
        from ..core.status_text import describe

        line = describe(kind, data)
        if line:
            self.progress.text(line)
        if kind == "uploading":
            self.progress.bar(_BAR_UPLOAD // 2)
        elif kind == "status":
            expected = float(data.get("expected") or DEFAULT_RUNTIME_SECONDS)
            frac = min(1.0, float(data.get("elapsed") or 0) / (expected * 1.3))
            self.progress.bar(_BAR_UPLOAD + frac * (_BAR_WAIT_END - _BAR_UPLOAD))
        elif kind == "downloading" and data.get("total"):
            frac = data["done"] / data["total"]
            self.progress.bar(_BAR_WAIT_END + frac * (_BAR_DOWNLOAD_END - _BAR_WAIT_END))

    def decode_progress(self, done: int, total: int) -> None:
        import time

        # One websocket message per frame would be 181+ messages: a few a second is enough.
        now = time.monotonic()
        if done >= total or now - self._last_decode_text >= 0.25:
            self._last_decode_text = now
            self.__call__("decoding", {"done": done, "total": total})
        if total:
            self.progress.bar(_BAR_DOWNLOAD_END + (1000 - _BAR_DOWNLOAD_END) * done / total)


def run_generation(*, model: str, body: dict, image: Any, options: dict, node_id: str | None) -> dict:
    """The whole node run. Returns ComfyUI's {"ui": ..., "result": ...}."""
    from .. import comfy_host
    from ..core.errors import Cancelled
    from ..core.image_encode import encode_image, to_uint8_rgb
    from ..core.pipeline import API_MODES, GenerationRequest, run_on_segmind

    reporter = _Reporter(node_id)
    try:
        encoded = None
        rgb8 = to_uint8_rgb(image, int(options.get("batch_index", 0))) if image is not None else None
        if _offline_backend(options):
            return _offline_run(model, body, rgb8, options, reporter)
        if rgb8 is not None:
            encoded = encode_image(rgb8, options.get("upload_format", "png"))
        req = GenerationRequest(model=model, body=body, image=encoded,
                                api_mode=options.get("api_mode", API_MODES[0]),
                                timeout=float(options.get("timeout_seconds", 900)))
        clip = run_on_segmind(req, user_dir=comfy_host.user_directory(),
                              output_dir=comfy_host.output_directory(),
                              cancel_check=comfy_host.is_interrupted, on_event=reporter,
                              force_rerun=bool(options.get("force_rerun", False)))
        reporter.progress.text("Decoding...")
        return clip_outputs(clip, options, reporter, api_mode=req.api_mode)
    except Cancelled as exc:
        comfy_host.raise_interrupted(exc)
        raise


def _offline_backend(options: dict) -> bool:
    from ..core.errors import InvalidInputError
    from ..core.offline_preview import BACKENDS

    backend = options.get("backend", BACKENDS[0])
    if backend not in BACKENDS:
        raise InvalidInputError(f"'backend' is {backend!r}: choose one of {', '.join(BACKENDS)}.")
    return backend == BACKENDS[1]


def _offline_run(model: str, body: dict, rgb8: Any, options: dict, reporter: _Reporter) -> dict:
    """The free local stand-in: no key, nothing sent; the clip lands where a real one would,
    so decoding and the preview are the same as for a Segmind clip."""
    from .. import comfy_host
    from ..core.offline_preview import BACKENDS, generate_offline_clip

    reporter.progress.text("Rendering the offline preview (free, nothing is sent)...")

    def rendered(done: int, total: int) -> None:
        reporter.progress.bar(_BAR_DOWNLOAD_END * done / total)

    clip = generate_offline_clip(model, body, rgb8, comfy_host.output_directory(),
                                 cancel_check=comfy_host.is_interrupted, progress=rendered)
    return clip_outputs(clip, options, reporter, api_mode=BACKENDS[1])


def clip_outputs(clip: Any, options: dict, reporter: _Reporter, api_mode: str) -> dict:
    """Decode a clip already on disk into the node's outputs plus its in-node preview."""
    from .. import comfy_host
    from ..core.pipeline import OUTPUT_SUBFOLDER
    from ..core.video_decode import decode_video

    decoded = decode_video(clip.path, cancel_check=comfy_host.is_interrupted,
                           progress=reporter.decode_progress,
                           **{k: int(options.get(k, 0 if k != "select_every_nth" else 1)) for k in DECODE_OPTIONS})
    info = clip.info
    summary = {
        "cost": info.cost, "remaining_credits": info.remaining_credits, "request_id": info.request_id,
        "from_cache": bool(getattr(clip, "from_cache", False)),
        "width": decoded.width, "height": decoded.height, "frame_count": decoded.frame_count,
        "fps": decoded.fps, "api_mode": api_mode,
    }
    done = f"Done: {decoded.frame_count} frames {decoded.width}x{decoded.height} @ {decoded.fps:g} fps"
    if getattr(clip, "from_cache", False):
        done += ", from the result cache (not billed)"
    elif info.cost is not None:
        done += f", cost ${info.cost:.3f}"
    reporter.progress.text(done)
    reporter.progress.bar(1000)
    preview = {"filename": clip.path.name, "subfolder": OUTPUT_SUBFOLDER, "type": "output", "format": "video/mp4"}
    return {
        "ui": {"images": [preview], "animated": [True], "segmind": [summary]},
        "result": (decoded.frames, decoded.audio, float(decoded.fps), int(decoded.frame_count),
                   comfy_host.video_from_file(clip.path)),
    }


class SegmindVideoNode:
    """What the Image and Text to Video nodes share; a subclass names its model and fields."""

    MODEL: str
    NUMBERS: tuple[NumberField, ...]
    WITH_IMAGE: bool
    CATEGORY = CATEGORY
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    FUNCTION = "generate"
    OUTPUT_NODE = True  # shows its own video preview, so it runs even with nothing downstream

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        image = {"image": ("IMAGE", {"tooltip": "The first frame to animate."})} if cls.WITH_IMAGE else {}
        return {
            "required": {**image, **prompt_widgets(), **number_widgets(cls.NUMBERS)},
            "optional": optional_widgets(with_image=cls.WITH_IMAGE),
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def generate(self, prompt: str, negative_prompt: str, image: Any = None,
                 unique_id: str | None = None, **values: Any) -> dict:
        from ..core.params import build_body

        body = build_body(self.NUMBERS, prompt, negative_prompt, values)
        return run_generation(model=self.MODEL, body=body, image=image, options=values, node_id=unique_id)
