"""Pictures for the command line, through PyAV alone (no torch, OpenCV or Pillow needed):
read a file into 8-bit RGB, and encode it as the PNG or JPEG that is uploaded. The pixel
hash is the node's (core.image_encode.pixel_hash), so a PNG picture run here and in a graph
makes the same request, served by the same cache entry."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from ..core.image_encode import EncodedImage, pixel_hash

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_MIME = {"png": "image/png", "jpeg": "image/jpeg"}


def load_picture(path: Path, label: str = "--image") -> Any:
    """uint8 RGB [H, W, 3] from an image file."""
    import av

    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{label} {path} is a folder: give one picture file in it, or "
                                f"--images-dir {path} for a clip of every picture there.")
    if not path.is_file():
        raise InvalidInputError(f"{label} {path}: no such file. Give the path of a PNG or JPEG picture.")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, StopIteration, IndexError, ValueError):
        raise InvalidInputError(f"{label} {path} could not be read as a picture. "
                                "Use a PNG or JPEG file.") from None


def prompt_beside(picture: Path) -> str | None:
    """The prompt in a text file beside the picture (`photo.txt` for `photo.png`), if any."""
    text_file = Path(picture).with_suffix(".txt")
    try:
        text = text_file.read_text(encoding="utf-8-sig").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def encode_picture(rgb8: Any, fmt: str = "png", quality: int = 95) -> EncodedImage:
    """PNG (lossless) or JPEG bytes for the upload."""
    import av
    import numpy as np

    fmt = "jpeg" if fmt.lower() in ("jpg", "jpeg") else fmt.lower()
    if fmt not in _MIME:
        raise InvalidInputError(f"--upload-format must be png or jpeg; got {fmt!r}.")
    height, width = rgb8.shape[:2]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb8), format="rgb24")
    if fmt == "png":
        cc = av.CodecContext.create("png", "w")
        cc.pix_fmt = "rgb24"
    else:
        cc = av.CodecContext.create("mjpeg", "w")
        cc.pix_fmt = "yuvj444p"  # full-range, no chroma halving: closest to a photo's JPEG
        frame = frame.reformat(format="yuvj444p")
        # FFmpeg's mjpeg quantiser scale: 1 (best) .. 31; JPEG quality 95 is about 2.
        cc.options = {"qmin": "1", "qmax": str(max(2, min(31, round((100 - quality) / 3))))}
    cc.width, cc.height = width, height
    cc.time_base = Fraction(1, 1)
    data = b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)])
    return EncodedImage(data=data, mime=_MIME[fmt], width=width, height=height, pixel_hash=pixel_hash(rgb8))


def for_upload(rgb8: Any, body: dict[str, Any], model: str | None = None) -> Any:
    """The picture as the node uploads it for this request: refused when too small to
    animate, scaled down when far larger than the video (core.image_encode.fit_for_upload).
    The fingerprint is taken of this, so the node and the command line agree on it."""
    from ..core.image_encode import fit_for_upload

    if "width" not in body and model is not None:  # a size its resolution picks (LTX-2 Pro)
        from ..core.models import model as descriptor

        rendered = descriptor(model).rendered(body)
        if rendered:
            return fit_for_upload(rgb8, rendered[0], rendered[1])
    return fit_for_upload(rgb8, int(body["width"]), int(body["height"]))


def identity(rgb8: Any, fmt: str) -> EncodedImage:
    """What the request fingerprint needs of a picture (pixels and format), without encoding it."""
    fmt = "jpeg" if fmt.lower() in ("jpg", "jpeg") else fmt.lower()
    return EncodedImage(data=b"", mime=_MIME.get(fmt, "image/png"), width=int(rgb8.shape[1]),
                        height=int(rgb8.shape[0]), pixel_hash=pixel_hash(rgb8))
