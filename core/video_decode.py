"""Lean MP4 decoding into ComfyUI-shaped tensors (IMAGE frames + AUDIO dict).

Why not decode like ComfyUI's VideoFromFile.get_components: it keeps a list of
per-frame float tensors and then torch.stack()s them, so the video exists twice
in float32 (plus allocator churn). Here the calling thread only demuxes and
decodes; a second thread turns each decoded frame into its row of one
preallocated float32 tensor (colour conversion, first touch of the row's fresh
pages, the float conversion), and the decoding thread lends a hand whenever
that thread falls behind. Frame selection and resizing happen on uint8 before
any float is produced. bench/bench_decode.py measures each of these choices.

torch, av, numpy and cv2 are imported inside functions so that importing this
module stays cheap and free of heavy dependencies."""
from __future__ import annotations

import logging
import math
import os
import queue
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .errors import Action, Cancelled, InvalidInputError, NotEnoughMemoryError, VideoError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

log = logging.getLogger(__name__)

SILENT_SAMPLE_RATE = 24000  # what LTX-2 returns; used for the silence of a mute clip
SILENT_CHANNELS = 2
GIB = float(1 << 30)

# Tuning knobs, chosen by bench/bench_decode.py on a 2-core machine (see bench/results.md);
# the benchmark's ablation rows flip them one at a time.
_CODEC_THREADS: str | None = None  # FFmpeg decoder threading ("AUTO" measured no faster)
_CONVERTER_THREAD = True   # convert frames on a second thread while this one decodes
_QUEUE_DEPTH = 2           # decoded frames waiting for the converter (1..8 measured within noise; 32 slower)
_POPULATE = True           # fault each output row in with one madvise call before writing it
# Headroom kept free when checking memory: ComfyUI, the model and the OS still need some.
_MEMORY_HEADROOM_BYTES = 256 << 20


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    has_audio: bool
    audio_sample_rate: int | None
    audio_channels: int | None


@dataclass
class DecodedVideo:
    frames: "torch.Tensor"  # float32 [N, H, W, 3] in 0..1, contiguous
    audio: dict  # ComfyUI AUDIO: {"waveform": float32 [1, C, S], "sample_rate": int}
    fps: float  # effective fps after select_every_nth
    frame_count: int
    width: int
    height: int
    source: VideoInfo


# --------------------------------------------------------------------------- memory

def _available_memory_bytes() -> int | None:
    """Bytes the OS can give us without swapping, or None if unknown.

    Module-level so tests (and hosts) can monkeypatch it."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # optional: Windows / macOS
    except ImportError:
        return None
    try:
        return int(psutil.virtual_memory().available)
    except Exception:  # psutil can fail in sandboxes; then we simply skip the guard
        return None


def _target_size(width: int, height: int, custom_width: int, custom_height: int) -> tuple[int, int]:
    """Output (width, height); one custom side alone keeps the aspect ratio."""
    if custom_width > 0 and custom_height > 0:
        return custom_width, custom_height
    if custom_width > 0:
        return custom_width, max(1, round(height * custom_width / width))
    if custom_height > 0:
        return max(1, round(width * custom_height / height)), custom_height
    return width, height


def _selected_count(total: int, skip: int, nth: int, cap: int) -> int:
    """How many frames the options select out of `total` decoded frames."""
    n = max(0, total - skip)
    n = (n + nth - 1) // nth
    return min(n, cap) if cap > 0 else n


_AUDIO_MARGIN_SECONDS = 1.0  # audio read past the window's end (codec frames, timestamp jitter)


def _audio_bytes(info: VideoInfo, seconds: float) -> int:
    """Peak bytes of the audio for a window of `seconds` from the video start: the track is
    decoded only that far (plus a margin), whatever its own length."""
    rate = info.audio_sample_rate or SILENT_SAMPLE_RATE
    channels = info.audio_channels or SILENT_CHANNELS
    # decoded chunks + the concatenated waveform exist together for a moment
    return int(2 * 4 * channels * rate * (max(seconds, 0.0) + _AUDIO_MARGIN_SECONDS))


def _audio_until(info: VideoInfo, skip: int, planned: int, nth: int) -> float:
    """Seconds after the video start that the selected frames reach (never past the last frame)."""
    fps = info.fps if info.fps > 0 else 1.0
    return min(skip + planned * nth, info.frame_count) / fps


def estimate_decode_bytes(info: VideoInfo, *, frame_load_cap: int = 0, skip_first_frames: int = 0,
                          select_every_nth: int = 1, custom_width: int = 0,
                          custom_height: int = 0) -> int:
    """Peak bytes decode_video will allocate for `info` with these options
    (float32 frames + audio + the small uint8 pipeline)."""
    w, h = _target_size(info.width, info.height, custom_width, custom_height)
    nth = max(1, select_every_nth)
    n = _selected_count(info.frame_count, skip_first_frames, nth, frame_load_cap)
    frames = n * h * w * 3 * 4
    # the audio is read from the video start (skipped frames included) to the last selected frame
    seconds = _audio_until(info, skip_first_frames, n, nth)
    # uint8 frames in flight: one being converted on each thread (and its resize), plus the queue
    pipeline = (4 + _QUEUE_DEPTH) * info.width * info.height * 3
    return frames + _audio_bytes(info, seconds) + pipeline


def _check_memory(needed: int, n: int, w: int, h: int) -> None:
    available = _available_memory_bytes()
    if available is None:
        return
    total = needed + _MEMORY_HEADROOM_BYTES
    if total > available:
        raise NotEnoughMemoryError(
            f"Decoding this video needs about {total / GIB:.2f} GiB of memory "
            f"({n} frames at {w}x{h} as float32 and their audio, plus "
            f"{_MEMORY_HEADROOM_BYTES / GIB:.2f} GiB to spare) "
            f"but only {available / GIB:.2f} GiB is available. "
            f"Lower {Action.SET_FIELD('frame_load_cap')}, raise {Action.SET_FIELD('select_every_nth')}, or set "
            f"{Action.SET_FIELD('custom_width')}/{Action.SET_FIELD('custom_height')} to a smaller size, then {Action.RETRY}.")


# --------------------------------------------------------------------------- probing

def _av_errors() -> tuple[type[BaseException], ...]:
    import av
    return (av.error.FFmpegError, OSError, ValueError, StopIteration)


def _open(path: str | os.PathLike) -> Any:
    import av
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise VideoError(f"Video file not found: {p}")
    if os.path.getsize(p) == 0:
        raise VideoError(f"Video file is empty (0 bytes): {p}. The download probably failed.")
    try:
        return av.open(p, mode="r")
    except _av_errors() as e:
        raise VideoError(f"Not a readable video file: {p} ({e}). It may be truncated or corrupt.") from e


def _probe_container(container: Any, path: str) -> VideoInfo:
    if not container.streams.video:
        raise VideoError(f"No video stream in {path}.")
    vs = container.streams.video[0]
    cc = vs.codec_context
    width, height = int(cc.width or 0), int(cc.height or 0)
    if width <= 0 or height <= 0:
        raise VideoError(f"The video stream in {path} has no frame size; the file is probably corrupt.")
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    fps = float(rate) if rate else 0.0

    duration = 0.0
    if vs.duration and vs.time_base:
        duration = float(vs.duration * vs.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000  # AV_TIME_BASE

    frame_count = int(vs.frames or 0)
    if frame_count <= 0:
        # No count in the header (e.g. MKV/WebM): counting packets is exact for
        # H.264-like codecs and needs no decoding.
        frame_count = _count_packets(container, vs)
        container.seek(0)
    if fps <= 0:
        fps = frame_count / duration if duration > 0 else 24.0
    if duration <= 0 and fps > 0:
        duration = frame_count / fps

    audio_rate = audio_channels = None
    if container.streams.audio:
        a = container.streams.audio[0]
        audio_rate = int(getattr(a, "sample_rate", 0) or a.codec_context.sample_rate or 0) or None
        # attribute names moved between PyAV versions
        audio_channels = int(getattr(a, "channels", 0) or getattr(a.codec_context, "channels", 0)
                             or len(getattr(a.layout, "channels", ()) or ())) or None
    return VideoInfo(width=width, height=height, fps=fps, frame_count=frame_count, duration=duration,
                     has_audio=bool(container.streams.audio), audio_sample_rate=audio_rate,
                     audio_channels=audio_channels)


def _count_packets(container: Any, vs: Any) -> int:
    n = 0
    try:
        for packet in container.demux(vs):
            if packet.size:
                n += 1
    except _av_errors() as e:
        log.warning("video_decode: stopped counting packets early: %s", e)
    return n


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, fps, frame count and audio layout read from the file.

    Raises VideoError if the file is missing, empty or not a readable video."""
    p = os.fspath(path)
    container = _open(p)
    try:
        declared = int(container.streams.video[0].frames or 0) if container.streams.video else 0
        info = _probe_container(container, p)
        if declared > 0:
            # An MP4 with its index first ("faststart") still opens when its tail is
            # missing; reading the packets (no decoding, milliseconds) finds that.
            present = _count_packets(container, container.streams.video[0])
            if present < declared - _PACKET_SLACK:
                raise VideoError(f"The video {p} is truncated: {present} of its {declared} frames are "
                                 "in the file. Download it again.")
    except VideoError:
        raise
    except _av_errors() as e:
        raise VideoError(f"Could not read the video stream of {p} ({e}).") from e
    finally:
        container.close()
    if info.frame_count <= 0:
        raise VideoError(f"The video {p} contains no frames; it is probably truncated.")
    return info


_PACKET_SLACK = 2  # edit lists may hide a sample or two; a truncated download misses many


# --------------------------------------------------------------------------- decoding

def _validate(frame_load_cap: int, skip_first_frames: int, select_every_nth: int,
              custom_width: int, custom_height: int) -> None:
    for name, value, low in (("frame_load_cap", frame_load_cap, 0), ("skip_first_frames", skip_first_frames, 0),
                             ("select_every_nth", select_every_nth, 1), ("custom_width", custom_width, 0),
                             ("custom_height", custom_height, 0)):
        if not isinstance(value, int) or value < low:
            raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}.")


class _Converter:
    """Converts decoded frames into rows of the output on a second thread.

    Measured on 2 cores (bench/results.md): decoding alone is about a third of the
    work; the rest is first-touching ~2 GiB of fresh pages and the uint8 -> float
    conversion, which this thread overlaps with decoding. A short queue keeps
    decoded frames (FFmpeg's pooled buffers) few; when it is full the decoding
    thread converts the frame itself instead of waiting, so both cores stay busy.
    numpy does the float conversion here: torch would start its own worker threads
    per frame and fight the decoder for the two cores (measured 1.4x slower)."""

    def __init__(self, out_w: int, out_h: int) -> None:
        self._size = (out_w, out_h)
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="video_decode-convert", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:  # after a failure, only drain so the writer never blocks
                    _convert_into(item[0], item[1], *self._size)
            except BaseException as e:  # re-raised on the decoding thread
                self._error = e
            finally:
                self._queue.task_done()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, dst: Any, frame: Any) -> None:
        """Fill `dst` (a float32 row of the output) from `frame`, here or on the thread."""
        self._raise_if_failed()
        try:
            self._queue.put_nowait((dst, frame))
        except queue.Full:
            _convert_into(dst, frame, *self._size)

    def drain(self) -> None:
        """Wait until every submitted frame is written (before the output is replaced or returned)."""
        self._queue.join()
        self._raise_if_failed()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


def _convert_into(dst: Any, frame: Any, out_w: int, out_h: int) -> None:
    """dst[...] = frame as RGB / 255, with no float temporary.

    A cast copy then an in-place divide: measured 1.4x faster than one mixed-type
    np.divide (which casts through small buffers), and bit-identical to ComfyUI's
    torch `/ 255.0`."""
    import numpy as np
    rgb = _frame_to_rgb(frame, out_w, out_h)
    if _POPULATE:
        _populate(dst)
    np.copyto(dst, rgb, casting="unsafe")
    np.divide(dst, np.float32(255.0), out=dst)


_MADV_POPULATE_WRITE = 23  # Linux 5.14+
_madvise: Any = None  # resolved on first use; False when unavailable


def _populate(arr: Any) -> None:
    """Fault in the pages of `arr` with one system call (Linux only; a no-op elsewhere).

    Measured: one madvise(MADV_POPULATE_WRITE) per frame row makes the whole decode
    1.03x to 1.12x faster (across benchmark runs) than taking a page fault per 4 KiB
    as the writes arrive."""
    global _madvise
    if _madvise is None:
        _madvise = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes
                fn = ctypes.CDLL(None, use_errno=True).madvise
                fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                fn.restype = ctypes.c_int
                _madvise = fn
            except (OSError, AttributeError):
                pass
    if not _madvise:
        return
    import mmap
    addr = arr.ctypes.data
    start = addr - addr % mmap.PAGESIZE
    if _madvise(start, addr + arr.nbytes - start, _MADV_POPULATE_WRITE) != 0:
        _madvise = False  # older kernel (EINVAL): the writes fault the pages in instead


_SWS_THREADS_KW: dict[str, int] | None = {"threads": 1}


def _rgb24(frame: Any) -> Any:
    """frame -> uint8 [H, W, 3] RGB (FFmpeg's swscale, honouring the frame's colourspace)."""
    global _SWS_THREADS_KW
    if _SWS_THREADS_KW is not None:
        try:
            # threads=1: our own threads already keep both cores busy (measured 2x
            # faster per frame than swscale's default auto threading here)
            return frame.to_ndarray(format="rgb24", **_SWS_THREADS_KW)
        except TypeError:  # PyAV older than 15 has no `threads` argument
            _SWS_THREADS_KW = None
    return frame.to_ndarray(format="rgb24")


def _frame_to_rgb(frame: Any, out_w: int, out_h: int) -> Any:
    """uint8 [H, W, 3] RGB, resized on uint8 so no float memory is spent on it."""
    if out_w == frame.width and out_h == frame.height:
        return _rgb24(frame)
    shrinking = out_w * out_h < frame.width * frame.height
    cv2 = _cv2()
    if cv2 is None:
        # No OpenCV in this ComfyUI (it is optional): swscale scales and converts in one pass.
        return frame.to_ndarray(width=out_w, height=out_h, format="rgb24",
                                interpolation="AREA" if shrinking else "BICUBIC")
    return cv2.resize(_rgb24(frame), (out_w, out_h),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


_USE_CV2 = True  # False forces the PyAV resize path (tests; environments without OpenCV)


def _cv2() -> Any:
    if not _USE_CV2:
        return None
    try:
        import cv2
    except ImportError:
        return None
    return cv2


class _Audio:
    """A decoded stretch of the audio track as float32 [C, S], `offset` seconds after the
    video start; `complete` when it runs to the end of the track."""

    def __init__(self, wave: Any, rate: int, offset: float, complete: bool = True) -> None:
        self.wave, self.rate, self.offset, self.complete = wave, rate, offset, complete

    @property
    def end(self) -> float:
        """Seconds after the video start where the decoded stretch ends."""
        return self.offset + self.wave.shape[1] / self.rate


def _read_audio(path: str, info: VideoInfo, until: float | None) -> _Audio | None:
    """Decode the audio track up to `until` seconds after the video start (None = all),
    plus a margin: a track longer than the video (a 1-frame clip with 20 minutes of
    sound) is not decoded past it.

    Runs before the frames are allocated, so its transient buffers are freed (and
    reused by the video decoder) instead of stacking on top of the big tensor."""
    if not info.has_audio:
        return None
    import av
    import numpy as np
    container = _open(path)
    try:
        vs = container.streams.video[0]
        astream = container.streams.audio[0]
        # Audio is aligned to the video's first timestamp (usually both 0).
        v0 = float(vs.start_time * vs.time_base) if vs.start_time is not None and vs.time_base else 0.0
        rate = int(astream.sample_rate or info.audio_sample_rate or SILENT_SAMPLE_RATE)
        resampler = av.AudioResampler(format="fltp", layout=astream.layout, rate=rate)
        chunks: list[Any] = []
        first_time: float | None = None
        have = 0
        stop_at: int | None = None
        complete = True
        for frame in container.decode(astream):
            if first_time is None:
                first_time = float(frame.time) if frame.time is not None else v0
                if until is not None:
                    # samples from the track's first one to `until`, plus the margin
                    span = max(until - (first_time - v0), 0.0) + _AUDIO_MARGIN_SECONDS
                    stop_at = int(math.ceil(span * rate))
            for rf in resampler.resample(frame):
                chunks.append(rf.to_ndarray())
                have += chunks[-1].shape[1]
            if stop_at is not None and have >= stop_at:
                complete = False
                break  # past the window: the rest of the track is not needed
        else:
            chunks.extend(rf.to_ndarray() for rf in resampler.resample(None))
    except _av_errors() as e:
        raise VideoError(f"Could not decode the audio track of {path} ({e}).") from e
    finally:
        container.close()
    channels = chunks[0].shape[0] if chunks else (info.audio_channels or SILENT_CHANNELS)
    wave = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    offset = (first_time if first_time is not None else v0) - v0
    return _Audio(np.asarray(wave, dtype=np.float32), rate, offset, complete)


def _audio_window(audio: _Audio | None, start: float, length: float | None) -> dict:
    """ComfyUI AUDIO for [start, start+length) seconds after the video start (None = to the end).

    A clip without audio gives stereo silence of the window's length."""
    import numpy as np
    import torch
    if audio is None:
        samples = int(round((length or 0.0) * SILENT_SAMPLE_RATE))
        return {"waveform": torch.zeros((1, SILENT_CHANNELS, samples), dtype=torch.float32),
                "sample_rate": SILENT_SAMPLE_RATE}
    wave, rate = audio.wave, audio.rate
    lo = int(round((start - audio.offset) * rate))
    hi = wave.shape[1] if length is None else lo + int(round(length * rate))
    if lo != 0 or hi < wave.shape[1]:
        pad = max(0, -lo)  # window starts before the track: lead in with silence
        wave = wave[:, max(lo, 0):max(hi, 0)]
        if pad:
            wave = np.concatenate([np.zeros((wave.shape[0], pad), np.float32), wave], axis=1)
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    return {"waveform": torch.from_numpy(wave).unsqueeze(0), "sample_rate": rate}


def decode_audio(path: str | os.PathLike) -> dict:
    """The clip's ComfyUI AUDIO alone, over the video's duration, without decoding a frame:
    for a graph that takes the sound but not the frames."""
    p = os.fspath(path)
    info = probe_video(p)
    seconds = info.frame_count / info.fps if info.fps > 0 else 0.0
    return _audio_window(_read_audio(p, info, seconds), 0.0, seconds)


def decode_video(path: str | os.PathLike, *, frame_load_cap: int = 0, skip_first_frames: int = 0,
                 select_every_nth: int = 1, custom_width: int = 0, custom_height: int = 0,
                 cancel_check: Callable[[], bool] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> DecodedVideo:
    """Decode `path` into float32 frames [N, H, W, 3] (0..1) and a ComfyUI AUDIO dict.

    Options (defaults change nothing) are applied on uint8, before any float memory:
    frame_load_cap (0 = all), skip_first_frames, select_every_nth, custom_width /
    custom_height (0 = keep; one alone keeps the aspect ratio). The audio covers
    the same time span as the returned frames.

    Raises VideoError (unreadable file), NotEnoughMemoryError (output would not
    fit in available memory; checked before allocating), InvalidInputError (bad
    options) and Cancelled (cancel_check returned True)."""
    _validate(frame_load_cap, skip_first_frames, select_every_nth, custom_width, custom_height)
    p = os.fspath(path)
    container = _open(p)
    try:
        try:
            info = _probe_container(container, p)
        except VideoError:
            raise
        except _av_errors() as e:
            raise VideoError(f"Could not read the video stream of {p} ({e}).") from e
        if info.frame_count <= 0:
            raise VideoError(f"The video {p} contains no frames; it is probably truncated.")
        if skip_first_frames >= info.frame_count:
            raise InvalidInputError(
                f"skip_first_frames={skip_first_frames} skips every frame: the video has "
                f"{info.frame_count} frames.")
        out_w, out_h = _target_size(info.width, info.height, custom_width, custom_height)
        planned = _selected_count(info.frame_count, skip_first_frames, select_every_nth, frame_load_cap)
        _check_memory(estimate_decode_bytes(info, frame_load_cap=frame_load_cap,
                                            skip_first_frames=skip_first_frames,
                                            select_every_nth=select_every_nth, custom_width=custom_width,
                                            custom_height=custom_height), planned, out_w, out_h)
        # Only as much audio as the selected frames span (the memory check counted that
        # much); sliced to the frames actually decoded afterwards.
        until = _audio_until(info, skip_first_frames, planned, select_every_nth)
        audio_track = _read_audio(p, info, until)
        out, count, capped, first_time, seen = _decode_frames(
            container, info, out_w, out_h, planned, frame_load_cap, skip_first_frames, select_every_nth,
            cancel_check, progress)
    finally:
        container.close()

    if count == 0:
        raise VideoError(f"No frame of {p} could be decoded; the file is probably truncated or corrupt.")
    if count < out.shape[0]:
        log.warning("video_decode: %s declared %d frames but only %d were decoded",
                    p, info.frame_count, skip_first_frames + (count - 1) * select_every_nth + 1)
        # A view keeps the spare frames allocated but never copies; only when most of
        # the buffer is spare is a copy (at most 1.5x the buffer) worth it.
        out = out[:count].clone() if count <= out.shape[0] // 2 else out[:count]

    fps_out = info.fps / select_every_nth
    # Audio window: from the first returned frame to the end of the frames it stands for:
    # those the cap kept, else the video's last one (a longer track is cut there).
    start = first_time if skip_first_frames > 0 else 0.0
    length = count * select_every_nth / info.fps if capped else max(seen / info.fps - start, 0.0)
    if audio_track is not None and not audio_track.complete and audio_track.end < start + length:
        # The header under-counted the frames, so the audio read stopped short: read on.
        _check_memory(_audio_bytes(info, start + length), count, out_w, out_h)
        audio_track = _read_audio(p, info, start + length)
    audio = _audio_window(audio_track, start, length)
    return DecodedVideo(frames=out, audio=audio, fps=fps_out, frame_count=count, width=out_w,
                        height=out_h, source=info)


def _decode_frames(container: Any, info: VideoInfo, out_w: int, out_h: int, planned: int, cap: int,
                   skip: int, nth: int, cancel_check: Callable[[], bool] | None,
                   progress: Callable[[int, int], None] | None) -> tuple[Any, int, bool, float, int]:
    """Fill a preallocated float32 tensor; returns (tensor, frames written, cut by cap, time
    of first, source frames decoded)."""
    import torch
    vs = container.streams.video[0]
    if _CODEC_THREADS:
        vs.thread_type = _CODEC_THREADS
    out = torch.empty((max(planned, 1), out_h, out_w, 3), dtype=torch.float32)
    rows = out.numpy()  # the same memory; numpy writes need no autograd/inference-mode checks
    converter = _Converter(out_w, out_h) if _CONVERTER_THREAD else None
    step = max(1, planned // 50)
    count = 0
    index = -1
    first_time = skip / info.fps if info.fps > 0 else 0.0
    v0 = None
    try:
        for frame in container.decode(vs):
            if cancel_check is not None and cancel_check():
                raise Cancelled("Video decoding was cancelled.")
            index += 1
            if v0 is None:
                v0 = float(frame.time) if frame.time is not None else 0.0
            if index < skip or (index - skip) % nth:
                continue
            if count == 0 and frame.time is not None:
                first_time = float(frame.time) - v0
            if count >= out.shape[0]:
                # The header under-counted: grow by a quarter. Old and new buffers
                # coexist during the copy, so check the new one against what is left.
                if converter is not None:
                    converter.drain()  # every queued frame is in the old buffer before the copy
                grown = out.shape[0] + max(8, out.shape[0] // 4)
                if cap:
                    grown = min(grown, cap)
                frame_bytes = out_h * out_w * 3 * 4
                _check_memory(grown * frame_bytes, grown, out_w, out_h)
                bigger = torch.empty((grown, out_h, out_w, 3), dtype=torch.float32)
                bigger[:count].copy_(out[:count])
                out, rows = bigger, bigger.numpy()
                del bigger
            if converter is not None:
                converter.submit(rows[count], frame)
            else:
                _convert_into(rows[count], frame, out_w, out_h)
            count += 1
            if progress is not None and (count % step == 0 or count == planned):
                progress(count, max(planned, count))
            if cap and count >= cap:
                break  # later frames are not needed: stop decoding
        if converter is not None:
            converter.drain()
    except (Cancelled, NotEnoughMemoryError):
        raise
    except _av_errors() as e:
        raise VideoError(f"The video stream broke off after {count} decoded frames ({e}); "
                         "the file is probably truncated or corrupt.") from e
    finally:
        if converter is not None:
            converter.close()
    # Cut by the cap only if the file had more selectable frames than we returned.
    capped = bool(cap) and count >= cap and _selected_count(info.frame_count, skip, nth, 0) > count
    return out, count, capped, first_time, index + 1
