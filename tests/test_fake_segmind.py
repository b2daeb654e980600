"""Self-tests of the Segmind stand-in, with plain `requests` (no pack code)."""
from __future__ import annotations

import base64
import io
import re
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import av
import numpy as np
import pytest
import requests

from fake_segmind import COST, FakeSegmind, make_mp4, snap_to_grid
from runtimes import Clock  # a hand-set stand-in for time.monotonic: FakeSegmind.clock = Clock()

I2V = "ltx-2-19b-i2v"
T2V = "ltx-2-19b-t2v"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot-really-a-png").decode()
# Small clip: 300x260 -> 320x288 on the grid (rounded up), 10 frames -> 17.
BODY: dict[str, Any] = {"prompt": "a cat walks", "image": "https://example.com/cat.png",
                        "width": 300, "height": 260, "num_frames": 10, "fps": 12, "seed": 7}


def hdrs(server: FakeSegmind) -> dict[str, str]:
    return {"x-api-key": server.api_key}


def run_sync(server: FakeSegmind, body: dict[str, Any] | None = None, model: str = I2V) -> requests.Response:
    return requests.post(f"{server.api_base}/v1/{model}", json=body or BODY, headers=hdrs(server), timeout=10)


def submit(server: FakeSegmind, body: dict[str, Any] | None = None, model: str = I2V) -> requests.Response:
    return requests.post(f"{server.api_base}/v2/{model}", json=body or BODY, headers=hdrs(server), timeout=10)


def poll_until_done(server: FakeSegmind, status_url: str) -> requests.Response:
    for _ in range(server.polls_until_done + 1):
        resp = requests.get(status_url, headers=hdrs(server), timeout=10)
        if resp.status_code != 200 or resp.json()["status"] == "COMPLETED":
            return resp
    raise AssertionError("job never finished")


def probe(data: bytes) -> dict[str, Any]:
    """Decode an MP4 fully: size, frame count, rate, audio, and whether frames differ."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        info: dict[str, Any] = {"width": video.width, "height": video.height, "fps": video.average_rate,
                                "codec": video.codec_context.name, "audio": None}
        if container.streams.audio:
            audio = container.streams.audio[0]
            info["audio"] = (audio.codec_context.name, audio.sample_rate, audio.channels)
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    info["frames"] = len(frames)
    info["distinct"] = len(frames) < 2 or not np.array_equal(frames[0], frames[-1])
    return info


def raw_get(url: str) -> tuple[int, bytes]:
    """GET over a bare socket: (declared Content-Length, body bytes actually received)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    return length, body


# --------------------------------------------------------------------------- video


def test_snap_to_grid_rounds_up() -> None:
    assert snap_to_grid(720, 1280, 181) == (736, 1280, 185)
    assert snap_to_grid(300, 260, 10) == (320, 288, 17)  # nearest would give 288x256, 9
    assert snap_to_grid(256, 1280, 1) == (256, 1280, 1)
    assert snap_to_grid(1270, 500, 400) == (1280, 512, 401)
    assert snap_to_grid(257, 289, 9) == (288, 320, 9)
    assert snap_to_grid(1, 32, 2) == (32, 32, 9)


def test_make_mp4_writes_file_and_caches(tmp_path: Any) -> None:
    target = tmp_path / "clip.mp4"
    data = make_mp4(target, 64, 48, 5, 10, audio=False)
    assert target.read_bytes() == data
    assert make_mp4(None, 64, 48, 5, 10, audio=False) is data
    info = probe(data)
    assert (info["width"], info["height"], info["frames"], info["fps"], info["audio"]) == (64, 48, 5, 10, None)
    assert info["codec"] == "h264" and info["distinct"]


def test_v1_returns_grid_rounded_mp4_with_headers(fake_segmind: FakeSegmind) -> None:
    resp = run_sync(fake_segmind)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "video/mp4"
    assert resp.headers["x-cost"] == "0.455"
    assert resp.headers["x-seed-value"] == "7"
    assert float(resp.headers["x-remaining-credits"]) == pytest.approx(100 - COST)
    assert resp.headers["x-request-id"] and float(resp.headers["x-generation-time"]) >= 0
    info = probe(resp.content)
    assert (info["width"], info["height"], info["frames"], info["fps"]) == (320, 288, 17, 12)
    assert info["audio"] == ("aac", 24000, 2)
    assert info["distinct"]
    assert fake_segmind.jobs_submitted == 1 and fake_segmind.counts["sync_runs"] == 1


def test_v1_without_grid_keeps_requested_size() -> None:
    with FakeSegmind(round_to_grid=False) as server:
        resp = run_sync(server, {**BODY, "width": 270, "height": 258, "num_frames": 4})
        info = probe(resp.content)
    assert (info["width"], info["height"], info["frames"]) == (270, 258, 4)


@pytest.mark.parametrize("shape", ["json_url", "json_base64"])
def test_v1_json_shapes(fake_segmind: FakeSegmind, shape: str) -> None:
    fake_segmind.sync_shape = shape
    resp = run_sync(fake_segmind)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    assert resp.headers["x-cost"] == "0.455"
    payload = resp.json()
    if shape == "json_url":
        video = requests.get(payload["output"], timeout=10).content
    else:
        video = base64.b64decode(payload["video"])
    assert probe(video)["width"] == 320
    assert fake_segmind.jobs_submitted == 1


# --------------------------------------------------------------------------- v2


def test_v2_flow_queued_processing_completed(fake_segmind: FakeSegmind) -> None:
    resp = submit(fake_segmind)
    assert resp.status_code == 200
    job = resp.json()
    assert job["status"] == "QUEUED"
    rid = job["request_id"]
    base = fake_segmind.api_base
    assert job["status_url"] == job["poll_url"] == f"{base}/v2/requests/{rid}/status"
    assert job["response_url"] == f"{base}/v2/requests/{rid}"
    states = [requests.get(job["status_url"], headers=hdrs(fake_segmind), timeout=10).json()["status"]
              for _ in range(4)]
    assert states == ["QUEUED", "PROCESSING", "COMPLETED", "COMPLETED"]
    result = requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).json()
    assert result["status"] == "COMPLETED"
    assert result["metrics"]["cost"] == COST
    assert {"remaining_credits", "inference_time", "queue_time"} <= set(result["metrics"])
    video = requests.get(result["output"], timeout=10)
    assert video.headers["Content-Type"] == "video/mp4"
    assert int(video.headers["Content-Length"]) == len(video.content)
    info = probe(video.content)
    assert (info["width"], info["height"], info["frames"], info["audio"]) == (320, 288, 17, ("aac", 24000, 2))
    assert fake_segmind.jobs_submitted == 1
    assert fake_segmind.counts == {"uploads": 0, "submits": 1, "sync_runs": 0, "status_calls": 4,
                                   "result_calls": 1, "downloads": 1, "credit_calls": 0, "rate_limited": 0}


@pytest.mark.parametrize("shape", ["url", "list", "dict"])
def test_v2_output_shapes(fake_segmind: FakeSegmind, shape: str) -> None:
    fake_segmind.polls_until_done = 0
    fake_segmind.output_shape = shape
    job = submit(fake_segmind).json()
    output = requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).json()["output"]
    url = {"url": lambda o: o, "list": lambda o: o[0], "dict": lambda o: o["video"]}[shape](output)
    assert isinstance(output, {"url": str, "list": list, "dict": dict}[shape])
    assert url.startswith(fake_segmind.files_base + "/files/") and url.endswith(".mp4")


def test_v2_result_before_done_has_no_output(fake_segmind: FakeSegmind) -> None:
    job = submit(fake_segmind).json()
    result = requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).json()
    assert result["status"] == "QUEUED" and "output" not in result


def test_v2_failed_job_answers_422(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("submit", job_fails=True)
    job = submit(fake_segmind).json()
    first = requests.get(job["status_url"], headers=hdrs(fake_segmind), timeout=10)
    assert first.status_code == 200 and first.json()["status"] == "QUEUED"
    final = poll_until_done(fake_segmind, job["status_url"])
    assert final.status_code == 422
    assert final.json()["status"] == "FAILED" and final.json()["error"]
    assert requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).status_code == 422
    assert fake_segmind.jobs_submitted == 1  # the submit was a 200, so it was billed


def test_unknown_request_id_is_404_json(fake_segmind: FakeSegmind) -> None:
    for suffix in ("/status", ""):
        resp = requests.get(f"{fake_segmind.api_base}/v2/requests/nope{suffix}", headers=hdrs(fake_segmind),
                            timeout=10)
        assert resp.status_code == 404 and "error" in resp.json()


def test_old_job_pollable_from_a_new_client(fake_segmind: FakeSegmind) -> None:
    fake_segmind.polls_until_done = 1
    with requests.Session() as first:
        job = first.post(f"{fake_segmind.api_base}/v2/{I2V}", json=BODY, headers=hdrs(fake_segmind),
                         timeout=10).json()
    with requests.Session() as restarted:  # a "restarted" client only knows the id
        url = f"{fake_segmind.api_base}/v2/requests/{job['request_id']}/status"
        states = [restarted.get(url, headers=hdrs(fake_segmind), timeout=10).json()["status"] for _ in range(2)]
    assert states == ["QUEUED", "COMPLETED"]


# --------------------------------------------------------------------------- auth and validation


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "SG_wrong"}, {"Authorization": "Bearer SG_testkey0123456789abcd"}])
def test_missing_or_wrong_key_is_401(fake_segmind: FakeSegmind, headers: dict[str, str]) -> None:
    base = fake_segmind.api_base
    calls = [
        requests.post(f"{base}/v1/{I2V}", json=BODY, headers=headers, timeout=10),
        requests.post(f"{base}/v2/{I2V}", json=BODY, headers=headers, timeout=10),
        requests.post(f"{base}/upload-asset", json={"data_urls": [f"data:image/png;base64,{PNG}"]},
                      headers=headers, timeout=10),
        requests.get(f"{base}/v1/get-user-credits", headers=headers, timeout=10),
    ]
    for resp in calls:
        assert resp.status_code == 401 and "error" in resp.json()
    assert fake_segmind.jobs_submitted == 0 and not fake_segmind.jobs and not fake_segmind.assets


@pytest.mark.parametrize("change, field", [
    ({"prompt": None}, "prompt"),
    ({"prompt": "  "}, "prompt"),
    ({"image": None}, "image"),
    ({"image": "data:image/png;base64,AAAA"}, "image"),
    ({"width": 255}, "width"),
    ({"width": 720.0}, "width"),
    ({"height": 1281}, "height"),
    ({"num_frames": 0}, "num_frames"),
    ({"num_frames": 401}, "num_frames"),
    ({"fps": 31}, "fps"),
    ({"guidance_scale": 0.5}, "guidance_scale"),
    ({"guidance_scale": 21}, "guidance_scale"),
])
@pytest.mark.parametrize("send", [run_sync, submit])
def test_bad_fields_are_400_naming_the_field(fake_segmind: FakeSegmind, change: dict[str, Any], field: str,
                                             send: Any) -> None:
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    resp = send(fake_segmind, body)
    assert resp.status_code == 400
    assert resp.json()["error"].startswith(field)
    assert fake_segmind.jobs_submitted == 0 and not fake_segmind.jobs


def test_t2v_needs_no_image_and_defaults_apply(fake_segmind: FakeSegmind) -> None:
    body = {"prompt": "sunrise", "width": 256, "height": 256, "num_frames": 9, "guidance_scale": 4.5}
    resp = submit(fake_segmind, body, model=T2V)
    assert resp.status_code == 200
    job = fake_segmind.jobs[resp.json()["request_id"]]
    assert (job.model, job.spec.fps, job.spec.frames) == (T2V, 24, 9)


def test_non_json_body_is_rejected(fake_segmind: FakeSegmind) -> None:
    url = f"{fake_segmind.api_base}/v2/{I2V}"
    wrong_type = requests.post(url, data="prompt=x", headers={**hdrs(fake_segmind), "Content-Type": "text/plain"},
                               timeout=10)
    assert wrong_type.status_code == 406
    not_object = requests.post(url, json=["x"], headers=hdrs(fake_segmind), timeout=10)
    assert not_object.status_code == 400


def test_unknown_paths_are_html_not_json(fake_segmind: FakeSegmind) -> None:
    missing = requests.get(f"{fake_segmind.api_base}/v3/whatever", headers=hdrs(fake_segmind), timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        missing.json()
    wrong_method = requests.get(f"{fake_segmind.api_base}/v2/{I2V}", headers=hdrs(fake_segmind), timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.headers["Content-Type"].startswith("text/html")


# --------------------------------------------------------------------------- upload and credits


@pytest.mark.parametrize("shape", ["file_urls", "urls"])
def test_upload_shapes_and_fetch_back(fake_segmind: FakeSegmind, shape: str) -> None:
    fake_segmind.upload_shape = shape
    resp = requests.post(f"{fake_segmind.storage_base}/upload-asset", headers=hdrs(fake_segmind), timeout=10,
                         json={"data_urls": [f"data:image/png;base64,{PNG}", f"data:image/jpeg;base64,{PNG}"]})
    assert resp.status_code == 200
    urls = resp.json()[shape]
    assert len(urls) == 2 and urls[0].endswith(".png") and urls[1].endswith(".jpg")
    back = requests.get(urls[0], timeout=10)
    assert back.content == base64.b64decode(PNG) and back.headers["Content-Type"] == "image/png"
    assert fake_segmind.assets[urls[1]] == ("image/jpeg", base64.b64decode(PNG))
    assert fake_segmind.counts["uploads"] == 1


@pytest.mark.parametrize("data_urls", [["not a data url"], ["data:image/png;base64,@@@"], ["data:text/plain;base64,QQ=="],
                                       [], "data:image/png;base64,QQ=="])
def test_bad_upload_is_400(fake_segmind: FakeSegmind, data_urls: Any) -> None:
    resp = requests.post(f"{fake_segmind.storage_base}/upload-asset", json={"data_urls": data_urls},
                         headers=hdrs(fake_segmind), timeout=10)
    assert resp.status_code == 400 and "error" in resp.json()
    assert not fake_segmind.assets


def test_credits_fall_with_billed_runs(fake_segmind: FakeSegmind) -> None:
    url = f"{fake_segmind.api_base}/v1/get-user-credits"
    before = requests.get(url, headers=hdrs(fake_segmind), timeout=10).json()
    assert set(before) == {"credits", "free-credits"}
    submit(fake_segmind)
    after = requests.get(url, headers=hdrs(fake_segmind), timeout=10).json()
    assert after["credits"] == pytest.approx(before["credits"] - COST)
    assert fake_segmind.counts["credit_calls"] == 2


# --------------------------------------------------------------------------- faults


def test_status_fault_on_submit_is_not_billed_and_is_consumed(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("submit", status=429, headers={"x-rate-limit-reset-at-utc": "2026-01-01T00:00:00Z"}, times=2)
    for _ in range(2):
        resp = submit(fake_segmind)
        assert resp.status_code == 429 and "error" in resp.json()
        assert resp.headers["x-rate-limit-reset-at-utc"] == "2026-01-01T00:00:00Z"
    assert fake_segmind.jobs_submitted == 0 and not fake_segmind.jobs
    assert fake_segmind.pending_faults("submit") == 0
    assert submit(fake_segmind).status_code == 200
    assert fake_segmind.jobs_submitted == 1 and fake_segmind.counts["submits"] == 3


def test_fault_bodies_json_text_and_content_type(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("sync", status=406, json={"error": "Insufficient credits"})
    fake_segmind.fault("sync", status=502, text="<html><body>Bad Gateway</body></html>")
    fake_segmind.fault("sync", status=504, text="")
    fake_segmind.fault("status", json={"status": "WEIRD"}, content_type="text/plain")
    first, second, third = run_sync(fake_segmind), run_sync(fake_segmind), run_sync(fake_segmind)
    assert (first.status_code, first.json()) == (406, {"error": "Insufficient credits"})
    assert second.status_code == 502 and second.headers["Content-Type"].startswith("text/html")
    assert third.status_code == 504 and third.content == b""
    odd = requests.get(f"{fake_segmind.api_base}/v2/requests/any/status", headers=hdrs(fake_segmind), timeout=10)
    assert odd.status_code == 200 and odd.headers["Content-Type"] == "text/plain"
    assert odd.json() == {"status": "WEIRD"}
    assert fake_segmind.jobs_submitted == 0


def test_headers_fault_decorates_normal_answer(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("credits", headers={"x-extra": "1"})
    resp = requests.get(f"{fake_segmind.api_base}/v1/get-user-credits", headers=hdrs(fake_segmind), timeout=10)
    assert resp.status_code == 200 and resp.headers["x-extra"] == "1" and "credits" in resp.json()


def test_reset_on_submit_drops_before_accepting(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("submit", reset=True)
    with pytest.raises(requests.ConnectionError):
        submit(fake_segmind)
    assert fake_segmind.jobs_submitted == 0 and not fake_segmind.jobs
    assert fake_segmind.counts["submits"] == 1


def test_reset_after_accept_bills_but_never_answers(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("submit", reset_after_accept=True)
    with pytest.raises(requests.ConnectionError):
        submit(fake_segmind)
    assert fake_segmind.jobs_submitted == 1 and len(fake_segmind.jobs) == 1


def test_reset_after_accept_on_sync_cuts_the_video(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("sync", reset_after_accept=True)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        run_sync(fake_segmind)
    assert fake_segmind.jobs_submitted == 1


@pytest.mark.parametrize("stage", ["status", "result", "upload", "credits", "sync"])
def test_reset_on_json_calls_closes_without_answer(fake_segmind: FakeSegmind, stage: str) -> None:
    base, key = fake_segmind.api_base, hdrs(fake_segmind)
    fake_segmind.fault(stage, reset=True)
    call = {
        "status": lambda: requests.get(f"{base}/v2/requests/x/status", headers=key, timeout=10),
        "result": lambda: requests.get(f"{base}/v2/requests/x", headers=key, timeout=10),
        "upload": lambda: requests.post(f"{base}/upload-asset", headers=key, timeout=10,
                                        json={"data_urls": [f"data:image/png;base64,{PNG}"]}),
        "credits": lambda: requests.get(f"{base}/v1/get-user-credits", headers=key, timeout=10),
        "sync": lambda: run_sync(fake_segmind),
    }[stage]
    with pytest.raises(requests.ConnectionError):
        call()
    assert fake_segmind.jobs_submitted == 0 and not fake_segmind.assets
    assert call().status_code in (200, 404)  # the next call is answered normally


def test_reset_on_download_mid_body(fake_segmind: FakeSegmind) -> None:
    fake_segmind.polls_until_done = 0
    output = requests.get(submit(fake_segmind).json()["response_url"], headers=hdrs(fake_segmind),
                          timeout=10).json()["output"]
    fake_segmind.fault("download", reset=True)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(output, timeout=10)
    assert probe(requests.get(output, timeout=10).content)["frames"] == 17


def test_truncate_sends_half_of_content_length(fake_segmind: FakeSegmind) -> None:
    fake_segmind.polls_until_done = 0
    output = requests.get(submit(fake_segmind).json()["response_url"], headers=hdrs(fake_segmind),
                          timeout=10).json()["output"]
    fake_segmind.fault("download", truncate=True, times=2)
    declared, body = raw_get(output)
    assert 0 < len(body) < declared and len(body) == declared // 2
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(output, timeout=10)


def test_corrupt_download_keeps_length_but_does_not_decode(fake_segmind: FakeSegmind) -> None:
    fake_segmind.polls_until_done = 0
    output = requests.get(submit(fake_segmind).json()["response_url"], headers=hdrs(fake_segmind),
                          timeout=10).json()["output"]
    good = requests.get(output, timeout=10).content
    fake_segmind.fault("download", corrupt=True)
    bad = requests.get(output, timeout=10)
    assert bad.headers["Content-Type"] == "video/mp4"
    assert len(bad.content) == len(good) == int(bad.headers["Content-Length"]) and bad.content != good
    with pytest.raises(av.error.FFmpegError):
        probe(bad.content)


def test_no_audio_on_sync_and_on_submit(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("sync", no_audio=True)
    assert probe(run_sync(fake_segmind).content)["audio"] is None
    assert probe(run_sync(fake_segmind).content)["audio"] is not None
    fake_segmind.polls_until_done = 0
    fake_segmind.fault("submit", no_audio=True)
    output = requests.get(submit(fake_segmind).json()["response_url"], headers=hdrs(fake_segmind),
                          timeout=10).json()["output"]
    info = probe(requests.get(output, timeout=10).content)
    assert info["audio"] is None and info["frames"] == 17
    fake_segmind.fault("download", no_audio=True)
    job = submit(fake_segmind).json()
    output = requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).json()["output"]
    assert probe(requests.get(output, timeout=10).content)["audio"] is None
    assert probe(requests.get(output, timeout=10).content)["audio"] is not None


def test_expired_result_is_404(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("result", status=404, json={"error": "Request not found"})
    job = submit(fake_segmind).json()
    assert requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).status_code == 404


def test_delay_slows_the_answer(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("credits", delay=0.3)
    started = time.monotonic()
    resp = requests.get(f"{fake_segmind.api_base}/v1/get-user-credits", headers=hdrs(fake_segmind), timeout=10)
    assert resp.status_code == 200 and time.monotonic() - started >= 0.3
    fake_segmind.fault("credits", delay=0.5)
    with pytest.raises(requests.Timeout):
        requests.get(f"{fake_segmind.api_base}/v1/get-user-credits", headers=hdrs(fake_segmind), timeout=0.1)


def test_stop_interrupts_a_delay() -> None:
    server = FakeSegmind().start()
    server.fault("status", delay=30)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(requests.get(f"{server.api_base}/v2/requests/x/status", headers=hdrs(server), timeout=10))
        except requests.RequestException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - started < 2
    assert isinstance(outcome[0], requests.ConnectionError)


def test_shape_switches_reject_typos() -> None:
    server = FakeSegmind(output_shape="list", upload_shape="urls")
    assert (server.sync_shape, server.output_shape, server.upload_shape) == ("mp4", "list", "urls")
    with pytest.raises(ValueError):
        server.sync_shape = "json"
    with pytest.raises(ValueError):
        FakeSegmind(upload_shape="url")
    server.stop()


def test_fault_rejects_bad_arguments(fake_segmind: FakeSegmind) -> None:
    with pytest.raises(ValueError):
        fake_segmind.fault("nope", status=500)
    with pytest.raises(ValueError):
        fake_segmind.fault("status", job_fails=True)
    with pytest.raises(ValueError):
        fake_segmind.fault("download", reset_after_accept=True)


# --------------------------------------------------------------------------- bookkeeping


def test_requests_log_and_reset_counts(fake_segmind: FakeSegmind) -> None:
    submit(fake_segmind)
    method, path, headers, body = fake_segmind.requests_log[0]
    assert (method, path, body) == ("POST", f"/v2/{I2V}", BODY)
    assert headers["x-api-key"] == fake_segmind.api_key
    fake_segmind.reset_counts()
    assert fake_segmind.jobs_submitted == 0 and not fake_segmind.requests_log
    assert set(fake_segmind.counts.values()) == {0} and len(fake_segmind.jobs) == 1


def test_concurrent_submits_are_counted_exactly(fake_segmind: FakeSegmind) -> None:
    fake_segmind.fault("submit", status=500, times=3)
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(submit(fake_segmind).status_code)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] * 9 + [500] * 3
    assert fake_segmind.jobs_submitted == 9 == len(fake_segmind.jobs)
    assert fake_segmind.counts["submits"] == 12


def test_segmind_env_points_at_server(segmind_env: FakeSegmind) -> None:
    import os

    assert os.environ["SEGMIND_API_BASE"] == segmind_env.api_base
    assert os.environ["SEGMIND_STORAGE_BASE"] == segmind_env.storage_base
    assert os.environ["SEGMIND_API_KEY"] == segmind_env.api_key


def test_start_is_cheap() -> None:
    started = time.perf_counter()
    with FakeSegmind():
        elapsed = time.perf_counter() - started
    assert elapsed < 0.1


# --------------------------------------------------------------------------- generation delay


def status_of(server: FakeSegmind, job: dict[str, Any]) -> requests.Response:
    return requests.get(job["status_url"], headers=hdrs(server), timeout=10)


def test_generation_delay_completes_by_time_not_by_polls() -> None:
    clock = Clock(1000.0)
    with FakeSegmind(generation_seconds=12, queue_seconds=2, polls_until_done=0) as server:
        server.clock = clock
        job = submit(server).json()
        record = server.jobs[job["request_id"]]
        assert record.submitted_at == 1000.0 and record.completed_at is None
        assert status_of(server, job).json()["status"] == "QUEUED"
        clock.now = 1001.999
        assert status_of(server, job).json()["status"] == "QUEUED"
        clock.now = 1002.0
        assert status_of(server, job).json()["status"] == "PROCESSING"
        clock.now = 1011.999
        assert {status_of(server, job).json()["status"] for _ in range(20)} == {"PROCESSING"}
        early = requests.get(job["response_url"], headers=hdrs(server), timeout=10).json()
        assert early["status"] == "PROCESSING" and "output" not in early
        assert record.completed_at is None and record.downloaded_at is None
        clock.now = 1012.0
        done = status_of(server, job).json()
        assert done["status"] == "COMPLETED"
        assert done["metrics"]["queue_time"] == 2 and done["metrics"]["inference_time"] == 10
        assert record.completed_at == 1012.0
        clock.now = 1013.5  # completion stays the instant it happened, not when it was seen
        assert record.completed_at == 1012.0
        output = requests.get(job["response_url"], headers=hdrs(server), timeout=10).json()["output"]
        clock.now = 1014.25
        assert probe(requests.get(output, timeout=10).content)["frames"] == 17
        assert record.downloaded_at == 1014.25
        clock.now = 1020.0
        requests.get(output, timeout=10)
        assert record.downloaded_at == 1014.25  # the first full download is the pick-up


def test_generation_delay_fails_on_time_too() -> None:
    clock = Clock(1000.0)
    with FakeSegmind(generation_seconds=5) as server:
        server.clock = clock
        server.fault("submit", job_fails=True)
        job = submit(server).json()
        assert status_of(server, job).json()["status"] == "PROCESSING"  # queue_seconds defaults to 0
        clock.now += 5
        assert status_of(server, job).status_code == 422
        assert server.jobs[job["request_id"]].completed_at == clock.now


def test_poll_counting_records_when_completion_was_seen(fake_segmind: FakeSegmind) -> None:
    clock = Clock(50.0)
    fake_segmind.clock = clock
    job = submit(fake_segmind).json()
    record = fake_segmind.jobs[job["request_id"]]
    for now in (51.0, 52.0):
        clock.now = now
        assert status_of(fake_segmind, job).json()["status"] != "COMPLETED"
        assert record.completed_at is None
    clock.now = 53.0
    assert status_of(fake_segmind, job).json()["status"] == "COMPLETED"
    clock.now = 54.0
    status_of(fake_segmind, job)
    assert record.completed_at == 53.0


@pytest.mark.parametrize("fault", [dict(truncate=True), dict(reset=True), dict(corrupt=True),
                                   dict(status=503)])
def test_downloaded_at_needs_a_full_real_download(fault: dict[str, Any]) -> None:
    with FakeSegmind(polls_until_done=0) as server:
        job = submit(server).json()
        output = requests.get(job["response_url"], headers=hdrs(server), timeout=10).json()["output"]
        server.fault("download", **fault)
        try:
            requests.get(output, timeout=10).content
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            pass
        record = server.jobs[job["request_id"]]
        assert record.downloaded_at is None
        requests.get(output, timeout=10)
        # The server notes the time just after its last byte: the client can be a moment earlier.
        deadline = time.monotonic() + 5
        while record.downloaded_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert record.downloaded_at is not None and record.downloaded_at >= record.completed_at


def test_v1_run_is_held_for_the_generation_time() -> None:
    with FakeSegmind(generation_seconds=0.3) as server:
        started = time.monotonic()
        resp = run_sync(server)
        held = time.monotonic() - started
    assert resp.status_code == 200 and held >= 0.3
    assert float(resp.headers["x-generation-time"]) >= 0.3
    assert probe(resp.content)["frames"] == 17 and server.jobs_submitted == 1


def test_stop_cuts_a_held_v1_run_without_billing() -> None:
    server = FakeSegmind(generation_seconds=30).start()
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(run_sync(server))
        except requests.RequestException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.1)
    server.stop()
    worker.join(5)
    assert not worker.is_alive() and isinstance(outcome[0], requests.ConnectionError)
    assert server.jobs_submitted == 0


@pytest.mark.parametrize("kwargs", [dict(generation_seconds=-1), dict(queue_seconds=-0.5), dict(rate_limit=0),
                                    dict(rate_window=0)])
def test_timing_and_limit_arguments_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FakeSegmind(**kwargs)


# --------------------------------------------------------------------------- rate limit

ISO_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def parse_utc(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def credits_call(server: FakeSegmind) -> requests.Response:
    return requests.get(f"{server.api_base}/v1/get-user-credits", headers=hdrs(server), timeout=10)


def test_utc_timestamp_has_milliseconds_rounded_up() -> None:
    from fake_segmind import utc_timestamp

    assert utc_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert utc_timestamp(60.25) == "1970-01-01T00:01:00.250Z"
    assert utc_timestamp(60.2501) == "1970-01-01T00:01:00.251Z"  # never before the real reset
    assert utc_timestamp(1795971780.25) == "2026-11-29T17:03:00.250Z"


def test_rate_limit_answers_429_with_reset_header_and_counts() -> None:
    clock = Clock(500.0)
    with FakeSegmind(rate_limit=3, rate_window=60, polls_until_done=0) as server:
        server.clock = clock
        job = submit(server).json()
        clock.now = 510.0
        assert status_of(server, job).status_code == 200
        assert credits_call(server).status_code == 200
        clock.now = 530.0
        before = time.time()
        limited = [credits_call(server), status_of(server, job), submit(server),
                   requests.get(job["response_url"], headers=hdrs(server), timeout=10), run_sync(server),
                   requests.post(f"{server.storage_base}/upload-asset", headers=hdrs(server), timeout=10,
                                 json={"data_urls": [f"data:image/png;base64,{PNG}"]})]
        after = time.time()
        for resp in limited:
            assert resp.status_code == 429 and resp.json() == {"error": "rate limited"}
            reset = resp.headers["x-rate-limit-reset-at-utc"]
            assert re.match(ISO_MS, reset)
            # the window opened at 500 (the submit) and ends at 560: 30 s after "now"
            assert before + 30 <= parse_utc(reset) <= after + 30 + 0.001
        assert server.counts["rate_limited"] == 6
        assert server.counts["credit_calls"] == 2 and server.counts["submits"] == 2  # calls still counted
        assert server.jobs_submitted == 1 and len(server.jobs) == 1 and not server.assets
        clock.now = 560.0  # the window's end opens the next one
        assert credits_call(server).status_code == 200
        assert server.counts["rate_limited"] == 6


def test_rate_limit_boundary_is_half_open() -> None:
    clock = Clock(0.0)
    with FakeSegmind(rate_limit=2, rate_window=10) as server:
        server.clock = clock
        assert [credits_call(server).status_code for _ in range(2)] == [200, 200]
        clock.now = 9.999999
        assert credits_call(server).status_code == 429
        clock.now = 10.0  # exactly at the end: a new window, not the old one's third call
        assert [credits_call(server).status_code for _ in range(2)] == [200, 200]
        clock.now = 19.99
        assert credits_call(server).status_code == 429
        clock.now = 20.0
        assert credits_call(server).status_code == 200
        assert server.counts["rate_limited"] == 2


def test_a_sliding_window_client_never_meets_429() -> None:
    """A client that sends at most `limit` calls in any `window` seconds (call i + limit no
    earlier than call i + window) is never refused, also when it hits the boundary exactly."""
    import random

    limit, window = 3, 1.0
    rng = random.Random(11)
    clock = Clock(0.0)
    sent: list[float] = []
    with FakeSegmind(rate_limit=limit, rate_window=window) as server:
        server.clock = clock
        wanted = 0.0
        for i in range(60):
            wanted += rng.choice([0.0, 0.0, 0.125, 0.25, 0.875, 1.0])  # exact binary fractions: real ties
            slot = max(wanted, sent[-limit] + window) if len(sent) >= limit else wanted
            clock.now = slot
            sent.append(slot)
            call = [credits_call, lambda s: status_of(s, {"status_url": f"{s.api_base}/v2/requests/x/status"})][i % 2]
            assert call(server).status_code in (200, 404), f"call {i} at {slot} was refused"
        boundary_hits = sum(sent[i] == sent[i - limit] + window for i in range(limit, len(sent)))
    assert server.counts["rate_limited"] == 0
    assert boundary_hits >= 5  # the schedule really tested the edge


def test_downloads_and_asset_fetches_are_not_rate_limited() -> None:
    with FakeSegmind(rate_limit=1, polls_until_done=0) as server:
        upload_url = f"{server.storage_base}/assets/none.png"
        job = submit(server).json()  # the window's only API call
        video = server.video_url(job["request_id"])
        assert [requests.get(video, timeout=10).status_code for _ in range(3)] == [200] * 3
        assert requests.get(upload_url, timeout=10).status_code == 404
        assert server.counts["rate_limited"] == 0 and server.counts["downloads"] == 3
        assert credits_call(server).status_code == 429


def test_a_rate_limited_call_consumes_no_fault() -> None:
    clock = Clock(0.0)
    with FakeSegmind(rate_limit=1, rate_window=60) as server:
        server.clock = clock
        server.fault("submit", status=500)
        assert credits_call(server).status_code == 200
        assert submit(server).status_code == 429
        assert server.pending_faults("submit") == 1 and server.jobs_submitted == 0
        clock.now = 60.0
        assert submit(server).status_code == 500
        clock.now = 120.0
        assert submit(server).status_code == 200 and server.jobs_submitted == 1


def test_request_times_per_stage_and_reset(fake_segmind: FakeSegmind) -> None:
    clock = Clock(7.0)
    fake_segmind.clock = clock
    fake_segmind.polls_until_done = 0
    job = submit(fake_segmind).json()
    clock.now = 8.5
    status_of(fake_segmind, job)
    output = requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).json()["output"]
    requests.get(output, timeout=10)
    times = fake_segmind.request_times
    assert (times["submit"], times["status"], times["result"], times["download"]) == ([7.0], [8.5], [8.5], [8.5])
    assert times["upload"] == times["credits"] == times["sync"] == []
    fake_segmind.reset_counts()
    assert all(not t for t in fake_segmind.request_times.values()) and fake_segmind.counts["rate_limited"] == 0


def test_standalone_server_flags(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("fake_segmind.py")
    bad = subprocess.run([sys.executable, str(script), "--rate-limit", "0"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "--rate-limit must be at least 1" in bad.stderr
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--generation-seconds", "0.2",
                             "--rate-limit", "2", "--rate-window", "30"], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        env_line = proc.stdout.readline()
        assert "jobs take 0.2 s" in first and "2 API calls per 30 s" in first
        fields = dict(part.split("=", 1) for part in env_line.split())
        base, key = fields["SEGMIND_API_BASE"], fields["SEGMIND_API_KEY"]
        assert key in first and base in first
        started = time.monotonic()
        resp = requests.post(f"{base}/v1/{I2V}", json=BODY, headers={"x-api-key": key}, timeout=10)
        assert resp.status_code == 200 and time.monotonic() - started >= 0.2
        codes = [requests.get(f"{base}/v1/get-user-credits", headers={"x-api-key": key}, timeout=10).status_code
                 for _ in range(2)]
        assert codes == [200, 429]
    finally:
        proc.terminate()
        proc.wait(10)
