"""The Segmind LTX-2 request fields: names, defaults and ranges from the product page
(shared/seed) and API.md. One source of truth for node inputs, the CLI and validation."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

I2V_MODEL = "ltx-2-19b-i2v"
T2V_MODEL = "ltx-2-19b-t2v"

DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, still frame, frames, watermark, overlay, titles, "
    "has blurbox, has subtitles"
)


@dataclass(frozen=True)
class NumberField:
    name: str
    default: float
    minimum: float
    maximum: float
    integer: bool = True


# Product page: ~113.31 s for the defaults. The run time (and, we assume, the price) grows with
# the pixels x frames denoised; web/js/cost.js uses the same rule for the node's estimate.
DEFAULT_RUNTIME_SECONDS = 113.31
_DEFAULT_VOLUME = 720 * 1280 * 181


def expected_runtime(body: Mapping[str, Any]) -> float:
    """Rough seconds of processing for a request, for the ETA (never below 10 s)."""
    try:
        volume = int(body["width"]) * int(body["height"]) * int(body["num_frames"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_RUNTIME_SECONDS
    return max(10.0, DEFAULT_RUNTIME_SECONDS * volume / _DEFAULT_VOLUME)


SEED_MAX = 0xFFFFFFFF  # the page gives no range; a 32-bit seed is what every Segmind model takes

# Numeric fields of the I2V request, in the product page's order.
I2V_NUMBERS: tuple[NumberField, ...] = (
    NumberField("width", 720, 256, 1280),
    NumberField("height", 1280, 256, 1280),
    NumberField("num_frames", 181, 1, 400),
    NumberField("fps", 24, 1, 30),
    NumberField("seed", 42, 0, SEED_MAX),
    NumberField("guidance_scale", 4.0, 1.0, 20.0, integer=False),
)

# Text to video: the same fields without `image`. Its product page gives height 768 and
# 161 frames; the width default is not shown there, so 1280 (landscape, a multiple of 32).
T2V_NUMBERS: tuple[NumberField, ...] = tuple(
    replace(f, default={"width": 1280, "height": 768, "num_frames": 161}.get(f.name, f.default))
    for f in I2V_NUMBERS)


def build_body(fields: tuple[NumberField, ...], prompt: str, negative_prompt: str,
               values: Mapping[str, Any], image_url: str | None = None) -> dict[str, Any]:
    """Validate and assemble a request body. Raises InvalidInputError naming the input."""
    from .errors import InvalidInputError

    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInputError("The prompt is empty: describe the video scene in 'prompt'.")
    body: dict[str, Any] = {"prompt": prompt.strip()}
    if image_url is not None:
        body["image"] = image_url
    body["negative_prompt"] = negative_prompt if negative_prompt is not None else DEFAULT_NEGATIVE_PROMPT
    for f in fields:
        raw = values.get(f.name, f.default)
        try:
            value = int(raw) if f.integer else float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(f"'{f.name}' must be a number, got {raw!r}.") from None
        if f.integer and float(raw) != value:
            raise InvalidInputError(f"'{f.name}' must be a whole number, got {raw!r}.")
        if not (f.minimum <= value <= f.maximum):
            lo = int(f.minimum) if f.integer else f.minimum
            hi = int(f.maximum) if f.integer else f.maximum
            raise InvalidInputError(
                f"'{f.name}' is {value}, outside Segmind's range {lo}..{hi}: set it within that range.")
        body[f.name] = value
    return body
