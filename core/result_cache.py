"""A disk cache of finished clips, keyed by everything that defines a request, so the
same request queued again (even after a restart) costs nothing and calls no service.

Layout: `<cache dir>/<fingerprint>.mp4` plus `<fingerprint>.json` (what was asked, the
request id, when). The JSON file's modification time is the entry's last use, which
drives least-recently-used eviction once the cache outgrows its size bound. Deleting
the folder empties the cache; `clear_cache` does the same from code or the CLI.

A clip is probed before it is handed out: a damaged one is removed and reported
(CachedClipDamagedError), so a new, billed run is never started silently in its place.
A folder in poor shape raises LocalStateError naming the path and what to do."""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Action, CachedClipDamagedError, InvalidInputError, VideoError
from .image_encode import EncodedImage
from .job_journal import local_state_error

log = logging.getLogger(__name__)

CACHE_ENV = "SEGMIND_LTX2_CACHE_MAX_GB"
DEFAULT_MAX_GB = 5.0
_FORMAT = 1  # bump when the fingerprint recipe changes: old entries then simply miss


def cache_directory(user_dir: str | os.PathLike) -> Path:
    """Where the pack keeps its cache inside ComfyUI's user folder."""
    from .user_folder import UserFolder

    return UserFolder(user_dir).cache


def request_fingerprint(model: str, body: dict[str, Any], image: EncodedImage | None,
                        service: str, video: Any = None) -> str:
    """sha256 over the service address, the model, every API field except the image URL,
    and the picture's pixel hash plus upload format: the URL differs per upload, the
    picture does not. The address keeps a stand-in's or a proxy's clips apart from Segmind's.
    `video`: an input clip (core/input_clip.py InputClip, Retake's): the sha256 of its bytes
    joins the recipe, so another clip is another request (absent otherwise: the fingerprints
    of every request without one stay what they were)."""
    if "image" in body:
        raise ValueError("request_fingerprint takes the body without the uploaded image URL")
    recipe = {
        "format": _FORMAT,
        "service": service,
        "model": model,
        "body": body,
        "image": None if image is None else {"pixels": image.pixel_hash, "mime": image.mime},
    }
    if video is not None:
        if any(isinstance(v, str) and v.startswith("data:") for v in body.values()):
            raise ValueError("request_fingerprint takes the body without the input clip")
        recipe["video"] = {"sha256": video.sha256, "mime": video.mime}
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def max_bytes_from_env() -> int:
    """The size bound from SEGMIND_LTX2_CACHE_MAX_GB (gigabytes; 0 turns caching off)."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    if not raw:
        return int(DEFAULT_MAX_GB * 1e9)
    try:
        gb = float(raw)
    except ValueError:
        gb = -1.0
    if not gb >= 0:  # also refuses nan
        raise InvalidInputError(
            f"{CACHE_ENV} is {raw!r}: set it to a size in gigabytes such as 5 (0 turns the result cache off).")
    return int(gb * 1e9)


OUTPUT_FOLDER_FIX = f" or {Action.OUTPUT_FOLDER}"
_CACHE_FIX = f" or lower {CACHE_ENV} (0 turns the cache off)"
_WHAT = "its result cache"


def place_file(src: Path, dest: Path, *, what: str = "the clips it saves",
               fix: str = OUTPUT_FOLDER_FIX) -> None:
    """Put `src` at `dest` as a hard link (no extra space), or a copy across file systems.

    Any failure (a full disk, no permission, a file where the folder should be) raises
    LocalStateError naming `dest` and what to do (`fix` is the remedy for a full disk),
    and leaves no temporary file behind."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, tmp)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
                raise
            shutil.copyfile(src, tmp)  # another file system, or links not supported
        os.replace(tmp, dest)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise local_state_error(exc, dest, what, fix) from None


_store_lock = threading.Lock()


@dataclass
class CacheHit:
    path: Path
    meta: dict[str, Any]


class ResultCache:
    def __init__(self, root: str | os.PathLike, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    @classmethod
    def from_env(cls, root: str | os.PathLike) -> "ResultCache":
        return cls(root, max_bytes_from_env())

    def _paths(self, fingerprint: str) -> tuple[Path, Path]:
        return self.root / f"{fingerprint}.mp4", self.root / f"{fingerprint}.json"

    def lookup(self, fingerprint: str) -> CacheHit | None:
        """The stored clip for this request, marked as just used; None on a miss.

        A damaged record is set aside (a miss); a clip that changed size or no longer
        decodes is removed and raises CachedClipDamagedError; a folder that cannot be
        read raises LocalStateError."""
        if self.max_bytes <= 0:
            return None
        clip, meta_path = self._paths(fingerprint)
        found = self._read(clip, meta_path)
        if found is not None and found[1] != found[2]:
            # Maybe a store of this entry is halfway (clip replaced, record not yet): look again
            # once it is done before calling the clip damaged.
            with _store_lock:
                found = self._read(clip, meta_path)
        if found is None:
            return None
        meta, size, recorded = found
        if isinstance(recorded, bool) or not isinstance(recorded, int):
            # Half-written, hand-edited or foreign: the entry cannot be trusted.
            log.warning("Segmind result cache: %s is not a valid cache record; removed it and its clip.",
                        meta_path)
            self.remove(fingerprint)
            return None
        if recorded != size:
            self._drop_damaged(fingerprint, clip, f"it is {size} bytes, {recorded} were stored")
        self._check_decodes(fingerprint, clip)
        try:
            os.utime(meta_path)
        except OSError:
            pass  # a read-only cache still serves its clips; only the eviction order suffers
        return CacheHit(clip, _clean_meta(meta))

    @staticmethod
    def _read(clip: Path, meta_path: Path) -> tuple[Any, int, Any] | None:
        """(record, clip size, size in the record), or None when the entry is not there."""
        try:
            text = meta_path.read_bytes()
            size = clip.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise local_state_error(exc, meta_path, _WHAT) from None
        try:
            meta = json.loads(text.decode("utf-8"))
        except (ValueError, RecursionError):
            meta = None
        return meta, size, meta.get("size") if isinstance(meta, dict) else None

    def _check_decodes(self, fingerprint: str, clip: Path) -> None:
        """A cheap probe (the container index, no decoding): frames and a frame size."""
        from .video_decode import probe_video

        try:
            info = probe_video(clip)
        except VideoError as exc:
            self._drop_damaged(fingerprint, clip, str(exc))
        if info.frame_count <= 0 or info.width <= 0:
            self._drop_damaged(fingerprint, clip, "it has no video frames")

    def _drop_damaged(self, fingerprint: str, clip: Path, detail: str) -> None:
        log.warning("Segmind result cache: the cached clip %s is damaged (%s); removing it.", clip, detail)
        self.remove(fingerprint)
        raise CachedClipDamagedError(
            f"The cached clip for this request ({clip}) no longer decodes, so it was removed from the "
            f"result cache. {Action.RUN_AGAIN} to generate a new one: that run is sent to Segmind and billed.")

    def store(self, fingerprint: str, clip: Path, meta: dict[str, Any]) -> bool:
        """Keep a checked clip; returns False when caching is off or the clip alone
        exceeds the bound. The clip is linked in first, so a listed entry is complete.
        Raises LocalStateError (an OSError) when the cache folder cannot take it."""
        try:
            size = clip.stat().st_size
        except OSError as exc:
            raise local_state_error(exc, clip, "the clip to cache") from None
        if self.max_bytes <= 0 or size > self.max_bytes:
            return False
        with _store_lock:  # several runs of one request may store it at the same moment
            self._store_locked(fingerprint, clip, meta, size)
        self.evict()
        return True

    def _store_locked(self, fingerprint: str, clip: Path, meta: dict[str, Any], size: int) -> None:
        dest, meta_path = self._paths(fingerprint)
        place_file(clip, dest, what=_WHAT, fix=_CACHE_FIX)
        record = dict(meta, size=size, stored_at=time.time())
        tmp = meta_path.with_name(meta_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, meta_path)
        except OSError as exc:
            # Without its record the clip would never be found nor evicted: take it out again.
            for path in (tmp, dest):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            raise local_state_error(exc, meta_path, _WHAT, _CACHE_FIX) from None

    def remove(self, fingerprint: str) -> None:
        for path in self._paths(fingerprint):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise local_state_error(exc, path, _WHAT) from None

    def evict(self) -> int:
        """Drop least recently used entries until the cache fits its bound; returns how many."""
        entries = []
        total = 0
        try:
            with os.scandir(self.root) as listing:
                records = [Path(e.path) for e in listing if e.name.endswith(".json")]
        except FileNotFoundError:
            return 0
        except OSError as exc:  # not glob(): it hides an unreadable folder
            raise local_state_error(exc, self.root / "*.json", _WHAT) from None
        for meta_path in records:
            clip = meta_path.with_suffix(".mp4")
            try:
                used, size = meta_path.stat().st_mtime, clip.stat().st_size
            except OSError:
                self._unlink(meta_path)  # an entry without its clip is useless
                continue
            entries.append((used, size, meta_path.stem))
            total += size
        removed = 0
        for _, size, fingerprint in sorted(entries):
            if total <= self.max_bytes:
                break
            self.remove(fingerprint)
            total -= size
            removed += 1
        if removed:
            log.info("Segmind result cache: evicted %d least recently used clip(s) to stay under %.1f GB",
                     removed, self.max_bytes / 1e9)
        return removed

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise local_state_error(exc, path, _WHAT) from None


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The record with fields of the wrong type dropped: they reach the node's summary."""
    from .credentials import redact

    clean = dict(meta)
    rid = clean.get("request_id")
    # A record written before ids were redacted on arrival must not show a key either.
    clean["request_id"] = redact(rid[:4096])[:200] if isinstance(rid, str) else None
    for key in ("stored_at", "cost"):
        value = clean.get(key)
        if key in clean and (isinstance(value, bool) or not isinstance(value, (int, float))
                             or not math.isfinite(value)):
            del clean[key]
    return clean


def clear_cache(root: str | os.PathLike) -> int:
    """Empty the cache folder; returns how many clips were removed."""
    root = Path(root)
    if not root.is_dir():
        return 0
    try:
        clips = sum(1 for _ in root.glob("*.mp4"))
        for path in root.iterdir():
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
    except OSError as exc:
        raise local_state_error(exc, root / "*", _WHAT) from None
    return clips
