"""Self-tests of the Segmind stand-in, with plain `requests` (no pack code)."""
from __future__ import annotations

import base64
import io
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

I2V = "ltx-2-19b-i2v"
T2V = "ltx-2-19b-t2v"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot-really-a-png").decode()
# Small clip: 300x260 -> 288x256 on the grid, 10 frames -> 9.
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


def test_snap_to_grid_rounds_to_nearest() -> None:
    assert snap_to_grid(720, 1280, 181) == (736, 1280, 185)
    assert snap_to_grid(300, 260, 10) == (288, 256, 9)
    assert snap_to_grid(256, 1280, 1) == (256, 1280, 1)
    assert snap_to_grid(1270, 500, 400) == (1280, 512, 401)


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
    assert (info["width"], info["height"], info["frames"], info["fps"]) == (288, 256, 9, 12)
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
    assert probe(video)["width"] == 288
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
    assert (info["width"], info["height"], info["frames"], info["audio"]) == (288, 256, 9, ("aac", 24000, 2))
    assert fake_segmind.jobs_submitted == 1
    assert fake_segmind.counts == {"uploads": 0, "submits": 1, "sync_runs": 0, "status_calls": 4,
                                   "result_calls": 1, "downloads": 1, "credit_calls": 0}


@pytest.mark.parametrize("shape", ["url", "list", "dict"])
def test_v2_output_shapes(fake_segmind: FakeSegmind, shape: str) -> None:
    fake_segmind.polls_until_done = 0
    fake_segmind.output_shape = shape
    job = submit(fake_segmind).json()
    output = requests.get(job["response_url"], headers=hdrs(fake_segmind), timeout=10).json()["output"]
    url = {"url": lambda o: o, "list": lambda o: o[0], "dict": lambda o: o["video"]}[shape](output)
    assert isinstance(output, {"url": str, "list": list, "dict": dict}[shape])
    assert url.startswith(fake_segmind.api_base + "/files/") and url.endswith(".mp4")


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
    assert probe(requests.get(output, timeout=10).content)["frames"] == 9


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
    assert info["audio"] is None and info["frames"] == 9
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
