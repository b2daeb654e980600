"""Self-tests of the stand-in's LTX-2 family endpoints (ltx-2-pro, ltx-2-fast,
ltx-retake-video), with plain `requests` over real HTTP (no pack code)."""
from __future__ import annotations

import base64
import io
from typing import Any

import av
import numpy as np
import pytest
import requests

from fake_segmind import (FAST, PRO, RESOLUTIONS, RETAKE, RETAKE_TINT, FakeSegmind, FamilySpec, make_mp4,
                          probe_clip)

IMAGE = "https://example.com/cat.png"
# A Retake input: 160x96, 97 frames at 24 fps (about 4.04 s), with the 440 Hz tone.
SOURCE_FRAMES, SOURCE_FPS = 97, 24


@pytest.fixture(scope="module")
def source() -> bytes:
    return make_mp4(None, 160, 96, SOURCE_FRAMES, SOURCE_FPS)


@pytest.fixture
def srv() -> Any:
    with FakeSegmind(polls_until_done=1) as server:
        yield server


def data_uri(clip: bytes) -> str:
    return "data:video/mp4;base64," + base64.b64encode(clip).decode()


def hdrs(server: FakeSegmind) -> dict[str, str]:
    return {"x-api-key": server.api_key}


def run_sync(server: FakeSegmind, model: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{server.api_base}/v1/{model}", json=body, headers=hdrs(server), timeout=60)


def submit(server: FakeSegmind, model: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{server.api_base}/v2/{model}", json=body, headers=hdrs(server), timeout=60)


def run_v2(server: FakeSegmind, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Submit, poll to COMPLETED, fetch the result and its video: (result JSON, MP4 bytes)."""
    accepted = submit(server, model, body)
    assert accepted.status_code == 200, accepted.text
    ticket = accepted.json()
    for _ in range(server.polls_until_done + 1):
        if requests.get(ticket["status_url"], headers=hdrs(server), timeout=10).json()["status"] == "COMPLETED":
            break
    result = requests.get(ticket["response_url"], headers=hdrs(server), timeout=10).json()
    assert result["status"] == "COMPLETED"
    output = result["output"]
    url = output if isinstance(output, str) else output[0] if isinstance(output, list) else output["video"]
    video = requests.get(url, timeout=60)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    return result, video.content


def frames_and_sound(clip: bytes) -> tuple[list[np.ndarray], np.ndarray | None, Any]:
    """Every frame (RGB), the sound as mono float at its own rate (or None), and the rate."""
    with av.open(io.BytesIO(clip)) as container:
        rate = container.streams.video[0].average_rate
        frames = [f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)]
    with av.open(io.BytesIO(clip)) as container:
        if not container.streams.audio:
            return frames, None, rate
        assert container.streams.audio[0].codec_context.name == "aac"
        sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    return frames, sound, rate


def peak_hz(sound: np.ndarray, start_s: float, end_s: float, rate: int = 24000) -> float:
    window = sound[int(start_s * rate):int(end_s * rate)]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    return float(np.fft.rfftfreq(len(window), 1 / rate)[int(np.argmax(spectrum))])


# --------------------------------------------------------------------------- Pro and Fast


def test_pro_v1_is_a_small_h264_aac_clip_of_its_duration_billed_flat(srv: FakeSegmind) -> None:
    resp = run_sync(srv, PRO, {"image": IMAGE, "prompt": "a lighthouse", "duration": 6, "resolution": "1080p",
                               "generate_audio": True})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "video/mp4"
    info = probe_clip(resp.content)
    assert (info.width, info.height, info.frames, info.rate, info.audio) == (256, 144, 150, 25, True)
    assert resp.headers["x-cost"] == "0.36"
    assert srv.jobs_submitted == 1 and srv.credits == pytest.approx(100 - 0.36)


def test_pro_takes_every_listed_shape_by_default(srv: FakeSegmind) -> None:
    for resolution in ("1080p", "1440p", "2160p", "2k"):
        assert submit(srv, PRO, {"image": IMAGE, "prompt": "p", "resolution": resolution}).status_code == 200
    assert submit(srv, PRO, {"prompt": "no picture: text to video"}).status_code == 200
    for fps in (25, 50):
        assert submit(srv, PRO, {"image": IMAGE, "prompt": "p", "fps": fps}).status_code == 200
    for duration in (6, 8, 10):
        assert submit(srv, PRO, {"image": IMAGE, "prompt": "p", "duration": duration}).status_code == 200
    assert srv.jobs_submitted == 4 + 1 + 2 + 3


def test_pro_at_50_fps_without_sound(srv: FakeSegmind) -> None:
    resp = run_sync(srv, PRO, {"image": IMAGE, "prompt": "p", "duration": 8, "fps": 50, "generate_audio": False})
    info = probe_clip(resp.content)
    assert (info.frames, info.rate, info.audio) == (400, 50, False)


def test_v2_metrics_report_the_nominal_size_of_the_resolution(srv: FakeSegmind) -> None:
    result, clip = run_v2(srv, PRO, {"image": IMAGE, "prompt": "p", "resolution": "2160p"})
    assert (result["metrics"]["nominal_width"], result["metrics"]["nominal_height"]) == (3840, 2160)
    assert result["metrics"]["cost"] == 0.36
    assert (probe_clip(clip).width, probe_clip(clip).height) == (256, 144)  # encoded small


def test_family_size_none_encodes_the_nominal_size(srv: FakeSegmind) -> None:
    srv.family_size = None
    for resolution, size in RESOLUTIONS.items():
        ticket = submit(srv, FAST, {"prompt": "p", "resolution": resolution}).json()
        spec = srv.jobs[ticket["request_id"]].spec  # what a download would encode (not fetched: too big)
        assert isinstance(spec, FamilySpec) and (spec.width, spec.height) == size == spec.nominal
    srv.family_size = (64, 36)
    clip = run_sync(srv, FAST, {"prompt": "p", "duration": 6}).content
    assert (probe_clip(clip).width, probe_clip(clip).height, probe_clip(clip).frames) == (64, 36, 150)


def test_fast_v2_with_each_duration_and_no_audio(srv: FakeSegmind) -> None:
    srv.output_shape = "dict"
    result, clip = run_v2(srv, FAST, {"prompt": "a quick draft", "duration": 6, "generate_audio": False})
    info = probe_clip(clip)
    assert (info.frames, info.rate, info.audio) == (150, 25, False)
    assert result["metrics"]["cost"] == 0.3
    assert (result["metrics"]["nominal_width"], result["metrics"]["nominal_height"]) == (2560, 1440)  # "2k"
    for duration in (8, 10):
        assert submit(srv, FAST, {"prompt": "p", "duration": duration}).status_code == 200
    assert srv.jobs_submitted == 3 and srv.credits == pytest.approx(100 - 3 * 0.3)


@pytest.mark.parametrize("model, body, message", [
    (PRO, {"image": IMAGE}, "prompt is required"),
    (PRO, {"image": IMAGE, "prompt": "  "}, "prompt must be a non-empty string"),
    (PRO, {"image": "/tmp/cat.png", "prompt": "p"}, "image must be an http(s) URL"),
    (PRO, {"image": IMAGE, "prompt": "p", "duration": 7}, "duration must be one of 6, 8, 10"),
    (PRO, {"image": IMAGE, "prompt": "p", "resolution": "720p"}, "resolution must be one of 1080p, 1440p, 2160p, 2k"),
    (PRO, {"image": IMAGE, "prompt": "p", "fps": 24}, "fps must be one of 25, 50"),
    (PRO, {"image": IMAGE, "prompt": "p", "generate_audio": "yes"}, "generate_audio must be true or false"),
    (PRO, {"image": IMAGE, "prompt": "p", "seed": 1}, "seed is not a parameter of ltx-2-pro"),
    (FAST, {"prompt": "p", "duration": 20}, "duration must be one of 6, 8, 10"),
    (FAST, {"prompt": "p", "duration": True}, "duration must be one of 6, 8, 10"),
    (FAST, {"prompt": "p", "image": IMAGE}, "image is not a parameter of ltx-2-fast"),
    (FAST, {"prompt": "p", "fps": 25}, "fps is not a parameter of ltx-2-fast"),
])
def test_bad_pro_and_fast_bodies_are_400_with_a_message_and_bill_nothing(
        srv: FakeSegmind, model: str, body: dict[str, Any], message: str) -> None:
    for send in (run_sync, submit):
        resp = send(srv, model, body)
        assert resp.status_code == 400 and message in resp.json()["error"]
    assert srv.jobs_submitted == 0 and srv.credits == 100.0


def test_switches_narrow_the_unconfirmed_shapes(srv: FakeSegmind) -> None:
    srv.pro_image = "required"
    resp = submit(srv, PRO, {"prompt": "p"})
    assert resp.status_code == 400 and "image is required" in resp.json()["error"]
    srv.pro_fps = "refused"
    resp = submit(srv, PRO, {"image": IMAGE, "prompt": "p", "fps": 25})
    assert resp.status_code == 400 and "fps is not a parameter of ltx-2-pro" in resp.json()["error"]
    assert submit(srv, PRO, {"image": IMAGE, "prompt": "p"}).status_code == 200  # without fps: fine
    srv.family_choices[FAST]["resolution"] = ("2k",)
    resp = submit(srv, FAST, {"prompt": "p", "resolution": "1080p"})
    assert resp.status_code == 400 and "resolution must be one of 2k" in resp.json()["error"]
    assert srv.jobs_submitted == 1
    with pytest.raises(ValueError, match="pro_image"):
        srv.pro_image = "sometimes"
    with pytest.raises(ValueError, match="pricing"):
        FakeSegmind(pricing="per_minute")


# --------------------------------------------------------------------------- prices


def test_per_second_pricing_by_resolution_and_duration(srv: FakeSegmind) -> None:
    srv.pricing = "per_second"
    cases = [(PRO, {"image": IMAGE, "prompt": "p", "resolution": "1440p", "duration": 8}, 0.96),
             (PRO, {"prompt": "p"}, 0.36),  # 6 s at 1080p, $0.06/s
             (FAST, {"prompt": "p", "resolution": "1080p", "duration": 6}, 0.30),
             (FAST, {"prompt": "p", "resolution": "2160p", "duration": 10}, 2.00)]
    spent = 0.0
    for model, body, cost in cases:
        result, _ = run_v2(srv, model, body)
        assert result["metrics"]["cost"] == pytest.approx(cost)
        spent += cost
    assert run_sync(srv, FAST, {"prompt": "p", "duration": 8}).headers["x-cost"] == "0.8"  # "2k": $0.10/s
    assert srv.credits == pytest.approx(100 - spent - 0.8)


def test_prices_per_model_and_today_19b_price(srv: FakeSegmind, source: bytes) -> None:
    body_19b = {"prompt": "p", "width": 256, "height": 256, "num_frames": 9}
    assert run_sync(srv, "ltx-2-19b-t2v", body_19b).headers["x-cost"] == "0.455"
    srv.prices["ltx-2-19b-t2v"] = 0.416  # its page's price, when a test wants it
    assert run_sync(srv, "ltx-2-19b-t2v", body_19b).headers["x-cost"] == "0.416"
    srv.pricing = "per_second"  # Retake stays flat
    resp = run_sync(srv, RETAKE, {"video_uri": data_uri(source), "start_time": 0, "duration": 2})
    assert resp.status_code == 200 and resp.headers["x-cost"] == "0.791"
    assert srv.credits == pytest.approx(100 - 0.455 - 0.416 - 0.791)


# --------------------------------------------------------------------------- Retake


@pytest.mark.parametrize("mode, tinted, retoned", [
    ("replace_audio_and_video", True, True), ("replace_video", True, False), ("replace_audio", False, True)])
def test_retake_keeps_length_size_and_rate_and_changes_the_section_per_mode(
        srv: FakeSegmind, source: bytes, mode: str, tinted: bool, retoned: bool) -> None:
    resp = run_sync(srv, RETAKE, {"video_uri": data_uri(source), "start_time": 1.0, "duration": 2.0,
                                  "prompt": "a different second", "mode": mode})
    assert resp.status_code == 200 and resp.headers["x-cost"] == "0.791"
    before, _, _ = frames_and_sound(source)
    after, sound, rate = frames_and_sound(resp.content)
    assert len(after) == SOURCE_FRAMES and rate == SOURCE_FPS and after[0].shape == before[0].shape
    changed = [float(np.abs(a - b).mean()) > 20 for a, b in zip(after, before)]
    section = range(24, 72)  # frames [ceil(1.0 * 24), ceil(3.0 * 24))
    assert changed == [tinted and i in section for i in range(SOURCE_FRAMES)]
    if tinted:  # towards the tint's colour (magenta)
        shift = after[48].reshape(-1, 3).mean(axis=0) - before[48].reshape(-1, 3).mean(axis=0)
        assert np.sign(shift[0] - shift[1]) == np.sign(RETAKE_TINT[0] - RETAKE_TINT[1]) == 1
    assert sound is not None
    assert peak_hz(sound, 1.3, 2.7) == pytest.approx(880 if retoned else 440, abs=5)
    assert peak_hz(sound, 3.2, 3.9) == pytest.approx(440, abs=5)
    assert peak_hz(sound, 0.1, 0.8) == pytest.approx(440, abs=5)


def test_retake_v2_from_an_uploaded_video_clamps_a_section_past_the_end(srv: FakeSegmind, source: bytes) -> None:
    upload = requests.post(f"{srv.storage_base}/upload-asset", json={"data_urls": [data_uri(source)]},
                           headers=hdrs(srv), timeout=10)
    assert upload.status_code == 200
    url = upload.json()["file_urls"][0]
    assert url.endswith(".mp4") and requests.get(url, timeout=10).content == source
    result, clip = run_v2(srv, RETAKE, {"video_uri": url, "start_time": 2.0, "duration": 20})
    frames, _, rate = frames_and_sound(clip)
    assert len(frames) == SOURCE_FRAMES and rate == SOURCE_FPS and result["metrics"]["cost"] == 0.791
    before, _, _ = frames_and_sound(source)
    assert float(np.abs(frames[-1] - before[-1]).mean()) > 20  # tinted to the very end
    assert float(np.abs(frames[47] - before[47]).mean()) < 5  # frame 47 < ceil(2.0 * 24)
    assert srv.jobs_submitted == 1


def test_video_upload_switch_refuses_mp4_data_urls(srv: FakeSegmind, source: bytes) -> None:
    srv.video_upload = False
    upload = requests.post(f"{srv.storage_base}/upload-asset", json={"data_urls": [data_uri(source)]},
                           headers=hdrs(srv), timeout=10)
    assert upload.status_code == 400 and "image data URL" in upload.json()["error"] and not srv.assets
    # The inline data URI is the path left, and it works.
    assert run_sync(srv, RETAKE, {"video_uri": data_uri(source), "start_time": 0, "duration": 3}).status_code == 200


def test_retake_of_a_clip_this_server_made(srv: FakeSegmind) -> None:
    """A Pro clip's own URL (as a Retake after a Pro run would send it) is a known video_uri;
    the answer keeps the Pro clip's size, length and 25 fps."""
    result, _ = run_v2(srv, PRO, {"image": IMAGE, "prompt": "p"})
    srv.sync_shape = "json_url"
    resp = run_sync(srv, RETAKE, {"video_uri": result["output"], "start_time": 4, "duration": 2,
                                  "mode": "replace_video"})
    clip = requests.get(resp.json()["output"], timeout=60).content
    info = probe_clip(clip)
    assert (info.width, info.height, info.frames, info.rate, info.audio) == (256, 144, 150, 25, True)


def test_a_no_audio_fault_strips_a_retakes_sound(srv: FakeSegmind, source: bytes) -> None:
    srv.fault("download", no_audio=True)
    _, clip = run_v2(srv, RETAKE, {"video_uri": data_uri(source), "start_time": 0, "duration": 2})
    assert probe_clip(clip).audio is False and probe_clip(clip).frames == SOURCE_FRAMES


def test_retake_refusals_are_400_or_422_with_a_message_and_bill_nothing(srv: FakeSegmind, source: bytes) -> None:
    short = data_uri(make_mp4(None, 160, 96, 65, 24))
    wide = data_uri(make_mp4(None, 4000, 64, 1, 24, audio=False))
    ok = data_uri(source)  # about 4.04 s
    cases = [
        ({"start_time": 0, "duration": 2}, 400, "video_uri is required"),
        ({"video_uri": "/tmp/clip.mp4", "start_time": 0, "duration": 2}, 400, "video_uri must be an http(s) URL"),
        ({"video_uri": "data:video/mp4;base64,@@@", "start_time": 0, "duration": 2}, 400, "not valid base64"),
        ({"video_uri": ok, "duration": 2}, 400, "start_time is required"),
        ({"video_uri": ok, "start_time": -1, "duration": 2}, 400, "start_time must be a number of seconds, at least 0"),
        ({"video_uri": ok, "start_time": 0, "duration": 1.5}, 400, "duration must be a number of seconds, at least 2"),
        ({"video_uri": ok, "start_time": "0", "duration": 2}, 400, "start_time must be a number"),
        ({"video_uri": ok, "start_time": 0, "duration": 2, "mode": "replace_all"}, 400, "mode must be one of"),
        ({"video_uri": ok, "start_time": 0, "duration": 2, "prompt": 5}, 400, "prompt must be a string"),
        ({"video_uri": ok, "start_time": 0, "duration": 2, "seed": 1}, 400, "seed is not a parameter"),
        ({"video_uri": short, "start_time": 0, "duration": 2}, 422, "at least 73 frames; this one has 65"),
        ({"video_uri": wide, "start_time": 0, "duration": 2}, 422, "at most 3840x2160"),
        ({"video_uri": "data:video/mp4;base64," + base64.b64encode(b"not a video").decode(),
          "start_time": 0, "duration": 2}, 422, "not a video that can be read"),
        ({"video_uri": ok, "start_time": 4.1, "duration": 2}, 422, "outside the video"),
        ({"video_uri": ok, "start_time": 3, "duration": 2}, 422, "at least 2 s is needed"),
        ({"video_uri": "https://example.com/clip.mp4", "start_time": 0, "duration": 2}, 422, "could not be fetched"),
        ({"video_uri": f"{srv.files_base}/files/nothing.mp4", "start_time": 0, "duration": 2}, 422,
         "could not be fetched"),
    ]
    for body, status, message in cases:
        for send in (run_sync, submit):
            resp = send(srv, RETAKE, body)
            assert (resp.status_code, message in resp.json().get("error", "")) == (status, True), (body, resp.text)
    assert srv.jobs_submitted == 0 and srv.credits == 100.0 and not srv.jobs


def test_max_body_bytes_answers_413_html_and_bills_nothing(srv: FakeSegmind, source: bytes) -> None:
    srv.max_body_bytes = len(source)  # the data URI is a third larger than the file
    body = {"video_uri": data_uri(source), "start_time": 0, "duration": 2}
    for send in (run_sync, submit):
        resp = send(srv, RETAKE, body)
        assert resp.status_code == 413 and resp.headers["Content-Type"].startswith("text/html")
    upload = requests.post(f"{srv.storage_base}/upload-asset", json={"data_urls": [data_uri(source)]},
                           headers=hdrs(srv), timeout=10)
    assert upload.status_code == 413 and not srv.assets and srv.jobs_submitted == 0
    srv.max_body_bytes = None
    assert run_sync(srv, RETAKE, body).status_code == 200


def test_the_family_needs_the_key_like_every_endpoint(srv: FakeSegmind) -> None:
    resp = requests.post(f"{srv.api_base}/v2/{FAST}", json={"prompt": "p"}, timeout=10)
    assert resp.status_code == 401 and srv.jobs_submitted == 0
