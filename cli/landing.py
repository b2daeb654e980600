"""Where the command line's clip files land: named after what the user gave (the picture's
stem, a manifest's `name`, the prompt's first words, a request id), one set per clip.

A clip is the MP4, its provenance `.json`, its `.wav` and its `.summary.json`. Run again,
the same clip replaces its own files instead of adding a second set; a different clip with
the same name takes `name-2`, `name-3`... so no earlier clip is overwritten. The summary
records the clip's fingerprint (its request, picture included), which is how a file is
known to be the same clip."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SIDE_FILES = (".json", ".wav", ".summary.json")
MAX_SUFFIX = 999


def summary_of(mp4: Path) -> dict[str, Any] | None:
    from ..core.clip_files import summary_path

    try:
        data = json.loads(summary_path(mp4).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _files(mp4: Path) -> list[Path]:
    return [mp4, *(mp4.with_name(mp4.stem + side) for side in SIDE_FILES)]


def _taken(mp4: Path) -> bool:
    return any(p.exists() for p in _files(mp4))


def destination(folder: Path, stem: str, fingerprint: str) -> Path:
    """`folder/<stem>.mp4`, or the first `<stem>-N.mp4` that is free or already this clip's."""
    for n in range(1, MAX_SUFFIX + 1):
        mp4 = folder / (f"{stem}.mp4" if n == 1 else f"{stem}-{n}.mp4")
        if not _taken(mp4):
            return mp4
        known = summary_of(mp4)
        if fingerprint and known is not None and known.get("fingerprint") == fingerprint:
            return mp4
    return folder / f"{stem}-{os.getpid()}.mp4"


def land(made: Path, dest: Path) -> Path:
    """Move a freshly made clip (and its provenance JSON) onto `dest`, replacing the same
    clip's earlier files; the WAV and summary are written afterwards by the caller."""
    if made.resolve() == dest.resolve():
        return dest
    for old in _files(dest)[2:]:  # the WAV and summary of the earlier run of this clip
        old.unlink(missing_ok=True)
    made_json = made.with_suffix(".json")
    if made_json.exists():
        os.replace(made_json, dest.with_suffix(".json"))
    elif not dest.with_suffix(".json").exists():
        _json_from_metadata(made, dest.with_suffix(".json"))  # a clip placed from the cache
    if dest.exists() and os.path.samefile(made, dest):
        made.unlink()  # two links to one cached file: rename() would leave both in place
    else:
        os.replace(made, dest)
    return dest


def on_disk(folder: Path, request_id: str) -> Path | None:
    """A clip of this request id already in the output folder (by its summary), if any."""
    if not folder.is_dir():
        return None
    for summary in sorted(folder.glob("*.summary.json")):
        mp4 = summary.with_name(summary.name[: -len(".summary.json")] + ".mp4")
        data = summary_of(mp4)
        if data is not None and data.get("request_id") == request_id and mp4.is_file():
            return mp4
    return None


def _json_from_metadata(mp4: Path, dest: Path) -> None:
    """The provenance JSON beside a clip, from the record inside the MP4 (if it has one)."""
    from ..core.provenance import read_provenance

    meta = read_provenance(mp4)
    if meta is not None:
        try:
            dest.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        except OSError:
            pass  # the record is still inside the MP4
