"""The Segmind LTX-2 request fields: names, defaults and ranges from the product page
(shared/seed) and API.md. One source of truth for node inputs, the CLI and validation."""
from __future__ import annotations

import math
import re
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


# Product page: ~113.31 s and ~$0.455 for the defaults. The run time (and, we assume, the
# price) grows with the pixels x frames denoised, at the size LTX-2 really renders (the grid
# below); web/js/cost.js uses the same rule for the node's estimate.
DEFAULT_RUNTIME_SECONDS = 113.31
DEFAULT_PRICE_USD = 0.455
SIDE_STEP = 32      # LTX-2's VAE downsamples by 32: sides are multiples of 32
FRAME_STEP = 8      # ...and frame counts are 8k+1


def snap_to_grid(width: int, height: int, num_frames: int) -> tuple[int, int, int]:
    """The size and frame count LTX-2 really renders for a request: sides rounded up to a
    multiple of 32, frames up to the next 8k+1 (720 -> 736, 181 -> 185). API.md: the service
    rounds or pads on its side; rounding up is the assumption (it never under-estimates)."""
    def up(value: int, step: int, offset: int = 0) -> int:
        return offset + -(-(max(int(value), 1) - offset) // step) * step

    return up(width, SIDE_STEP), up(height, SIDE_STEP), up(num_frames, FRAME_STEP, 1)


def _volume(width: Any, height: Any, num_frames: Any) -> int:
    w, h, n = snap_to_grid(int(width), int(height), int(num_frames))
    return w * h * n


_DEFAULT_VOLUME = _volume(720, 1280, 181)  # the quoted defaults, at the size really rendered


def _ratio(body: Mapping[str, Any]) -> float | None:
    try:
        return _volume(body["width"], body["height"], body["num_frames"]) / _DEFAULT_VOLUME
    except (KeyError, TypeError, ValueError):
        return None


def expected_runtime(body: Mapping[str, Any]) -> float:
    """Rough seconds of processing for a request, for the ETA and polling (never below 10 s)."""
    ratio = _ratio(body)
    return DEFAULT_RUNTIME_SECONDS if ratio is None else max(10.0, DEFAULT_RUNTIME_SECONDS * ratio)


def estimate_cost(body: Mapping[str, Any]) -> float:
    """Estimated US dollars for one clip: the quoted $0.455 scaled by the rendered volume.
    Unconfirmed by Segmind (docs/segmind-unconfirmed.md); the real charge is reported after a run."""
    ratio = _ratio(body)
    return DEFAULT_PRICE_USD * (1.0 if ratio is None else ratio)


def finite_number(value: Any) -> float | None:
    """A finite float from a field, header or record, or None (bools, NaN, infinities and
    text are not numbers): no non-finite number may reach a message, the ledger or the UI."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def whole_number(value: Any) -> int | None:
    """A whole number ("42", "42.0", 42), or None; never raises."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,40}", value.strip()):
        return int(value.strip())
    number = finite_number(value)
    return int(number) if number is not None and number.is_integer() else None


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
    from .errors import Action, InvalidInputError

    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInputError(f"The prompt is empty: describe the video scene in {Action.SET_FIELD('prompt')}.")
    body: dict[str, Any] = {"prompt": prompt.strip()}
    if image_url is not None:
        body["image"] = image_url
    body["negative_prompt"] = negative_prompt if negative_prompt is not None else DEFAULT_NEGATIVE_PROMPT
    for f in fields:
        raw = values.get(f.name, f.default)
        try:
            value = int(raw) if f.integer else float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{Action.SET_FIELD(f.name)} must be a number, got {raw!r}.") from None
        if f.integer and float(raw) != value:
            raise InvalidInputError(f"{Action.SET_FIELD(f.name)} must be a whole number, got {raw!r}.")
        if not (f.minimum <= value <= f.maximum):
            lo = int(f.minimum) if f.integer else f.minimum
            hi = int(f.maximum) if f.integer else f.maximum
            raise InvalidInputError(
                f"{Action.SET_FIELD(f.name)} is {value}, outside Segmind's range {lo}..{hi}: set it within that range.")
        body[f.name] = value
    return body
