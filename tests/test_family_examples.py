"""Each example workflow of the LTX-2 family runs as it ships once `backend` is switched to
`offline preview` (README: "switch it to offline preview to run them for free"): the API
graph executed node by node as ComfyUI would, Load Image read from the examples' picture and
Save Video left out; nothing is sent."""
from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import numpy as np
import pytest

from pack_loader import PACK_ROOT, load_pack, pack_module

pack = load_pack()
EXAMPLES = PACK_ROOT / "examples_workflows"


def _load_image(name: str) -> Any:
    import av
    import torch

    with av.open(str(EXAMPLES / name)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


def run_graph(graph: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple]:
    """Every node's outputs (one clip each), in the ids' order (the examples' own topological order)."""
    host = pack_module("comfy_host")
    monkeypatch.setattr(host, "running_prompt", lambda: graph)
    outputs: dict[str, tuple] = {}
    for nid in sorted(graph, key=int):
        node = graph[nid]
        kind = node["class_type"]
        if kind == "SaveVideo":
            continue
        if kind == "LoadImage":
            outputs[nid] = (_load_image(node["inputs"]["image"]),)
            continue
        cls = pack.NODE_CLASS_MAPPINGS[kind]
        inputs = {k: (outputs[v[0]][v[1]] if isinstance(v, list) else v) for k, v in node["inputs"].items()}
        if "backend" in inputs:
            inputs["backend"] = "offline preview"
        function = getattr(cls(), cls.FUNCTION)
        if "prompt_graph" in inspect.signature(function).parameters:
            inputs["prompt_graph"] = graph
        if getattr(cls, "INPUT_IS_LIST", False):
            inputs = {k: [v] for k, v in inputs.items()}
            inputs["unique_id"] = [nid]
        else:
            inputs["unique_id"] = nid
        out = function(**inputs)
        if inspect.iscoroutine(out):
            out = asyncio.run(out)
        result = out["result"]
        if getattr(cls, "OUTPUT_IS_LIST", None):
            result = tuple(v[0] for v in result)
        outputs[nid] = result
    return outputs


@pytest.mark.parametrize("name, node, frames", [
    ("pro_i2v", "2", 6 * 25),
    ("fast_t2v", "1", 8 * 25),
    ("join_clips", "3", 2 * 8 * 25),
    ("extend", "3", 121 + 2 * (121 - 1)),
])
def test_the_example_runs_free_with_the_offline_backend(pack_env, monkeypatch, name, node, frames):
    graph = json.loads((EXAMPLES / f"{name}.api.json").read_text(encoding="utf-8"))
    outputs = run_graph(graph, monkeypatch)
    video = outputs[node][4]
    probed = pack_module("core.video_decode").probe_video(video.get_stream_source())
    assert probed.frame_count == frames and probed.has_audio
    assert outputs[node][3] == frames
    assert pack_env.requests_log == [] and pack_env.jobs_submitted == 0
