"""The Segmind models the pack calls, as data: one frozen descriptor per endpoint.

A descriptor says everything the pack needs to know about an endpoint: its path, its
request fields (type, default, range or choices; which are media to upload and of what
kind), the grid the model renders on, its price rule and quoted run time, and what it
returns. Everything else follows from it: the node's inputs (nodes/common.py), the command
line's flags and manifest columns (cli/fields.py), the request body and its checks
(core/params.py), the estimate here and in the front end (web/js/models_data.js, written by
tools/models_data.py) and the test stand-in's checks (tests/fake_segmind.py).

Adding a model is adding a descriptor to MODELS (and its tests). This module imports only the
standard library and nothing of the pack, so the stand-in and the generator load it by path."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

# Field kinds. MEDIA fields are uploaded by the pack and sent as the stored file's URL.
INT, FLOAT, TEXT, CHOICE, BOOL, MEDIA = "int", "float", "text", "choice", "bool", "media"
KINDS = (INT, FLOAT, TEXT, CHOICE, BOOL, MEDIA)
MEDIA_KINDS = ("image", "video")

# Price rules (Price.rule).
VOLUME = "volume"          # the quoted price scales with the rendered width x height x frames
PER_SECOND = "per_second"  # a rate per second of video, picked by a field's value (resolution)
FLAT = "flat"              # one price per clip
RULES = (VOLUME, PER_SECOND, FLAT)


@dataclass(frozen=True)
class Field:
    """One request field. `required`: no default, the user gives it (the prompt, a media field).
    `seed`: the node offers ComfyUI's control after generate. `tooltip` is the node's and the
    command line's help; empty for fields whose range says it all."""

    name: str
    kind: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    required: bool = False
    media: str | None = None
    multiline: bool = False
    seed: bool = False
    tooltip: str = ""
    unit: str = ""
    optional: bool = False   # not sent unless the user sets it (no default: the service's own applies)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind == MEDIA) != (self.media is not None) or (self.media and self.media not in MEDIA_KINDS):
            raise ValueError(f"field {self.name}: a media field names its kind, one of {MEDIA_KINDS}")
        if self.optional and (self.required or self.default is not None):
            raise ValueError(f"field {self.name}: an optional field is not required and has no default")
        if self.kind == CHOICE and (not self.choices or (not self.required and not self.optional
                                                         and self.default not in self.choices)):
            raise ValueError(f"field {self.name}: a choice field lists its choices, the default among them")
        if self.kind in (INT, FLOAT) and not self.required and not self.optional and not (
                (self.minimum is None or self.default >= self.minimum)
                and (self.maximum is None or self.default <= self.maximum)):
            raise ValueError(f"field {self.name}: the default {self.default} is outside its range")

    @property
    def integer(self) -> bool:
        return self.kind == INT

    @property
    def numeric(self) -> bool:
        """A number, or a choice among numbers (a duration of 6, 8 or 10 s)."""
        return self.kind in (INT, FLOAT) or (self.kind == CHOICE and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices))


def integer(name: str, default: int, minimum: int, maximum: int, **more: Any) -> Field:
    return Field(name, INT, default, minimum, maximum, **more)


def number(name: str, default: float, minimum: float, maximum: float, **more: Any) -> Field:
    return Field(name, FLOAT, float(default), float(minimum), float(maximum), **more)


def text(name: str, default: str = "", **more: Any) -> Field:
    return Field(name, TEXT, default, **more)


def choice(name: str, choices: tuple[Any, ...], default: Any, **more: Any) -> Field:
    return Field(name, CHOICE, default, choices=tuple(choices), **more)


def boolean(name: str, default: bool, **more: Any) -> Field:
    return Field(name, BOOL, bool(default), **more)


def media(name: str, kind: str, **more: Any) -> Field:
    return Field(name, MEDIA, None, required=True, media=kind, **more)


@dataclass(frozen=True)
class Grid:
    """The sizes the model really renders: LTX-2's VAE downsamples sides by 32 and works on
    8k+1 frames. API.md: the service rounds or pads on its side; rounding UP is the assumption
    (720 -> 736, 181 -> 185), so an estimate never falls short."""

    side_step: int = 32
    frame_step: int = 8
    width: str = "width"          # the fields that hold the size and frame count
    height: str = "height"
    frames: str = "num_frames"

    def snap(self, width: Any, height: Any, frames: Any) -> tuple[int, int, int]:
        def up(value: Any, step: int, offset: int = 0) -> int:
            return offset + -(-(max(int(value), 1) - offset) // step) * step

        return up(width, self.side_step), up(height, self.side_step), up(frames, self.frame_step, 1)


@dataclass(frozen=True)
class Price:
    """What a clip costs and how long it runs, from Segmind's quoted figures.

    VOLUME: `usd` and `seconds` are quoted for the `reference` request; both scale with the
    width x height x frames really rendered (the grid), relative to the reference's.
    PER_SECOND: `per_second[value of the field 'by']` US dollars per second of the field
    `duration`; the run time scales with the duration from the reference's.
    FLAT: `usd` and `seconds` per clip. `confirmed`: False while Segmind has not shown the rule
    (docs/segmind-unconfirmed.md); the real charge is reported after a run either way."""

    rule: str
    usd: float
    seconds: float
    reference: tuple[tuple[str, Any], ...] = ()
    per_second: tuple[tuple[str, float], ...] = ()
    by: str = ""
    duration: str = ""
    confirmed: bool = False
    min_seconds: float = 10.0
    note: str = ""

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"price rule {self.rule!r} is not one of {RULES}")
        if self.rule == PER_SECOND and not (self.per_second and self.by and self.duration):
            raise ValueError("a per-second price names its rates, the field that picks one and the duration field")


@dataclass(frozen=True)
class Output:
    """What the endpoint returns: an MP4 (H.264, with AAC sound when `audio`). `sizes`: for a
    model whose size is picked by a field (`size_by`, e.g. resolution), the width and height
    of each value; a model with a Grid returns its request's size on the grid instead."""

    mime: str = "video/mp4"
    audio: bool = True
    sizes: tuple[tuple[str, tuple[int, int]], ...] = ()
    size_by: str = ""
    fps: int | None = None        # a fixed frame rate, when no field sets it


@dataclass(frozen=True)
class Model:
    """One Segmind endpoint: `path` goes after /v1/ or /v2/."""

    path: str
    title: str
    fields: tuple[Field, ...]
    price: Price
    grid: Grid | None = None
    output: Output = field(default_factory=Output)
    unconfirmed: tuple[str, ...] = ()   # what this descriptor assumes (see docs/segmind-unconfirmed.md)

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.path}: a field name appears twice")
        for name in self._named_fields():
            if name not in names:
                raise ValueError(f"model {self.path}: the rules name a field '{name}' it does not have")

    def _named_fields(self) -> list[str]:
        out = [self.price.by, self.price.duration, self.output.size_by, *(n for n, _ in self.price.reference)]
        if self.grid is not None:
            out += [self.grid.width, self.grid.height, self.grid.frames]
        return [n for n in out if n]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    @property
    def media_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind == MEDIA)

    @property
    def settings(self) -> tuple[Field, ...]:
        """The fields a user sets by value (all but the media to upload)."""
        return tuple(f for f in self.fields if f.kind != MEDIA)

    def takes(self, media_kind: str) -> bool:
        return any(f.media == media_kind for f in self.media_fields)

    def defaults(self) -> dict[str, Any]:
        """What the body holds for a field the user leaves alone (an optional field: nothing)."""
        return {f.name: f.default for f in self.settings if not f.required and not f.optional}

    # -- what a request renders, costs and takes

    def rendered(self, body: Mapping[str, Any]) -> tuple[int, int, int | None] | None:
        """(width, height, frames) the clip will have, frames None when unknown; None when the
        body does not say (a size that is not a number, a resolution the model does not list)."""
        values = {**self.defaults(), **body}
        try:
            if self.grid is not None:
                g = self.grid
                return self.grid.snap(values[g.width], values[g.height], values[g.frames])
            size = dict(self.output.sizes).get(values.get(self.output.size_by))
            if size is None:
                return None
            seconds, fps = values.get(self.price.duration), values.get("fps", self.output.fps)
            # duration x fps frames (the stand-in's reading of a clip in seconds): unconfirmed
            frames = int(seconds * fps) if _is_number(seconds) and _is_number(fps) else None
            return size[0], size[1], frames
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    def _ratio(self, body: Mapping[str, Any]) -> float | None:
        """This request's work relative to the quoted reference's; None when unknown."""
        p = self.price
        if p.rule == VOLUME:
            here, there = self.rendered(body), self.rendered(dict(p.reference))
            if here is None or there is None or None in here or None in there:
                return None
            return (here[0] * here[1] * here[2]) / (there[0] * there[1] * there[2])
        if p.rule == PER_SECOND:
            seconds = {**self.defaults(), **body}.get(p.duration)
            reference = dict(p.reference).get(p.duration, self.defaults().get(p.duration))
            if not (_is_number(seconds) and _is_number(reference)) or reference <= 0:
                return None
            return float(seconds) / float(reference)
        return 1.0

    def estimate_cost(self, body: Mapping[str, Any]) -> float:
        """Estimated US dollars for one clip of this request (the quoted price when unknown)."""
        p = self.price
        if p.rule == PER_SECOND:
            values = {**self.defaults(), **body}
            rates = dict(p.per_second)
            rate = rates.get(values.get(p.by), max(rates.values()))  # an unknown tier: the dearest
            seconds = values.get(p.duration)
            return rate * float(seconds) if _is_number(seconds) else p.usd
        ratio = self._ratio(body)
        return p.usd * (1.0 if ratio is None else ratio)

    def expected_runtime(self, body: Mapping[str, Any]) -> float:
        """Rough seconds of processing, for the ETA and polling (never below min_seconds)."""
        ratio = self._ratio(body)
        return self.price.seconds if ratio is None else max(self.price.min_seconds, self.price.seconds * ratio)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- the endpoints

DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, still frame, frames, watermark, overlay, titles, "
    "has blurbox, has subtitles"
)
SEED_MAX = 0xFFFFFFFF  # the page gives no range; a 32-bit seed is what every Segmind model takes

PROMPT = text("prompt", required=True, multiline=True,
              tooltip="Describe the video scene, motion and any spoken words or sounds.")
NEGATIVE_PROMPT = text("negative_prompt", DEFAULT_NEGATIVE_PROMPT, multiline=True,
                       tooltip="What to avoid in the video.")


def _ltx2_19b_fields(width: int, height: int, num_frames: int) -> tuple[Field, ...]:
    """The product page's numeric fields, in its order, with one model's size defaults."""
    return (
        integer("width", width, 256, 1280),
        integer("height", height, 256, 1280),
        integer("num_frames", num_frames, 1, 400),
        integer("fps", 24, 1, 30),
        integer("seed", 42, 0, SEED_MAX, seed=True),
        number("guidance_scale", 4.0, 1.0, 20.0),
    )


# Product page: ~113.31 s and ~$0.455 at its defaults. The run time (and, we assume, the
# price) grows with the pixels x frames denoised, at the size LTX-2 really renders; fps
# changes the clip's length, not the work.
LTX2_19B_PRICE = Price(
    VOLUME, usd=0.455, seconds=113.31, reference=(("width", 720), ("height", 1280), ("num_frames", 181)),
    note="Segmind's quoted $0.455 for its defaults (720x1280, 181 frames, rendered as 736x1280, 185 frames), "
         "scaled by the width x height x frames LTX-2 really renders (sides up to a multiple of 32, frames up "
         "to 8k+1).")

LTX2_19B_I2V = Model(
    path="ltx-2-19b-i2v",
    title="LTX-2 19B Image to Video",
    fields=(media("image", "image", tooltip="The first frame to animate."), PROMPT, NEGATIVE_PROMPT,
            *_ltx2_19b_fields(720, 1280, 181)),
    price=LTX2_19B_PRICE,
    grid=Grid(),
    unconfirmed=("the price scales with the rendered volume", "sizes are rounded up to the grid"),
)

# Text to video: the same fields without `image`. Its product page gives height 768 and 161
# frames; the width default is not shown there, so 1280 (landscape, a multiple of 32). Its
# page quotes ~$0.416 and ~103 s at those defaults; the volume rule from the I2V quote gives
# $0.413 there, so both models share one rule.
LTX2_19B_T2V = Model(
    path="ltx-2-19b-t2v",
    title="LTX-2 19B Text to Video",
    fields=(PROMPT, NEGATIVE_PROMPT, *_ltx2_19b_fields(1280, 768, 161)),
    price=LTX2_19B_PRICE,
    grid=Grid(),
    unconfirmed=LTX2_19B_I2V.unconfirmed,
)

# --- the LTX-2 family's tiers (/work/shared/segmind/LTX2_FAMILY.md): sizes fixed by a
# resolution, length in seconds, sound on or off. Nominal sizes are 16:9 landscape as other
# hosts document them; "2k" is read as 2560x1440 (consumer 2K). All unconfirmed on Segmind.
FAMILY_SIZES: tuple[tuple[str, tuple[int, int]], ...] = (
    ("1080p", (1920, 1080)), ("1440p", (2560, 1440)), ("2160p", (3840, 2160)), ("2k", (2560, 1440)))
FAMILY_FPS = 25  # Lightricks' default rate for Pro and Fast


def _seconds(default: int) -> Field:
    return choice("duration", (6, 8, 10), default, unit="s", tooltip="Seconds of video.")


def _resolution(choices: tuple[str, ...], default: str) -> Field:
    return choice("resolution", choices, default,
                  tooltip="The clip's size (16:9): 1080p 1920x1080, 1440p and 2k 2560x1440, 2160p 3840x2160.")


GENERATE_AUDIO = boolean("generate_audio", True, tooltip="Make a sound track with the video.")

# Pro: its page shows no price; another host's per-second rates by resolution ($0.36 for the
# default 6 s at 1080p), and the page's ~71 s, taken for the default 6 s.
LTX2_PRO = Model(
    path="ltx-2-pro",
    title="LTX-2 Pro Image to Video",
    fields=(media("image", "image", tooltip="The first frame to animate."), PROMPT, _seconds(6),
            _resolution(("1080p", "1440p", "2160p"), "1080p"), GENERATE_AUDIO,
            choice("fps", (25, 50), None, optional=True,
                   tooltip="Frames per second, 25 or 50 (another host's field, unconfirmed on Segmind); "
                           "not sent unless set, so the service's default applies.")),
    price=Price(PER_SECOND, usd=0.36, seconds=71.0, per_second=(("1080p", 0.06), ("1440p", 0.12), ("2160p", 0.24)),
                by="resolution", duration="duration", reference=(("duration", 6),),
                note="Another host's rates for LTX-2 Pro: $0.06 a second at 1080p, $0.12 at 1440p, $0.24 at "
                     "2160p (Segmind's page shows no price)."),
    output=Output(sizes=FAMILY_SIZES[:3], size_by="resolution", fps=FAMILY_FPS),
    unconfirmed=("the price per second by resolution", "duration 6, 8 or 10 s", "resolution 1080p, 1440p or 2160p",
                 "fps 25 or 50 (sent only when set)", "16:9 output at the resolution's size",
                 "duration x fps frames"),
)

# Fast: its page's "$0.30 - $2.00 per generation" read as $0.05 a second at 1080p, $0.10 at
# 1440p and 2k, $0.20 at 2160p (6 s at 1080p is $0.30, 10 s at 2160p $2.00); ~47 s quoted,
# taken for the default 8 s.
LTX2_FAST = Model(
    path="ltx-2-fast",
    title="LTX-2 Fast Text to Video",
    fields=(PROMPT, _seconds(8), _resolution(("1080p", "1440p", "2160p", "2k"), "2k"), GENERATE_AUDIO),
    price=Price(PER_SECOND, usd=0.80, seconds=47.0,
                per_second=(("1080p", 0.05), ("1440p", 0.10), ("2160p", 0.20), ("2k", 0.10)),
                by="resolution", duration="duration", reference=(("duration", 8),),
                note="Segmind's \"$0.30 - $2.00 per generation\" read per second: $0.05 at 1080p, $0.10 at 1440p "
                     "and 2k, $0.20 at 2160p."),
    output=Output(sizes=FAMILY_SIZES, size_by="resolution", fps=FAMILY_FPS),
    unconfirmed=("the price per second by resolution", "resolution 1080p, 1440p, 2160p besides 2k",
                 "2k is 2560x1440", "16:9 output at the resolution's size", "25 fps, duration x fps frames"),
)

# Retake: Segmind's page gives the fields (video_uri "URL or data URI", start_time, duration at
# least 2 s, prompt optional, mode with its three values) and ~$0.791, ~38.5 s; whether the
# price is one per clip or grows with the section is not shown: flat, unconfirmed. The clip
# comes back at the input's size, length and rate (Lightricks' API): nothing to size here.
RETAKE_MODES = ("replace_audio_and_video", "replace_video", "replace_audio")  # Segmind's own values
LTX_RETAKE = Model(
    path="ltx-retake-video",
    title="LTX-2 Retake",
    fields=(media("video_uri", "video", tooltip="The clip to edit (at least 73 frames, at most 3840x2160)."),
            number("start_time", 0.0, 0.0, 3600.0, unit="s",
                   tooltip="Where the section to make again starts, in seconds from the clip's first frame."),
            number("duration", 2.0, 2.0, 3600.0, unit="s",
                   tooltip="Seconds to make again, at least 2 (2 to 20 recommended); a section past the "
                           "clip's end is cut there."),
            text("prompt", "", multiline=True, tooltip="What should happen in that section (may be left empty)."),
            choice("mode", RETAKE_MODES, RETAKE_MODES[0],
                   tooltip="What is made again: replace_audio_and_video (both), replace_video (the picture, "
                           "the sound kept) or replace_audio (the sound, the picture kept).")),
    price=Price(FLAT, usd=0.791, seconds=38.5,
                note="Segmind's quoted ~$0.791 per retake, taken as one price per clip whatever the section's "
                     "length."),
    unconfirmed=("one price per retake ($0.791), whatever the section's length",
                 "the clip at the input's size, length and rate", "the input clip as an MP4 in a data URI "
                 "or an uploaded file's URL", "a data URI of at most 20 MB (the pack's limit)",
                 "at least 73 frames and at most 3840x2160 (Lightricks' API)"),
)

MODELS: dict[str, Model] = {m.path: m for m in (LTX2_19B_I2V, LTX2_19B_T2V, LTX2_PRO, LTX2_FAST, LTX_RETAKE)}
DEFAULT_MODEL = LTX2_19B_I2V


def model(path_or_model: str | Model | None) -> Model:
    """The descriptor for a model path (a descriptor is returned as it is); None: the default.
    Raises KeyError for a path the pack does not know."""
    if isinstance(path_or_model, Model):
        return path_or_model
    return DEFAULT_MODEL if path_or_model is None else MODELS[path_or_model]
