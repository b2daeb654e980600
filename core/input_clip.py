"""A clip the pack sends to Segmind as a request's input (Retake's `video_uri`): read from
disk once, checked before anything is paid or uploaded, and sent the way the service takes
it.

How it reaches Segmind (../shared/segmind/LTX2_FAMILY.md): Segmind's storage upload
(`upload-asset`) takes files as data URLs; whether it stores an MP4 is unconfirmed, while
Retake's page allows a data URI in `video_uri` itself. So the clip is uploaded first, and
its URL sent; a storage that refuses video (an HTTP 400, 415 or 422) is remembered for the
process, and the clip then goes inline as a data URI. Either way the clip travels inside a
JSON body as base64, so one limit holds for both (retake_rules.INLINE_LIMIT_BYTES), checked
before anything is sent.

The bytes are held in memory (at most ~15 MB by that limit): the file a node was given may
be a temporary one that is gone by the time the job uploads."""
from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import Action, InvalidInputError, SegmindAPIError
from .retake_rules import check_inline_size

log = logging.getLogger(__name__)

MP4 = "video/mp4"
# Answers of a storage that does not take this kind of file: the clip goes inline instead.
# (413 is not among them: the inline body would be as large.)
_REFUSED_KIND = frozenset({400, 415, 422})
_INLINE = "inline"  # the uploads memo's word for "this storage refuses video"


@dataclass(frozen=True)
class InputClip:
    """An MP4 as it is sent: its bytes, their sha256 (the request fingerprint's part: another
    clip is another request), and what was read of it."""

    data: bytes = field(repr=False)
    sha256: str
    width: int
    height: int
    frame_count: int
    fps: float
    mime: str = MP4

    @property
    def size(self) -> int:
        return len(self.data)

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")

    def record(self) -> dict[str, Any]:
        """The clip as records keep it (provenance, the cache): what it was, never its bytes."""
        return {"sha256": self.sha256, "mime": self.mime, "bytes": self.size, "width": self.width,
                "height": self.height, "frame_count": self.frame_count, "fps": self.fps}

    def described(self) -> str:
        """What stands for the clip where its bytes must not go (provenance, a dry run)."""
        return f"<{self.mime}, {self.size} bytes, sha256 {self.sha256[:16]}>"


def probe_input(path: str | os.PathLike) -> Any:
    """The clip's size, frames and rate (core.video_decode.VideoInfo, fps a float), or
    InvalidInputError saying what to change: a file that is not a readable MP4 with a video
    stream."""
    import av

    from .clip_frames import probe_clip

    p = os.fspath(path)
    info, rate = probe_clip(p, "The clip to retake")
    try:
        with av.open(p) as container:
            kind = container.format.name or ""
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InvalidInputError(f"The clip to retake cannot be read ({exc}). Give an MP4 clip.") from None
    info.fps = float(rate)
    if "mp4" not in kind.split(","):
        raise InvalidInputError(f"The clip to retake is not an MP4 (it is {kind or 'of an unknown format'}); "
                                "Segmind takes an MP4. Save it as MP4 first (H.264 in an .mp4).")
    return info


def read_input_clip(path: str | os.PathLike, info: Any) -> InputClip:
    """The clip's bytes, read only once its data URI is known to fit (checked first)."""
    p = os.fspath(path)
    check_inline_size(os.path.getsize(p))
    with open(p, "rb") as f:
        data = f.read()
    check_inline_size(len(data))  # the file may have grown since
    return InputClip(data=data, sha256=hashlib.sha256(data).hexdigest(), width=int(info.width),
                     height=int(info.height), frame_count=int(info.frame_count), fps=float(info.fps))


def clip_reference(client: Any, clip: InputClip) -> str:
    """What the request's video field holds: the clip's URL on Segmind's storage (uploaded once
    per runtime: a re-queue of the same clip is not uploaded again), or the clip as a data URI
    when the storage refuses video."""
    from .runtime import current

    runtime = current()
    storage = ("video storage", "", client.config.storage_base)
    key = (clip.sha256, clip.mime, client.config.storage_base)
    with runtime.uploads_lock:
        url, refused = runtime.uploads.get(key), runtime.uploads.get(storage) == _INLINE
    if url:
        return url
    if not refused:
        try:
            url = client.upload_asset(clip.data_url(), stage="video upload")
        except SegmindAPIError as exc:
            if exc.status == 413:  # the inline body would be as large: trimming is the way
                exc.args = (f"{exc} The clip ({clip.size / 1e6:.1f} MB) is more than Segmind takes in one "
                            "request: trim it to a little more than the section to make again, or lower its "
                            f"resolution, then {Action.RETRY}. Nothing was billed.",)
            if exc.status not in _REFUSED_KIND:
                raise
            log.info("Segmind: the storage did not take the clip (HTTP %s); it goes inline as a data URI.",
                     exc.status)
            with runtime.uploads_lock:
                runtime.uploads[storage] = _INLINE
        else:
            with runtime.uploads_lock:
                runtime.uploads[key] = url
            return url
    return clip.data_url()


def shown_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body as records keep it: a data URI (megabytes) stands as its type and length."""
    return {k: (f"<data URI, {len(v)} characters>" if isinstance(v, str) and v.startswith("data:") else v)
            for k, v in body.items()}
