"""Paint the pack's example picture (examples_workflows/example.png): a sunrise over
layered hills and a still lake, with numpy alone, saved as PNG through PyAV.

    python examples_workflows/make_example_picture.py   # rewrites example.png beside it"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

W, H = 576, 1024  # 9:16, the shape of the default 720x1280 request


def smooth_noise(rng: np.random.Generator, n: int, octaves: int = 5) -> np.ndarray:
    """1-D fractal noise in -1..1, for hill ridges."""
    x = np.linspace(0, 1, n)
    out = np.zeros(n)
    for o in range(octaves):
        k = 2 ** (o + 1)
        pts = rng.uniform(-1, 1, k + 2)
        out += np.interp(x * (k + 1), np.arange(k + 2), pts) / (1.6 ** o)
    return out / np.abs(out).max()


def lerp(a, b, t):
    return np.asarray(a, float) * (1 - t) + np.asarray(b, float) * t


def paint(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    horizon = int(H * 0.60)
    img = np.zeros((H, W, 3))

    # Sky: deep blue at the top, rose, then gold near the horizon.
    t = np.clip(y / horizon, 0, 1)[..., None]
    top, mid, low = np.array([38, 56, 112]), np.array([196, 120, 150]), np.array([252, 196, 120])
    sky = np.where(t < 0.6, lerp(top, mid, (np.minimum(t, 0.6) / 0.6) ** 1.3),
                   lerp(mid, low, (np.maximum(t - 0.6, 0) / 0.4) ** 0.9))
    img[:] = sky

    # Sun with a wide glow, low over the hills.
    sx, sy, r = W * 0.62, horizon - H * 0.13, W * 0.075
    d = np.hypot(x - sx, y - sy)
    glow = np.exp(-(d / (W * 0.33)) ** 2)[..., None]
    img = lerp(img, [255, 222, 160], 0.55 * glow)
    disc = np.clip((r - d) / 2.0, 0, 1)[..., None]
    img = lerp(img, [255, 246, 214], disc)

    # Thin clouds: horizontal streaks lit from below.
    for cy, cx, cw, ch, a in ((0.18, 0.30, 0.35, 0.012, 0.35), (0.26, 0.70, 0.40, 0.010, 0.30),
                              (0.34, 0.25, 0.30, 0.008, 0.28), (0.42, 0.80, 0.25, 0.007, 0.25)):
        m = np.exp(-(((x - W * cx) / (W * cw)) ** 2) - ((y - H * cy) / (H * ch)) ** 2)[..., None]
        img = lerp(img, [255, 210, 190], a * m)

    # Hills: four ridges, paler with distance (atmospheric perspective).
    ridges = ((0.52, 0.05, [150, 120, 150]), (0.55, 0.07, [110, 92, 128]),
              (0.585, 0.06, [72, 70, 100]), (0.62, 0.05, [40, 52, 70]))
    lake_top = horizon + int(H * 0.03)
    for base, amp, colour in ridges:
        ridge = H * (base - amp * (0.5 + 0.5 * smooth_noise(rng, W)))
        inside = np.clip(y - ridge[None, :] + 0.5, 0, 1)[..., None] * (y < lake_top)[..., None]
        shade = lerp(colour, np.array(colour) * 0.75, np.clip((y - ridge[None, :]) / (H * 0.12), 0, 1)[..., None])
        img = lerp(img, shade, inside)

    # Lake: the scene above mirrored, darker and bluer, with soft ripples.
    rows = np.arange(lake_top, H)
    depth = (rows - lake_top) / (H - lake_top)
    src = np.clip(2 * lake_top - rows - 1, 0, H - 1)
    ripple = (3 * np.sin(rows * 0.35 + depth * 20)).astype(int)
    for i, row in enumerate(rows):
        line = np.roll(img[src[i]], ripple[i], axis=0)
        img[row] = lerp(line * 0.78, [30, 50, 80], 0.25 + 0.55 * depth[i])
    # A glitter path under the sun.
    path = np.exp(-((x - sx) / (W * (0.02 + 0.06 * np.clip((y - lake_top) / H, 0, 1)))) ** 2)
    spark = (rng.random((H, W)) > 0.93) * path * (y > lake_top)
    img = lerp(img, [255, 236, 200], np.clip(spark * 0.8, 0, 1)[..., None])

    # Near shore with a few pine silhouettes.
    shore = H * (0.93 - 0.03 * (0.5 + 0.5 * smooth_noise(rng, W, 3)))
    img = lerp(img, [22, 26, 34], np.clip(y - shore[None, :] + 0.5, 0, 1)[..., None])
    for cx, h in ((0.08, 0.20), (0.16, 0.15), (0.88, 0.24), (0.95, 0.17)):
        base_y, tip = H * 0.93, H * (0.93 - h)
        half = (y - tip) / (base_y - tip) * W * 0.045 * (1 + 0.25 * np.sin(y * 0.25))
        tree = (y > tip) & (y < base_y + 10) & (np.abs(x - W * cx) < half)
        img[tree] = [18, 24, 28]

    # Birds: small dark ticks.
    for bx, by, s in ((0.30, 0.30, 7), (0.35, 0.28, 5), (0.40, 0.31, 6)):
        for dx in range(-s, s + 1):
            yy = int(H * by + abs(dx) * 0.5 - s * 0.3 * (abs(dx) > s / 3))
            img[yy:yy + 2, int(W * bx) + dx] = [50, 40, 60]

    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save_png(rgb: np.ndarray, dest: Path) -> None:
    import av

    cc = av.CodecContext.create("png", "w")
    cc.width, cc.height, cc.pix_fmt = rgb.shape[1], rgb.shape[0], "rgb24"
    cc.options = {"pred": "mixed"}
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    data = b"".join(bytes(p) for p in cc.encode(frame) + cc.encode(None))
    dest.write_bytes(data)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("example.png")
    save_png(paint(), out)
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB")
