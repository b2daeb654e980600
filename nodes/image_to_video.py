"""Segmind LTX-2 Image to Video: a still image and a prompt in, frames + audio + video out."""
from __future__ import annotations

from typing import Any

from ..core.params import I2V_MODEL, I2V_NUMBERS
from . import common


class SegmindLTX2ImageToVideo:
    DESCRIPTION = ("Animates an image into a video with synchronized sound using Segmind's LTX-2-19B "
                   "(about $0.455 and 2 minutes per clip at the defaults). Needs a Segmind API key.")
    CATEGORY = common.CATEGORY
    RETURN_TYPES = common.RETURN_TYPES
    RETURN_NAMES = common.RETURN_NAMES
    FUNCTION = "generate"
    OUTPUT_NODE = True  # shows its own video preview, so it runs even with nothing downstream

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The first frame to animate."}),
                **common.prompt_widgets(),
                **common.number_widgets(I2V_NUMBERS),
            },
            "optional": common.optional_widgets(with_image=True),
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    def generate(self, image: Any, prompt: str, negative_prompt: str, unique_id: str | None = None,
                 **values: Any) -> dict:
        from ..core.params import build_body

        body = build_body(I2V_NUMBERS, prompt, negative_prompt, values)
        return common.run_generation(model=I2V_MODEL, body=body, image=image, options=values,
                                     node_id=unique_id)
