"""Provenance in every saved clip (core/provenance.py): the request in the MP4's metadata
and in a JSON beside it, audio and video untouched, never the key, and a failed rewrite
that leaves the paid clip exactly as it was."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import pytest

from fake_segmind import make_mp4
from pack_loader import pack_module

prov = pack_module("core.provenance")

KEY = "SG_provenancekey0123456789"


def meta(**over) -> dict:
    base = prov.provenance_meta(
        "ltx-2-19b-i2v",
        {"prompt": "a red fox runs, ünïcode", "negative_prompt": "blurry", "width": 256, "height": 256,
         "num_frames": 9, "fps": 8, "seed": 7, "guidance_scale": 4.0, "image": "https://images.example/x.png"},
        request_id="req-123", cost=0.455)
    base.update(over)
    return base


def packets(path: Path) -> list[tuple[str, bytes, int | None, int | None]]:
    with av.open(str(path)) as c:
        return [(p.stream.type, bytes(p), p.pts, p.dts) for p in c.demux() if p.size]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "ltx2_i2v_20250101-000000_req-123.mp4"
    make_mp4(path, 256, 256, 9, 8)
    return path


def test_written_into_the_mp4_and_beside_it_streams_bit_identical(clip: Path) -> None:
    before = packets(clip)
    prov.write_provenance(clip, meta())
    assert packets(clip) == before  # a remux: every audio and video packet as it was
    with av.open(str(clip)) as c:
        tag = json.loads(c.metadata["comment"])
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
    assert tag["request_id"] == "req-123" and tag["cost"] == 0.455 and tag["seed"] == 7
    assert tag["model"] == "ltx-2-19b-i2v" and tag["fields"]["guidance_scale"] == 4.0
    assert tag["fields"]["prompt"] == "a red fox runs, ünïcode"
    beside = json.loads(clip.with_suffix(".json").read_text(encoding="utf-8"))
    assert beside == tag
    assert prov.read_provenance(clip) == tag
    assert sorted(p.name for p in clip.parent.iterdir()) == sorted([clip.name, clip.with_suffix(".json").name])


def test_never_the_key(clip: Path) -> None:
    prov.write_provenance(clip, meta(api_key=KEY, headers={"x-api-key": KEY, "accept": "video/mp4"},
                                     note=f"called with {KEY}"))
    for path in (clip, clip.with_suffix(".json")):
        data = path.read_bytes()
        assert KEY.encode() not in data and KEY[3:].encode() not in data
    tag = prov.read_provenance(clip)
    assert "api_key" not in tag and tag["headers"] == {"accept": "video/mp4"}


def test_a_clip_without_audio_keeps_its_single_stream(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    make_mp4(path, 128, 96, 5, 8, audio=False)
    before = packets(path)
    prov.write_provenance(path, meta())
    assert packets(path) == before
    assert prov.read_provenance(path)["request_id"] == "req-123"


def test_a_failed_remux_keeps_the_original_untouched_and_only_logs(tmp_path: Path, caplog) -> None:
    path = tmp_path / "not_really.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    original = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        prov.write_provenance(path, meta())  # must not raise
    assert path.read_bytes() == original
    assert "could not write provenance" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_really.json", "not_really.mp4"]  # no temp file
    assert prov.read_provenance(path)["request_id"] == "req-123"  # from the JSON beside it


def test_a_remux_failing_half_way_leaves_no_half_file(clip: Path, monkeypatch) -> None:
    original = clip.read_bytes()

    def broken(src, dest, text):
        Path(dest).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prov, "_remux_with_comment", broken)
    prov.write_provenance(clip, meta())
    assert clip.read_bytes() == original
    assert not [p for p in clip.parent.iterdir() if "provenance" in p.name]


def test_read_provenance_of_a_foreign_clip_is_none(clip: Path, tmp_path: Path) -> None:
    assert prov.read_provenance(clip) is None
    assert prov.read_provenance(tmp_path / "missing.mp4") is None
    clip.with_suffix(".json").write_text('{"something": "else"}')
    assert prov.read_provenance(clip) is None  # not ours: no marker


def test_non_finite_numbers_become_null(clip: Path) -> None:
    prov.write_provenance(clip, meta(cost=float("nan"), extra={"inf": float("inf")}))
    tag = prov.read_provenance(clip)
    assert tag["cost"] is None and tag["extra"] == {"inf": None}
