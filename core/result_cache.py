"""A disk cache of finished clips, keyed by everything that defines a request, so the
same request queued again (even after a restart) costs nothing and calls no service.

Layout: `<cache dir>/<fingerprint>.mp4` plus `<fingerprint>.json` (what was asked, the
request id, when). The JSON file's modification time is the entry's last use, which
drives least-recently-used eviction once the cache outgrows its size bound. Deleting
the folder empties the cache; `clear_cache` does the same from code or the CLI."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .image_encode import EncodedImage

log = logging.getLogger(__name__)

CACHE_ENV = "SEGMIND_LTX2_CACHE_MAX_GB"
DEFAULT_MAX_GB = 5.0
_FORMAT = 1  # bump when the fingerprint recipe changes: old entries then simply miss


def cache_directory(user_dir: str | os.PathLike) -> Path:
    """Where the pack keeps its cache inside ComfyUI's user folder."""
    return Path(user_dir) / "segmind" / "cache"


def request_fingerprint(model: str, body: dict[str, Any], image: EncodedImage | None,
                        service: str) -> str:
    """sha256 over the service address, the model, every API field except the image URL,
    and the picture's pixel hash plus upload format: the URL differs per upload, the
    picture does not. The address keeps a stand-in's or a proxy's clips apart from Segmind's."""
    if "image" in body:
        raise ValueError("request_fingerprint takes the body without the uploaded image URL")
    recipe = {
        "format": _FORMAT,
        "service": service,
        "model": model,
        "body": body,
        "image": None if image is None else {"pixels": image.pixel_hash, "mime": image.mime},
    }
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


def place_file(src: Path, dest: Path) -> None:
    """Put `src` at `dest` as a hard link (no extra space), or a copy across file systems."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


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
        """The stored clip for this request, marked as just used; None on a miss."""
        if self.max_bytes <= 0:
            return None
        clip, meta_path = self._paths(fingerprint)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            size = clip.stat().st_size
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("size") != size:
            # A half-written or tampered entry is a miss, never a broken clip.
            self.remove(fingerprint)
            return None
        os.utime(meta_path)
        return CacheHit(clip, meta)

    def store(self, fingerprint: str, clip: Path, meta: dict[str, Any]) -> bool:
        """Keep a checked clip; returns False when caching is off or the clip alone
        exceeds the bound. The clip is linked in first, so a listed entry is complete."""
        size = clip.stat().st_size
        if self.max_bytes <= 0 or size > self.max_bytes:
            return False
        dest, meta_path = self._paths(fingerprint)
        place_file(clip, dest)
        record = dict(meta, size=size, stored_at=time.time())
        tmp = meta_path.with_name(meta_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, meta_path)
        except OSError:
            # Without its record the clip would never be found nor evicted: take it out again.
            for path in (tmp, dest):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            raise
        self.evict()
        return True

    def remove(self, fingerprint: str) -> None:
        for path in self._paths(fingerprint):
            path.unlink(missing_ok=True)

    def evict(self) -> int:
        """Drop least recently used entries until the cache fits its bound; returns how many."""
        entries = []
        total = 0
        for meta_path in self.root.glob("*.json"):
            clip = meta_path.with_suffix(".mp4")
            try:
                used, size = meta_path.stat().st_mtime, clip.stat().st_size
            except OSError:
                meta_path.unlink(missing_ok=True)  # an entry without its clip is useless
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


def clear_cache(root: str | os.PathLike) -> int:
    """Empty the cache folder; returns how many clips were removed."""
    root = Path(root)
    if not root.is_dir():
        return 0
    clips = sum(1 for _ in root.glob("*.mp4"))
    for path in root.iterdir():
        if path.is_file() or path.is_symlink():
            path.unlink(missing_ok=True)
    return clips
