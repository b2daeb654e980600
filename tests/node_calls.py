"""Run a generation node the way ComfyUI 0.3.64+ does: its function is a coroutine, awaited
on an event loop; its outputs are lists, one entry per clip."""
from __future__ import annotations

import asyncio
from typing import Any


def call_node_lists(node: Any, **inputs: Any) -> dict:
    """The node's own answer: {"ui": ..., "result": (frames list, audio list, ...)}."""
    return asyncio.run(node.generate(**inputs))


def call_node(node: Any, **inputs: Any) -> dict:
    """One clip: the node's answer with each single-entry output list unwrapped."""
    out = call_node_lists(node, **inputs)
    assert all(isinstance(v, list) and len(v) == 1 for v in out["result"]), [type(v) for v in out["result"]]
    return {"ui": out["ui"], "result": tuple(v[0] for v in out["result"])}
