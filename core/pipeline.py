"""One generation, start to finish, without ComfyUI: upload (once per picture), run on
Segmind (v2 submit + poll, or v1 sync), and land the MP4 on disk, checked, before
anything else can fail. Used by the nodes and the command line alike."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import RunInfo, SegmindClient
from .errors import VideoError
from .image_encode import EncodedImage

API_MODES = ("async (v2)", "sync (v1)")
OUTPUT_SUBFOLDER = "segmind_ltx2"

# pixel hash + format + storage host -> URL, for this process: the same picture queued
# again in one ComfyUI session is not uploaded again.
_upload_memo: dict[tuple[str, str, str], str] = {}
_memo_lock = threading.Lock()


@dataclass
class GenerationRequest:
    model: str
    body: dict[str, Any]                 # every API field except `image`
    image: EncodedImage | None = None    # None for text-to-video
    api_mode: str = API_MODES[0]
    timeout: float = 900.0


@dataclass
class ClipResult:
    path: Path
    info: RunInfo = field(default_factory=RunInfo)
    from_cache: bool = False


def upload_once(client: SegmindClient, image: EncodedImage) -> str:
    memo_key = (image.pixel_hash, image.mime, client.config.storage_base)
    with _memo_lock:
        url = _upload_memo.get(memo_key)
    if url:
        return url
    url = client.upload_image(image.data_url())
    with _memo_lock:
        _upload_memo[memo_key] = url
    return url


def clip_path(output_dir: Path, model: str, request_id: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = (request_id or uuid.uuid4().hex)[:12]
    short = model.replace("ltx-2-19b-", "ltx2_")
    return Path(output_dir) / OUTPUT_SUBFOLDER / f"{short}_{stamp}_{tag}.mp4"


def check_video(path: Path) -> None:
    """A downloaded clip must be a readable video before it is used or cached."""
    from .video_decode import probe_video

    info = probe_video(path)
    if info.frame_count <= 0 or info.width <= 0:
        raise VideoError(f"The clip saved at {path} has no video frames.")


def generate_clip(req: GenerationRequest, client: SegmindClient, output_dir: Path) -> ClipResult:
    body = dict(req.body)
    if req.image is not None:
        body["image"] = upload_once(client, req.image)
    client.check_cancel()
    if req.api_mode == API_MODES[1]:
        dest = clip_path(output_dir, req.model, None)
        info = client.run_sync(req.model, body, dest, timeout=req.timeout)
    else:
        started = time.monotonic()
        job = client.submit(req.model, body)
        ref, info = client.wait(job, req.timeout, started=started)
        dest = clip_path(output_dir, req.model, job.request_id)
        client.save_output(ref, dest)
    check_video(dest)
    return ClipResult(path=dest, info=info)
