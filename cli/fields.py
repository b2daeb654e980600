"""The command line's face of the model descriptors (core/models.py): one flag per request
field, the manifest's columns, and each field's value read back from the flags. Adding a
model's fields to the command line is passing its descriptor here."""
from __future__ import annotations

import argparse
from typing import Any, Iterable, Mapping

from ..core.models import BOOL, CHOICE, FLOAT, INT, LTX2_19B_I2V, LTX2_19B_T2V, LTX2_FAST, LTX2_PRO, MEDIA, Field, Model

# The models the command line makes, and how a user picks each (the first is the default).
CLI_MODELS: tuple[Model, ...] = (LTX2_19B_I2V, LTX2_19B_T2V, LTX2_PRO, LTX2_FAST)
CHOSEN_BY: dict[str, str] = {LTX2_19B_T2V.path: "--t2v", LTX2_PRO.path: "--model pro", LTX2_FAST.path: "--model fast"}

# --model's words (and a manifest's `model` column): 19b picks image or text to video by
# whether the row has a picture (or --t2v); Pro animates a picture; Fast takes text alone.
MODEL_NAMES: dict[str, tuple[Model, ...]] = {"19b": (LTX2_19B_I2V, LTX2_19B_T2V), "pro": (LTX2_PRO,),
                                             "fast": (LTX2_FAST,)}
NAME_OF: dict[str, str] = {m.path: name for name, ms in MODEL_NAMES.items() for m in ms}

# Fields whose flags __main__ writes by hand: a media field takes a file, the prompts take text
# with their own help. Every other field gets its flag from its descriptor.
HAND_MADE = ("prompt", "negative_prompt")


def flag(name: str) -> str:
    """The flag that sets a field: num_frames -> --num-frames."""
    return "--" + name.replace("_", "-")


def value_fields(models: Iterable[Model] = CLI_MODELS) -> list[Field]:
    """Every settable field of the models, once each, in the first model's order, then the
    next's new ones."""
    seen: dict[str, Field] = {}
    for m in models:
        for f in m.settings:
            if f.name not in HAND_MADE:
                seen.setdefault(f.name, f)
    return list(seen.values())


def _shown(f: Field, value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if f.kind in (INT, FLOAT) and isinstance(value, (int, float)):
        return str(int(value)) if f.integer or float(value).is_integer() else f"{value:g}"
    return str(value)


def field_help(f: Field, models: Iterable[Model] = CLI_MODELS, chosen_by: Mapping[str, str] = CHOSEN_BY) -> str:
    """'256..1280; default 720 (with --t2v 1280)': the range or choices, then each model's default."""
    models = [m for m in models if m.has(f.name)]
    if f.kind in (INT, FLOAT):
        span = f"{_shown(f, f.minimum)}..{_shown(f, f.maximum)}; "
    elif f.kind == CHOICE:
        choices = dict.fromkeys(c for m in models for c in m.field(f.name).choices)
        span = f"one of {', '.join(str(c) for c in choices)}; "
    else:
        span = ""
    first, *others = models
    text = f"{f.tooltip + '; ' if f.tooltip else ''}{span}default {_shown(f, first.field(f.name).default)}"
    notes = [f"with {chosen_by.get(m.path, m.path)} {_shown(f, m.field(f.name).default)}" for m in others
             if m.field(f.name).default is not None]  # an optional field left unsent has no default to show
    return text + (f" ({'; '.join(notes)})" if notes else "")


def add_field_flags(group: Any, models: Iterable[Model] = CLI_MODELS,
                    chosen_by: Mapping[str, str] = CHOSEN_BY) -> None:
    """One flag per settable field (a parser or an argument group). Each defaults to None:
    a flag not given leaves the model's default (or a manifest row's value) in place."""
    models = list(models)
    for f in value_fields(models):
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": field_help(f, models, chosen_by)}
        if f.kind == INT:
            kwargs.update(type=int, metavar="N")
        elif f.kind == FLOAT:
            kwargs.update(type=float, metavar="X")
        elif f.kind == CHOICE:  # every model's choices (Fast's 2k besides Pro's); the model checks its own
            choices = tuple(dict.fromkeys(c for m in models if m.has(f.name) for c in m.field(f.name).choices))
            kwargs.update(type=type(f.choices[0]), choices=choices)
        elif f.kind == BOOL:
            kwargs.update(action=argparse.BooleanOptionalAction)
        else:
            kwargs.update(metavar="TEXT")
        group.add_argument(flag(f.name), **kwargs)


def flag_values(args: Any, model: Model) -> dict[str, Any]:
    """The model's fields the user gave as flags."""
    return {f.name: getattr(args, f.name) for f in model.settings
            if f.name not in HAND_MADE and getattr(args, f.name, None) is not None}


def manifest_columns(models: Iterable[Model] = CLI_MODELS) -> tuple[str, ...]:
    """A manifest's columns: the media files, the prompts, every other field, then `name`."""
    models = list(models)
    names: list[str] = []
    for kind in ("media", "prompts", "values"):
        for m in models:
            for f in m.fields:
                group = "media" if f.kind == MEDIA else "prompts" if f.name in HAND_MADE else "values"
                if group == kind and f.name not in names:
                    names.append(f.name)
    return (*names, "name")


def number_columns(models: Iterable[Model] = CLI_MODELS) -> tuple[str, ...]:
    """The columns whose cells are read as numbers."""
    return tuple(f.name for f in value_fields(models) if f.numeric)


def field_words(exc: Any) -> str:
    """A validation error in the command line's words: its field (carried as data) named by
    its flag. Other errors as they are."""
    field = getattr(exc, "field", None)
    if field and getattr(exc, "detail", None):
        return exc.naming(flag(field))
    # With its action markers (a core error's `text`): the terminal words them when it prints.
    return getattr(exc, "text", None) or str(exc)
