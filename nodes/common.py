"""What the Segmind nodes share: inputs built from a model's descriptor (core/models.py), and one run
(pictures -> one clip each, in flight together -> decode what the graph uses -> ComfyUI
outputs and UI).

The run function is a coroutine: ComfyUI (0.3.64 and later) awaits it and meanwhile runs
other nodes, so independent Segmind nodes wait for Segmind at the same time. Everything
that blocks (encoding, HTTP, waiting, decoding) runs on a thread of its own."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from ..core.models import BOOL, CHOICE, MEDIA, TEXT, Field, Model
from .words import in_node_words, speaks_node_words

log = logging.getLogger(__name__)

CATEGORY = "Segmind/LTX-2"
RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT", "INT", "VIDEO")
RETURN_NAMES = ("frames", "audio", "fps", "frame_count", "video")
OPTIONS_TYPE = "SEGMIND_LTX2_OPTIONS"
BATCH_MODES = ("one picture", "every picture")
FIT_MODES = ("crop to width x height", "match the picture's aspect")
FRAMES_SLOT, AUDIO_SLOT = 0, 1

# Progress-bar budget (of 1000): the wait dominates, decode is the tail.
_BAR_UPLOAD, _BAR_WAIT_END, _BAR_DOWNLOAD_END = 30, 850, 900


_COMFY_TYPES = {"image": "IMAGE", "video": "VIDEO"}  # a media field's kind -> the node input it takes
# An optional field's widget always holds a value: this one means "leave it out of the body".
NOT_SENT = "not sent"


def field_widget(f: Field) -> tuple:
    """A descriptor field as ComfyUI's input spec: a widget, or the socket of a media input."""
    opts: dict[str, Any]
    if f.kind == MEDIA:
        opts = {}
        kind: Any = _COMFY_TYPES[str(f.media)]
    elif f.kind == TEXT:
        kind, opts = "STRING", {"multiline": f.multiline, "default": f.default or ""}
    elif f.kind == CHOICE and f.optional:
        kind, opts = [NOT_SENT, *f.choices], {"default": NOT_SENT}
    elif f.kind == CHOICE:
        kind, opts = list(f.choices), {"default": f.default}
    elif f.kind == BOOL:
        kind, opts = "BOOLEAN", {"default": bool(f.default)}
    elif f.integer:
        kind, opts = "INT", {"default": int(f.default), "min": int(f.minimum), "max": int(f.maximum), "step": 1}
    else:
        kind, opts = "FLOAT", {"default": float(f.default), "min": float(f.minimum), "max": float(f.maximum),
                               "step": 0.1, "round": 0.01}
    if f.seed:
        # The front end validates this flag as a boolean and defaults the control to
        # "randomize"; web/ switches new nodes to "fixed" so a re-queue never bills again.
        opts["control_after_generate"] = True
    if f.tooltip:
        opts["tooltip"] = f.tooltip
    return (kind, opts)


def model_widgets(model: Model, optional: bool = False) -> dict[str, tuple]:
    """The model's fields, in its order: those always sent (the node's required inputs), or
    with `optional` those sent only when set."""
    return {f.name: field_widget(f) for f in model.fields if f.optional == optional}


def optional_widgets(with_image: bool, with_fit: bool = True) -> dict[str, tuple]:
    """The node's face: what most users change. Rarely touched settings (API mode, time
    limit, upload format) come from an optional Segmind LTX-2 Options node, which travels
    with the workflow; decode options belong to the Decode Video node."""
    from ..core.offline_preview import BACKENDS

    opts: dict[str, tuple] = {
        "force_rerun": ("BOOLEAN", {"default": False,
                        "tooltip": "Run on Segmind again (billed) even though this exact request already has a "
                                   "cached clip. Off: an identical request reuses its clip for free."}),
        "backend": (list(BACKENDS), {"default": BACKENDS[0],
                    "tooltip": "segmind: the real LTX-2 clip (paid, needs a key). offline preview: a free local "
                               "stand-in (the picture slowly zooms, a soft tone plays) to wire and test a graph."}),
    }
    if with_image:
        opts["batch_mode"] = (list(BATCH_MODES), {"default": BATCH_MODES[0],
                              "tooltip": "one picture: animate the picture at batch_index. every picture: one clip "
                                         "per picture of the batch, all sent at once (each billed); the outputs "
                                         "are lists, one entry per clip."})
        opts["batch_index"] = ("INT", {"default": 0, "min": 0, "max": 4095,
                               "tooltip": "Which picture of an image batch to animate with batch_mode 'one picture'."})
    if with_image and with_fit:  # a model whose size a resolution fixes has no box to fit
        opts["fit"] = (list(FIT_MODES), {"default": FIT_MODES[0],
                       "tooltip": "crop to width x height: the clip has the widgets' size and Segmind crops the "
                                  "picture to it. match the picture's aspect: the clip keeps the picture's shape, "
                                  "as large as fits within width x height."})
    opts["options"] = (OPTIONS_TYPE, {"tooltip": "Optional: a Segmind LTX-2 Options node (API mode, time limit, "
                                                 "upload format)."})
    return opts


def options_widgets() -> dict[str, tuple]:
    from ..core.image_encode import UPLOAD_FORMATS
    from ..core.lifecycle import API_MODES

    return {
        "api_mode": (list(API_MODES), {"default": API_MODES[0],
                     "tooltip": "async (v2): submit, then poll (recommended for a 2-minute job). sync (v1): one long request."}),
        "timeout_seconds": ("INT", {"default": 900, "min": 60, "max": 3600, "step": 30,
                            "tooltip": "How long to wait for Segmind before giving up (the job keeps running there "
                                       "and is collected by the next identical queue)."}),
        "upload_format": (list(UPLOAD_FORMATS), {"default": UPLOAD_FORMATS[0],
                          "tooltip": "png: lossless first frame. jpeg: smaller upload."}),
    }


DECODE_OPTIONS = ("frame_load_cap", "skip_first_frames", "select_every_nth", "custom_width", "custom_height")


class _Reporter:
    """Client events of one clip -> its status line and bar fraction; a node with several
    clips shows them together (see _NodeStatus)."""

    def __init__(self, status: "_NodeStatus", index: int) -> None:
        self.status = status
        self.index = index
        self._last_decode_text = 0.0
        self.estimate: Any = None  # core.learned_estimate.Estimate before the run, for the summary

    def __call__(self, kind: str, data: dict) -> None:
        from ..core.params import DEFAULT_RUNTIME_SECONDS
        from ..core.status_text import describe

        frac = None
        if kind == "uploading":
            frac = _BAR_UPLOAD / 2
        elif kind == "status":
            expected = float(data.get("expected") or DEFAULT_RUNTIME_SECONDS)
            frac = _BAR_UPLOAD + min(1.0, float(data.get("elapsed") or 0) / (expected * 1.3)) * (_BAR_WAIT_END - _BAR_UPLOAD)
        elif kind == "downloading" and data.get("total"):
            frac = _BAR_WAIT_END + data["done"] / data["total"] * (_BAR_DOWNLOAD_END - _BAR_WAIT_END)
        elif kind == "decoding" and data.get("total"):
            frac = _BAR_DOWNLOAD_END + (1000 - _BAR_DOWNLOAD_END) * data.get("done", 0) / data["total"]
        self.status.update(self.index, describe(kind, data), frac)

    def decode_progress(self, done: int, total: int) -> None:
        # One websocket message per frame would be 181+ messages: a few a second is enough.
        now = time.monotonic()
        if done >= total or now - self._last_decode_text >= 0.25:
            self._last_decode_text = now
            self("decoding", {"done": done, "total": total})

    @property
    def progress(self) -> "_NodeStatus":  # the node's status line and bar (one per node)
        return self.status


class _NodeStatus:
    """One node's progress text and bar, fed from its clips' threads."""

    def __init__(self, node_id: str | None, clips: int) -> None:
        from ..comfy_host import NodeProgress

        self._progress = NodeProgress(node_id)
        self._lock = threading.Lock()
        self._lines = [""] * clips
        self._fracs = [0.0] * clips

    def update(self, index: int, line: str | None, frac: float | None) -> None:
        with self._lock:
            if frac is not None:
                self._fracs[index] = frac
            if line:
                self._lines[index] = line
                n = len(self._lines)
                self._progress.text(line if n == 1 else f"Clip {index + 1}/{n}: {line}")
            self._progress.bar(sum(self._fracs) / len(self._fracs))

    def text(self, line: str) -> None:
        self._progress.text(line)

    def bar(self, value: float) -> None:
        self._progress.bar(value)


# --------------------------------------------------------------------------- a run


def _decode_options(options: dict) -> dict[str, int]:
    return {k: int(options.get(k, 0 if k != "select_every_nth" else 1)) for k in DECODE_OPTIONS}


def picture_indices(image: Any, options: dict) -> list[int]:
    """Which pictures of the IMAGE batch become clips."""
    from ..core.errors import InvalidInputError

    mode = options.get("batch_mode", BATCH_MODES[0])
    if mode not in BATCH_MODES:
        raise InvalidInputError(f"'batch_mode' is {mode!r}: choose one of {', '.join(BATCH_MODES)}.")
    if image is None:
        return [-1]
    if mode == BATCH_MODES[1]:
        return list(range(int(image.shape[0]) if getattr(image, "ndim", 0) == 4 else 1))
    return [int(options.get("batch_index", 0))]


def fitted_body(body: dict, rgb8: Any, options: dict) -> dict:
    """With fit 'match the picture's aspect', the request's size keeps the picture's shape,
    as large as fits within width x height (at least 256 a side, Segmind's minimum)."""
    from ..core.errors import InvalidInputError

    fit = options.get("fit", FIT_MODES[0])
    if fit not in FIT_MODES:
        raise InvalidInputError(f"'fit' is {fit!r}: choose one of {', '.join(FIT_MODES)}.")
    if fit == FIT_MODES[0] or rgb8 is None or not ("width" in body and "height" in body):
        return body
    return {**body, **dict(zip(("width", "height"), match_aspect(rgb8.shape[1], rgb8.shape[0],
                                                                 body["width"], body["height"])))}


def match_aspect(pic_w: int, pic_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    from ..core.picture_fit import match_aspect as fit

    return fit(pic_w, pic_h, box_w, box_h)


def _prepare(model: str, body: dict, image: Any, options: dict) -> list[tuple[dict, Any]]:
    """(body, picture) for each clip: its request body and the uint8 picture as it is sent
    (refused when too small to animate, scaled down when far larger than the video)."""
    from ..core.image_encode import check_min_size, fit_for_upload, to_uint8_rgb

    out = []
    for index in picture_indices(image, options):
        rgb8 = to_uint8_rgb(image, index) if index >= 0 else None
        if rgb8 is not None:
            check_min_size(rgb8)  # before its shape decides the size
        clip_body = fitted_body(body, rgb8, options)
        if rgb8 is not None:
            rgb8 = fit_for_upload(rgb8, *_clip_size(model, clip_body, rgb8))
        out.append((clip_body, rgb8))
    return out


def _clip_size(model: str, body: dict, rgb8: Any) -> tuple[int, int]:
    """The clip's width and height: the request's, or what its model renders for it (a size
    picked by resolution); the picture's own when neither is known."""
    from ..core.models import model as descriptor

    if "width" in body and "height" in body:
        return int(body["width"]), int(body["height"])
    try:
        rendered = descriptor(model).rendered(body)
    except KeyError:
        rendered = None
    return (rendered[0], rendered[1]) if rendered else (int(rgb8.shape[1]), int(rgb8.shape[0]))


def _requests(model: str, jobs: list[tuple[dict, Any]], options: dict) -> list[Any]:
    """One GenerationRequest per clip, its picture encoded for the upload."""
    from ..core.image_encode import encode_image
    from ..core.lifecycle import API_MODES, GenerationRequest

    fmt = options.get("upload_format", "png")
    return [GenerationRequest(model=model, body=body, image=None if rgb8 is None else encode_image(rgb8, fmt),
                              api_mode=options.get("api_mode", API_MODES[0]),
                              timeout=float(options.get("timeout_seconds", 900)))
            for body, rgb8 in jobs]


def _reserve(reqs: list[Any], options: dict, run_id: str | None, cancel_check: Callable[[], bool]) -> list[Any]:
    """Room on disk, the spend limits and the credits, checked for the node's clips as a whole
    before any upload."""
    from .. import comfy_host
    from ..core.lifecycle import reserve_spend

    return reserve_spend(reqs, user_dir=comfy_host.user_directory(), run_id=run_id,
                         force_rerun=bool(options.get("force_rerun", False)), cancel_check=cancel_check,
                         output_dir=comfy_host.output_directory())


def _note_estimates(reqs: list[Any], reporters: list[_Reporter]) -> None:
    """Each clip's estimate as the spend checks see it (never below a real charge), and what it
    is based on, for the summary after the run."""
    from .. import comfy_host
    from ..core.learned_estimate import ChargeHistory

    charges = ChargeHistory.load(comfy_host.user_directory())
    for req, reporter in zip(reqs, reporters):
        reporter.estimate = charges.estimate(req.model, req.body)


class _Reservations:
    """The reservations a node run made, one per clip: each is handed once, either to its clip's
    lifecycle run (which settles it, or gives it back if nothing was billed) or back when the
    clip never started (ComfyUI cancelled the run first)."""

    def __init__(self, handles: list[Any], run_id: str | None) -> None:
        self._handles = list(handles)
        self._run_id = run_id
        self._lock = threading.Lock()

    def take(self, index: int) -> Any:
        from ..core.spend_check import NOTHING_RESERVED

        with self._lock:
            handle, self._handles[index] = self._handles[index], NOTHING_RESERVED
            return handle

    def release_untaken(self) -> None:
        from .. import comfy_host
        from ..core.spend_check import release

        for index in range(len(self._handles)):
            release(comfy_host.user_directory(), self.take(index))


def _release_all(handles: list[Any]) -> None:
    """Reservations made for a node run that stopped waiting for them (nothing was sent)."""
    _Reservations(handles, None).release_untaken()


def _segmind_clip(req: Any, reserved: _Reservations, index: int, options: dict, reporter: _Reporter,
                  node_id: str | None, run_id: str | None, cancel_check: Callable[[], bool]) -> Any:
    """One clip on Segmind (a worker thread): the core lifecycle, which owns its reservation."""
    from .. import comfy_host
    from ..core.lifecycle import run_on_segmind

    handle = reserved.take(index)
    return run_on_segmind(req, user_dir=comfy_host.user_directory(), output_dir=comfy_host.output_directory(),
                          cancel_check=cancel_check, on_event=reporter, reserved=handle,
                          force_rerun=bool(options.get("force_rerun", False)), node_id=node_id, run_id=run_id)


def _offline_clip(model: str, body: dict, rgb8: Any, reporter: _Reporter,
                  cancel_check: Callable[[], bool]) -> Any:
    """The free local stand-in: no key, nothing sent; the clip lands where a real one would,
    so decoding and the preview are the same as for a Segmind clip."""
    from .. import comfy_host
    from ..core.offline_preview import generate_offline_clip

    reporter.status.update(reporter.index, "Rendering the offline preview (free, nothing is sent)...", None)

    def rendered(done: int, total: int) -> None:
        reporter.status.update(reporter.index, None, _BAR_DOWNLOAD_END * done / total)

    return generate_offline_clip(model, body, rgb8, comfy_host.output_directory(),
                                 cancel_check=cancel_check, progress=rendered)


def chosen_backend(options: dict) -> str:
    """The node's backend (core/offline_preview.py BACKENDS: segmind, offline preview), or
    InvalidInputError naming the choices."""
    from ..core.offline_preview import BACKENDS

    backend = options.get("backend", BACKENDS[0])
    if backend not in BACKENDS:
        from ..core.errors import InvalidInputError

        raise InvalidInputError(f"'backend' is {backend!r}: choose one of {', '.join(BACKENDS)}.")
    return backend


def cancel_signal() -> tuple[threading.Event, Callable[[], bool]]:
    """A node run's Cancel: the event off_loop sets when ComfyUI stops awaiting the run, and
    the check every step makes (that event, or ComfyUI's own interruption)."""
    from .. import comfy_host

    cancel = threading.Event()
    return cancel, lambda: cancel.is_set() or comfy_host.is_interrupted()


async def run_generation(*, model: str, body: dict, image: Any, options: dict, node_id: str | None,
                         prompt_graph: Any = None) -> dict:
    """The whole node run: every clip in flight at once, then decoded in turns. Returns
    ComfyUI's {"ui": ..., "result": ...} with one list entry per clip."""
    import asyncio  # ComfyUI has it loaded; imported here so loading the pack stays cheap elsewhere

    from .. import comfy_host
    from ..core.errors import Cancelled
    from ..core.offline_preview import BACKENDS

    offline = chosen_backend(options) == BACKENDS[1]
    consumed = comfy_host.consumed_outputs(prompt_graph, node_id)
    run_id = comfy_host.current_prompt_id()
    cancel, cancelled = cancel_signal()

    try:
        jobs = await off_loop(lambda: _prepare(model, body, image, options), cancel)
        status = _NodeStatus(node_id, len(jobs))
        reporters = [_Reporter(status, i) for i in range(len(jobs))]
        if offline:
            # Rendering is CPU-bound: one after another, on one thread.
            clips = await off_loop(lambda: [_offline_clip(model, b, pic, r, cancelled)
                                              for (b, pic), r in zip(jobs, reporters)], cancel)
            mode = BACKENDS[1]
        else:
            reqs = await off_loop(lambda: _requests(model, jobs, options), cancel)
            await off_loop(lambda: _note_estimates(reqs, reporters), cancel)
            reserved = _Reservations(await off_loop(lambda: _reserve(reqs, options, run_id, cancelled), cancel,
                                                    orphaned=_release_all), run_id)
            try:
                results = await asyncio.gather(*(
                    off_loop(lambda q=q, i=i, r=r: _segmind_clip(q, reserved, i, options, r, node_id, run_id,
                                                                   cancelled), cancel)
                    for i, (q, r) in enumerate(zip(reqs, reporters))), return_exceptions=True)
            finally:
                reserved.release_untaken()
            clips = _settled(results)
            mode = options.get("api_mode") or "async (v2)"
        outs = []
        for clip, reporter in zip(clips, reporters):
            outs.append(await off_loop(lambda c=clip, r=reporter: clip_outputs(
                c, options, r, api_mode=mode, consumed=consumed, cancel_check=cancelled), cancel))
    except Cancelled as exc:
        comfy_host.raise_interrupted(in_node_words(exc))
        raise
    if len(outs) > 1:
        status.text(f"Done: {len(outs)} clips" + _batch_cost(outs))
    return {
        "ui": {"images": [o["ui"]["images"][0] for o in outs], "animated": [True],
               "segmind": [o["ui"]["segmind"][0] for o in outs]},
        "result": tuple(list(values) for values in zip(*(o["result"] for o in outs))),
    }


def _settled(results: list[Any]) -> list[Any]:
    """Every clip's outcome once all have settled (a failed one never cuts off the others,
    which are paid for): the clips, or the first error, saying how many others were saved."""
    from ..core.errors import Cancelled

    errors = [r for r in results if isinstance(r, BaseException)]
    if not errors:
        return results
    cancel = next((e for e in errors if isinstance(e, Cancelled)), None)
    if cancel is not None:
        raise cancel
    first = errors[0]
    done = len(results) - len(errors)
    if len(results) > 1:
        first.args = (f"{first} ({len(errors)} of {len(results)} clips failed; the {done} others are saved and "
                      "cached, so queueing again reuses them without paying again.)",)
    raise first


def _batch_cost(outs: list[dict]) -> str:
    costs = [s.get("cost") for o in outs for s in o["ui"]["segmind"] if not s.get("from_cache")]
    paid = [c for c in costs if isinstance(c, (int, float))]
    return f", cost ${sum(paid):.3f}" if paid else ""


async def off_loop(fn: Callable[[], Any], cancel: threading.Event,
                   orphaned: Callable[[Any], None] | None = None) -> Any:
    """Run `fn` on a thread of its own and await it. If ComfyUI cancels this coroutine (the
    user pressed Cancel and another node raised it first, or the run ended with an error),
    `cancel` tells the thread to stop; it winds down on its own (a paid job is journalled).
    `orphaned(value)`: what to do with a value `fn` returns after nobody waits for it any
    more (reservations made meanwhile are given back), on the thread."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def abandon(value: Any) -> None:
        try:
            orphaned(value)  # type: ignore[misc]
        except Exception as exc:  # nobody to tell but the log
            log.warning("Segmind: could not give back what a cancelled step made (%s).", exc)

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            (future.set_result if ok else future.set_exception)(value)
        elif ok and orphaned is not None:
            threading.Thread(target=abandon, args=(value,), daemon=True, name="segmind-orphan").start()

    def run() -> None:
        try:
            value, ok = fn(), True
        except BaseException as exc:  # handed to the awaiting coroutine
            value, ok = exc, False
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:  # the loop is gone: nobody is waiting any more
            if ok and orphaned is not None:
                abandon(value)

    threading.Thread(target=run, daemon=True, name="segmind-clip").start()
    try:
        return await future
    except asyncio.CancelledError:
        cancel.set()
        raise


def clip_outputs(clip: Any, options: dict, reporter: Any, api_mode: str,
                 consumed: frozenset[int] | None = None,
                 cancel_check: Callable[[], bool] | None = None) -> dict:
    """Decode a clip already on disk into the node's outputs plus its in-node preview.
    `consumed`: the output slots some node takes (None: unknown, decode everything). Frames
    and audio nothing takes are not decoded: a graph that only saves the VIDEO never pays
    for the float32 frames (~1.9 GiB at the defaults). The node's IS_CHANGED keeps ComfyUI
    from reusing such outputs once a consumer is wired in."""
    from .. import comfy_host
    from ..core.clip_saving import OUTPUT_SUBFOLDER

    want_frames = consumed is None or FRAMES_SLOT in consumed
    frames, audio, width, height, count, fps = decode_consumed(clip.path, consumed, options, reporter, cancel_check)
    info = clip.info
    from_cache = bool(getattr(clip, "from_cache", False))
    summary = {
        "cost": info.cost, "remaining_credits": info.remaining_credits, "request_id": info.request_id,
        "from_cache": from_cache, "width": width, "height": height, "frame_count": count,
        "fps": fps, "api_mode": api_mode, "decoded": want_frames,
    }
    estimate = getattr(reporter, "estimate", None)
    if estimate is not None:
        summary.update(estimate=estimate.amount, estimate_basis=estimate.basis())
    done = f"Done: {count} frames {width}x{height} @ {fps:g} fps"
    if from_cache:
        done += ", from the result cache (not billed)"
    elif info.cost is not None:
        done += f", cost ${info.cost:.3f}"
        if estimate is not None:
            # The basis is on the badge; the status line has room for about two lines.
            done += f" (estimated ${estimate.amount:.3f})"
    if not want_frames:
        done += " (frames not decoded: nothing takes them)"
    _say(reporter, done, 1000)
    preview = {"filename": clip.path.name, "subfolder": OUTPUT_SUBFOLDER, "type": "output", "format": "video/mp4"}
    return {
        "ui": {"images": [preview], "animated": [True], "segmind": [summary]},
        "result": (frames, audio, float(fps), int(count), comfy_host.video_from_file(clip.path)),
    }


def decode_consumed(path: Any, consumed: frozenset[int] | None, options: dict, reporter: Any,
                    cancel_check: Callable[[], bool] | None = None) -> tuple[Any, Any, int, int, int, float]:
    """A clip on disk as the node's outputs hold it, decoding only what some node takes (frames
    in the process's decode turn; audio alone; or placeholders): (frames, audio, width, height,
    frame_count, fps)."""
    from .. import comfy_host
    from ..core.runtime import current
    from ..core.video_decode import decode_audio, decode_video, probe_video

    check = cancel_check or comfy_host.is_interrupted

    def raise_if_cancelled() -> None:
        if check():
            from ..core.errors import Cancelled

            raise Cancelled("Cancelled by the user.")

    if consumed is None or FRAMES_SLOT in consumed:
        with current().decodes.turn(raise_if_cancelled, on_wait=lambda: _say(reporter, "Waiting for another clip's decode...")):
            _say(reporter, "Decoding...")
            decoded = decode_video(path, cancel_check=check, progress=getattr(reporter, "decode_progress", None),
                                   **_decode_options(options))
        return decoded.frames, decoded.audio, decoded.width, decoded.height, decoded.frame_count, decoded.fps
    info = probe_video(path)
    audio = decode_audio(path) if AUDIO_SLOT in consumed else _placeholder_audio()
    return _placeholder_frames(), audio, info.width, info.height, info.frame_count, info.fps


def consumed_key(unique_id: Any) -> Any:
    """IS_CHANGED of every node that decodes only what is consumed: which outputs the queued
    graph takes. ComfyUI folds this into the node's cache key, so wiring a consumer to frames
    or audio later re-runs the node instead of handing on a placeholder. `unique_id` may come
    as a one-entry list (INPUT_IS_LIST)."""
    from ..comfy_host import consumed_outputs, running_prompt

    if isinstance(unique_id, list):
        unique_id = unique_id[0] if unique_id else None
    consumed = consumed_outputs(running_prompt(), unique_id)
    if consumed is None:
        return float("nan")  # unknown: never reuse (NaN equals nothing)
    return ",".join(RETURN_NAMES[i] for i in sorted(consumed) if i < len(RETURN_NAMES))


def _say(reporter: Any, line: str, frac: float | None = None) -> None:
    status, index = getattr(reporter, "status", None), getattr(reporter, "index", 0)
    if isinstance(status, _NodeStatus):
        status.update(index, line, frac)
        return
    progress = getattr(reporter, "progress", None)  # any reporter with a NodeProgress
    if progress is not None:
        progress.text(line)
        if frac is not None:
            progress.bar(frac)


def _placeholder_frames() -> Any:
    """What the frames output holds when nothing takes it: one black pixel, never 1.9 GiB."""
    import torch

    return torch.zeros((1, 1, 1, 3), dtype=torch.float32)


def _placeholder_audio() -> dict:
    import torch

    return {"waveform": torch.zeros((1, 2, 1), dtype=torch.float32), "sample_rate": 24000}


class SegmindLTX2Options:
    """Settings most users never touch, off the generation node's face; travels with the workflow."""

    CATEGORY = CATEGORY
    RETURN_TYPES = (OPTIONS_TYPE,)
    RETURN_NAMES = ("options",)
    FUNCTION = "options"
    DESCRIPTION = "API mode, time limit and upload format for a Segmind LTX-2 node: connect it to the node's 'options'."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": options_widgets()}

    def options(self, **values: Any) -> tuple[dict]:
        return (dict(values),)


class SegmindVideoNode:
    """A generation node, all of whose Segmind inputs come from its model's descriptor: a
    subclass names the descriptor (and its DESCRIPTION), nothing else."""

    MODEL: Model
    CATEGORY = CATEGORY
    RETURN_TYPES = RETURN_TYPES
    RETURN_NAMES = RETURN_NAMES
    # One entry per clip: downstream nodes (SaveVideo, CreateVideo, PreviewAudio, VHS Video
    # Combine) run once per clip. A single clip is a list of one, which they see as usual.
    OUTPUT_IS_LIST = (True,) * len(RETURN_TYPES)
    FUNCTION = "generate"
    OUTPUT_NODE = True  # shows its own video preview, so it runs even with nothing downstream

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": model_widgets(cls.MODEL),
            "optional": {**model_widgets(cls.MODEL, optional=True),
                         **optional_widgets(with_image=cls.MODEL.takes("image"),
                                            with_fit=cls.MODEL.grid is not None)},
            "hidden": {"unique_id": "UNIQUE_ID", "prompt_graph": "PROMPT"},
        }

    @classmethod
    def IS_CHANGED(cls, unique_id: str | None = None, **_: Any) -> Any:
        return consumed_key(unique_id)

    @speaks_node_words
    async def generate(self, image: Any = None, unique_id: str | None = None, prompt_graph: Any = None,
                       **values: Any) -> dict:
        from ..core.params import build_body

        fields = {f.name for f in self.MODEL.settings}
        body = build_body(self.MODEL, {k: v for k, v in values.items() if k in fields and v != NOT_SENT})
        options = {**(values.pop("options", None) or {}), **values}
        return await run_generation(model=self.MODEL.path, body=body, image=image, options=options,
                                    node_id=unique_id, prompt_graph=prompt_graph)
