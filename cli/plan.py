"""From the command line to a plan: one row per clip (a single --image, a manifest, or a
folder of pictures), each validated, with its request fingerprint, what it will cost
(new job, cached clip, recorded job to collect, or the same request as an earlier row)
and the exact requests a paid run would send. Nothing here touches the network."""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from ..core.image_encode import EncodedImage
from ..core.models import LTX2_19B_I2V, LTX2_19B_T2V, Model
from ..core.models import model as descriptor
from ..core.params import build_body, estimate_cost, snap_to_grid
from ..core.pay_plan import CACHED, DUPLICATE, NEW, RECORDED, plan_payments
from .fields import MODEL_NAMES, NAME_OF, field_words, flag, flag_values, manifest_columns, number_columns
from .pictures import PICTURE_SUFFIXES, for_upload, identity, load_picture, prompt_beside
from .words import cli_words

# Manifest columns, from the model descriptors (names are case-insensitive; dashes count as underscores).
NUMBER_COLUMNS = number_columns()
COLUMNS = (*manifest_columns(), "model")  # model: 19b, pro or fast (--model's words), per row
_ALIASES = {"picture": "image", "image_path": "image", "file": "image", "negative": "negative_prompt"}
MAX_ROW_ERRORS = 20
FIT_CHOICES = ("match", "crop")
CROP_WARN_ABOVE = 0.25   # say so when --fit crop cuts away more than this share of the picture
_GLOB = re.compile(r"[*?\[]")

# What a row costs, decided before anything is sent (core/pay_plan.py decides it), or offline.
OFFLINE = "offline"


@dataclass
class Row:
    number: int                 # 1-based, in the order given
    label: str                  # what the user calls it: the picture's file name, the `name` column...
    model: str
    body: dict[str, Any]        # every API field except the uploaded image's URL
    image_path: Path | None
    picture: EncodedImage | None = None   # pixels and format, for the fingerprint (no bytes)
    fingerprint: str = ""
    state: str = NEW
    request_id: str | None = None          # the cached clip's or the recorded job's
    duplicate_of: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    learned: Any = None                    # core.learned_estimate.Estimate, set by classify
    reservation: Any = None                # core.reservations.Reservation, set by the pay gate
    stem: str = ""                         # the clip's file name without .mp4 (unique in the run)
    warning: str = ""                      # said before the run (a crop that cuts much away)

    @property
    def estimate(self) -> float:
        """What the spend checks use: never below what this model was really charged for a
        clip this size or smaller (core/learned_estimate.py)."""
        if self.state != NEW:
            return 0.0
        return self.learned.amount if self.learned is not None else estimate_cost(self.body, self.model)

    def rendered(self) -> tuple[int, int, int | None]:
        """(width, height, frames) the clip will have: the grid LTX-2 19B renders at, or the
        size a Pro or Fast resolution picks (frames None when unknown)."""
        if "width" in self.body:
            return snap_to_grid(self.body["width"], self.body["height"], self.body["num_frames"])
        return descriptor(self.model).rendered(self.body) or (0, 0, None)

    def fps(self) -> int:
        """Frames per second of the clip: the body's, or its model's own rate."""
        m = descriptor(self.model)
        return int(self.body.get("fps") or (m.output.fps if m.output else None) or 24)


def _model(args: Any, image: Any = None, name: str | None = None, where: str = "") -> Model:
    """The model a row runs on: --model (or the row's `model` column) and whether it has a
    picture. Raises InvalidInputError saying what to change."""
    chosen = (name or getattr(args, "model", None) or "19b").strip().lower()
    lead = f"{where}: " if where else ""
    if chosen not in MODEL_NAMES:
        raise InvalidInputError(f"{lead}model {chosen!r} is not one of {', '.join(MODEL_NAMES)}: "
                                "19b (LTX-2 19B), pro (LTX-2 Pro, from a picture) or fast (LTX-2 Fast, from text).")
    if chosen != "19b" and args.t2v:
        raise InvalidInputError(f"{lead}--t2v picks LTX-2 19B text to video: drop --t2v, or use --model 19b.")
    if chosen == "pro":
        if not image:
            raise InvalidInputError(f"{lead}LTX-2 Pro animates a picture: give "
                                    f"{'the image column' if where else '--image photo.png'}, or use --model fast "
                                    "for text alone.")
        return MODEL_NAMES["pro"][0]
    if chosen == "fast":
        if image:
            raise InvalidInputError(f"{lead}LTX-2 Fast makes a clip from text alone: drop "
                                    f"{'the image' if where else '--image'}, or use --model pro to animate it.")
        return MODEL_NAMES["fast"][0]
    return LTX2_19B_T2V if args.t2v else LTX2_19B_I2V


def _body(model: Model, prompt: Any, negative_prompt: Any, values: dict[str, Any]) -> dict[str, Any]:
    return build_body(model, {**values, "prompt": prompt, "negative_prompt": negative_prompt})


def _flag_values(args: Any, model: Model) -> dict[str, Any]:
    """The fields the user gave as flags, with --seconds turned into num_frames."""
    values = flag_values(args, model)
    seconds = getattr(args, "seconds", None)
    if seconds is not None and not model.has("num_frames"):
        raise InvalidInputError(f"--seconds sets LTX-2 19B's length; {model.title} takes --duration "
                                f"({', '.join(str(c) for c in model.field('duration').choices)} seconds).")
    if seconds is not None:
        if "num_frames" in values:
            raise InvalidInputError("--seconds and --num-frames both set the clip's length: give one of them.")
        fps = values.get("fps") or model.field("fps").default
        values["num_frames"] = max(1, int(round(seconds * fps)))
    return values


def file_stem(text: str) -> str:
    """A name fit for a file on any system: letters, digits, '.', '-' and '_' (others become '_')."""
    stem = re.sub(r"[^\w.-]+", "_", str(text), flags=re.ASCII).strip("._-")[:80]
    return stem or "clip"


def _prompt_stem(prompt: str) -> str:
    return file_stem("-".join(re.findall(r"\w+", prompt, flags=re.ASCII)[:6]).lower())


def name_rows(rows: list[Row]) -> None:
    """Give each row a file name unique in this run (case-insensitively, for macOS and
    Windows): its own, then -2, -3... for later rows of the same name. Rows in the same
    order get the same names, so a rerun lands each clip on its earlier files."""
    taken: set[str] = set()
    for row in rows:
        base = row.stem or "clip"
        stem, n = base, 1
        while stem.lower() in taken:
            n += 1
            stem = f"{base}-{n}"
        taken.add(stem.lower())
        row.stem = stem


def rows_from_args(args: Any) -> tuple[list[Row], bool]:
    """Every row this command asks for; the bool says whether it is a batch (manifest or folder).
    Raises InvalidInputError listing every bad row at once."""
    if args.manifest and args.images_dir:
        raise InvalidInputError("--manifest and --images-dir both list the clips to make: give one of them.")
    if args.manifest or args.images_dir:
        if args.image:
            raise InvalidInputError("--image makes one clip; a batch takes its pictures from "
                                    f"{'--manifest' if args.manifest else '--images-dir'}: drop --image.")
        rows = _manifest_rows(args) if args.manifest else _folder_rows(args)
        name_rows(rows)
        return rows, True
    prompt = args.prompt
    if not prompt and args.image and not args.t2v:
        prompt = prompt_beside(args.image)
    if not prompt:
        raise InvalidInputError("--prompt is missing: describe the video scene, e.g. --prompt \"waves roll in\""
                                + ("" if args.t2v else f" (or put it in a text file beside the picture, "
                                   f"{args.image.with_suffix('.txt').name if args.image else 'photo.txt'})") + ".")
    if args.t2v and args.image:
        raise InvalidInputError("--t2v makes a clip from text alone: drop --image, or drop --t2v.")
    if not args.t2v and not args.image and getattr(args, "model", None) in (None, "19b"):
        raise InvalidInputError("--image is missing: give the first frame (--image photo.png), or use --t2v.")
    model = _model(args, args.image)
    flags = _flag_values(args, model)
    _refuse_foreign_flags(args, model)
    try:
        body = _body(model, prompt, args.negative_prompt, flags)
    except InvalidInputError as exc:
        raise InvalidInputError(cli_words(exc), field=exc.field) from None
    row = Row(1, args.image.name if args.image else "text to video", model.path, body, args.image,
              stem=file_stem(args.image.stem) if args.image else _prompt_stem(prompt))
    _read_picture(row, args, sized=_sized(flags))
    return [row], False


def _sized(values: dict[str, Any]) -> bool:
    """Whether the user chose the size (then --fit keeps their box as it is)."""
    return "width" in values or "height" in values


def _read_picture(row: Row, args: Any, label: str = "--image", sized: bool = False) -> None:
    """Read the row's picture now (a bad one fails before anything runs), the same checks
    for the offline and the paid backend; fit the clip's size to it (--fit); keep only what
    the fingerprint needs, not the pixels (a batch of large pictures must not pile up)."""
    from ..core.image_encode import check_min_size
    from ..core.picture_fit import crop_fraction, match_aspect, oriented_box

    if row.image_path is None:
        return
    rgb8 = load_picture(row.image_path, label)
    pic_h, pic_w = rgb8.shape[:2]
    try:
        check_min_size(rgb8)  # before its shape decides the size, as on the node
    except InvalidInputError as exc:
        words = cli_words(str(exc).replace("'image'", "the picture"))
        raise InvalidInputError(f"{label} {row.image_path}: {words}") from None
    if "width" not in row.body:  # Pro: its resolution picks the size; the picture is sent as it is (fitted)
        try:
            rgb8 = for_upload(rgb8, row.body, row.model)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{label} {row.image_path}: {cli_words(exc)}") from None
        row.picture = identity(rgb8, args.upload_format)
        return
    box_w, box_h = row.body["width"], row.body["height"]
    if not sized:  # the default box follows the picture: a landscape photo makes a landscape clip
        box_w, box_h = oriented_box(pic_w, pic_h, box_w, box_h)
    if getattr(args, "fit", "match") == "match":
        row.body["width"], row.body["height"] = match_aspect(pic_w, pic_h, box_w, box_h)
    else:
        row.body["width"], row.body["height"] = box_w, box_h
        cut = crop_fraction(pic_w, pic_h, box_w, box_h)
        if cut > CROP_WARN_ABOVE:
            row.warning = (f"{row.image_path.name}: --fit crop cuts away {cut:.0%} of the {pic_w}x{pic_h} "
                           f"picture to fill {box_w}x{box_h}; --fit match keeps all of it.")
    try:
        rgb8 = for_upload(rgb8, row.body)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{label} {row.image_path}: {cli_words(exc)}") from None
    row.picture = identity(rgb8, args.upload_format)


def folder_pictures(spec: Path, recursive: bool = False) -> tuple[Path, list[Path]]:
    """(base folder, pictures) for --images-dir: a folder (with --recursive, its subfolders
    too) or a glob pattern such as 'shots/*.png' or 'shots/**/*.jpg'."""
    text = str(spec)
    if _GLOB.search(text):
        lead: list[str] = []
        for part in Path(text).parts:
            if _GLOB.search(part):
                break
            lead.append(part)
        base = Path(*lead) if lead else Path(".")
        found = [Path(p) for p in glob.glob(text, recursive=True)]
        pictures = sorted(p for p in found if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES)
        if not pictures:
            raise InvalidInputError(f"--images-dir {text!r} matches no pictures ({', '.join(PICTURE_SUFFIXES)}). "
                                    "Quote the pattern so the shell passes it as it is.")
        return base, pictures
    if not spec.is_dir():
        raise InvalidInputError(f"--images-dir {spec}: no such folder. Give a folder of PNG or JPEG pictures, "
                                "or a pattern such as 'shots/*.png'.")
    found = spec.rglob("*") if recursive else spec.iterdir()
    pictures = sorted((p for p in found if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES),
                      key=lambda p: p.relative_to(spec).as_posix())
    if not pictures:
        more = "" if recursive else " (add --recursive to take its subfolders' pictures too)"
        raise InvalidInputError(f"--images-dir {spec} holds no pictures ({', '.join(PICTURE_SUFFIXES)}){more}.")
    return spec, pictures


def _refuse_foreign_flags(args: Any, model: Model) -> None:
    """A flag of another model's field would be dropped without a word: say so instead."""
    from .fields import value_fields

    foreign = [flag(f.name) for f in value_fields() if not model.has(f.name) and getattr(args, f.name, None) is not None]
    if foreign:
        raise InvalidInputError(f"{', '.join(foreign)} {'is not a setting' if len(foreign) == 1 else 'are not settings'} "
                                f"of {model.title}: drop {'it' if len(foreign) == 1 else 'them'}, or pick the model "
                                "that takes it with --model 19b|pro|fast.")


def _folder_rows(args: Any) -> list[Row]:
    if args.t2v:
        raise InvalidInputError("--images-dir animates pictures: drop --t2v (text to video takes --manifest rows without an image).")
    base, pictures = folder_pictures(args.images_dir, getattr(args, "recursive", False))
    model = _model(args, True)
    flags = _flag_values(args, model)
    _refuse_foreign_flags(args, model)
    rows, errors, unprompted = [], [], []
    for n, path in enumerate(pictures, 1):
        try:
            rel = path.relative_to(base)
        except ValueError:
            rel = Path(path.name)
        prompt = prompt_beside(path) or args.prompt
        if not prompt:
            unprompted.append(rel.as_posix())
            continue
        try:
            body = _body(model, prompt, args.negative_prompt, flags)
        except InvalidInputError as exc:
            raise InvalidInputError(field_words(exc), field=exc.field) from None
        row = Row(n, rel.as_posix(), model.path, body, path, stem=file_stem(rel.with_suffix("").as_posix()))
        try:
            _read_picture(row, args, label=f"{rel.as_posix()}:", sized=_sized(flags))
        except InvalidInputError as exc:
            errors.append(str(exc))
        rows.append(row)
    if unprompted:
        errors.insert(0, f"no prompt for {', '.join(unprompted[:5])}{' ...' if len(unprompted) > 5 else ''}: "
                         "give --prompt for every picture, or a text file beside each (photo.txt beside photo.png)")
    _raise_all(errors)
    return rows


def read_manifest(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(where, {column: text}) for each row of a CSV or JSONL manifest."""
    if not path.is_file():
        raise InvalidInputError(f"--manifest {path}: no such file. Give a CSV or JSONL file, one row per clip.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or type(exc).__name__)
        raise InvalidInputError(f"--manifest {path} cannot be read ({why}).") from None
    rows: list[tuple[str, dict[str, str]]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(line)
            except RecursionError:
                raise InvalidInputError(f"{path.name} line {line_no} is nested too deeply to be a clip: each line "
                                        "of a JSONL manifest is one flat object, like {\"image\": \"a.png\", "
                                        "\"prompt\": \"...\"}.") from None
            except ValueError:
                raise InvalidInputError(f"{path.name} line {line_no} is not a JSON object: each line of a "
                                        "JSONL manifest is one clip, like {\"image\": \"a.png\", \"prompt\": \"...\"}.") from None
            if not isinstance(obj, dict):
                raise InvalidInputError(f"{path.name} line {line_no} is not a JSON object.")
            rows.append((f"{path.name} line {line_no}", {k: "" if v is None else v for k, v in obj.items()}))
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise InvalidInputError(f"--manifest {path} is empty: its first line names the columns "
                                    f"(for example image,prompt).")
        for record in reader:
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue  # a blank line
            if None in record:
                raise InvalidInputError(f"{path.name} line {reader.line_num} has more values than the header "
                                        "has columns (quote a prompt that contains commas).")
            rows.append((f"{path.name} line {reader.line_num}", record))
    if not rows:
        raise InvalidInputError(f"--manifest {path} lists no clips.")
    return rows


def _column(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key, key)


def _manifest_rows(args: Any) -> list[Row]:
    path: Path = args.manifest
    rows, errors = [], []
    for n, (where, record) in enumerate(read_manifest(path), 1):
        try:
            rows.append(_manifest_row(n, where, record, args))
        except InvalidInputError as exc:
            errors.append(str(exc))
            if len(errors) >= MAX_ROW_ERRORS:
                break
    _raise_all(errors)
    return rows


def _manifest_row(n: int, where: str, record: dict[str, Any], args: Any) -> Row:
    values: dict[str, Any] = {}
    for name, value in record.items():
        column = _column(name)
        if column not in COLUMNS:
            raise ManifestError(f"{where}: unknown column {name!r}. The columns are: {', '.join(COLUMNS)} "
                                "(a column is named without dashes, e.g. num_frames).")
        if isinstance(value, str):
            value = value.strip()
            if column in NUMBER_COLUMNS:
                value = _number(value)
        if column in NUMBER_COLUMNS and isinstance(value, float) and not math.isfinite(value):
            # 1e400, inf, nan: no setting takes them (and int() of one would overflow).
            raise InvalidInputError(f"{where}: column {name} is {record[name]!r}, not a finite number: "
                                    "give a number within the setting's range.")
        if value != "":
            values[column] = value
    prompt = values.pop("prompt", None) or args.prompt
    if not prompt:
        raise ManifestError(f"{where}: the prompt is empty. Fill the prompt column, or give --prompt for every row.")
    image = values.pop("image", None)
    chosen = str(values.pop("model", "") or "") or None
    model = _model(args, image, chosen, where)
    # --model's (or the default's) flags fill what a row of that model leaves empty
    flags = _flag_values(args, model)
    foreign = [c for c in values if c not in ("name", "negative_prompt") and not model.has(c)]
    if foreign:
        raise ManifestError(f"{where}: {', '.join(foreign)} {'is not a setting' if len(foreign) == 1 else 'are not settings'} "
                            f"of {model.title} (model {NAME_OF[model.path]}): empty "
                            f"{'that cell' if len(foreign) == 1 else 'those cells'}, or change the row's model.")
    if model.path not in (LTX2_19B_I2V.path, LTX2_19B_T2V.path):
        pass  # Pro and Fast: _model said whether the row needs a picture
    elif args.t2v and image:
        raise ManifestError(f"{where}: has an image, but --t2v makes clips from text alone. "
                            "Drop the image column, or drop --t2v.")
    elif not args.t2v and not image:
        raise ManifestError(f"{where}: the image column is empty. Give the picture's path (relative to "
                            "the manifest's folder), or use --t2v for text to video.")
    name = str(values.pop("name", "") or "")
    negative = values.pop("negative_prompt", None)
    try:
        body = _body(model, str(prompt), args.negative_prompt if negative is None else str(negative),
                     {**flags, **values})
    except InvalidInputError as exc:
        raise ManifestError(f"{where}: {_as_column(exc, values, flags)}", field=exc.field) from None
    image_path = None
    if image:
        image_path = Path(str(image)).expanduser()
        if not image_path.is_absolute():
            image_path = args.manifest.parent / image_path
    stem = file_stem(name) if name else (file_stem(image_path.stem) if image_path else f"row-{n}")
    row = Row(n, name or (image_path.name if image_path else f"row {n}"), model.path, body, image_path, stem=stem)
    _read_picture(row, args, label=f"{where}: image", sized=_sized({**flags, **values}))
    return row


def _as_column(exc: InvalidInputError, values: dict[str, Any], flags: dict[str, Any]) -> str:
    """A field's error in a manifest's words: the column when the row set the value, the
    flag when it came from the command line."""
    name = exc.field
    if not name:
        return str(exc)
    return exc.naming(flag(name) if name in flags and name not in values else f"column {name}")


def _number(text: str) -> Any:
    """A manifest cell as a number when it is one ("9" -> 9, "4.5" -> 4.5); else the text,
    which build_body then refuses with a message naming the column."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


class ManifestError(InvalidInputError):
    """Bad rows, already in the command line's words (columns named as columns): printed as is."""


def _raise_all(errors: list[str]) -> None:
    if errors:
        more = f"\n(stopped after {MAX_ROW_ERRORS} errors)" if len(errors) >= MAX_ROW_ERRORS else ""
        raise ManifestError("Nothing was sent. Fix these rows, then run again:\n  "
                            + "\n  ".join(errors) + more)


# --------------------------------------------------------------------------- what each row costs

def classify(rows: list[Row], *, api_base: str, user_dir: Path, force_rerun: bool) -> None:
    """Set each row's state as the lifecycle will decide it (core.pay_plan.plan_payments, the
    same call the node's spend check makes): a recorded job is collected (free), a cached clip
    reused (free, unless --force-rerun), a request already made by an earlier row shares that
    row's clip; everything else is a new, billed job, estimated never below what its model was
    really charged (core.learned_estimate). A damaged cached clip counts as new."""
    from ..core.job_journal import JobJournal
    from ..core.learned_estimate import ChargeHistory
    from ..core.result_cache import ResultCache
    from ..core.user_folder import UserFolder

    folder = UserFolder(user_dir)
    charges = ChargeHistory.load(user_dir)
    plan = plan_payments([(row.model, row.body, row.picture) for row in rows], api_base=api_base,
                         cache=ResultCache.from_env(folder.cache), journal=JobJournal(folder.jobs),
                         force_rerun=force_rerun, damaged_pays=True)
    for row, decision in zip(rows, plan):
        row.fingerprint, row.state = decision.fingerprint, decision.kind
        if decision.kind == DUPLICATE:
            row.duplicate_of = rows[decision.duplicate_of].number
        elif decision.kind in (CACHED, RECORDED):
            row.request_id = decision.request_id
        else:
            row.learned = charges.estimate(row.model, row.body)


def mark_offline(rows: list[Row]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        key = json.dumps([row.model, row.body, row.picture.pixel_hash if row.picture else None], sort_keys=True)
        row.fingerprint = "offline-" + hashlib.sha256(key.encode()).hexdigest()
        if key in seen:
            row.state, row.duplicate_of = DUPLICATE, seen[key]
        else:
            seen[key], row.state = row.number, OFFLINE


def money(amount: float) -> str:
    if 0 < amount < 0.01:
        return "< $0.01"  # "$0.000" would read as free
    return f"${amount:.2f}" if amount >= 10 else f"${amount:.3f}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def frames_words(n: int | None) -> str:
    """'185 frames'; past the documented range (the grid rounds 400 up to 401) it says so."""
    if n is None:
        return "length unknown"
    top = int(LTX2_19B_I2V.field("num_frames").maximum)
    words = plural(n, "frame")
    if n > top:
        words += (f" (LTX-2 renders 8k+1 frames: that is past the documented 1..{top}; "
                  f"--num-frames {n - 8} stays within it)")
    return words


def estimate_line(rows: list[Row]) -> str:
    """One line: the estimated cost of the whole run and what is free."""
    new = [r for r in rows if r.state == NEW]
    total = sum(r.estimate for r in new)
    free = []
    for state, words in ((CACHED, "cached"), (RECORDED, "recorded job(s) to collect"),
                         (DUPLICATE, "same request as an earlier row")):
        count = sum(1 for r in rows if r.state == state)
        if count:
            free.append(f"{count} {words}")
    line = (f"Estimated cost: {money(total)} for {len(new)} new clip{'s' if len(new) != 1 else ''}"
            if new else "Estimated cost: $0 (nothing new to pay for)")
    if new:
        sizes = {r.rendered() for r in new}
        if len(sizes) == 1:
            w, h, n = sizes.pop()
            line += f" ({'each ' if len(new) > 1 else ''}rendered at {w}x{h}, {frames_words(n)})"
    models = list(dict.fromkeys(NAME_OF[r.model] for r in new))
    if len(models) > 1:  # rows of several models: each one's share
        line += "; by model: " + ", ".join(
            f"{name} {plural(sum(1 for r in new if NAME_OF[r.model] == name), 'clip')} "
            f"{money(sum(r.estimate for r in new if NAME_OF[r.model] == name))}" for name in models)
    if free:
        line += "; free: " + ", ".join(free)
    bases = list(dict.fromkeys(r.learned.basis() for r in new if r.learned is not None))
    if bases:
        line += "; based on " + ("; ".join(bases) if len(bases) <= 2 else
                                 next((b for b in bases if b.startswith("learned")), bases[0]) + ", ...")
    return line + "."


def planned_requests(rows: list[Row], *, api_base: str, storage_base: str, api_mode: str) -> list[dict[str, Any]]:
    """What a paid run would send for each row, in order, with the picture as a placeholder."""
    out: list[dict[str, Any]] = []
    sync = api_mode == "sync"
    uploaded: dict[tuple[str, str], str] = {}  # the same pixels are uploaded once (core.lifecycle.upload_once)
    for row in rows:
        entry: dict[str, Any] = {"row": row.number, "label": row.label, "state": row.state,
                                 "estimate_usd": round(row.estimate, 4), "requests": []}
        if row.state == NEW:
            body = dict(row.body)
            if row.image_path is not None and row.picture is not None:
                key = (row.picture.pixel_hash, row.picture.mime)
                if key not in uploaded:
                    uploaded[key] = f"<upload of {row.image_path.name}>"
                    entry["requests"].append({"method": "POST", "url": f"{storage_base}/upload-asset",
                                              "body": {"data_urls": [f"<{row.picture.mime} data of "
                                                                     f"{row.image_path.name}>"]}})
                body["image"] = uploaded[key]
            entry["requests"].append({"method": "POST",
                                      "url": f"{api_base}/{'v1' if sync else 'v2'}/{row.model}", "body": body})
        elif row.state == RECORDED:
            entry["requests"].append({"method": "GET", "url": f"{api_base}/v2/requests/{row.request_id}/status",
                                      "body": None})
        entry["rendered"] = dict(zip(("width", "height", "num_frames"), row.rendered()))
        out.append(entry)
    return out


def describe_plan(plan: list[dict[str, Any]], rows: list[Row]) -> str:
    """The dry run's text: each row's requests, in full."""
    by_number = {r.number: r for r in rows}
    lines = []
    for entry in plan:
        row = by_number[entry["row"]]
        w, h, n = row.rendered()
        head = f"Row {row.number} ({row.label}): "
        if row.state == NEW:
            head += f"new job, estimated {money(row.estimate)} (rendered at {w}x{h}, {frames_words(n)})"
        elif row.state == CACHED:
            head += f"cached clip of request {row.request_id or '?'}: reused, nothing sent, not billed"
        elif row.state == RECORDED:
            head += f"recorded job {row.request_id}: collected by its id, not billed again"
        elif row.state == DUPLICATE:
            head += f"the same request as row {row.duplicate_of}: shares its clip, nothing sent"
        else:
            head += "offline preview, nothing sent"
        lines.append(head)
        for req in entry["requests"]:
            lines.append(f"  {req['method']} {req['url']}")
            if req["body"] is not None:
                lines.extend("  " + part for part in json.dumps(req["body"], indent=2).splitlines())
    return "\n".join(lines)
