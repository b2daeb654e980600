"""Issue 12: the machine in poor shape and bad inputs. Local state that is damaged
(records of the wrong shape, an unreadable user/segmind folder, a file where a folder
belongs), a cached clip that no longer decodes, a full output disk on a cache hit, and
pictures that must be refused or shrunk before anything is paid. Each test fails
without its fix and records a row of the fault matrix."""
from __future__ import annotations

import builtins
import errno
import io
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from fake_segmind import make_mp4
from node_calls import call_node
from pack_loader import load_pack, pack_module

pack = load_pack()
errors = pack_module("core.errors")
image_encode = pack_module("core.image_encode")
job_journal = pack_module("core.job_journal")
result_cache = pack_module("core.result_cache")
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]

MP4 = make_mp4(None, 32, 32, 2, 8, audio=False)
IMAGE = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(12))
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)


def queue(**over: Any) -> dict:
    return call_node(NODE(), image=IMAGE, prompt="x", negative_prompt="", unique_id="1", **{**SMALL, **over})


def attempt(**over: Any) -> Any:
    try:
        return queue(**over)
    except Exception as exc:  # judged by the test
        return exc


def clear(call: Callable[[], Any]) -> Any:
    """The LocalStateError `call` raises: one message for the user, never a raw OSError/TypeError."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    assert isinstance(exc, errors.LocalStateError), f"{type(exc).__name__}: {exc}"
    assert isinstance(exc, errors.SegmindError)
    return exc


def cache_entry(root: Path, fingerprint: str = "f1", **meta: Any) -> result_cache.ResultCache:
    """A cache holding one valid entry (a real MP4), its record overridden by `meta`."""
    cache = result_cache.ResultCache(root, 10 * len(MP4))
    src = root.parent / f"{fingerprint}-src.mp4"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(MP4)
    assert cache.store(fingerprint, src, {"request_id": "rid"})
    if meta:
        record = json.loads((root / f"{fingerprint}.json").read_text())
        record.update(meta)
        (root / f"{fingerprint}.json").write_text(json.dumps(record))
    return cache


# --------------------------------------------------------------------------- an unreadable folder


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Callable[[Path], None]:
    """Make a folder unreadable, like chmod 000. As root permissions do not bite (the tests
    run as root here), so every file operation below the folder raises PermissionError."""

    def apply(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0)
            request.addfinalizer(lambda: folder.chmod(0o755))
            return
        prefix = os.fspath(folder) + os.sep

        def denied(*paths: Any) -> None:
            for p in paths:
                if isinstance(p, (str, os.PathLike)) and os.fspath(p).startswith(prefix):
                    raise PermissionError(errno.EACCES, "Permission denied", os.fspath(p))

        def one(fn: Callable) -> Callable:
            return lambda path, *a, **k: (denied(path), fn(path, *a, **k))[1]

        def two(fn: Callable) -> Callable:
            return lambda src, dst, *a, **k: (denied(src, dst), fn(src, dst, *a, **k))[1]

        for mod, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "lstat"),
                          (os, "unlink"), (os, "mkdir"), (os, "scandir"), (os, "listdir"), (os, "utime")):
            monkeypatch.setattr(mod, name, one(getattr(mod, name)))
        for mod, name in ((os, "replace"), (os, "rename"), (os, "link"), (shutil, "copyfile")):
            monkeypatch.setattr(mod, name, two(getattr(mod, name)))

    return apply


# --------------------------------------------------------------------------- journal records


BAD_JOURNAL_RECORDS = {
    "request_id a list": {"request_id": ["a", "b"]},
    "submitted_at a string": {"submitted_at": "yesterday"},
    "submitted_at NaN": {"submitted_at": float("nan")},
    "output_url a number": {"output_url": 7},
    "a field missing": {"model": None},
    "an unknown field": {"extra": 1},
    "another request's record": {"fingerprint": "someone-else"},
}


def test_journal_records_of_the_wrong_shape_are_set_aside(tmp_path, caplog, fault_row):
    root = tmp_path / "segmind" / "jobs"
    journal = job_journal.JobJournal(root)
    good = journal.record("f1", "rid", "ltx-2-19b-i2v", "http://api")
    raw = json.loads((root / "f1.json").read_text())
    texts = {label: json.dumps({k: v for k, v in {**raw, **over}.items() if v is not None})
             for label, over in BAD_JOURNAL_RECORDS.items()}
    texts.update({"not an object": "[1, 2]", "not JSON": "{nope", "not UTF-8": b"\xff\xfe".decode("latin-1"),
                  "nested 100,000 deep": "[" * 100_000 + "]" * 100_000})
    for label, text in texts.items():
        (root / "f1.json").write_text(text, encoding="latin-1" if label == "not UTF-8" else "utf-8")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert journal.get("f1") is None, label  # the run goes on (as a new run)
        assert not (root / "f1.json").exists() and (root / "f1.json.bad").exists(), label
        assert "f1.json" in caplog.text and "set it aside" in caplog.text, label
    # The journal still works afterwards.
    journal.record_output(good, "http://cdn/x.mp4")
    assert journal.get("f1") == good
    fault_row("A job-journal record of the wrong shape (request_id a list, submitted_at a string or NaN, "
              "fields missing or unknown, not JSON, nested 100,000 deep)",
              "user/segmind/jobs/<fingerprint>.json",
              "Set aside as <name>.bad (kept: it may hold a paid job's request id) with a warning naming it; "
              "the queue goes on.")


def test_cache_records_of_the_wrong_shape_are_set_aside_or_cleaned(tmp_path, fault_row):
    root = tmp_path / "segmind" / "cache"
    # A record whose size is not a number cannot vouch for its clip: the entry is dropped.
    for bad in ({"size": "1646"}, {"size": True}, {"size": None}):
        cache = cache_entry(root, **bad)
        assert cache.lookup("f1") is None, bad
        assert not (root / "f1.json").exists() and not (root / "f1.mp4").exists()
    (root / "f1.json").write_text("[1]")
    (root / "f1.mp4").write_bytes(MP4)
    assert cache.lookup("f1") is None and not (root / "f1.mp4").exists()
    # Informational fields of the wrong type never reach the node's summary.
    cache = cache_entry(root, request_id=["x"], stored_at="yesterday", cost=float("nan"))
    hit = cache.lookup("f1")
    assert hit is not None and hit.meta["request_id"] is None
    assert "stored_at" not in hit.meta and "cost" not in hit.meta
    fault_row("A result-cache record of the wrong shape (size a string, request_id a list, cost NaN)",
              "user/segmind/cache/<fingerprint>.json",
              "An entry whose size cannot be checked is removed (a miss); other bad fields are dropped "
              "and the clip is served.")


# --------------------------------------------------------------------------- folders in poor shape


def test_unreadable_user_segmind_folder_gives_one_clear_message(tmp_path, unreadable, caplog, fault_row):
    segmind = tmp_path / "user" / "segmind"
    journal = job_journal.JobJournal(job_journal.journal_directory(tmp_path / "user"))
    cache = result_cache.ResultCache(result_cache.cache_directory(tmp_path / "user"), 10 * len(MP4))
    src = tmp_path / "clip.mp4"
    src.write_bytes(MP4)
    entry = job_journal.JournalEntry("f1", "rid", "m", "http://api", 0.0)
    unreadable(segmind)
    checks = {
        "journal.get": lambda: journal.get("f1"),
        "journal.record": lambda: journal.record("f1", "rid", "m", "http://api"),
        "journal.record_output": lambda: journal.record_output(entry, "http://cdn/x.mp4"),
        "cache.lookup": lambda: cache.lookup("f1"),
        "cache.store": lambda: cache.store("f1", src, {}),
        "cache.remove": lambda: cache.remove("f1"),
        "cache.evict": cache.evict,
        "place_file": lambda: result_cache.place_file(src, segmind / "out" / "x.mp4"),
    }
    for name, call in checks.items():
        exc = clear(call)
        assert "permission denied" in str(exc) and str(segmind) in str(exc), (name, str(exc))
        assert "read and write access" in str(exc), name
    # Forgetting a job never fails a run (it follows a saved clip or another error): a warning.
    with caplog.at_level(logging.WARNING):
        assert journal.remove("f1") is False
    assert "permission denied" in caplog.text and str(segmind) in caplog.text
    fault_row("The user/segmind folder is unreadable (chmod 000)",
              "Job journal get/record/record_output, result cache lookup/store/remove/evict, place_file",
              "One LocalStateError naming the path: permission denied, give the user running ComfyUI read "
              "and write access. Removing a journal entry only logs that warning.")


@pytest.mark.parametrize("blocked", ["segmind", "segmind/jobs", "segmind/cache"])
def test_a_file_where_a_folder_should_be_gives_one_clear_message(tmp_path, blocked, caplog, fault_row):
    user = tmp_path / "user"
    (user / blocked).parent.mkdir(parents=True, exist_ok=True)
    (user / blocked).write_text("not a folder")
    journal = job_journal.JobJournal(job_journal.journal_directory(user))
    cache = result_cache.ResultCache(result_cache.cache_directory(user), 10 * len(MP4))
    src = tmp_path / "clip.mp4"
    src.write_bytes(MP4)
    entry = job_journal.JournalEntry("f1", "rid", "m", "http://api", 0.0)
    journal_hit = blocked != "segmind/cache"
    cache_hit = blocked != "segmind/jobs"
    checks = {}
    if journal_hit:
        checks.update({"journal.get": lambda: journal.get("f1"),
                       "journal.record": lambda: journal.record("f1", "rid", "m", "http://api"),
                       "journal.record_output": lambda: journal.record_output(entry, "http://cdn/x.mp4")})
    if cache_hit:
        checks.update({"cache.lookup": lambda: cache.lookup("f1"),
                       "cache.store": lambda: cache.store("f1", src, {}),
                       "cache.remove": lambda: cache.remove("f1"),
                       "cache.evict": cache.evict,
                       "place_file": lambda: result_cache.place_file(src, cache.root / "x.mp4")})
    for name, call in checks.items():
        exc = clear(call)
        text = str(exc)
        assert f"{user / blocked} is a file where the pack needs a folder" in text, (name, text)
        assert "Move or delete that file" in text, name
    with caplog.at_level(logging.WARNING):
        assert journal.remove("f1") is (not journal_hit)
    if journal_hit:
        assert str(user / blocked) in caplog.text
    assert (user / blocked).read_text() == "not a folder"  # the user's file is left alone
    fault_row(f"user/{blocked} is a file where the pack keeps a folder",
              "Job journal and result cache (get/record/record_output/remove, lookup/store/remove/evict), "
              "place_file",
              f"One LocalStateError: '<user>/{blocked} is a file where the pack needs a folder... Move or "
              "delete that file'; the file itself is left untouched.")


def test_a_node_run_with_user_segmind_a_file_stops_before_paying(pack_env, fault_row):
    pack_env.home.mkdir(parents=True)
    (pack_env.home / "segmind").write_text("oops")
    out = attempt()
    assert isinstance(out, errors.LocalStateError), repr(out)
    assert "is a file where the pack needs a folder" in str(out)
    assert pack_env.jobs_submitted == 0 and pack_env.counts.get("uploads", 0) == 0
    fault_row("user/segmind is a file, then the node is queued", "Image to Video node, before any upload",
              "The run stops with the one message naming the file; nothing is uploaded or billed.")


# --------------------------------------------------------------------------- a damaged cached clip


def _same_size_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _zero_the_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 4: 3 * len(data) // 4] = bytes(len(data) // 2)
    path.write_bytes(bytes(data))


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_same_size_garbage, _zero_the_middle, _truncated],
                         ids=["same-size garbage", "zeroed middle", "truncated"])
def test_a_cached_clip_that_no_longer_decodes_is_dropped_with_a_billing_warning(tmp_path, damage, fault_row):
    root = tmp_path / "cache"
    cache = cache_entry(root)
    assert cache.lookup("f1") is not None
    damage(root / "f1.mp4")
    with pytest.raises(errors.CachedClipDamagedError) as exc:
        cache.lookup("f1")
    text = str(exc.value)
    assert "removed" in text and "Run the same request again" in text and "billed" in text, text
    assert not (root / "f1.mp4").exists() and not (root / "f1.json").exists()
    assert cache.lookup("f1") is None  # the next queue is a plain miss (a new, billed run)
    fault_row(f"A cached clip damaged on disk ({damage.__name__.strip('_').replace('_', ' ')})",
              "Result cache lookup, before the clip is used",
              "The clip is probed (index only), removed from the cache, and the run stops: the damaged "
              "cached clip was removed; queueing again generates, and bills, a new one.")


def test_a_healthy_cached_clip_is_only_probed_not_decoded(tmp_path, monkeypatch):
    vd = pack_module("core.video_decode")
    cache = cache_entry(tmp_path / "cache")

    def no_decoding(*a: Any, **k: Any) -> None:
        raise AssertionError("a cache lookup must not decode the clip")

    monkeypatch.setattr(vd, "decode_video", no_decoding)
    monkeypatch.setattr(vd, "_decode_frames", no_decoding)
    assert cache.lookup("f1").path.read_bytes() == MP4


def test_a_damaged_cached_clip_stops_the_node_without_paying_then_the_next_queue_pays_once(pack_env, fault_row):
    assert not isinstance(attempt(), Exception)
    assert pack_env.jobs_submitted == 1
    clips = list(result_cache.cache_directory(pack_env.home).glob("*.mp4"))
    assert len(clips) == 1
    _same_size_garbage(clips[0])
    out = attempt()
    assert isinstance(out, errors.CachedClipDamagedError), repr(out)
    assert "billed" in str(out) and pack_env.jobs_submitted == 1  # nothing paid silently
    assert not isinstance(attempt(), Exception)
    assert pack_env.jobs_submitted == 2
    fault_row("A cached clip overwritten with garbage of the same size, then the same request is queued",
              "Image to Video node, cache hit",
              "The run stops before paying with the 'removed... queueing again bills a new one' message; "
              "the next queue pays for exactly one new run.")


# --------------------------------------------------------------------------- a full disk on a cache hit


def _full_disk(monkeypatch: pytest.MonkeyPatch, *, partial: bool) -> None:
    """os.link and shutil.copyfile fail with ENOSPC (a partial copy left behind when `partial`)."""

    def link(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        raise OSError(errno.EXDEV if partial else errno.ENOSPC, os.strerror(errno.EXDEV if partial else errno.ENOSPC))

    def copyfile(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        Path(dst).write_bytes(b"\0" * 100)  # what a copy leaves when the disk fills
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(shutil, "copyfile", copyfile)


@pytest.mark.parametrize("partial", [False, True], ids=["link fails", "copy fills the disk"])
def test_place_file_on_a_full_disk_says_what_to_do_and_leaves_no_temporary_file(tmp_path, monkeypatch, partial,
                                                                                  fault_row):
    src = tmp_path / "cache" / "f1.mp4"
    src.parent.mkdir()
    src.write_bytes(MP4)
    out = tmp_path / "output" / "segmind_ltx2"
    out.mkdir(parents=True)
    _full_disk(monkeypatch, partial=partial)
    exc = clear(lambda: result_cache.place_file(src, out / "clip.mp4"))
    assert "No space left" in str(exc) and "free some disk space" in str(exc)
    assert "another output folder" in str(exc)
    assert list(out.iterdir()) == []  # no temporary file, no half clip
    fault_row(f"The output disk is full on a cache hit ({'copy' if partial else 'hard link'} fails with ENOSPC)",
              "place_file (cache -> output folder)",
              "LocalStateError: no space left on the disk holding the output clip, free some disk space or "
              "choose another output folder; the temporary file is removed.")


def test_a_cache_hit_on_a_full_output_disk_stops_clearly_without_paying(pack_env, monkeypatch, fault_row):
    assert not isinstance(attempt(), Exception)
    _full_disk(monkeypatch, partial=True)
    out = attempt()
    assert isinstance(out, errors.LocalStateError), repr(out)
    assert "free some disk space" in str(out) and "output folder" in str(out)
    assert pack_env.jobs_submitted == 1
    assert not [p for p in (pack_env.output / "segmind_ltx2").iterdir() if p.name.endswith(".tmp")]
    fault_row("The output disk is full when an identical request is served from the cache",
              "Image to Video node, cache hit",
              "One clear message (free disk space / choose another output folder); no temporary file is "
              "left and nothing is billed.")


# --------------------------------------------------------------------------- pictures


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_or_infinite_pixels_are_refused_before_paying(value, fault_row):
    img = torch.rand(1, 40, 40, 3)
    img[0, 5, 7, 1] = value
    with pytest.raises(errors.InvalidInputError) as exc:
        image_encode.to_uint8_rgb(img)
    text = str(exc.value)
    assert "NaN or infinite" in text and "nothing was sent" in text.lower() and "clamp" in text
    fault_row(f"An IMAGE with a {value} pixel", "Image to Video node, image conversion (before upload)",
              "InvalidInputError: the image has NaN or infinite values; fix the node that made it or clamp it. "
              "Nothing is uploaded or billed.")


@pytest.mark.parametrize("shape", [(1, 1), (31, 200), (200, 16)])
def test_a_picture_too_small_to_animate_is_refused_with_the_minimum(shape, fault_row):
    rgb8 = np.zeros((*shape, 3), np.uint8)
    with pytest.raises(errors.InvalidInputError) as exc:
        image_encode.fit_for_upload(rgb8, 256, 256)
    assert f"{shape[1]}x{shape[0]}" in str(exc.value) and "at least 32x32" in str(exc.value)
    assert image_encode.fit_for_upload(np.zeros((32, 32, 3), np.uint8), 256, 256).shape == (32, 32, 3)
    fault_row(f"A {shape[1]}x{shape[0]} picture", "fit_for_upload (before upload)",
              "InvalidInputError naming the size and the 32x32 minimum; nothing is billed.")


@pytest.mark.parametrize("backend,side", [("opencv", 8192), ("numpy", 2048)])
def test_a_picture_far_larger_than_the_video_is_scaled_down_before_upload(backend, side, monkeypatch, fault_row):
    if backend == "numpy":  # no OpenCV, no Pillow: the numpy fallback
        monkeypatch.setitem(sys.modules, "cv2", None)
        monkeypatch.setitem(sys.modules, "PIL", None)
    big = np.zeros((side, side, 3), np.uint8)
    big[:, : side // 2] = 200  # left half bright
    small = image_encode.fit_for_upload(big, 720, 1280)
    assert small.shape == (1280, 1280, 3) and small.dtype == np.uint8
    assert small[:, :639].min() == 200 and small[:, 641:].max() == 0  # area-averaged, not shifted
    if backend == "opencv":  # a few kB to upload, not 201 MB of pixels
        assert len(image_encode.encode_image(small).data) < 1 << 20
    # Aspect kept, the target still covered; never scaled up.
    wide = image_encode.fit_for_upload(np.zeros((2000, 4000, 3), np.uint8), 1280, 720)
    assert wide.shape == (720, 1440, 3)
    tiny = np.zeros((300, 200, 3), np.uint8)
    assert image_encode.fit_for_upload(tiny, 720, 1280) is tiny
    fault_row(f"A {side}x{side} picture for a 720x1280 video ({backend})", "fit_for_upload (before upload)",
              "Scaled down with area averaging to 1280x1280, the smallest size covering the video with the "
              "same aspect; never scaled up.")
