"""core.retake_rules: what Retake refuses before paying, each refusal saying what to change."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from pack_loader import pack_module


@pytest.fixture(scope="module")
def rr() -> Any:
    return pack_module("core.retake_rules")


@pytest.fixture(scope="module")
def invalid() -> type:
    return pack_module("core.errors").InvalidInputError


def test_a_clip_the_service_takes(rr: Any) -> None:
    section, mode = rr.check_retake(1280, 720, 181, 24.0, 2.0, 3.0, "both")
    assert mode == "replace_audio_and_video"
    assert (section.start, section.duration, section.end, section.clamped) == (2.0, 3.0, 5.0, False)
    assert section.clip_seconds == pytest.approx(181 / 24)
    assert rr.check_clip(2160, 3840, 73, 24.0) == pytest.approx(73 / 24)  # upright 4K, the minimum length


@pytest.mark.parametrize("frames", [1, 72])
def test_a_clip_shorter_than_73_frames(rr: Any, invalid: type, frames: int) -> None:
    with pytest.raises(invalid) as exc:
        rr.check_clip(1280, 720, frames, 24.0)
    text = str(exc.value)
    assert f"has {frames} frames" in text and "at least 73" in text and "longer clip" in text


@pytest.mark.parametrize("size", [(3841, 720), (4096, 2160), (3840, 2161), (2200, 2200)])
def test_a_clip_larger_than_3840x2160(rr: Any, invalid: type, size: tuple[int, int]) -> None:
    with pytest.raises(invalid, match=r"at most 3840x2160 .*Scale it down"):
        rr.check_clip(*size, 181, 24.0)


def test_sections(rr: Any, invalid: type) -> None:
    clip = 181 / 24  # 7.54 s
    with pytest.raises(invalid, match=r"duration is 1.5 s.*at least 2 s. Set 'duration' to 2 or more"):
        rr.check_section(0.0, 1.5, clip)
    with pytest.raises(invalid, match="Set 'start_time' to 0 or more"):
        rr.check_section(-0.5, 2.0, clip)
    with pytest.raises(invalid, match=r"past the clip's end \(7.54 s long\). Set 'start_time' to at most 5.54 s"):
        rr.check_section(8.0, 2.0, clip)
    with pytest.raises(invalid, match=r"leaving 1.04 s.*Set 'start_time' to at most 5.54 s"):
        rr.check_section(6.5, 3.0, clip)
    clamped = rr.check_section(5.0, 10.0, clip)  # runs past the end: cut there, as the service does
    assert clamped.clamped and clamped.end == pytest.approx(clip) and clamped.duration == pytest.approx(clip - 5)
    for bad in (float("nan"), float("inf"), "2"):
        with pytest.raises(invalid, match="must be a number of seconds"):
            rr.check_section(bad, 2.0, clip)


def test_modes(rr: Any, invalid: type) -> None:
    assert [rr.retake_mode(m) for m in ("audio", "Video", "both", "replace_audio")] == [
        "replace_audio", "replace_video", "replace_audio_and_video", "replace_audio"]
    with pytest.raises(invalid, match="pick audio, video or both"):
        rr.retake_mode("sound")


def test_inline_size_limit(rr: Any, invalid: type, tmp_path: Path) -> None:
    limit = rr.INLINE_LIMIT_BYTES
    assert limit == 20_000_000
    fits = (limit - len("data:video/mp4;base64,")) // 4 * 3
    assert rr.check_inline_size(fits) <= limit
    with pytest.raises(invalid) as exc:
        rr.check_inline_size(fits + 3)
    text = str(exc.value)
    assert "above the 20 MB the pack sends inline" in text and "Trim the clip" in text and "resolution" in text
    small = tmp_path / "clip.mp4"
    small.write_bytes(b"\x00\x01mp4 bytes")
    data = small.read_bytes()
    uri = pack_module("core.input_clip").InputClip(data=data, sha256="", width=2, height=2, frame_count=73,
                                                   fps=24.0).data_url()
    assert uri.startswith("data:video/mp4;base64,") and len(uri) == rr.inline_size(len(data))
    assert base64.b64decode(uri.split(",", 1)[1]) == data
