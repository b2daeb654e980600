"""Benchmark: encoding the first frame for upload (720x1280 RGB) with cv2 and PIL.

    .venv/bin/python bench/bench_upload_encode.py [--width 720] [--height 1280] [--repeats 7]

The test image is photo-like (smooth gradients, soft shapes, sensor-like noise),
because a flat colour compresses unrealistically well. Reports the median time
and the size of PNG (cv2, several compression levels), JPEG (cv2, quality 90/95)
and the same through PIL when Pillow is importable (ComfyUI always has it; the
dev venv may not). Appends/replaces its section in bench/results.md.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_decode import _write_section  # noqa: E402  (same results file, own section)


def make_image(width: int, height: int) -> Any:
    """uint8 [H, W, 3] RGB that compresses like a photo."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 120 + 80 * np.sin(xx / 170) * np.cos(yy / 230)  # sky-like gradients
    img[..., 1] = 100 + 60 * np.cos((xx + yy) / 300)
    img[..., 2] = 140 + 70 * np.sin(yy / 260)
    for _ in range(25):  # soft objects of varied colour and size
        c = rng.uniform(0, 255, 3)
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        ax, ay = rng.integers(20, width // 3), rng.integers(20, height // 4)
        mask = np.zeros((height, width), np.float32)
        cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 6)[..., None]
        img = img * (1 - 0.8 * mask) + c * 0.8 * mask
    texture = cv2.GaussianBlur(rng.normal(0, 25, (height, width, 3)).astype(np.float32), (0, 0), 2)
    img += texture + rng.normal(0, 4, (height, width, 3))  # fine detail + sensor noise
    return np.clip(img, 0, 255).astype(np.uint8)


def encoders(rgb: Any) -> list[tuple[str, Callable[[], bytes]]]:
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # cv2 wants BGR; conversion timed separately below
    out: list[tuple[str, Callable[[], bytes]]] = [
        ("cv2 RGB->BGR only", lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).tobytes()[:0]),
    ]
    for level in (0, 1, 3, 6, 9):
        out.append((f"cv2 PNG level {level}",
                    lambda lv=level: cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                                  [cv2.IMWRITE_PNG_COMPRESSION, lv])[1].tobytes()))
    for q in (90, 95):
        out.append((f"cv2 JPEG q{q}",
                    lambda q=q: cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                             [cv2.IMWRITE_JPEG_QUALITY, q])[1].tobytes()))
    del bgr
    try:
        from PIL import Image
    except ImportError:
        return out
    pil = Image.fromarray(rgb)

    def pil_save(fmt: str, **kw: Any) -> bytes:
        buf = io.BytesIO()
        pil.save(buf, fmt, **kw)
        return buf.getvalue()

    for level in (1, 6, 9):  # PIL's default compress_level is 6; ComfyUI saves with 4
        out.append((f"PIL PNG level {level}", lambda lv=level: pil_save("PNG", compress_level=lv)))
    out.append(("PIL PNG level 4 (ComfyUI SaveImage)", lambda: pil_save("PNG", compress_level=4)))
    for q in (90, 95):
        out.append((f"PIL JPEG q{q}", lambda q=q: pil_save("JPEG", quality=q)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=1280)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import cv2

    rgb = make_image(args.width, args.height)
    raw = rgb.nbytes
    rows = []
    for name, fn in encoders(rgb):
        data = fn()  # warm-up (first call loads codec code)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            data = fn()
            times.append(time.perf_counter() - t)
        rows.append((name, statistics.median(times), min(times), len(data)))
        print(f"  {name:38s} {rows[-1][1] * 1000:8.1f} ms  {len(data) / 1024:8.0f} KiB", flush=True)

    try:
        import PIL
        pil_note = f"Pillow {PIL.__version__}"
    except ImportError:
        pil_note = "Pillow not installed in this venv: PIL rows skipped"
    lines = [
        f"### upload encode: {args.width}x{args.height} RGB, photo-like test image "
        f"(raw {raw / 2**20:.2f} MiB)",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}, {pil_note}. Median of {args.repeats} runs (load average "
        f"{os.getloadavg()[0]:.1f}). cv2 rows include the RGB->BGR conversion.",
        "",
        "| encoder | time (ms), median | min (ms) | size (KiB) | x raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, med, lo, size in rows:
        if size == 0:
            lines.append(f"| {name} | {med * 1000:.1f} | {lo * 1000:.1f} | - | - |")
        else:
            lines.append(f"| {name} | {med * 1000:.1f} | {lo * 1000:.1f} | {size / 1024:.0f} | {size / raw:.3f} |")
    table = "\n".join(lines)
    print()
    print(table)
    _write_section(table, "upload_encode")


if __name__ == "__main__":
    main()
