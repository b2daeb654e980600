"""Unit tests of the ComfyUI-free core: request fields, key handling, image encoding,
response-shape parsing and status text."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import torch

from pack_loader import pack_module

params = pack_module("core.params")
errors = pack_module("core.errors")
credentials = pack_module("core.credentials")
image_encode = pack_module("core.image_encode")
client_mod = pack_module("core.client")
transport_mod = pack_module("core.transport")
status_text = pack_module("core.status_text")


# -- request fields ---------------------------------------------------------------------
def test_build_body_uses_product_page_defaults():
    body = params.build_body(params.I2V_MODEL, {"prompt": " a cat ", "negative_prompt": params.DEFAULT_NEGATIVE_PROMPT},
                             {"image": "https://x/y.png"})
    assert body == {"prompt": "a cat", "image": "https://x/y.png",
                    "negative_prompt": params.DEFAULT_NEGATIVE_PROMPT,
                    "width": 720, "height": 1280, "num_frames": 181, "fps": 24, "seed": 42,
                    "guidance_scale": 4.0}


@pytest.mark.parametrize("field,value", [("width", 255), ("height", 1281), ("num_frames", 0),
                                         ("fps", 31), ("guidance_scale", 20.5), ("seed", -1)])
def test_build_body_rejects_out_of_range_naming_the_input(field, value):
    with pytest.raises(errors.InvalidInputError) as exc:
        params.build_body(params.I2V_MODEL, {"prompt": "p", "negative_prompt": "", field: value})
    assert f"'{field}'" in str(exc.value) and "range" in str(exc.value)
    assert exc.value.field == field  # as data: each face names it its own way
    assert exc.value.naming("--x").startswith("--x is ")


def test_build_body_rejects_empty_prompt_and_fractional_ints():
    with pytest.raises(errors.InvalidInputError, match="prompt"):
        params.build_body(params.I2V_MODEL, {"prompt": "   ", "negative_prompt": ""})
    with pytest.raises(errors.InvalidInputError, match="whole number"):
        params.build_body(params.I2V_MODEL, {"prompt": "p", "negative_prompt": "", "width": 720.5})


# -- credentials ------------------------------------------------------------------------
def test_env_key_wins_over_file(tmp_path, monkeypatch):
    credentials.save_api_key(tmp_path, "SG_fromfile123456")
    monkeypatch.setenv("SEGMIND_API_KEY", "SG_fromenv1234567")
    assert credentials.load_api_key(tmp_path) == ("SG_fromenv1234567", "env")
    monkeypatch.delenv("SEGMIND_API_KEY")
    assert credentials.load_api_key(tmp_path) == ("SG_fromfile123456", "file")


def test_key_file_is_owner_only(tmp_path):
    path = credentials.save_api_key(tmp_path, "  SG_abcdef123456\n")
    assert path == tmp_path / "segmind" / "api_key"
    assert path.read_text() == "SG_abcdef123456"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert credentials.delete_api_key(tmp_path) and not path.exists()


def test_missing_key_names_both_places(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    with pytest.raises(errors.MissingAPIKeyError) as exc:
        credentials.require_api_key(tmp_path)
    msg = str(exc.value)
    assert "SEGMIND_API_KEY" in msg and str(tmp_path / "segmind" / "api_key") in msg


@pytest.mark.parametrize("bad", ["", "SG_ab cd1234", "short"])
def test_bad_key_text_is_refused(bad):
    with pytest.raises(errors.InvalidInputError):
        credentials.validate_key_text(bad)


def test_redact_removes_key_and_key_shaped_text():
    assert credentials.redact("bad key SG_secret99999 x", "SG_secret99999") == "bad key *** x"
    assert "SG_other1234567" not in credentials.redact("seen SG_other1234567")


# -- image encoding ---------------------------------------------------------------------
def test_to_uint8_rgb_converts_float_batches_gray_and_alpha():
    img = torch.zeros(2, 4, 5, 3)
    img[1] = 1.0
    assert image_encode.to_uint8_rgb(img, 1).min() == 255
    gray = torch.full((1, 4, 5, 1), 0.5)
    out = image_encode.to_uint8_rgb(gray)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8 and int(out[0, 0, 0]) == 128
    rgba = torch.rand(1, 4, 5, 4)
    assert image_encode.to_uint8_rgb(rgba).shape == (4, 5, 3)


def test_batch_index_out_of_range_says_what_to_change():
    with pytest.raises(errors.InvalidInputError, match=r"0\.\.1"):
        image_encode.to_uint8_rgb(torch.zeros(2, 4, 4, 3), 2)


def test_png_is_lossless_and_jpeg_smaller():
    import cv2

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    png = image_encode.encode_image(rgb, "png")
    back = cv2.imdecode(np.frombuffer(png.data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert np.array_equal(back, rgb) and png.mime == "image/png"
    jpg = image_encode.encode_image(rgb, "jpeg")
    assert jpg.mime == "image/jpeg" and jpg.data[:2] == b"\xff\xd8"
    assert png.pixel_hash == jpg.pixel_hash  # same picture, same identity
    assert png.data_url().startswith("data:image/png;base64,")


def test_unknown_upload_format_is_refused():
    with pytest.raises(errors.InvalidInputError, match="upload_format"):
        image_encode.encode_image(np.zeros((2, 2, 3), np.uint8), "webp")


# -- response shapes --------------------------------------------------------------------
@pytest.mark.parametrize("payload", [
    "https://cdn/x.mp4", ["https://cdn/x.mp4"], {"video": "https://cdn/x.mp4"},
    {"output": ["https://cdn/x.mp4"]}, {"output": {"url": "https://cdn/x.mp4"}},
])
def test_extract_video_ref_accepts_every_listed_shape(payload):
    assert client_mod.extract_video_ref(payload) == ("url", "https://cdn/x.mp4")


def test_extract_video_ref_base64_and_nothing():
    import base64
    b64 = base64.b64encode(b"\x00" * 400).decode()
    assert client_mod.extract_video_ref({"video": b64}) == ("base64", b64)
    assert client_mod.extract_video_ref({"video": "data:video/mp4;base64,AAAA"}) == ("base64", "AAAA")
    assert client_mod.extract_video_ref({"status": "COMPLETED"}) is None


class _Resp:
    def __init__(self, content: bytes):
        self.content = content


@pytest.mark.parametrize("body,expected", [
    (b'{"error": "Invalid width"}', "Invalid width"),
    (b"<html><head><title>405 Not Allowed</title></head><body>nginx</body></html>", "405 Not Allowed"),
    (b"", ""),
    (b"{broken json", "{broken json"),
])
def test_error_text_never_assumes_json(body, expected):
    assert client_mod.error_text(_Resp(body)) == expected


def test_error_text_redacts_key():
    assert "SG_k" not in client_mod.error_text(_Resp(b'{"error": "key SG_key123456789 invalid"}'), "SG_key123456789")


def test_api_error_message_is_actionable():
    err = errors.SegmindAPIError(406, "Insufficient credits", "submit")
    assert "credits" in str(err) and "HTTP 406" in str(err) and "Insufficient credits" in str(err)


def test_parse_reset_at_formats():
    now = 1_700_000_000.0
    assert transport_mod.parse_reset_at(str(now + 12), now) == pytest.approx(12)
    from datetime import datetime, timezone
    iso = datetime.fromtimestamp(now + 30, timezone.utc).isoformat()
    assert transport_mod.parse_reset_at(iso, now) == pytest.approx(30, abs=1)
    assert transport_mod.parse_reset_at("garbage", now) is None


def test_status_text_lines():
    assert status_text.describe("status", {"status": "QUEUED", "elapsed": 65}) == "Queued · 1:05 elapsed"
    line = status_text.describe("status", {"status": "PROCESSING", "elapsed": 10, "eta": 100})
    assert line == "Processing · 0:10 elapsed · ~1:40 left"
    assert status_text.describe("status", {"status": "PROCESSING", "elapsed": 200, "eta": 0}).endswith("finishing")


def test_expected_runtime_scales_with_pixels_and_frames():
    assert params.expected_runtime({"width": 720, "height": 1280, "num_frames": 181}) == pytest.approx(113.31)
    # At the size LTX-2 renders: 720x1280x181 is 736x1280x185 on its grid, 360x640x181 is 384x640x185.
    assert params.expected_runtime({"width": 736, "height": 1280, "num_frames": 185}) == pytest.approx(113.31)
    assert params.expected_runtime({"width": 360, "height": 640, "num_frames": 181}) == pytest.approx(
        113.31 * (384 * 640) / (736 * 1280))
    assert params.expected_runtime({"width": 256, "height": 256, "num_frames": 1}) == 10.0
    assert status_text.describe("downloading", {"done": 2_500_000, "total": 5_000_000}) == "Downloading 2.5 MB of 5.0 MB"


def test_status_text_for_cache_and_resume():
    assert "not billed" in status_text.describe("cache_hit", {"request_id": "r1"})
    line = status_text.describe("resuming", {"request_id": "abc", "age": 125})
    assert "abc" in line and "2:05" in line and "not billed" in line
