"""Unit tests of the result cache and the job journal (no server): what makes two
requests the same, the size bound and its eviction order, clearing, and expiry."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from fake_segmind import make_mp4
from pack_loader import pack_module

errors = pack_module("core.errors")
image_encode = pack_module("core.image_encode")
job_journal = pack_module("core.job_journal")
result_cache = pack_module("core.result_cache")

BODY = {"prompt": "x", "negative_prompt": "", "width": 256, "height": 256, "num_frames": 9,
        "fps": 8, "seed": 1, "guidance_scale": 4.0}
RGB = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)


def fingerprint(body=None, rgb=RGB, fmt="png", model="ltx-2-19b-i2v",
                service="https://api.segmind.com") -> str:
    image = image_encode.encode_image(rgb, fmt)
    return result_cache.request_fingerprint(model, BODY if body is None else body, image, service)


# -- fingerprint ----------------------------------------------------------------------------
def test_fingerprint_is_stable_and_ignores_key_order():
    assert fingerprint() == fingerprint(dict(reversed(list(BODY.items()))))


@pytest.mark.parametrize("field,value", [("prompt", "y"), ("negative_prompt", "z"), ("width", 288),
                                         ("height", 288), ("num_frames", 17), ("fps", 9),
                                         ("seed", 2), ("guidance_scale", 4.5)])
def test_every_api_field_changes_the_fingerprint(field, value):
    assert fingerprint({**BODY, field: value}) != fingerprint()


def test_pixels_format_and_model_change_the_fingerprint():
    other = RGB.copy()
    other[0, 0, 0] ^= 1
    assert fingerprint(rgb=other) != fingerprint()
    assert fingerprint(fmt="jpeg") != fingerprint()
    assert fingerprint(model="ltx-2-19b-t2v") != fingerprint()
    # A clip from a local stand-in or another proxy is never served as Segmind's.
    assert fingerprint(service="http://127.0.0.1:9100") != fingerprint()


def test_fingerprint_refuses_a_body_with_the_upload_url():
    with pytest.raises(ValueError):
        fingerprint({**BODY, "image": "https://x/y.png"})


# -- cache ----------------------------------------------------------------------------------
# A real MP4 (the cache probes a clip before handing it out) and its size in bytes.
MP4 = make_mp4(None, 32, 32, 2, 8, audio=False)
SIZE = len(MP4)


def clip(tmp_path, name: str):
    path = tmp_path / "out" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MP4)
    return path


def test_store_then_lookup_survives_a_new_instance(tmp_path):
    src = clip(tmp_path, "a.mp4")
    assert result_cache.ResultCache(tmp_path / "cache", 10 * SIZE).store("f1", src, {"request_id": "r1"})
    hit = result_cache.ResultCache(tmp_path / "cache", 10 * SIZE).lookup("f1")
    assert hit.meta["request_id"] == "r1" and hit.path.read_bytes() == src.read_bytes()
    src.unlink()  # the user deleting the output file does not empty the cache
    assert result_cache.ResultCache(tmp_path / "cache", 10 * SIZE).lookup("f1").path.is_file()


def test_least_recently_used_is_evicted_first(tmp_path):
    cache = result_cache.ResultCache(tmp_path / "cache", int(2.5 * SIZE))
    for name in ("f1", "f2"):
        cache.store(name, clip(tmp_path, f"{name}.mp4"), {})
    os.utime(tmp_path / "cache" / "f1.json", (2, 2))
    os.utime(tmp_path / "cache" / "f2.json", (1, 1))  # f2 was used longest ago...
    cache.store("f3", clip(tmp_path, "f3.mp4"), {})
    assert cache.lookup("f2") is None  # ...so it made room
    assert cache.lookup("f1") is not None and cache.lookup("f3") is not None


def test_a_lookup_counts_as_use(tmp_path):
    cache = result_cache.ResultCache(tmp_path / "cache", int(2.5 * SIZE))
    for name in ("f1", "f2"):
        cache.store(name, clip(tmp_path, f"{name}.mp4"), {})
    os.utime(tmp_path / "cache" / "f1.json", (1, 1))
    os.utime(tmp_path / "cache" / "f2.json", (2, 2))
    assert cache.lookup("f1") is not None  # f1 is now the newest
    cache.store("f3", clip(tmp_path, "f3.mp4"), {})
    assert cache.lookup("f2") is None and cache.lookup("f1") is not None


def test_zero_size_turns_caching_off_and_oversized_clips_are_not_kept(tmp_path):
    src = clip(tmp_path, "a.mp4")
    assert not result_cache.ResultCache(tmp_path / "c0", 0).store("f", src, {})
    assert not result_cache.ResultCache(tmp_path / "c1", SIZE - 1).store("f", src, {})
    assert not (tmp_path / "c0" / "f.mp4").exists() and not (tmp_path / "c1" / "f.mp4").exists()


def test_a_clip_that_changed_size_is_removed_and_reported(tmp_path):
    # Issue 12: a damaged cached clip is dropped with a message (the next queue is billed),
    # not passed over silently.
    cache = result_cache.ResultCache(tmp_path / "cache", 10 * SIZE)
    cache.store("f1", clip(tmp_path, "a.mp4"), {})
    with open(tmp_path / "cache" / "f1.mp4", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(errors.CachedClipDamagedError, match="billed"):
        cache.lookup("f1")
    assert not (tmp_path / "cache" / "f1.mp4").exists()
    assert cache.lookup("f1") is None


def test_clear_cache_counts_and_empties(tmp_path):
    cache = result_cache.ResultCache(tmp_path / "cache", 10 * SIZE)
    for name in ("f1", "f2"):
        cache.store(name, clip(tmp_path, f"{name}.mp4"), {})
    assert result_cache.clear_cache(tmp_path / "cache") == 2
    assert not list((tmp_path / "cache").iterdir())
    assert result_cache.clear_cache(tmp_path / "missing") == 0


@pytest.mark.parametrize("raw,expected", [("", 5_000_000_000), ("0.5", 500_000_000), ("0", 0)])
def test_size_bound_from_env(monkeypatch, raw, expected):
    monkeypatch.setenv(result_cache.CACHE_ENV, raw)
    assert result_cache.max_bytes_from_env() == expected


@pytest.mark.parametrize("raw", ["lots", "-1", "nan"])
def test_bad_size_bound_says_what_to_set(monkeypatch, raw):
    monkeypatch.setenv(result_cache.CACHE_ENV, raw)
    with pytest.raises(errors.InvalidInputError, match="SEGMIND_LTX2_CACHE_MAX_GB.*gigabytes"):
        result_cache.max_bytes_from_env()


# -- journal --------------------------------------------------------------------------------
def test_journal_round_trip_and_output_url(tmp_path):
    journal = job_journal.JobJournal(tmp_path / "jobs")
    entry = journal.record("f1", "rid", "ltx-2-19b-i2v", "http://api")
    assert job_journal.JobJournal(tmp_path / "jobs").get("f1") == entry
    journal.record_output(entry, "http://cdn/x.mp4")
    assert journal.get("f1").output_url == "http://cdn/x.mp4"
    journal.remove("f1")
    assert journal.get("f1") is None


def test_journal_expiry_follows_segmind_retention():
    now = time.time()
    entry = job_journal.JournalEntry("f", "rid", "m", "http://api", now - 3500)
    assert entry.collectable(now)
    assert not entry.collectable(now + 200)  # past the one-hour result record
    entry.output_url = "http://cdn/x.mp4"
    assert entry.collectable(now + 200)  # the file itself lives seven days
    assert not entry.collectable(now + job_journal.OUTPUT_TTL)


def test_unreadable_journal_entry_is_dropped(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "f1.json").write_text("{not json")
    assert job_journal.JobJournal(tmp_path / "jobs").get("f1") is None
    assert not (tmp_path / "jobs" / "f1.json").exists()


def test_journal_holds_ids_not_secrets(tmp_path):
    journal = job_journal.JobJournal(tmp_path / "jobs")
    journal.record("f1", "rid", "m", "http://api")
    assert set(json.loads((tmp_path / "jobs" / "f1.json").read_text())) == {
        "fingerprint", "request_id", "model", "api_base", "submitted_at", "output_url"}
