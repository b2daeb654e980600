"""Segmind LTX-2 Text to Video: a prompt in, frames + audio + video out (no picture)."""
from __future__ import annotations

from typing import Any

from ..core.params import T2V_MODEL, T2V_NUMBERS
from . import common


class SegmindLTX2TextToVideo:
    DESCRIPTION = ("Makes a video with synchronized sound from a text prompt using Segmind's LTX-2-19B "
                   "(about $0.42 and 2 minutes per clip at the defaults). Needs a Segmind API key, "
                   "except with the free 'offline preview' backend.")
    CATEGORY = common.CATEGORY
    RETURN_TYPES = common.RETURN_TYPES
    RETURN_NAMES = common.RETURN_NAMES
    FUNCTION = "generate"
    OUTPUT_NODE = True  # shows its own video preview, so it runs even with nothing downstream

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                **common.prompt_widgets(),
                **common.number_widgets(T2V_NUMBERS),
            },
            "optional": common.optional_widgets(with_image=False),
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def generate(self, prompt: str, negative_prompt: str, unique_id: str | None = None, **values: Any) -> dict:
        from ..core.params import build_body

        body = build_body(T2V_NUMBERS, prompt, negative_prompt, values)
        return common.run_generation(model=T2V_MODEL, body=body, image=None, options=values,
                                     node_id=unique_id)
