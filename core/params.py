"""From values to a request body: each field checked against its model's descriptor
(core/models.py), with an error that names the field as data; the estimate and expected
run time per model; and the number readers the client, ledger and Collect share."""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from .models import (BOOL, CHOICE, DEFAULT_NEGATIVE_PROMPT, INT, LTX2_19B_I2V, LTX2_19B_T2V, MEDIA, MODELS,
                     SEED_MAX, TEXT, Field, Model, model as descriptor)

__all__ = ["I2V_MODEL", "T2V_MODEL", "DEFAULT_NEGATIVE_PROMPT", "SEED_MAX", "DEFAULT_RUNTIME_SECONDS",
           "DEFAULT_PRICE_USD", "snap_to_grid", "estimate_cost", "expected_runtime", "build_body",
           "check_field", "finite_number", "whole_number"]

I2V_MODEL = LTX2_19B_I2V.path
T2V_MODEL = LTX2_19B_T2V.path

# The seed's quoted figures (core/models.py LTX2_19B_PRICE), for code that has no request yet.
DEFAULT_RUNTIME_SECONDS = LTX2_19B_I2V.price.seconds
DEFAULT_PRICE_USD = LTX2_19B_I2V.price.usd


def snap_to_grid(width: int, height: int, num_frames: int) -> tuple[int, int, int]:
    """The size and frame count LTX-2 really renders for a request: sides rounded up to a
    multiple of 32, frames up to the next 8k+1 (720 -> 736, 181 -> 185); see models.Grid."""
    assert LTX2_19B_I2V.grid is not None
    return LTX2_19B_I2V.grid.snap(width, height, num_frames)


def _model_of(body: Mapping[str, Any], model: str | Model | None) -> Model:
    """The request's model: the one given, else a record's own "model" (a ledger line, a job),
    else the seed's I2V (both LTX-2 19B endpoints share its price rule)."""
    if model is None:
        named = body.get("model") if isinstance(body, Mapping) else None
        model = named if isinstance(named, str) and named in MODELS else None
    try:
        return descriptor(model)
    except KeyError:
        return LTX2_19B_I2V


def expected_runtime(body: Mapping[str, Any], model: str | Model | None = None) -> float:
    """Rough seconds of processing for a request, for the ETA and polling."""
    return _model_of(body, model).expected_runtime(body)


def estimate_cost(body: Mapping[str, Any], model: str | Model | None = None) -> float:
    """Estimated US dollars for one clip, by the model's price rule. Unconfirmed by Segmind
    (docs/segmind-unconfirmed.md); the real charge is reported after a run."""
    return _model_of(body, model).estimate_cost(body)


# --------------------------------------------------------------------------- checks


def _refuse(f: Field, problem: str) -> Exception:
    """An InvalidInputError whose text names the field as the node does ('num_frames'); the
    field and the rest of the sentence travel as data, so the command line can name its flag."""
    from .errors import InvalidInputError

    return InvalidInputError(field=f.name, detail=problem)


def _shown(f: Field, value: Any) -> str:
    return str(int(value)) if f.integer and float(value).is_integer() else f"{value:g}"


def check_field(f: Field, raw: Any) -> Any:
    """The value to send for field `f`, or InvalidInputError naming it and what to change."""
    if f.kind == TEXT:
        if not isinstance(raw, str):
            raise _refuse(f, f"must be text, got {raw!r}.")
        if f.required and not raw.strip():
            if f.name == "prompt":
                from .errors import Action, InvalidInputError

                raise InvalidInputError(f"The prompt is empty: describe the video scene in {Action.SET_FIELD('prompt')}.",
                                        field=f.name)
            raise _refuse(f, "is empty: fill it in.")
        return raw.strip() if f.required else raw
    if f.kind == MEDIA:
        if not isinstance(raw, str) or not raw.strip():
            raise _refuse(f, f"needs the uploaded {f.media}'s URL.")
        return raw
    if f.kind == BOOL:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower() if isinstance(raw, (str, int)) else None
        if word in ("true", "yes", "on", "1"):
            return True
        if word in ("false", "no", "off", "0"):
            return False
        raise _refuse(f, f"must be true or false, got {raw!r}.")
    if f.kind == CHOICE:
        for option in f.choices:
            if raw == option or (isinstance(raw, str) and raw.strip() == str(option)):
                return option
        raise _refuse(f, f"is {raw!r}: choose one of {', '.join(str(c) for c in f.choices)}.")
    # INT and FLOAT: a number (text that reads as one is accepted: a manifest's cells are text)
    number = finite_number(raw.strip() if isinstance(raw, str) else raw)
    if number is None:
        raise _refuse(f, f"must be a number, got {raw!r}.")
    if f.kind == INT:
        if not number.is_integer():
            raise _refuse(f, f"must be a whole number, got {raw!r}.")
        value: Any = int(number)
    else:
        value = float(number)
    low, high = f.minimum, f.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise _refuse(f, f"is {_shown(f, value)}, outside Segmind's range {_shown(f, low)}..{_shown(f, high)}: "
                         "set it within that range.")
    return value


def build_body(model: str | Model, values: Mapping[str, Any],
               media: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Validate `values` (every setting of the model; a missing one takes its default) and
    assemble the request body, in the descriptor's field order. `media`: the uploaded files'
    URLs by field name; without them the body holds no media field (the request fingerprint
    takes the body without the upload's URL). Raises InvalidInputError naming the field."""
    m = descriptor(model)
    media = media or {}
    body: dict[str, Any] = {}
    for f in m.fields:
        if f.kind == MEDIA:
            if f.name in media:
                body[f.name] = check_field(f, media[f.name])
            continue
        raw = values.get(f.name)
        if raw is None:
            if f.optional:
                continue  # not sent: the service's own default applies
            if f.required:
                raw = ""  # refused below with what to fill in
            else:
                body[f.name] = f.default
                continue
        body[f.name] = check_field(f, raw)
    return body


# --------------------------------------------------------------------------- numbers


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

