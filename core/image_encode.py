"""ComfyUI IMAGE (float 0..1, [B,H,W,C]) -> 8-bit RGB -> PNG/JPEG bytes for the upload."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError

UPLOAD_FORMATS = ("png", "jpeg")
_MIME = {"png": "image/png", "jpeg": "image/jpeg"}


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    mime: str
    width: int
    height: int
    pixel_hash: str  # sha256 of the 8-bit RGB pixels: same picture, same hash, any format

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")


def to_uint8_rgb(image: Any, batch_index: int = 0):
    """One picture of a ComfyUI IMAGE batch as a contiguous uint8 [H,W,3] numpy array.

    A batch holds several pictures but LTX-2 animates one: `batch_index` picks it (an
    explicit choice instead of silently using the first). Alpha is dropped (ComfyUI keeps
    transparency in a separate MASK), grayscale is repeated to three channels."""
    import numpy as np

    arr = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise InvalidInputError(f"'image' must be a ComfyUI IMAGE [batch, height, width, channels]; got shape {tuple(arr.shape)}.")
    batch = arr.shape[0]
    if batch == 0:
        raise InvalidInputError("'image' is an empty batch: connect a node that outputs at least one image.")
    if not 0 <= batch_index < batch:
        raise InvalidInputError(f"'batch_index' is {batch_index} but the image batch holds {batch} picture(s): use 0..{batch - 1}.")
    pic = arr[batch_index]
    channels = pic.shape[-1]
    if channels == 1:
        pic = np.repeat(pic, 3, axis=-1)
    elif channels == 4:
        pic = pic[..., :3]
    elif channels != 3:
        raise InvalidInputError(f"'image' has {channels} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA).")
    if pic.dtype != np.uint8:
        pic = np.clip(np.rint(pic.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pic)


def pixel_hash(rgb8) -> str:
    h = hashlib.sha256()
    h.update(f"{rgb8.shape}".encode())
    h.update(rgb8.tobytes())
    return h.hexdigest()


def encode_image(rgb8, fmt: str = "png", jpeg_quality: int = 95) -> EncodedImage:
    """Encode with OpenCV when present (fast, any opencv build), else Pillow (a ComfyUI dependency)."""
    fmt = fmt.lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in UPLOAD_FORMATS:
        raise InvalidInputError(f"'upload_format' must be one of {', '.join(UPLOAD_FORMATS)}; got {fmt!r}.")
    height, width = rgb8.shape[:2]
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        bgr = rgb8[..., ::-1]
        # PNG level 1: OpenCV's default 3 takes ~25% longer for files under 1% smaller (bench/results.md).
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if fmt == "png" else [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        ok, buf = cv2.imencode(".png" if fmt == "png" else ".jpg", bgr, params)
        if not ok:
            raise InvalidInputError("OpenCV could not encode the image for upload.")
        data = buf.tobytes()
    else:
        import io
        from PIL import Image

        out = io.BytesIO()
        img = Image.fromarray(rgb8, "RGB")
        if fmt == "png":
            img.save(out, format="PNG", compress_level=1)
        else:
            img.save(out, format="JPEG", quality=jpeg_quality)
        data = out.getvalue()
    return EncodedImage(data=data, mime=_MIME[fmt], width=width, height=height, pixel_hash=pixel_hash(rgb8))
