"""core.offline_edits: the free local stand-ins of Retake (the section tinted, its tone
swapped, per mode) and Extend (offline segments chained from each last frame, joined)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clip_samples import RATE, frame_red, left_channel, make_clip, max_jump, mean_rgb
from pack_loader import pack_module

FPS = 24
FRAMES = 80  # above Retake's 73-frame minimum


@pytest.fixture(scope="module")
def oe() -> Any:
    return pack_module("core.offline_edits")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("edits") / "source.mp4", frames=FRAMES, hz=440.0, first_tag=0)


def _tinted(rgb: np.ndarray) -> bool:
    """Grey frames stay grey; the retake tint is magenta (red and blue up, green down)."""
    return float(rgb[0] - rgb[1]) > 30


def _peak_hz(wave: np.ndarray, lo: float, hi: float) -> float:
    part = wave[int(lo * RATE):int(hi * RATE)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return float(np.fft.rfftfreq(len(part), 1 / RATE)[int(spectrum.argmax())])


@pytest.mark.parametrize("mode, tint, swap", [("both", True, True), ("video", True, False),
                                              ("replace_audio", False, True)])
def test_retake_offline(oe: Any, source: Path, tmp_path: Path, mode: str, tint: bool, swap: bool) -> None:
    dest, section = oe.retake_offline(source, tmp_path / "retake.mp4", 1.0, 2.0, mode)
    info = pack_module("core.video_decode").probe_video(dest)
    assert (info.frame_count, info.width, info.height, info.fps) == (FRAMES, 64, 48, FPS)  # same clip shape
    assert (section.start, section.end) == (1.0, 3.0)
    tinted = [_tinted(rgb) for rgb in mean_rgb(dest)]
    want = [tint and 24 <= i < 72 for i in range(FRAMES)]  # frames shown in [1 s, 3 s)
    assert tinted == want
    wave = left_channel(dest)
    assert len(wave) >= FRAMES * RATE // FPS  # the sound to the end
    assert _peak_hz(wave, 0.2, 0.9) == pytest.approx(440, abs=5)
    assert _peak_hz(wave, 3.05, 3.3) == pytest.approx(440, abs=10)
    inside = _peak_hz(wave, 1.2, 2.8)
    assert (inside in (pytest.approx(523.25, abs=5), pytest.approx(784, abs=5))) == swap, inside
    if swap:  # the swap is faded, no click at the section's edges
        reference = max(max_jump(wave, int(0.2 * RATE), int(0.8 * RATE)),
                        max_jump(wave, int(1.5 * RATE), int(2.5 * RATE)))
        for edge in (RATE, 3 * RATE):
            assert max_jump(wave, edge - 1200, edge + 1200) < 1.6 * reference


def test_retake_offline_checks_first(oe: Any, source: Path, tmp_path: Path) -> None:
    invalid = pack_module("core.errors").InvalidInputError
    short = make_clip(tmp_path / "short.mp4", frames=72, hz=None)
    with pytest.raises(invalid, match="at least 73"):
        oe.retake_offline(short, tmp_path / "out.mp4", 0.0, 2.0, "both")
    with pytest.raises(invalid, match="duration"):
        oe.retake_offline(source, tmp_path / "out.mp4", 0.0, 1.0, "both")
    assert not (tmp_path / "out.mp4").exists()


def test_retake_offline_of_a_mute_clip_has_sound_in_the_section(oe: Any, tmp_path: Path) -> None:
    mute = make_clip(tmp_path / "mute.mp4", frames=FRAMES, hz=None)
    dest, _ = oe.retake_offline(mute, tmp_path / "retake.mp4", 0.5, 2.0, "audio")
    wave = left_channel(dest)
    assert np.abs(wave[:int(0.4 * RATE)]).max() < 0.01 and np.abs(wave[int(1 * RATE):int(2 * RATE)]).max() > 0.05


def test_extend_offline(oe: Any, source: Path, tmp_path: Path) -> None:
    joined, segments = oe.extend_offline(source, ["it walks on", "it stops"], tmp_path / "extended.mp4",
                                         tmp_path / "segments", num_frames=9)
    assert joined.frame_count == FRAMES + 8 + 8 and (joined.width, joined.height) == (64, 48)
    assert [s.parent for s in segments] == [tmp_path / "segments"] * 2 and all(s.is_file() for s in segments)
    info = pack_module("core.video_decode").probe_video(joined.path)
    assert info.frame_count == FRAMES + 16 and info.duration == pytest.approx((FRAMES + 16) / FPS, abs=0.01)
    # Each segment continues from the last frame (a solid picture stays that grey).
    last_level = frame_red(FRAMES - 1) % 256
    levels = [float(rgb[0]) for rgb in mean_rgb(joined.path)]
    assert all(abs(v - last_level) <= 4 for v in levels[FRAMES:]), levels[FRAMES:]
    assert len(left_channel(joined.path)) >= (FRAMES + 16) * RATE // FPS


def test_retake_offline_of_a_181_frame_clip_keeps_its_length_and_size(oe: Any, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "long.mp4", frames=181, width=96, height=64, hz=440.0)
    dest, section = oe.retake_offline(clip, tmp_path / "retake.mp4", 5.0, 4.0, "both")
    info = pack_module("core.video_decode").probe_video(dest)
    assert (info.frame_count, info.width, info.height, info.fps) == (181, 96, 64, FPS)
    assert section.clamped and section.end == pytest.approx(181 / FPS)  # cut at the clip's end
    assert len(left_channel(dest)) >= 181 * RATE // FPS
