"""Where a paid clip lands and how it is proven sound, before it is used: its path in the
output folder (never steered by a server-given id), room for it checked before paying, and
the download checked as a readable MP4 (fetched once more if not; a GET is free)."""
from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from .errors import Action, OutputFolderError, VideoError
from .params import snap_to_grid

log = logging.getLogger(__name__)

OUTPUT_SUBFOLDER = "segmind_ltx2"


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(text: str | None, length: int = 12) -> str:
    """A server-given string (a request id) reduced to what may name a file: letters, digits,
    '-' and '_' only, so '../', a NUL byte or a drive letter can never steer a path."""
    return _UNSAFE.sub("", str(text or ""))[:length]


def clip_path(output_dir: Path, model: str, request_id: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = safe_name(request_id) or uuid.uuid4().hex[:12]
    short = safe_name(model.replace("ltx-2-19b-", "ltx2_"), 40)
    return Path(output_dir) / OUTPUT_SUBFOLDER / f"{short}_{stamp}_{tag}.mp4"


def made_clip_path(output_dir: Path, word: str) -> Path:
    """Where a clip made here from other clips lands (`joined`, `extended`): beside the paid
    clips, named by the time and a random tag, never by anything a server said."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(output_dir) / OUTPUT_SUBFOLDER / f"{word}_{stamp}_{uuid.uuid4().hex[:12]}.mp4"


def expected_clip_bytes(body: dict[str, Any]) -> int:
    """A generous bound on the MP4 a request produces, for the free-space check before paying:
    H.264 at LTX-2's quality stays far below a quarter byte per pixel per frame, plus audio."""
    try:
        w, h, n = snap_to_grid(int(body["width"]), int(body["height"]), int(body["num_frames"]))
    except (KeyError, TypeError, ValueError):
        w, h, n = snap_to_grid(1280, 1280, 400)
    return w * h * n // 4 + (8 << 20)


def ensure_writable(folder: Path, needed_bytes: int = 0) -> None:
    """Create `folder`, prove a file can be written there and that it has room for
    `needed_bytes`, or raise OutputFolderError. An empty probe file passes on a full disk;
    the free space is what the paid clip will need."""
    probe = folder / f".write-test-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputFolderError(
            f"Cannot save clips in {folder} ({why}). Nothing was sent to Segmind. Make the folder "
            f"writable, free some disk space, or {Action.OUTPUT_FOLDER}.") from None
    if free < needed_bytes:
        raise OutputFolderError(
            f"Only {free / 1e6:.0f} MB is free in {folder}, and the clip may need up to "
            f"{needed_bytes / 1e6:.0f} MB. Nothing was sent to Segmind: free some disk space, or "
            f"{Action.OUTPUT_FOLDER}.")


def check_video(path: Path) -> None:
    """A downloaded clip must be a readable video before it is used or cached."""
    from .video_decode import probe_video

    info = probe_video(path)
    if info.frame_count <= 0 or info.width <= 0:
        raise VideoError(f"The clip saved at {path} has no video frames.")


def save_checked(client: Any, ref: tuple[str, str], dest: Path, body: dict[str, Any] | None = None) -> None:
    """Save a result, at most what `body` can produce, and prove it is a readable MP4. An
    unreadable download is fetched once more (GETs are free); after that the file stays
    where it is, for inspection."""
    from .client import clip_size_bound

    for attempt in (1, 2):
        client.save_output(ref, dest, max_bytes=clip_size_bound(body) if body is not None else None)
        try:
            check_video(dest)
            return
        except VideoError as exc:
            log.warning("Segmind: %s", exc)  # the full decoder detail, for a bug report
            if ref[0] != "url" or attempt == 2:
                raise VideoError(f"The clip Segmind sent is not a readable MP4 (truncated or corrupt); "
                                 f"it was kept at {dest} for inspection.") from None
            client.emit("retry", stage="download", attempt=attempt, wait=0.0, reason="unreadable file")
