"""Issue 12 at the lifecycle's depth: room for the paid clip is checked before paying, and a
server-given id never steers a path."""
from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
import torch

from node_calls import call_node
from pack_loader import load_pack, pack_module

pack = load_pack()
errors = pack_module("core.errors")
clip_saving = pack_module("core.clip_saving")
NODE = pack.NODE_CLASS_MAPPINGS["SegmindLTX2ImageToVideo"]
SMALL = dict(width=256, height=256, num_frames=9, fps=8, seed=1, guidance_scale=4.0)
Usage = namedtuple("Usage", "total used free")


def queue(**over: Any) -> dict:
    return call_node(NODE(), image=torch.rand(1, 32, 32, 3), prompt="x", negative_prompt="", unique_id="1",
                     **{**SMALL, **over})


@pytest.mark.parametrize("api_mode", ["async (v2)", "sync (v1)"])
def test_a_disk_without_room_for_the_clip_is_refused_before_paying(pack_env, monkeypatch, fault_row, api_mode):
    # An empty probe file can be written on a full disk: the free space is what counts.
    monkeypatch.setattr(clip_saving.shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 4096, 4096))
    with pytest.raises(errors.OutputFolderError) as exc:
        queue(api_mode=api_mode)
    assert "Nothing was sent to Segmind" in str(exc.value) and "MB is free" in str(exc.value)
    assert pack_env.requests_log == [] and pack_env.jobs_submitted == 0
    fault_row(f"output disk has 4 KB free ({api_mode})", "before upload",
              f"{type(exc.value).__name__}: nothing sent, nothing billed; says how much room the clip needs")


def test_room_needed_grows_with_the_request():
    small = clip_saving.expected_clip_bytes({"width": 256, "height": 256, "num_frames": 9})
    large = clip_saving.expected_clip_bytes({"width": 1280, "height": 1280, "num_frames": 400})
    assert 8 << 20 < small < large < 1 << 30


@pytest.mark.parametrize("request_id", ["x/../../../y", "a\x00b", "..", "C:\\evil", "../" * 40])
def test_a_server_given_id_never_names_a_path_outside_the_output_folder(tmp_path, fault_row, request_id):
    out = tmp_path / "output"
    path = clip_saving.clip_path(out, "ltx-2-19b-i2v", request_id)
    assert path.parent == out / clip_saving.OUTPUT_SUBFOLDER
    assert "\x00" not in str(path) and ".." not in path.name and "/" not in path.name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"ok")  # a usable file name, NUL byte or not
    tag = clip_saving.safe_name(request_id)
    fault_row(f"request id {request_id!r}", "clip file name",
              (f"reduced to {tag!r}" if tag else "nothing usable: a random name") + ", inside output/segmind_ltx2")
