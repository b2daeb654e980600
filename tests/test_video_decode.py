"""core.video_decode on tiny generated clips: frames, options, audio, memory guard,
broken files, cancellation. Frames are identified by the solid colour they were
encoded with, so every option can be checked frame by frame."""
from __future__ import annotations

import threading
import tracemalloc
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pack_loader import pack_module

W, H, FPS, N = 64, 48, 8, 16
RATE = 24000


def frame_colour(i: int) -> tuple[int, int, int]:
    """A colour that names frame i (R steps up, G steps down)."""
    return 10 + 14 * i, 240 - 14 * i, 128


def make_test_clip(path: Path, *, frames: int = N, fps: int = FPS, width: int = W, height: int = H,
                   audio: bool = True, container: str | None = None) -> Path:
    """H.264 clip of solid colour frames; stereo AAC whose left channel is quiet for
    the first second and loud afterwards (so a cut in time can be seen)."""
    import av

    out = av.open(str(path), "w", format=container)
    vs = out.add_stream("libx264", rate=fps)
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    vs.options = {"qp": "0", "preset": "ultrafast"}
    aus = out.add_stream("aac", rate=RATE, layout="stereo") if audio else None
    for i in range(frames):
        img = np.empty((height, width, 3), np.uint8)
        img[:] = frame_colour(i)
        for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            out.mux(p)
    if aus is not None:
        n = int(round(frames / fps * RATE))
        t = np.arange(n) / RATE
        left = np.where(t < 1.0, 0.05, 0.5) * np.sin(2 * np.pi * 440 * t)
        right = 0.3 * np.sin(2 * np.pi * 660 * t)
        wave = np.stack([left, right]).astype(np.float32)
        for s in range(0, n, 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, s:s + 1024]), format="fltp", layout="stereo")
            f.sample_rate, f.pts = RATE, s
            for p in aus.encode(f):
                out.mux(p)
        for p in aus.encode():
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    out.close()
    return path


@pytest.fixture(scope="module")
def vd() -> Any:
    return pack_module("core.video_decode")


@pytest.fixture(scope="module")
def errors() -> Any:
    return pack_module("core.errors")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("vd") / "clip.mp4")


@pytest.fixture(scope="module")
def mute_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("vd") / "mute.mp4", audio=False, frames=12)


def frame_ids(frames: Any) -> list[int]:
    """Which source frame each output frame is, from its mean red level."""
    red = frames[..., 0].mean(dim=(1, 2)).numpy() * 255
    return [int(round((r - 10) / 14)) for r in red]


def test_probe_reads_the_file(vd: Any, clip: Path) -> None:
    info = vd.probe_video(clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (W, H, FPS, N)
    assert info.duration == pytest.approx(N / FPS, abs=0.2)
    assert info.has_audio and info.audio_sample_rate == RATE and info.audio_channels == 2


def test_full_decode_shape_and_colours(vd: Any, clip: Path) -> None:
    import torch

    d = vd.decode_video(clip)
    assert d.frames.shape == (N, H, W, 3) and d.frames.dtype == torch.float32
    assert d.frames.is_contiguous()
    assert float(d.frames.min()) >= 0.0 and float(d.frames.max()) <= 1.0
    assert (d.frame_count, d.fps, d.width, d.height) == (N, FPS, W, H)
    for i in range(N):
        want = torch.tensor(frame_colour(i), dtype=torch.float32) / 255
        got = d.frames[i].mean(dim=(0, 1))
        assert torch.allclose(got, want, atol=3 / 255), (i, got * 255, want * 255)
        assert float((d.frames[i] - want).abs().max()) < 6 / 255  # solid: every pixel, not just the mean


@pytest.mark.parametrize("opts, ids", [
    ({"frame_load_cap": 5}, [0, 1, 2, 3, 4]),
    ({"skip_first_frames": 11}, [11, 12, 13, 14, 15]),
    ({"select_every_nth": 3}, [0, 3, 6, 9, 12, 15]),
    ({"skip_first_frames": 2, "select_every_nth": 4, "frame_load_cap": 3}, [2, 6, 10]),
    ({"frame_load_cap": 100}, list(range(N))),
])
def test_frame_selection(vd: Any, clip: Path, opts: dict, ids: list[int]) -> None:
    d = vd.decode_video(clip, **opts)
    assert frame_ids(d.frames) == ids
    assert d.frame_count == len(ids) == d.frames.shape[0]
    assert d.fps == pytest.approx(FPS / opts.get("select_every_nth", 1))
    assert d.frames.is_contiguous()


@pytest.mark.parametrize("cw, ch, size", [(32, 16, (32, 16)), (32, 0, (32, 24)), (0, 96, (128, 96)), (0, 0, (W, H))])
def test_resize(vd: Any, clip: Path, cw: int, ch: int, size: tuple[int, int]) -> None:
    d = vd.decode_video(clip, custom_width=cw, custom_height=ch, frame_load_cap=4, skip_first_frames=3)
    assert (d.width, d.height) == size
    assert d.frames.shape == (4, size[1], size[0], 3)
    assert frame_ids(d.frames) == [3, 4, 5, 6]


def test_audio_full(vd: Any, clip: Path) -> None:
    import torch

    d = vd.decode_video(clip)
    wave = d.audio["waveform"]
    assert d.audio["sample_rate"] == RATE
    assert wave.dtype == torch.float32 and wave.shape[:2] == (1, 2)
    assert wave.shape[2] == pytest.approx(N / FPS * RATE, abs=2048)  # AAC pads to 1024-sample frames
    assert float(wave.abs().max()) > 0.2


def test_audio_follows_skip_and_cap(vd: Any, clip: Path) -> None:
    # 8 frames skipped at 8 fps = 1 s: the returned audio starts where the left channel gets loud.
    d = vd.decode_video(clip, skip_first_frames=8, frame_load_cap=4)
    wave = d.audio["waveform"][0]
    assert wave.shape[1] == 4 / FPS * RATE
    quarter = RATE // 4
    head = float(wave[0, 200:quarter].pow(2).mean().sqrt())
    assert head > 0.25, head  # loud part (RMS of 0.5 sine = 0.35)
    start = vd.decode_video(clip, frame_load_cap=4)
    assert start.audio["waveform"].shape[2] == 4 / FPS * RATE
    assert float(start.audio["waveform"][0, 0, 200:quarter].pow(2).mean().sqrt()) < 0.1  # quiet part
    nth = vd.decode_video(clip, select_every_nth=2, frame_load_cap=3)  # frames 0, 2, 4 span 6 source frames
    assert nth.audio["waveform"].shape[2] == 6 / FPS * RATE


def test_no_audio_gives_silence_of_clip_length(vd: Any, mute_clip: Path) -> None:
    d = vd.decode_video(mute_clip)
    assert d.source.has_audio is False
    assert d.audio["sample_rate"] == 24000
    assert tuple(d.audio["waveform"].shape) == (1, 2, 12 * 24000 // FPS)
    assert float(d.audio["waveform"].abs().max()) == 0.0
    capped = vd.decode_video(mute_clip, frame_load_cap=4, select_every_nth=2)
    assert capped.audio["waveform"].shape[2] == 8 * 24000 // FPS


def test_memory_guard(vd: Any, errors: Any, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vd, "_available_memory_bytes", lambda: 100 << 20)
    monkeypatch.setattr(vd, "_MEMORY_HEADROOM_BYTES", 0)
    big = vd.VideoInfo(width=720, height=1280, fps=24.0, frame_count=181, duration=7.5, has_audio=True,
                       audio_sample_rate=24000, audio_channels=2)
    needed = vd.estimate_decode_bytes(big)
    assert needed >= 181 * 720 * 1280 * 3 * 4
    assert vd.estimate_decode_bytes(big, frame_load_cap=10, custom_width=360) < needed / 30
    # The tiny clip needs well under 1 MiB: with 100 KiB "available" it must refuse, before allocating.
    monkeypatch.setattr(vd, "_available_memory_bytes", lambda: 100 << 10)
    with pytest.raises(errors.NotEnoughMemoryError) as e:
        vd.decode_video(clip)
    msg = str(e.value)
    assert "GiB" in msg and "available" in msg
    assert "frame_load_cap" in msg and "select_every_nth" in msg and "custom_width" in msg
    assert isinstance(e.value, errors.SegmindError)
    # Unknown available memory: no guard.
    monkeypatch.setattr(vd, "_available_memory_bytes", lambda: None)
    assert vd.decode_video(clip, frame_load_cap=2).frame_count == 2


def test_available_memory_reads_meminfo(vd: Any) -> None:
    avail = vd._available_memory_bytes()
    assert avail is None or avail > 0


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "missing"])
def test_broken_files_raise_video_error(vd: Any, errors: Any, clip: Path, tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.mp4"
    data = clip.read_bytes()
    if kind == "garbage":
        bad.write_bytes(b"<html>Service Unavailable</html>" * 50)
    elif kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        bad.write_bytes(b"")
    with pytest.raises(errors.VideoError):
        vd.probe_video(bad)
    with pytest.raises(errors.VideoError):
        vd.decode_video(bad)


def test_bad_options(vd: Any, errors: Any, clip: Path) -> None:
    with pytest.raises(errors.InvalidInputError):
        vd.decode_video(clip, select_every_nth=0)
    with pytest.raises(errors.InvalidInputError, match="skip_first_frames"):
        vd.decode_video(clip, skip_first_frames=N)


def test_cancel_and_progress(vd: Any, errors: Any, clip: Path) -> None:
    threads_before = threading.active_count()
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(errors.Cancelled):
        vd.decode_video(clip, cancel_check=cancel)
    assert calls["n"] == 4  # polled on every frame
    assert threading.active_count() == threads_before  # helper threads stopped

    seen: list[tuple[int, int]] = []
    vd.decode_video(clip, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (N, N)
    assert all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))


def test_missing_frame_count_is_counted(vd: Any, tmp_path: Path) -> None:
    mkv = make_test_clip(tmp_path / "clip.mkv", container="matroska", frames=10)
    info = vd.probe_video(mkv)
    assert info.frame_count == 10
    assert frame_ids(vd.decode_video(mkv).frames) == list(range(10))


@pytest.mark.parametrize("claimed", [3, 40])
def test_wrong_frame_count_grows_or_trims(vd: Any, clip: Path, monkeypatch: pytest.MonkeyPatch,
                                          claimed: int) -> None:
    real = vd._probe_container

    def lying(container: Any, path: str) -> Any:
        info = real(container, path)
        info.frame_count = claimed
        return info

    monkeypatch.setattr(vd, "_probe_container", lying)
    d = vd.decode_video(clip)
    assert frame_ids(d.frames) == list(range(N))
    assert d.frame_count == N and d.frames.is_contiguous()
    # the audio still covers every decoded frame, though it was first read for `claimed` frames only
    assert d.audio["waveform"].shape[2] == pytest.approx(N / FPS * RATE, abs=2048)
    capped = vd.decode_video(clip, frame_load_cap=7)
    assert frame_ids(capped.frames) == list(range(7))


def test_module_imports_no_heavy_libraries() -> None:
    import ast

    src = Path(pack_module("core.video_decode").__file__).read_text()
    top = [n for n in ast.parse(src).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top for a in n.names} | {
        (n.module or "").split(".")[0] for n in top if isinstance(n, ast.ImportFrom)}
    assert not names & {"torch", "av", "cv2", "numpy"}


@pytest.mark.parametrize("knobs", [
    {"_POPULATE": False},
    {"_CONVERTER_THREAD": False},
    {"_CODEC_THREADS": "AUTO"},
    {"_QUEUE_DEPTH": 1},
])
def test_tuning_variants_give_the_same_frames(vd: Any, errors: Any, clip: Path, monkeypatch: pytest.MonkeyPatch,
                                              knobs: dict) -> None:
    # The benchmark's ablations flip these; every variant must stay correct.
    import torch

    reference = vd.decode_video(clip).frames
    for k, v in knobs.items():
        monkeypatch.setattr(vd, k, v)
    assert torch.equal(vd.decode_video(clip).frames, reference)
    assert frame_ids(vd.decode_video(clip, skip_first_frames=3, select_every_nth=5).frames) == [3, 8, 13]
    with pytest.raises(errors.Cancelled):
        vd.decode_video(clip, cancel_check=lambda: True)


def test_matches_comfyui_conversion_exactly(vd: Any, clip: Path) -> None:
    # Same pixels as ComfyUI's per-frame to_ndarray("rgb24") / 255.0 (only the memory layout differs).
    import av
    import torch

    with av.open(str(clip)) as c:
        ref = torch.stack([torch.from_numpy(f.to_ndarray(format="rgb24")) / 255.0 for f in c.decode(video=0)])
    assert torch.equal(vd.decode_video(clip).frames, ref)


def test_resize_without_opencv(vd: Any, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenCV is optional in ComfyUI installs: PyAV's swscale resizes instead.
    monkeypatch.setattr(vd, "_USE_CV2", False)
    for cw, ch, size in [(32, 0, (32, 24)), (0, 96, (128, 96))]:
        d = vd.decode_video(clip, custom_width=cw, custom_height=ch, frame_load_cap=3, skip_first_frames=5)
        assert (d.width, d.height) == size and d.frames.shape == (3, size[1], size[0], 3)
        assert frame_ids(d.frames) == [5, 6, 7]


def test_truncated_faststart_mp4(vd: Any, errors: Any, tmp_path: Path) -> None:
    # Index at the front: the file still opens with its tail cut off. probe_video (the
    # download check) refuses it; decode_video returns what is there or raises VideoError.
    import av

    src = make_test_clip(tmp_path / "src.mp4", frames=N)
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as i, av.open(str(fast), "w", options={"movflags": "faststart"}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for pkt in i.demux():
            if pkt.dts is not None:
                pkt.stream = streams[pkt.stream.index]
                o.mux(pkt)
    assert vd.probe_video(fast).frame_count == N
    cut = tmp_path / "cut.mp4"
    data = fast.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(errors.VideoError, match="truncated"):
        vd.probe_video(cut)
    try:
        d = vd.decode_video(cut)
    except errors.VideoError:
        return
    assert 0 < d.frame_count < N and frame_ids(d.frames) == list(range(d.frame_count))


def test_under_inference_mode(vd: Any, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ComfyUI runs nodes inside torch.inference_mode(); the helper thread must cope.
    import torch

    errors_seen: list[BaseException] = []
    monkeypatch.setattr(vd.log, "debug", lambda *a, **k: errors_seen.append(a))
    with torch.inference_mode():
        d = vd.decode_video(clip, frame_load_cap=6)
    assert frame_ids(d.frames) == list(range(6))
    assert errors_seen == []  # the converter thread did not fail


def _converter_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "video_decode-convert"]


def test_frames_converted_on_either_thread_land_in_their_rows(vd: Any, clip: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A slow converter thread fills its queue, so the decoding thread converts some
    # frames itself: whichever thread writes a frame, it must land in its own row.
    import time

    original = vd._convert_into
    by_thread: dict[str, int] = {}

    def slow_on_helper(dst: Any, frame: Any, w: int, h: int) -> None:
        name = threading.current_thread().name
        by_thread[name] = by_thread.get(name, 0) + 1
        if name == "video_decode-convert":
            time.sleep(0.02)
        original(dst, frame, w, h)

    monkeypatch.setattr(vd, "_convert_into", slow_on_helper)
    d = vd.decode_video(clip, skip_first_frames=1, select_every_nth=2)
    assert frame_ids(d.frames) == list(range(1, N, 2))
    assert by_thread.get("video_decode-convert", 0) > 0
    assert sum(n for name, n in by_thread.items() if name != "video_decode-convert") > 0
    assert _converter_threads() == []


def test_a_failure_on_the_converter_thread_is_raised(vd: Any, errors: Any, clip: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Without passing the error back, the frame would silently stay uninitialised memory.
    original = vd._frame_to_rgb

    def fails_on_helper(frame: Any, w: int, h: int) -> Any:
        if threading.current_thread().name == "video_decode-convert":
            raise ValueError("colour conversion failed")
        return original(frame, w, h)

    monkeypatch.setattr(vd, "_frame_to_rgb", fails_on_helper)
    with pytest.raises(errors.VideoError, match="colour conversion failed"):
        vd.decode_video(clip)
    assert _converter_threads() == []


def test_cancel_stops_the_converter_thread(vd: Any, errors: Any, clip: Path) -> None:
    calls = iter(range(100))
    with pytest.raises(errors.Cancelled):
        vd.decode_video(clip, cancel_check=lambda: next(calls) >= 5)
    assert _converter_threads() == []


def test_populate_refused_by_the_kernel_falls_back_to_plain_writes(vd: Any, clip: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Linux before 5.14 answers MADV_POPULATE_WRITE with EINVAL: no more calls, same frames.
    calls: list[int] = []

    def refusing(addr: int, length: int, advice: int) -> int:
        calls.append(advice)
        return -1

    monkeypatch.setattr(vd, "_madvise", refusing)
    d = vd.decode_video(clip)
    assert frame_ids(d.frames) == list(range(N))
    # tried once per thread at most (both may ask before the first answer), then never again
    assert calls and len(calls) <= 2 and set(calls) == {vd._MADV_POPULATE_WRITE}
    assert vd._madvise is False


# --------------------------------------------------------------------------- issue 12: long audio


def make_long_audio_clip(path: Path, *, seconds: int = 600, rate: int = 8000, fps: int = FPS) -> Path:
    """One video frame and `seconds` of mono AAC: a track far longer than the video.

    Only a few AAC packets are encoded; a steady-state one is then repeated with advancing
    timestamps, so ten minutes of sound take milliseconds to write (and decode as a tone)."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        aus = out.add_stream("aac", rate=rate, layout="mono")
        frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 100, np.uint8), format="rgb24")
        frame.pts, frame.time_base = 0, Fraction(1, fps)
        out.mux(vs.encode(frame))
        out.mux(vs.encode())
        tone = (0.2 * np.sin(2 * np.pi * 500 * np.arange(1024) / rate)).astype(np.float32)[None]
        packets = []
        for start in range(0, 8 * 1024, 1024):
            a = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            a.sample_rate, a.pts, a.time_base = rate, start, Fraction(1, rate)
            packets += aus.encode(a)
        out.mux(packets)
        steady = bytes(packets[-1])
        for start in range(8 * 1024, seconds * rate, 1024):
            p = av.Packet(steady)
            p.stream, p.time_base, p.pts, p.dts, p.duration = aus, Fraction(1, rate), start, start, 1024
            out.mux(p)
    return path


def test_audio_is_decoded_only_for_the_video_duration_and_counted_by_the_guard(
        vd: Any, errors: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault_row: Any) -> None:
    # A 1-frame video with 10 minutes of sound: the returned audio lasts as long as the
    # video, and the memory the decode really takes stays within what the guard checked.
    clip = make_long_audio_clip(tmp_path / "long.mp4")
    info = vd.probe_video(clip)
    assert info.frame_count == 1 and info.has_audio and info.audio_sample_rate == 8000
    vd.decode_video(clip)  # warm-up: first-call imports are not the decode's memory
    tracemalloc.start()
    try:
        d = vd.decode_video(clip)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    wave = d.audio["waveform"]
    assert d.audio["sample_rate"] == 8000 and wave.shape[:2] == (1, 1)
    assert wave.shape[2] == round(1 / FPS * 8000)  # the video's duration, not 10 minutes
    estimate = vd.estimate_decode_bytes(info)
    frames_and_pipeline = vd.estimate_decode_bytes(info) - vd._audio_bytes(info, 1 / FPS)
    assert estimate - frames_and_pipeline >= 2 * wave.numel() * 4  # the estimate counts the audio...
    # ...and bounds what decoding allocates (numpy audio buffers are traced; 10 minutes
    # decoded would be ~38 MB). A little slack for Python's own bookkeeping.
    assert peak <= estimate + (256 << 10), (peak, estimate)
    # The guard checks that same figure.
    monkeypatch.setattr(vd, "_MEMORY_HEADROOM_BYTES", 0)
    monkeypatch.setattr(vd, "_available_memory_bytes", lambda: estimate - 1)
    with pytest.raises(errors.NotEnoughMemoryError, match="audio"):
        vd.decode_video(clip)
    monkeypatch.setattr(vd, "_available_memory_bytes", lambda: estimate)
    assert vd.decode_video(clip).audio["waveform"].shape[2] == wave.shape[2]
    fault_row("A 1-frame MP4 carrying 10 minutes of AAC", "Decoding a clip (core.video_decode)",
              f"Audio is decoded only for the video's duration ({wave.shape[2]} samples for 1 frame at "
              f"{FPS} fps); the memory guard's estimate counts that audio and bounds the real allocation.")
