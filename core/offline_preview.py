"""The offline preview backend: a stand-in clip made on this machine, free, with no key
and no network. It animates the input picture (a slow zoom with a gentle pan) and adds
a soft tone, at the requested width, height, frame count and rate, and lands the MP4
where a Segmind clip would land, so everything downstream (decode, preview, graphs,
the command line) runs exactly as with a paid clip.

The file matches what Segmind returns: H.264 yuv420p video with stereo AAC at 24 kHz.
numpy, av and cv2 are imported inside functions: importing this module stays cheap."""
from __future__ import annotations

import math
import os
import uuid
from pathlib import Path
from typing import Any, Callable

from .client import RunInfo
from .errors import Cancelled, InvalidInputError
from .clip_saving import clip_path
from .lifecycle import ClipResult

BACKENDS = ("segmind", "offline preview")
AUDIO_RATE = 24000   # LTX-2's vocoder rate, so the preview's audio looks like the real thing
ZOOM_END = 1.15      # final zoom; small enough to read as a camera move, not a crop
PAN_FRACTION = 0.04  # horizontal drift, as a fraction of the frame width
_TONE_HZ = (220.0, 330.0)  # a quiet open fifth: clearly audible, clearly not content
_TONE_LEVEL = 0.12
_FADE_SECONDS = 0.5
# A model whose size a resolution picks (1080p and up) is previewed this tall, at the
# resolution's shape: a 4K preview would take minutes to encode and gigabytes to decode.
STAND_IN_HEIGHT = 144


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides; odd requests round down by one pixel."""
    return max(2, width - width % 2), max(2, height - height % 2)


def placeholder_picture(width: int, height: int, seed: int) -> Any:
    """A seed-coloured diagonal gradient with soft stripes: text to video has no input
    picture, and a flat frame would hide the motion."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a, b = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (x / max(1, width - 1) + y / max(1, height - 1)) / 2
    stripes = 0.5 + 0.5 * np.sin((x + y) * (2 * math.pi / max(32.0, min(width, height) / 6)))
    mix = (t * 0.8 + stripes * 0.2)[..., None]
    return np.clip(a * (1 - mix) + b * mix, 0, 255).astype(np.uint8)


def _frame_transform(src_w: int, src_h: int, width: int, height: int, progress: float) -> tuple[float, float, float]:
    """(scale, tx, ty) mapping source pixels to output pixels: cover the frame, then zoom
    in and drift sideways as `progress` goes 0 -> 1 (eased, so it starts and ends softly)."""
    ease = 0.5 - 0.5 * math.cos(math.pi * progress)
    scale = max(width / src_w, height / src_h) * (1.0 + (ZOOM_END - 1.0) * ease)
    centre_x = src_w / 2 + PAN_FRACTION * src_w * (ease - 0.5)
    return scale, width / 2 - scale * centre_x, height / 2 - scale * (src_h / 2)


def _render_frame(src: Any, width: int, height: int, progress: float, cv2: Any) -> Any:
    import numpy as np

    src_h, src_w = src.shape[:2]
    scale, tx, ty = _frame_transform(src_w, src_h, width, height, progress)
    if cv2 is not None:
        m = np.array([[scale, 0.0, tx], [0.0, scale, ty]], dtype=np.float64)
        return cv2.warpAffine(src, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # Without OpenCV: nearest-neighbour sampling of the same transform.
    xs = np.clip(((np.arange(width) + 0.5 - tx) / scale).astype(np.int64), 0, src_w - 1)
    ys = np.clip(((np.arange(height) + 0.5 - ty) / scale).astype(np.int64), 0, src_h - 1)
    return src[ys][:, xs]


def tone(num_samples: int, rate: int = AUDIO_RATE) -> Any:
    """Stereo float32 [2, num_samples]: a soft fifth with fade in and out."""
    import numpy as np

    t = np.arange(num_samples, dtype=np.float64) / rate
    wave = sum(np.sin(2 * math.pi * hz * t) for hz in _TONE_HZ) / len(_TONE_HZ)
    fade = min(_FADE_SECONDS, num_samples / rate / 4)
    env = np.ones(num_samples)
    if fade > 0:
        env = np.minimum(env, np.minimum(t / fade, (num_samples / rate - t) / fade).clip(0, 1))
    mono = (wave * env * _TONE_LEVEL).astype(np.float32)
    # A slight left/right difference, so a stereo track is audibly stereo.
    return np.stack([mono, mono * np.float32(0.8)])


def write_preview_mp4(dest: Path, picture: Any, width: int, height: int, num_frames: int, fps: int,
                      cancel_check: Callable[[], bool] | None = None,
                      progress: Callable[[int, int], None] | None = None, audio_track: bool = True) -> Path:
    """Encode the animated picture plus tone to `dest` (written to a .part file first);
    without `audio_track`, video only (a model asked for no sound returns none)."""
    import av
    import numpy as np

    try:
        import cv2
    except ImportError:
        cv2 = None
    from fractions import Fraction

    width, height = even_size(width, height)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    audio = tone(int(round(num_frames / fps * AUDIO_RATE)))
    try:
        with av.open(str(tmp), "w", format="mp4") as container:
            video = container.add_stream("libx264", rate=Fraction(fps, 1))
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"preset": "veryfast", "crf": "20"}
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if audio_track else None
            sent = 0
            for i in range(num_frames):
                if cancel_check is not None and cancel_check():
                    raise Cancelled("Cancelled by the user.")
                rgb = _render_frame(picture, width, height, i / max(1, num_frames - 1), cv2)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts = i
                container.mux(video.encode(frame))
                # Interleave: the audio up to the end of this video frame.
                upto = min(audio.shape[1], int(round((i + 1) / fps * AUDIO_RATE)))
                if sound is not None and upto > sent:
                    chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, sent:upto]),
                                                       format="fltp", layout="stereo")
                    chunk.sample_rate, chunk.pts = AUDIO_RATE, sent
                    container.mux(sound.encode(chunk))
                    sent = upto
                if progress is not None:
                    progress(i + 1, num_frames)
            container.mux(video.encode(None))
            if sound is not None:
                container.mux(sound.encode(None))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def stand_in_size(model: str, body: dict[str, Any]) -> tuple[int, int, int, int]:
    """(width, height, frames, fps) of the preview of a model whose size a resolution picks:
    STAND_IN_HEIGHT tall at the resolution's shape, duration x fps frames at the body's rate
    (or the model's own). Raises ValueError when the body does not say."""
    from .models import model as descriptor

    m = descriptor(model)
    rendered = m.rendered(body)
    if rendered is None or rendered[2] is None:
        raise ValueError(f"no size or length for {model}")
    nominal_w, nominal_h, frames = rendered
    fps = int(body.get("fps") or m.output.fps or 24)
    width = max(2, round(STAND_IN_HEIGHT * nominal_w / nominal_h))
    return width, STAND_IN_HEIGHT, frames, fps


def generate_offline_clip(model: str, body: dict[str, Any], picture: Any, output_dir: Path,
                          cancel_check: Callable[[], bool] | None = None,
                          progress: Callable[[int, int], None] | None = None) -> ClipResult:
    """The offline counterpart of lifecycle (core/lifecycle.py): same body, same output folder,
    same ClipResult (cost 0). `picture` is uint8 RGB [H, W, 3], or None for text to video."""
    try:
        if "width" in body:
            width, height = int(body["width"]), int(body["height"])
            num_frames, fps = int(body["num_frames"]), int(body["fps"])
        else:
            width, height, num_frames, fps = stand_in_size(model, body)
        seed = int(body.get("seed", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"The offline preview needs width, height, num_frames and fps ({exc}).") from None
    if picture is None:
        picture = placeholder_picture(*even_size(width, height), seed)
    request_id = f"offline-{uuid.uuid4().hex}"
    dest = clip_path(output_dir, model, request_id)
    write_preview_mp4(dest, picture, width, height, num_frames, fps, cancel_check, progress,
                      audio_track=body.get("generate_audio") is not False)
    from .provenance import provenance_meta, write_provenance

    # Tagged like a paid clip, and marked as the free preview it is.
    write_provenance(dest, provenance_meta(model, body, request_id=request_id, cost=0.0, seed=seed,
                                           api_mode="offline preview"))
    return ClipResult(path=dest, info=RunInfo(request_id=request_id, cost=0.0, seed=seed))
