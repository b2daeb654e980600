"""ComfyUI IMAGE (float 0..1, [B,H,W,C]) -> 8-bit RGB -> PNG/JPEG bytes for the upload.

Everything here runs before anything is paid: pixels that are not numbers, a picture
too small to animate, and a picture far larger than the requested video (scaled down
instead of uploading hundreds of MB) are dealt with first."""
from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from .errors import Action, InvalidInputError

UPLOAD_FORMATS = ("png", "jpeg")
_MIME = {"png": "image/png", "jpeg": "image/jpeg"}
MIN_SIDE = 32  # pixels: LTX-2 works on 32-pixel blocks, so a smaller picture holds nothing to animate


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
        raise InvalidInputError(f"{Action.SET_FIELD('image')} must be an IMAGE [batch, height, width, channels]; got shape {tuple(arr.shape)}.")
    batch = arr.shape[0]
    if batch == 0:
        raise InvalidInputError(f"{Action.SET_FIELD('image')} is an empty batch: give it at least one picture.")
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
        pic = pic.astype(np.float32, copy=False)
        # NaN would become an arbitrary byte (0 here, 255 elsewhere) and inf a clipped one:
        # the upload would not be the picture the graph made.
        bad = int(pic.size - np.count_nonzero(np.isfinite(pic)))
        if bad:
            raise InvalidInputError(
                f"'image' has {bad} pixel value(s) that are NaN or infinite, so it cannot be uploaded "
                "(nothing was sent to Segmind). Whatever made the image produced invalid numbers: "
                f"fix or replace it, or clean the image (e.g. clamp it to 0..1), then {Action.RETRY}.")
        pic = np.clip(np.rint(pic * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pic)


def check_min_size(rgb8: Any) -> None:
    """Refuse a picture smaller than MIN_SIDE on either side, before anything is paid."""
    height, width = rgb8.shape[:2]
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidInputError(
            f"'image' is {width}x{height} pixels, too small to animate: use a picture at least "
            f"{MIN_SIDE}x{MIN_SIDE} pixels (ideally about the requested video size). Nothing was sent to Segmind.")


def upload_size(width: int, height: int, target_width: int, target_height: int) -> tuple[int, int]:
    """(width, height) to upload a `width` x `height` picture at: the smallest size with the
    same aspect ratio that still covers target_width x target_height; never larger than
    the picture itself (only ever scaled down)."""
    scale = max(target_width / width, target_height / height)
    if scale >= 1.0:
        return width, height
    # ceil (after rounding away float noise), so the result still covers the target
    return (min(width, max(1, math.ceil(round(width * scale, 6)))),
            min(height, max(1, math.ceil(round(height * scale, 6)))))


def fit_for_upload(rgb8: Any, width: int, height: int) -> Any:
    """The picture to upload for a `width` x `height` video: refused (InvalidInputError)
    when smaller than MIN_SIDE on a side; scaled down with area averaging when larger
    than needed to cover the video (aspect kept, never scaled up); else unchanged.

    An 8192x8192 picture for a 720x1280 video becomes 1280x1280: a few MB to upload,
    not 269 MB, and the service scales it to the video size anyway."""
    check_min_size(rgb8)
    h, w = rgb8.shape[:2]
    if not (width > 0 and height > 0):  # also refuses NaN
        raise InvalidInputError(f"The requested video size must be positive; got {width!r}x{height!r}.")
    new_w, new_h = upload_size(w, h, width, height)
    if (new_w, new_h) == (w, h):
        return rgb8
    return _resize_area(rgb8, new_w, new_h)


def _resize_area(rgb8: Any, width: int, height: int) -> Any:
    """Shrink uint8 RGB with area averaging: OpenCV when present, else Pillow (a ComfyUI
    dependency), else numpy."""
    import numpy as np

    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        return np.ascontiguousarray(cv2.resize(rgb8, (width, height), interpolation=cv2.INTER_AREA))
    try:
        from PIL import Image
    except ImportError:
        return _resize_area_numpy(rgb8, width, height)
    box = getattr(getattr(Image, "Resampling", Image), "BOX")
    return np.asarray(Image.fromarray(rgb8, "RGB").resize((width, height), box), dtype=np.uint8)


def _area_rows(block: Any, dst: int) -> Any:
    """Area-average axis 0 of `block` down to `dst` cells (float64): each output cell is the
    mean of the input span it covers, from prefix sums (linear time, no weight matrix)."""
    import numpy as np

    src = block.shape[0]
    ratio = src / dst
    prefix = np.zeros((src + 1,) + block.shape[1:], np.float64)
    np.cumsum(block, axis=0, dtype=np.float64, out=prefix[1:])
    edges = np.arange(dst + 1, dtype=np.float64) * ratio
    idx = np.minimum(edges.astype(np.int64), src - 1)
    frac = (edges - idx).reshape((-1,) + (1,) * (block.ndim - 1))
    at = prefix[idx] + frac * block[idx]  # the running sum at each cell edge
    return (at[1:] - at[:-1]) / ratio


def _resize_area_numpy(rgb8: Any, width: int, height: int) -> Any:
    """Area averaging along each row, then down each column, in bands (~16 MB at a time)."""
    import numpy as np

    h, w = rgb8.shape[:2]
    across = np.empty((h, width, 3), np.float32)
    band = max(1, (16 << 20) // (w * 3 * 8))
    for r0 in range(0, h, band):
        across[r0:r0 + band] = _area_rows(rgb8[r0:r0 + band].swapaxes(0, 1), width).swapaxes(0, 1)
    out = np.empty((height, width, 3), np.uint8)
    band = max(1, (16 << 20) // (h * 3 * 8))
    for c0 in range(0, width, band):
        out[:, c0:c0 + band] = np.clip(np.rint(_area_rows(across[:, c0:c0 + band], height)), 0, 255)
    return out


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
