"""The free offline preview backend (on the node and in the command line) and the command
line itself: files written, what they contain, --check-key, --clear-cache, bad input.
Batches, cost and jobs: test_cli_batch.py; a fresh clone and no torch: test_cli_fresh_clone.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from pack_loader import PACK_ROOT, load_pack, pack_module
from node_calls import call_node

pack = load_pack()
cli = pack_module("__main__")
offline = pack_module("core.offline_preview")
video_decode = pack_module("core.video_decode")
I2V = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Private output and user folders; no key anywhere."""
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    return tmp_path


@pytest.fixture
def picture_file(tmp_path) -> Path:
    import av

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    path = tmp_path / "first.png"
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 160, 120, "rgb24"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def probe(path: Path):
    return video_decode.probe_video(path)


# -- the offline backend on the node ---------------------------------------------------------
def test_node_offline_backend_makes_the_requested_clip_without_a_key(dirs):
    image = torch.rand(1, 90, 120, 3)
    out = call_node(I2V(), image=image, prompt="leaves drift", negative_prompt="", unique_id="3",
                         width=320, height=256, num_frames=25, fps=12, seed=1, guidance_scale=4.0,
                         backend="offline preview")
    frames, audio, fps, count, video = out["result"]
    assert tuple(frames.shape) == (25, 256, 320, 3) and count == 25 and fps == pytest.approx(12.0)
    assert float((frames[0] - frames[-1]).abs().mean()) > 0.02  # a real camera move, not a still
    assert audio["sample_rate"] == 24000 and audio["waveform"].shape[:2] == (1, 2)
    assert audio["waveform"].shape[2] == pytest.approx(24000 * 25 / 12, rel=0.05)
    preview = out["ui"]["images"][0]
    mp4 = dirs / "output" / preview["subfolder"] / preview["filename"]
    assert preview["subfolder"] == "segmind_ltx2" and mp4.is_file()
    assert Path(video.get_stream_source()) == mp4
    info = probe(mp4)
    assert (info.width, info.height, info.frame_count, info.fps) == (320, 256, 25, 12.0)
    assert info.has_audio and (info.audio_sample_rate, info.audio_channels) == (24000, 2)
    assert out["ui"]["segmind"][0]["cost"] == 0


def test_offline_clip_is_h264_yuv420p_with_aac_and_fades(tmp_path):
    import av

    pic = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    clip = offline.generate_offline_clip("ltx-2-19b-i2v", dict(width=257, height=300, num_frames=9, fps=24),
                                         pic, tmp_path)
    assert clip.info.cost == 0 and clip.path.parent == tmp_path / "segmind_ltx2"
    with av.open(str(clip.path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (v.width, v.height) == (256, 300)  # odd sides round down: yuv420p needs even ones
        assert (a.codec_context.name, a.sample_rate, a.channels) == ("aac", 24000, 2)
    sound = offline.tone(24000)
    assert sound.shape == (2, 24000) and abs(sound[:, 0]).max() < 1e-3 and abs(sound[:, -1]).max() < 1e-3
    assert 0.05 < abs(sound[0]).max() <= 0.2


def test_offline_clip_honours_cancel(tmp_path):
    errors = pack_module("core.errors")
    pic = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(errors.Cancelled):
        offline.generate_offline_clip("ltx-2-19b-i2v", dict(width=256, height=256, num_frames=9, fps=8),
                                      pic, tmp_path, cancel_check=lambda: True)
    assert not list((tmp_path / "segmind_ltx2").glob("*"))  # no half-written file left behind


# -- the command line ----------------------------------------------------------------------------
def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_offline_writes_mp4_wav_and_summary(dirs, picture_file, capsys):
    code, out, err = run_cli(capsys, "--image", str(picture_file), "--prompt", "a calm lake",
                             "--width", "288", "--height", "256", "--num-frames", "17", "--fps", "8",
                             "--out", str(dirs / "cli"))
    assert code == 0, err
    summary_path = next((dirs / "cli" / "segmind_ltx2").glob("*.summary.json"))
    summary = json.loads(summary_path.read_text())
    mp4, wav_path = Path(summary["video"]), Path(summary["audio"])
    assert mp4.is_file() and wav_path.is_file() and mp4.parent == summary_path.parent
    assert summary_path.name == mp4.stem + ".summary.json" and summary["summary"] == str(summary_path)
    assert (summary["width"], summary["height"], summary["frame_count"], summary["fps"]) == (288, 256, 17, 8.0)
    assert summary["backend"] == "offline" and summary["cost"] == 0 and summary["model"] == "ltx-2-19b-i2v"
    assert summary["request"]["prompt"] == "a calm lake" and summary["request"]["num_frames"] == 17
    info = probe(mp4)
    assert (info.width, info.height, info.frame_count, info.fps, info.has_audio) == (288, 256, 17, 8.0, True)
    with wave.open(str(wav_path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 24000)
        assert w.getnframes() == pytest.approx(24000 * 17 / 8, rel=0.05)
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.abs(pcm).max() > 1000  # an audible tone, not silence
    assert str(mp4) in out and "free" in out and "17 frames" in out


def test_cli_t2v_offline(dirs, capsys):
    code, out, err = run_cli(capsys, "--t2v", "--prompt", "fireworks", "--num-frames", "9",
                             "--width", "256", "--height", "256", "--out", str(dirs / "t2v"))
    assert code == 0, err
    summary = json.loads(next((dirs / "t2v" / "segmind_ltx2").glob("*.summary.json")).read_text())
    assert summary["model"] == "ltx-2-19b-t2v" and summary["frame_count"] == 9 and summary["fps"] == 24


@pytest.mark.parametrize("argv,needle", [
    (["--prompt", "x"], "--image is missing"),
    (["--image", "nowhere.png", "--prompt", "x"], "no such file"),
    (["--t2v"], "--prompt is missing"),
    (["--t2v", "--prompt", "x", "--width", "4000"], "--width is 4000"),
    (["--t2v", "--prompt", "x", "--num-frames", "0"], "--num-frames is 0"),
    (["--t2v", "--prompt", "x", "--guidance-scale", "50"], "--guidance-scale is 50"),
])
def test_cli_bad_input_says_what_to_change(dirs, capsys, argv, needle):
    """In the command line's own words: flag names, never the request's field names."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and needle in err
    assert "'width'" not in err and "num_frames" not in err and "guidance_scale" not in err
    assert "Traceback" not in err


def test_cli_image_and_t2v_conflict(dirs, picture_file, capsys):
    code, _, err = run_cli(capsys, "--t2v", "--image", str(picture_file), "--prompt", "x")
    assert code == 2 and "drop --image" in err


def test_cli_check_key_prints_credits_from_the_server(segmind_env, dirs, capsys, monkeypatch):
    monkeypatch.setenv("SEGMIND_API_KEY", segmind_env.api_key)
    segmind_env.credits = 12.5
    code, out, err = run_cli(capsys, "--check-key")
    assert code == 0, err
    assert "Credits left: 12.5" in out and "SEGMIND_API_KEY" in out
    assert segmind_env.counts["credit_calls"] == 1 and segmind_env.jobs_submitted == 0


def test_cli_check_key_without_key_names_where_to_put_it(dirs, capsys):
    code, _, err = run_cli(capsys, "--check-key")
    assert code == 2 and "SEGMIND_API_KEY" in err and str(dirs / "user") in err
    assert "before starting ComfyUI" not in err  # advice for a terminal, not for ComfyUI


def test_cli_never_builds_the_frame_tensor(dirs, picture_file, capsys, monkeypatch):
    """The WAV and the summary come from the MP4 through PyAV: the float32 frames the node
    needs (1.9 GiB at the defaults) are never made, and torch is not needed."""
    def refuse(*_a, **_k):
        raise AssertionError("the command line decoded the frames")

    monkeypatch.setattr(video_decode, "decode_video", refuse)
    code, _, err = run_cli(capsys, "--image", str(picture_file), "--prompt", "x", "--width", "256",
                           "--height", "256", "--num-frames", "9", "--out", str(dirs / "lean"))
    assert code == 0, err
    assert len(list((dirs / "lean" / "segmind_ltx2").glob("*.wav"))) == 1


def test_cli_wav_holds_the_same_sound_as_the_node_output(tmp_path):
    """clip_files.write_wav streams the audio track; it must match what the node decodes."""
    clip_files = pack_module("core.clip_files")
    pic = np.full((64, 64, 3), 90, np.uint8)
    clip = offline.generate_offline_clip("ltx-2-19b-i2v", dict(width=256, height=256, num_frames=33, fps=12),
                                         pic, tmp_path)
    info = clip_files.write_wav(clip.path, tmp_path / "a.wav")
    with wave.open(str(tmp_path / "a.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        assert (w.getframerate(), w.getnchannels()) == (24000, 2) == (info["sample_rate"], info["channels"])
    node_audio = video_decode.decode_video(clip.path).audio["waveform"][0].numpy().T  # [S, C]
    expected = (np.clip(node_audio, -1, 1) * 32767).round().astype(np.int16)
    assert pcm.shape == expected.shape and info["samples"] == pcm.shape[0]
    assert np.abs(pcm.astype(int) - expected).max() <= 1


def test_cli_wav_of_a_clip_without_sound_is_silence_of_its_length(tmp_path):
    from fake_segmind import make_mp4

    clip_files = pack_module("core.clip_files")
    make_mp4(tmp_path / "mute.mp4", 256, 256, 24, 12, audio=False)
    info = clip_files.write_wav(tmp_path / "mute.mp4", tmp_path / "mute.wav")
    with wave.open(str(tmp_path / "mute.wav")) as w:
        assert w.getnframes() == pytest.approx(24000 * 2.0, rel=0.02) and w.getnchannels() == 2
        assert not any(w.readframes(w.getnframes()))
    assert info["samples"] == pytest.approx(48000, rel=0.02)


def test_cli_segmind_backend_runs_the_same_pipeline(segmind_env, dirs, picture_file, capsys, monkeypatch):
    monkeypatch.setenv("SEGMIND_API_KEY", segmind_env.api_key)
    code, out, err = run_cli(capsys, "--backend", "segmind", "--image", str(picture_file), "--prompt", "rain",
                             "--width", "256", "--height", "256", "--num-frames", "9", "--fps", "8",
                             "--out", str(dirs / "paid"))
    assert code == 0, err
    summary = json.loads(next((dirs / "paid" / "segmind_ltx2").glob("*.summary.json")).read_text())
    assert summary["cost"] == pytest.approx(0.455) and summary["frame_count"] == 9
    assert segmind_env.counts["uploads"] == 1 and segmind_env.jobs_submitted == 1
    assert "$0.455" in out


def test_cli_clear_cache(dirs, capsys):
    cache = pack_module("core.result_cache").cache_directory(dirs / "user")
    cache.mkdir(parents=True)
    for name in ("a", "b"):
        (cache / f"{name}.mp4").write_bytes(b"x")
        (cache / f"{name}.json").write_text("{}")
    code, out, err = run_cli(capsys, "--clear-cache")  # no terminal to ask in, no --yes: kept
    assert code == 2 and "2 cached clips" in err and "--yes" in err and len(list(cache.iterdir())) == 4
    code, out, _ = run_cli(capsys, "--clear-cache", "--yes")
    assert code == 0 and "Removed 2 cached clips" in out and "freeing" in out and not list(cache.iterdir())


def test_cli_clear_cache_in_a_terminal_asks_first(dirs, capsys, monkeypatch):
    import io

    cache = pack_module("core.result_cache").cache_directory(dirs / "user")
    cache.mkdir(parents=True)
    (cache / "a.mp4").write_bytes(b"x" * 1000)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, _, err = run_cli(capsys, "--clear-cache")
    assert code == 0 and "Delete 1 cached clip " in err and "Kept" in err and (cache / "a.mp4").exists()
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, out, _ = run_cli(capsys, "--clear-cache")
    assert code == 0 and "Removed 1 cached clip " in out and not (cache / "a.mp4").exists()


@pytest.mark.skipif("." in PACK_ROOT.name or " " in PACK_ROOT.name,
                    reason="python -m needs a folder name without dots or spaces")
def test_python_dash_m_runs_from_the_parent_folder(dirs, picture_file):
    """`python -m <pack folder>` from the folder holding the pack (e.g. ComfyUI/custom_nodes)."""
    env = {**os.environ, "PYTHONPATH": ""}
    run = subprocess.run([sys.executable, "-m", PACK_ROOT.name, "--image", str(picture_file), "--prompt", "x",
                          "--width", "256", "--height", "256", "--num-frames", "9", "--out", str(dirs / "sub")],
                         cwd=PACK_ROOT.parent, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(list((dirs / "sub" / "segmind_ltx2").glob("*.wav"))) == 1
