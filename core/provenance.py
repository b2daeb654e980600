"""Provenance in every saved clip: what was asked (model and every field), the request id,
the cost and the seed, in the MP4's own metadata (a "comment" tag holding compact JSON, so
it travels with the file) and in a JSON file beside it (`clip.mp4` -> `clip.json`).

The MP4 is rewritten by a remux: packets are copied, never re-encoded, so its audio and
video stay bit-identical; it goes through a temporary file and os.replace, so the clip is
never half-written. When the remux fails the original clip is kept untouched and the
failure is only logged: provenance must never cost a paid clip. Nothing key-like is
written: fields named like a key are dropped and key-shaped text is redacted."""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger(__name__)

TAG = "comment"                    # read by ffprobe, VLC, exiftool and PyAV alike
MARKER = "segmind_provenance"      # tells our JSON from any other comment
VERSION = 1
_SECRET_WORDS = ("key", "secret", "token", "auth", "password")
MAX_TEXT = 10_000                  # characters kept of any one text (a prompt fits; a flood does not)
MAX_ITEMS = 200                    # entries kept of any one list or mapping


def provenance_json_path(mp4: str | os.PathLike) -> Path:
    return Path(mp4).with_suffix(".json")


def provenance_meta(model: str, body: Mapping[str, Any], *, request_id: str | None, cost: float | None,
                    seed: Any = None, **extra: Any) -> dict[str, Any]:
    """The record for one clip: the model, every request field, the request id, the cost
    (None when Segmind did not report it) and the seed (the body's unless given)."""
    meta: dict[str, Any] = {"model": model, "fields": dict(body), "request_id": request_id,
                            "cost": cost, "seed": body.get("seed") if seed is None else seed}
    meta.update(extra)
    return meta


def _clean(value: Any, depth: int = 0) -> Any:
    """JSON-safe, finite, key-free copy of `value`."""
    from .credentials import redact

    if depth > 8:
        return None
    if isinstance(value, Mapping):
        kept = [(str(k)[:100], v) for k, v in value.items()
                if not any(word in str(k).lower() for word in _SECRET_WORDS)][:MAX_ITEMS]
        return {k: _clean(v, depth + 1) for k, v in kept}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value[:MAX_ITEMS]]
    if isinstance(value, str):
        return _bounded(redact(value[:MAX_TEXT + 4096]))
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _bounded(redact(str(value)[:MAX_TEXT + 4096]))


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def provenance_text(meta: Mapping[str, Any]) -> str:
    """The compact JSON that goes into the MP4 (ASCII only: survives every muxer)."""
    record = {MARKER: VERSION, **_clean(dict(meta))}
    return json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=True, allow_nan=False)


def write_provenance(mp4: Path, meta: dict) -> None:
    """Tag `mp4` in place with `meta` and write `<clip>.json` beside it. Never raises for
    a failed tag or JSON (logged); call it before the clip is linked into the cache, since
    the rewrite gives the clip a new inode and a hard link would keep the untagged one."""
    mp4 = Path(mp4)
    text = provenance_text(meta)
    _write_json_beside(mp4, text)
    tmp = mp4.with_name(f".{mp4.stem}.{uuid.uuid4().hex[:8]}.provenance.mp4")
    try:
        _remux_with_comment(mp4, tmp, text)
        try:
            shutil.copymode(mp4, tmp)
        except OSError:
            pass
        os.replace(tmp, mp4)
    except Exception as exc:  # any PyAV or disk failure: the paid clip stays as it was
        log.warning("Segmind: could not write provenance into %s (%s); the clip is unchanged and "
                    "its provenance is in %s.", mp4.name, exc, provenance_json_path(mp4).name)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _write_json_beside(mp4: Path, text: str) -> None:
    dest = provenance_json_path(mp4)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, dest)
    except OSError as exc:
        log.warning("Segmind: could not write %s (%s).", dest, exc.strerror or exc)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _remux_with_comment(src_path: Path, dest: Path, text: str) -> None:
    """Copy every audio and video packet of src into dest (MP4) with the comment tag set."""
    import av

    with av.open(str(src_path)) as src:
        streams = [s for s in src.streams if s.type in ("video", "audio")]
        if not any(s.type == "video" for s in streams):
            raise ValueError("no video stream")
        with av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            out.metadata.update({k: v for k, v in src.metadata.items()
                                 if k not in ("major_brand", "minor_version", "compatible_brands", "encoder")})
            out.metadata[TAG] = text
            mapping = {}
            for s in streams:
                o = out.add_stream_from_template(s)
                o.metadata.update(s.metadata)
                mapping[s.index] = o
            for packet in src.demux(*streams):
                if packet.dts is None:
                    continue  # the demuxer's flush packet: nothing to copy
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)


def _parse(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or MARKER not in text:
        return None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) and MARKER in record else None


def read_provenance(mp4: Path) -> dict | None:
    """The provenance of a clip: from its own metadata (it travels with the file), else
    from the JSON beside it; None when it has none (a clip from elsewhere) or is unreadable."""
    mp4 = Path(mp4)
    try:
        import av

        with av.open(str(mp4)) as container:
            found = _parse(container.metadata.get(TAG))
        if found is not None:
            return found
    except Exception:  # not a readable video: the JSON may still be there
        pass
    try:
        return _parse(provenance_json_path(mp4).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
