"""What the command line writes beside a clip, without torch: the audio track as a 16-bit
WAV (streamed from the MP4 with PyAV, never the whole clip in memory) and a JSON summary
(size, frames, fps, audio layout from the container, no frame decoded). Also the local
checks made before anything is paid for: decoders present, space on the disk.

The node decodes every frame into a float32 tensor because ComfyUI wants one; a file on
disk wants none of that (a default clip would take 1.9 GiB for nothing)."""
from __future__ import annotations

import json
import os
import shutil
import wave
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import InvalidInputError, OutputFolderError, VideoError
from .params import snap_to_grid

SILENT_RATE = 24000      # what LTX-2 returns; the rate of the silence written for a mute clip
SILENT_CHANNELS = 2
# A Segmind LTX-2 clip at the defaults (736x1280, 185 frames) is 5 to 15 MB; this bound
# per rendered pixel-frame stays above what H.264 at that quality produces.
_MP4_BYTES_PER_PIXEL_FRAME = 0.12
_WAV_BYTES_PER_SECOND = SILENT_RATE * SILENT_CHANNELS * 2
_HEADROOM_BYTES = 64 << 20  # the disk must not end up full to the last byte

Progress = Callable[[float, float], None]  # (done, total) in seconds of audio


def missing_codecs(offline: bool) -> list[str]:
    """Names of the PyAV codecs this run needs that the installed build lacks: H.264 and
    AAC decoders (to check and read the clip), plus the encoders the offline preview uses."""
    import av

    needed = [("h264", "r"), ("aac", "r")]
    if offline:
        needed += [("libx264", "w"), ("aac", "w")]
    missing = []
    for name, mode in needed:
        try:
            av.Codec(name, mode)
        except Exception:  # UnknownCodecError in current PyAV, ValueError in older ones
            missing.append(f"{name} {'decoder' if mode == 'r' else 'encoder'}")
    return missing


def estimate_clip_bytes(body: Mapping[str, Any], rendered: tuple[int, int, int | None] | None = None,
                        fps: int | None = None) -> int:
    """Disk bytes one clip needs: the MP4 (twice, when the result cache sits on another
    file system and keeps a copy rather than a link) plus its WAV. `rendered` and `fps`: a
    model whose resolution picks the size (the body holds no width)."""
    if rendered is not None and "width" not in body:
        w, h, n = rendered[0], rendered[1], rendered[2] or 0
    else:
        w, h, n = snap_to_grid(int(body["width"]), int(body["height"]), int(body["num_frames"]))
    seconds = n / max(1, int(fps or body.get("fps") or 24))
    return int(2 * w * h * n * _MP4_BYTES_PER_PIXEL_FRAME + seconds * _WAV_BYTES_PER_SECOND)


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Raise OutputFolderError when `folder`'s disk has less than `needed` bytes (plus headroom)."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # unknown: the writes themselves will tell
    if free < needed + _HEADROOM_BYTES:
        raise OutputFolderError(
            f"Not enough free disk space in {folder}: {what} needs about "
            f"{(needed + _HEADROOM_BYTES) / 1e6:.0f} MB and {free / 1e6:.0f} MB is free. Free some "
            "space or choose another output folder. Nothing was sent.")


def _audio_layout(stream: Any) -> tuple[int, int]:
    rate = int(getattr(stream, "sample_rate", 0) or stream.codec_context.sample_rate or SILENT_RATE)
    channels = int(getattr(stream, "channels", 0) or getattr(stream.codec_context, "channels", 0)
                   or len(getattr(stream.layout, "channels", ()) or ()) or SILENT_CHANNELS)
    return rate, channels


def write_wav(mp4: Path, dest: Path, progress: Progress | None = None,
              seconds: float | None = None) -> dict[str, Any]:
    """Write the clip's sound to `dest` as 16-bit PCM, frame by frame: the same window the
    node's AUDIO output holds (from the first video frame, `seconds` long: by default the
    clip's frame_count / fps, read from the container). A clip without sound gets silence
    of that length. Returns {"sample_rate", "channels", "samples"}."""
    import av

    if seconds is None:
        from .video_decode import probe_video

        probed = probe_video(mp4)
        seconds = probed.frame_count / probed.fps if probed.fps else 0.0
    tmp = dest.with_name(dest.name + ".part")
    try:
        with av.open(str(mp4)) as container, wave.open(str(tmp), "wb") as out:
            video = container.streams.video[0] if container.streams.video else None
            if not container.streams.audio:
                samples = int(round((seconds or 0.0) * SILENT_RATE))
                out.setnchannels(SILENT_CHANNELS)
                out.setsampwidth(2)
                out.setframerate(SILENT_RATE)
                out.writeframes(bytes(samples * SILENT_CHANNELS * 2))
                info = {"sample_rate": SILENT_RATE, "channels": SILENT_CHANNELS, "samples": samples}
            else:
                info = _copy_audio(container, video, out, seconds, progress)
        os.replace(tmp, dest)
    except av.FFmpegError as exc:
        raise VideoError(f"Could not read the sound of {mp4.name}: {_ffmpeg_words(exc)}.") from None
    except OSError as exc:
        raise OutputFolderError(f"Could not write {dest} ({exc.strerror or type(exc).__name__}). "
                                "Free some disk space or choose another output folder.") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return info


def _copy_audio(container: Any, video: Any, out: Any, seconds: float | None,
                progress: Progress | None) -> dict[str, Any]:
    """Decode the first audio track into `out`, aligned to the video's first timestamp
    (core.video_decode's rule: a track starting late is led in with silence, one starting
    early is cut), and stop after `seconds`."""
    import numpy as np

    stream = container.streams.audio[0]
    rate, channels = _audio_layout(stream)
    out.setnchannels(channels)
    out.setsampwidth(2)
    out.setframerate(rate)
    v0 = float(video.start_time * video.time_base) if video is not None and video.start_time is not None \
        and video.time_base else 0.0
    limit = None if seconds is None else int(round(seconds * rate))
    total = seconds or (float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0)
    written = 0
    skip: int | None = None
    for frame in container.decode(stream):
        pcm = _to_int16(frame.to_ndarray(), frame.format.is_planar, channels, np)
        if skip is None:
            start = float(frame.time) - v0 if frame.time is not None else 0.0
            skip = int(round(-start * rate))
            if skip < 0:  # the sound starts after the first frame
                lead = -skip if limit is None else min(-skip, limit)
                out.writeframes(bytes(lead * channels * 2))
                written, skip = lead, 0
        if skip:
            cut = min(skip, pcm.shape[0])
            pcm, skip = pcm[cut:], skip - cut
        if limit is not None:
            pcm = pcm[:max(0, limit - written)]
        out.writeframes(np.ascontiguousarray(pcm).tobytes())
        written += pcm.shape[0]
        if progress is not None:
            progress(written / rate, max(total, written / rate))
        if limit is not None and written >= limit:
            break  # past the clip's end: the rest of the track is not needed
    return {"sample_rate": rate, "channels": channels, "samples": written}


def _to_int16(arr: Any, planar: bool, channels: int, np: Any) -> Any:
    """One decoded audio frame -> interleaved int16 [samples, channels]."""
    if planar:
        arr = arr.T  # [C, S] -> [S, C]
    else:
        arr = arr.reshape(-1, channels)
    if arr.dtype.kind == "f":
        return (np.clip(arr, -1.0, 1.0) * 32767.0).round().astype("<i2")
    if arr.dtype == np.int16:
        return np.ascontiguousarray(arr, dtype="<i2")
    if arr.dtype == np.int32:
        return (arr >> 16).astype("<i2")
    return np.ascontiguousarray(arr.astype("<i2"))


def _ffmpeg_words(exc: BaseException) -> str:
    """FFmpeg's text without its error numbers ("[Errno 1094995529] ...")."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split("; last error log")[0].strip() or type(exc).__name__


def clip_summary(mp4: Path) -> dict[str, Any]:
    """Size, frame count, fps, duration and audio layout, read from the container alone."""
    from .video_decode import probe_video

    info = probe_video(mp4)
    return {
        "width": info.width, "height": info.height, "frame_count": info.frame_count,
        "fps": round(info.fps, 3),
        "duration_seconds": round(info.frame_count / info.fps, 3) if info.fps else None,
        "has_audio": info.has_audio,
    }


def summary_path(mp4: Path) -> Path:
    """`clip.mp4` -> `clip.summary.json`: `clip.json` is the clip's provenance (core/provenance.py)."""
    return Path(mp4).with_name(Path(mp4).stem + ".summary.json")


def write_summary(dest: Path, summary: Mapping[str, Any]) -> Path:
    tmp = dest.with_name(dest.name + ".part")
    try:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        os.replace(tmp, dest)
    except OSError as exc:
        raise OutputFolderError(f"Could not write {dest} ({exc.strerror or type(exc).__name__}).") from None
    return dest


def require_pyav() -> None:
    try:
        import av  # noqa: F401
    except ImportError:
        raise InvalidInputError("PyAV is not installed: run `pip install av` (or `pip install -r "
                                "requirements.txt`), then try again.") from None
