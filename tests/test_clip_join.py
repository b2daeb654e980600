"""core.clip_join, core.clip_frames and core.extend_chain on tiny generated clips: frame
counts and order, no repeated frame at a seam, sound to the end and without a click at
a seam, silence for a mute clip, refusal or conforming of another size or rate."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clip_samples import AMP, RATE, frame_red, frame_tags, left_channel, make_clip, max_jump, mean_rgb
from pack_loader import pack_module

FPS = 24


@pytest.fixture(scope="module")
def cj() -> Any:
    return pack_module("core.clip_join")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("join")
    return {
        # A ends on a sine's zero crossing, B starts (and, a frame in, goes on) at a cosine's peak:
        # butted together they jump by AMP, a loud click.
        "a": make_clip(d / "a.mp4", frames=24, hz=440.0, first_tag=0),
        "b": make_clip(d / "b.mp4", frames=12, hz=660.0, cosine=True, first_tag=23),
        "mute": make_clip(d / "mute.mp4", frames=6, hz=None, first_tag=40),
        "upright": make_clip(d / "upright.mp4", frames=12, width=48, height=64, fps=12, hz=330.0, first_tag=10),
        "odd_rate": make_clip(d / "odd_rate.mp4", frames=12, fps=12, hz=330.0, first_tag=10),
        "rate48k": make_clip(d / "rate48k.mp4", frames=12, hz=440.0, rate=48000, first_tag=30),
    }


def _probe(path: Path) -> Any:
    return pack_module("core.video_decode").probe_video(path)


def test_frames_sound_and_length(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    out = cj.join_clips([clips["a"], clips["b"]], tmp_path / "ab.mp4")
    assert out.frame_count == 36 and out.seams == [24] and out.fps == FPS
    assert (out.width, out.height) == (64, 48) and out.duration == pytest.approx(1.5)
    assert frame_tags(out.path) == list(range(24)) + list(range(23, 35))
    info = _probe(out.path)
    assert (info.frame_count, info.width, info.height, info.fps) == (36, 64, 48, FPS)
    assert info.duration == pytest.approx(1.5, abs=0.01)
    assert out.audio_samples == 36 * RATE // FPS
    wave = left_channel(out.path)
    assert len(wave) >= 36 * RATE // FPS  # sound to the last frame's end
    tail = wave[int(1.45 * RATE):int(1.5 * RATE)]
    assert np.abs(tail).max() > AMP * 0.8  # ... and it is B's tone there, not silence


def test_drop_first_frame_of_next_leaves_no_repeated_frame(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    # B's first frame is A's last (tag 23): an Extend segment starts on the previous last frame.
    out = cj.join_clips([clips["a"], clips["b"], clips["b"]], tmp_path / "abb.mp4", drop_first_frame_of_next=True)
    tags = frame_tags(out.path)
    assert out.frame_count == len(tags) == 24 + 11 + 11
    assert tags[:35] == list(range(35))  # A then B from its second frame: 23 shown once
    assert out.seams == [24, 35]
    assert _probe(out.path).duration == pytest.approx(46 / FPS, abs=0.01)
    assert len(left_channel(out.path)) >= 46 * RATE // FPS


@pytest.mark.parametrize("drop", [False, True])
def test_no_click_at_the_seam(cj: Any, clips: dict[str, Path], tmp_path: Path, drop: bool) -> None:
    seam = RATE  # A is exactly one second
    smooth = cj.join_clips([clips["a"], clips["b"]], tmp_path / "smooth.mp4", drop_first_frame_of_next=drop)
    butted = cj.join_clips([clips["a"], clips["b"]], tmp_path / "butted.mp4", drop_first_frame_of_next=drop,
                           crossfade_seconds=0)
    wave = left_channel(smooth.path)
    reference = max(max_jump(wave, seam - 9000, seam - 3000), max_jump(wave, seam + 3000, seam + 8000))
    window = (seam - 1500, seam + 1500)
    at_seam = max_jump(wave, *window)
    click = max_jump(left_channel(butted.path), *window)
    # The measure sees a click: butted together the tones jump by several interior steps...
    assert click > 3 * reference, (click, reference)
    # ...and the crossfade removes it: no step at the seam larger than the tones' own.
    assert at_seam < 1.6 * reference, (at_seam, reference)


def test_a_clip_without_sound_gives_silence_for_its_length(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    out = cj.join_clips([clips["a"], clips["mute"], clips["b"]], tmp_path / "amb.mp4")
    assert out.frame_count == 24 + 6 + 12
    wave = left_channel(out.path)
    quiet = wave[int((24 / FPS + 0.03) * RATE):int((30 / FPS - 0.03) * RATE)]
    assert np.abs(quiet).max() < 0.02  # the mute clip's quarter second is silent
    assert np.abs(wave[int(1.5 * RATE):int(1.7 * RATE)]).max() > AMP * 0.8  # B's tone follows, in time
    assert len(wave) >= 42 * RATE // FPS


def test_another_sound_rate_is_resampled(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    out = cj.join_clips([clips["a"], clips["rate48k"]], tmp_path / "rates.mp4")
    assert out.audio_rate == RATE and out.frame_count == 36
    assert len(left_channel(out.path)) >= 36 * RATE // FPS


def test_another_size_or_rate_is_refused_saying_what_to_change(cj: Any, clips: dict[str, Path],
                                                                tmp_path: Path) -> None:
    errors = pack_module("core.errors")
    with pytest.raises(cj.ClipMismatchError) as exc:
        cj.join_clips([clips["a"], clips["b"], clips["upright"]], tmp_path / "x.mp4")
    text = str(exc.value)
    assert isinstance(exc.value, errors.InvalidInputError)
    assert "Clip 3 is 48x64 (clip 1 is 64x48) and runs at 12 fps (clip 1 at 24 fps)" in text
    assert "make clip 3 64x48 at 24 fps" in text and "conform" in text
    assert (exc.value.index, exc.value.size, exc.value.first_size) == (2, (48, 64), (64, 48))
    with pytest.raises(cj.ClipMismatchError, match="Clip 2 runs at 12 fps"):
        cj.join_clips([clips["a"], clips["odd_rate"]], tmp_path / "y.mp4")
    assert not (tmp_path / "x.mp4").exists() and not list(tmp_path.glob("*.part"))


def test_conform_scales_pads_and_resamples_to_the_first_clip(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    out = cj.join_clips([clips["a"], clips["upright"]], tmp_path / "conformed.mp4", conform=True)
    # 12 frames at 12 fps are one second: 24 frames at 24 fps, each shown twice.
    assert out.frame_count == 48 and (out.width, out.height) == (64, 48)
    tags = frame_tags(out.path)
    import av

    with av.open(str(out.path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    last = frames[-1]
    assert last.shape == (48, 64, 3)
    assert last[:, :4].max() < 20 and last[:, -4:].max() < 20  # black bars left and right
    assert abs(int(last[24, 32, 0]) - frame_red(21)) <= 4  # the picture in the middle: its last frame
    centre = [float(f[8:40, 24:40, 0].mean()) for f in frames[24:]]
    want = [frame_red(t) for t in range(10, 22) for _ in (0, 1)]  # each upright frame twice
    assert max(abs(c - w) for c, w in zip(centre, want)) <= 4, centre
    assert all(centre[i] == centre[i + 1] for i in range(0, 24, 2))
    assert tags[:24] == list(range(24))
    assert _probe(out.path).duration == pytest.approx(2.0, abs=0.01)
    assert len(left_channel(out.path)) >= 2 * RATE


def test_fewer_than_two_clips_or_a_single_dropped_frame(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    errors = pack_module("core.errors")
    with pytest.raises(errors.InvalidInputError, match="two clips"):
        cj.join_clips([clips["a"]], tmp_path / "z.mp4")
    one = make_clip(tmp_path / "one.mp4", frames=1, hz=None)
    with pytest.raises(errors.InvalidInputError, match="single frame"):
        cj.join_clips([clips["a"], one], tmp_path / "z.mp4", drop_first_frame_of_next=True)


def test_cancel_leaves_no_file(cj: Any, clips: dict[str, Path], tmp_path: Path) -> None:
    errors = pack_module("core.errors")
    with pytest.raises(errors.Cancelled):
        cj.join_clips([clips["a"], clips["b"]], tmp_path / "c.mp4", cancel_check=lambda: True)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- clip_frames


def test_last_frame_and_rate(clips: dict[str, Path]) -> None:
    cf = pack_module("core.clip_frames")
    pic = cf.last_frame(clips["a"])
    assert pic.dtype == np.uint8 and pic.shape == (48, 64, 3)
    assert abs(int(pic[..., 0].mean()) - frame_red(23)) <= 2
    assert cf.clip_rate(clips["a"]) == Fraction(24) and cf.clip_rate(clips["odd_rate"]) == Fraction(12)
    assert cf.probe_video(clips["b"]).frame_count == 12
    assert cf.read_audio(clips["mute"], RATE) is None


# --------------------------------------------------------------------------- extend_chain


def test_extend_chains_from_each_last_frame(clips: dict[str, Path], tmp_path: Path) -> None:
    ec = pack_module("core.extend_chain")
    pictures: list[np.ndarray] = []

    def make_segment(index: int, picture: np.ndarray) -> Path:
        pictures.append(picture)
        # A segment starts on the picture it was given (as LTX-2 I2V does), then moves on.
        start = int(round((picture[..., 0].mean() - 8) / 5))
        return make_clip(tmp_path / f"seg{index}.mp4", frames=8, hz=550.0, first_tag=start)

    joined, segments = ec.extend_clip(clips["a"], 2, make_segment, tmp_path / "extended.mp4")
    assert [abs(int(p[..., 0].mean()) - frame_red(t)) <= 2 for p, t in zip(pictures, (23, 30))] == [True, True]
    assert joined.frame_count == 24 + 7 + 7 and len(segments) == 2
    assert frame_tags(joined.path) == list(range(38))  # continued, no frame twice
    assert len(left_channel(joined.path)) >= 38 * RATE // FPS


def test_segment_prompts() -> None:
    ec = pack_module("core.extend_chain")
    errors = pack_module("core.errors")
    assert ec.segment_prompts("a cat walks\n\n  it jumps  \n") == ["a cat walks", "it jumps"]
    with pytest.raises(errors.InvalidInputError, match="one prompt per segment"):
        ec.segment_prompts(" \n ")
    with pytest.raises(errors.InvalidInputError, match="at most 20"):
        ec.segment_prompts("\n".join(["x"] * 21))


def test_import_is_light() -> None:
    # The new modules and the node load without torch, av, cv2 or numpy (ComfyUI start-up time).
    import subprocess
    import sys

    from pack_loader import PACK_ROOT

    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pack_loader import pack_module\n"
        "for m in ('core.clip_join', 'core.clip_frames', 'core.clip_writer', 'core.extend_chain',\n"
        "          'core.retake_rules', 'core.offline_edits', 'nodes.join_clips'): pack_module(m)\n"
        "print(','.join(sorted(m for m in ('torch', 'av', 'cv2', 'numpy') if m in sys.modules)))\n"
        % str(PACK_ROOT / "tests"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"imported at load time: {r.stdout.strip()}"


@pytest.mark.parametrize("drop", [False, True])
def test_no_click_when_the_earlier_clip_ends_mid_cycle(cj: Any, clips: dict[str, Path], tmp_path: Path,
                                                        drop: bool) -> None:
    # AAC pads a track past its last frame with near silence: that padding is not the clip's
    # sound, and fading into it at the seam clicks as loudly as a cut (0.1 here, against the
    # tones' own 0.02-step). 26 frames end the 440 Hz tone two thirds into a cycle.
    a26 = make_clip(tmp_path / "a26.mp4", frames=26, hz=440.0, first_tag=0)
    seam = 26 * RATE // FPS
    out = cj.join_clips([a26, clips["b"]], tmp_path / "joined.mp4", drop_first_frame_of_next=drop)
    wave = left_channel(out.path)
    reference = max(max_jump(wave, seam - 9000, seam - 3000), max_jump(wave, seam + 3000, seam + 8000))
    assert max_jump(wave, seam - 1500, seam + 1500) < 1.6 * reference
