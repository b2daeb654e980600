"""Benchmark: the pack's decode_video against other ways of turning an MP4 into a
ComfyUI IMAGE tensor.

    .venv/bin/python bench/bench_decode.py [--frames 181] [--width 720] [--height 1280]
                                           [--fps 24] [--repeats 5] [--no-ablation]
                                           [--comfyui DIR] [--warm-gib 6]

It first writes a test clip (H.264 + stereo AAC 24 kHz, moving gradients,
shapes and grain) to bench/out/, then runs every method in a FRESH subprocess,
interleaved, several times. Peak memory is the child's VmHWM (peak RSS, reset
via /proc/self/clear_refs after the imports; where the kernel refuses that, the
imports' own peak can show) minus its RSS after imports, so each number is that
method's own peak. Medians are reported; the table is printed and written to
bench/results.md.

Methods
- pack: core.video_decode.decode_video (frames + audio).
- comfyui-style: what ComfyUI's VideoFromFile.get_components does, rewritten here
  from reading it: a list of per-frame tensors divided by 255.0, torch.stack,
  then the audio concatenated.
- opencv-prealloc: a cv2.VideoCapture read loop, BGR->RGB, into a preallocated
  float tensor (the VideoHelperSuite way). No audio.
- comfyui-real (only with --comfyui DIR): ComfyUI's own
  VideoFromFile(path).get_components(), imported from the ComfyUI checkout at DIR.
  ComfyUI's Python dependencies must be importable by this interpreter (e.g. add
  them with PYTHONPATH); nothing of ComfyUI is copied into this repository.
- floor: PyAV decode to uint8 RGB into a preallocated numpy buffer, nothing
  else (default decoder settings). floor-threaded is the same with FFmpeg's
  decoder threads on (thread_type AUTO): the stricter floor. numpy asks the kernel
  for huge pages for a buffer this size (the pack's torch tensor gets ordinary
  pages), which can make the floor's first touch fast or slow depending on what
  the previous process left free; floor-small-pages is the floor with that
  request turned off.
- decode-only: FFmpeg's H.264 decoding and nothing else, no colour conversion,
  nothing kept: the CPU every method spends before it uses a frame.
- pack-* ablations: the pack with one tuning choice flipped, to show what each is
  worth on this machine: pack-one-thread converts on the decoding thread (plain
  preallocated fill), pack-no-populate lets the writes fault the fresh pages in one
  by one, pack-codec-threads turns on FFmpeg's decoder threads (thread_type AUTO).

Per run the child also records its CPU time (user and system, all threads, from
getrusage): CPU seconds divided by the number of cores is a wall time no method
can beat on that machine.

The numbers on a shared VM are noisy (first touch of fresh memory is slow and
varies run to run); compare ratios measured in the same run, not across runs.
--warm-gib N makes each child first touch and free N GiB before it is measured, so
every method gets pages its host already backs: on a VM that hands freed memory back
to the host (this project's machines do), a fresh page costs several times more on
its first touch, which weighs most on whatever touches the most memory.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource  # Unix only, like the /proc reads below
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results.md"


# ----------------------------------------------------------------------------- the clip

def make_clip(path: Path, width: int, height: int, frames: int, fps: int, audio_rate: int = 24000) -> None:
    """Write an H.264 + stereo AAC MP4 with moving content (not cheap flat colour)."""
    import av
    import numpy as np

    tmp = path.with_suffix(".tmp.mp4")
    out = av.open(str(tmp), "w")
    vs = out.add_stream("libx264", rate=fps)
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    vs.options = {"crf": "20", "preset": "veryfast"}
    aus = out.add_stream("aac", rate=audio_rate, layout="stereo")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    grain = np.random.default_rng(0).integers(0, 12, size=(height, width, 3), dtype=np.uint8)
    for i in range(frames):
        ph = i / max(frames, 1) * 2 * np.pi
        img = np.empty((height, width, 3), np.uint8)
        img[..., 0] = (127 + 100 * np.sin(xx / 90 + ph)).astype(np.uint8)
        img[..., 1] = (127 + 100 * np.cos(yy / 130 - ph)).astype(np.uint8)
        img[..., 2] = ((xx + yy + i * 8) % 256).astype(np.uint8)
        cx = int(width / 2 + width / 3 * np.cos(ph))
        cy = int(height / 2 + height / 3 * np.sin(ph))
        img[max(cy - height // 16, 0):cy + height // 16, max(cx - width // 12, 0):cx + width // 12] = (240, 30, 30)
        img += grain
        for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            out.mux(p)
    n = int(frames / fps * audio_rate)
    t = np.arange(n) / audio_rate
    wave = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    for s in range(0, n, 1024):
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, s:s + 1024]), format="fltp", layout="stereo")
        f.sample_rate, f.pts = audio_rate, s
        for p in aus.encode(f):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    for p in aus.encode():
        out.mux(p)
    out.close()
    tmp.replace(path)


# ----------------------------------------------------------------------------- methods (child side)

def _load_pack_decoder() -> Any:
    # The repo root is the package; importing `core` as top-level keeps the relative imports working.
    sys.path.insert(0, str(ROOT))
    from core import video_decode
    return video_decode


def m_pack(path: str, knobs: dict[str, Any] | None = None) -> Any:
    vd = _load_pack_decoder()
    for k, v in (knobs or {}).items():
        setattr(vd, k, v)
    return vd.decode_video(path).frames


def m_comfyui_style(path: str) -> Any:
    # Reference re-implementation of the approach (per-frame tensors, /255.0, stack).
    import av
    import numpy as np
    import torch
    with av.open(path) as c:
        frames = []
        for frame in c.decode(video=0):
            frames.append(torch.from_numpy(frame.to_ndarray(format="rgb24")) / 255.0)
        images = torch.stack(frames)
        c.seek(0)
        chunks = [f.to_ndarray() for f in c.decode(audio=0)]
        audio = torch.from_numpy(np.concatenate(chunks, axis=1)).unsqueeze(0) if chunks else None
    return images, audio


def m_comfyui_real(path: str) -> Any:
    # ComfyUI's own code, from the checkout named by --comfyui (child() put it on sys.path).
    from comfy_api.latest._input_impl.video_types import VideoFromFile
    return VideoFromFile(path).get_components()


def m_opencv_prealloc(path: str) -> Any:
    import cv2
    import torch
    cap = cv2.VideoCapture(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out = torch.empty((n, h, w, 3), dtype=torch.float32)
    i = 0
    while i < n:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        out[i].copy_(torch.from_numpy(rgb)).div_(255.0)
        i += 1
    cap.release()
    return out[:i]


def m_decode_only(path: str) -> Any:
    """FFmpeg's H.264 decoding and nothing else (no colour conversion, nothing kept):
    the CPU every method spends before it does anything with a frame."""
    import av
    n = 0
    with av.open(path) as c:
        for _ in c.decode(c.streams.video[0]):
            n += 1
    return n


def m_floor(path: str, threaded: bool = False, huge_pages: bool = True) -> Any:
    import av
    import numpy as np
    if not huge_pages:
        try:  # numpy >= 1.20 madvises huge pages for large arrays; this turns that off
            from numpy._core.multiarray import _set_madvise_hugepage
        except ImportError:
            from numpy.core.multiarray import _set_madvise_hugepage
        _set_madvise_hugepage(False)
    with av.open(path) as c:
        s = c.streams.video[0]
        if threaded:
            s.thread_type = "AUTO"
        buf = np.empty((s.frames, s.codec_context.height, s.codec_context.width, 3), np.uint8)
        for i, frame in enumerate(c.decode(s)):
            buf[i] = frame.to_ndarray(format="rgb24")
    return buf


METHODS: dict[str, Callable[[str], Any]] = {
    "pack": m_pack,
    "comfyui-style": m_comfyui_style,
    "comfyui-real": m_comfyui_real,
    "opencv-prealloc": m_opencv_prealloc,
    "floor": m_floor,
    "floor-threaded": lambda p: m_floor(p, threaded=True),
    "floor-small-pages": lambda p: m_floor(p, huge_pages=False),
    "decode-only": m_decode_only,
    # ablations: one choice flipped at a time
    "pack-one-thread": lambda p: m_pack(p, {"_CONVERTER_THREAD": False}),
    "pack-no-populate": lambda p: m_pack(p, {"_POPULATE": False}),
    "pack-codec-threads": lambda p: m_pack(p, {"_CODEC_THREADS": "AUTO"}),
}
ABLATIONS = [m for m in METHODS if m.startswith("pack-")]
NEEDS_COMFYUI = {"comfyui-real"}


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def child(method: str, path: str) -> None:
    # Import everything any method needs, so the baseline holds the libraries.
    import av  # noqa: F401
    import cv2  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401
    _load_pack_decoder()
    if method in NEEDS_COMFYUI:  # its imports belong to the baseline, not to the decode
        sys.path.insert(0, os.environ["BENCH_COMFYUI_DIR"])
        import comfy_api.latest._input_impl.video_types  # noqa: F401
    if os.environ.get("BENCH_WARM_GIB"):
        _warm_memory(float(os.environ["BENCH_WARM_GIB"]))
    try:  # reset the peak-RSS counter so imports' transient peaks are not counted
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    base = _status_kib("VmRSS")
    r0 = resource.getrusage(resource.RUSAGE_SELF)  # counts every thread, finished ones too
    t0 = time.perf_counter()
    result = METHODS[method](path)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    peak = _status_kib("VmHWM")
    del result
    print(json.dumps({"wall": wall, "peak_above_base": (peak - base) * 1024,
                      "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime}))


def _warm_memory(gib: float) -> None:
    """Touch and free `gib` GiB so the method's fresh pages are ones the host already backs.

    Why: on a VM that hands freed memory back to its host (virtio-balloon free page
    reporting, as on this project's machines), the first touch of such a page costs
    several times more, at random, and dominates whatever touches the most memory."""
    import mmap
    size = int(gib * 2**30)
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        m.madvise(23)  # MADV_POPULATE_WRITE (Linux 5.14+)
    except (OSError, AttributeError):
        for i in range(0, size, mmap.PAGESIZE):
            m[i] = 1
    m.close()


# ----------------------------------------------------------------------------- driver

def run_one(method: str, path: Path, comfyui: str | None = None, warm_gib: float = 0.0) -> dict[str, float]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if comfyui:
        env["BENCH_COMFYUI_DIR"] = comfyui
    if warm_gib > 0:
        env["BENCH_WARM_GIB"] = str(warm_gib)
    r = subprocess.run([sys.executable, __file__, "--child", method, str(path)], capture_output=True,
                       text=True, env=env, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=181)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--height", type=int, default=1280)
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-ablation", action="store_true", help="skip the pack-* ablation variants")
    ap.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--comfyui", metavar="DIR", help="a ComfyUI checkout: adds the comfyui-real method")
    ap.add_argument("--warm-gib", type=float, default=0.0, metavar="GIB",
                    help="each child first touches and frees this much memory (host-backed pages for all; "
                         "see _warm_memory); the table goes to its own section of results.md")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    for name in ("repeats", "frames", "fps"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")
    if args.width < 2 or args.height < 2 or args.width % 2 or args.height % 2:
        ap.error("--width and --height must be even numbers of at least 2 (H.264 with 4:2:0 colour needs that)")
    methods = args.methods.split(",") if args.methods else [
        m for m in METHODS if not (args.no_ablation and m in ABLATIONS)
        and not (m in NEEDS_COMFYUI and not args.comfyui)]
    if any(m in NEEDS_COMFYUI for m in methods) and not args.comfyui:
        ap.error("comfyui-real needs --comfyui DIR (a ComfyUI checkout)")
    if args.comfyui and not (Path(args.comfyui) / "comfy_api").is_dir():
        ap.error(f"--comfyui {args.comfyui}: no comfy_api folder there; give the root of a ComfyUI checkout")
    if args.warm_gib < 0:
        ap.error("--warm-gib must be 0 (off) or a positive number of GiB")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    clip = OUT_DIR / f"clip_{args.width}x{args.height}_{args.frames}f_{args.fps}fps.mp4"
    if not clip.exists():
        print(f"writing {clip} ...", flush=True)
        make_clip(clip, args.width, args.height, args.frames, args.fps)
    comfyui = str(Path(args.comfyui).resolve()) if args.comfyui else None
    out_bytes = args.frames * args.height * args.width * 3 * 4

    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for rep in range(args.repeats):
        # Interleaved, so slow phases of a noisy VM hit every method, and in a new order each
        # repeat: a child that follows one which freed a lot of memory gets already-backed
        # pages (see _warm_memory), so a fixed order would favour the method placed there.
        order = list(methods)
        random.Random(rep).shuffle(order)
        for m in order:
            r = run_one(m, clip, comfyui, args.warm_gib)
            runs[m].append(r)
            print(f"  [{rep + 1}/{args.repeats}] {m:24s} {r['wall']:7.3f} s  "
                  f"CPU {r['user']:.2f} user + {r['sys']:.2f} sys  "
                  f"peak +{r['peak_above_base'] / 2**30:.2f} GiB", flush=True)

    med = {m: statistics.median(x["wall"] for x in runs[m]) for m in methods}
    ref = med.get("pack")
    lines = [
        f"### decode{' (warm memory)' if args.warm_gib else ''}: {args.width}x{args.height}, {args.frames} frames, {args.fps} fps "
        f"(float32 output {out_bytes / 2**30:.2f} GiB)",
        "",
        f"Machine: {os.cpu_count()} cores, {_mem_total_gib():.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, {_versions()}"
        f"{_comfyui_version(comfyui) if comfyui else ''}. "
        f"Median of {args.repeats} runs, each in a fresh process, interleaved in a shuffled order"
        f"{f', each child first touching and freeing {args.warm_gib:g} GiB (--warm-gib)' if args.warm_gib else ''}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the VM "
        "makes wall times noisy: compare ratios from the same run, and the min column).",
        "",
        "| method | wall (s), median | min (s) | frames/s | CPU user + sys (s), median | cores busy "
        "| peak above baseline (GiB) | x output tensor | time / pack |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in methods:
        peak = statistics.median(x["peak_above_base"] for x in runs[m])
        lo = min(x["wall"] for x in runs[m])
        ratio = f"{med[m] / ref:.2f}x" if ref else "-"
        user = statistics.median(x["user"] for x in runs[m])
        sys_ = statistics.median(x["sys"] for x in runs[m])
        busy = statistics.median((x["user"] + x["sys"]) / x["wall"] for x in runs[m])
        lines.append(f"| {m} | {med[m]:.3f} | {lo:.3f} | {args.frames / med[m]:.0f} | "
                     f"{user:.2f} + {sys_:.2f} | {busy:.2f} | "
                     f"{peak / 2**30:.2f} | {peak / out_bytes:.2f} | {ratio} |")
    if ref:
        best = {m: min(x["wall"] for x in runs[m]) for m in methods}
        notes = []
        for c in ("comfyui-style", "comfyui-real"):
            if c in med:
                notes.append(f"pack is {med[c] / ref:.1f}x faster than {c} (min/min {best[c] / best['pack']:.1f}x)")
        for f in ("floor", "floor-threaded"):
            if f in med:
                notes.append(f"takes {ref / med[f]:.2f}x the time of {f} (min/min {best['pack'] / best[f]:.2f}x)")
        cpu = statistics.median(x["user"] + x["sys"] for x in runs["pack"])
        cores = os.cpu_count() or 1
        # CPU seconds over cores: what the pack's wall time cannot beat on this machine
        notes.append(f"the pack spends {cpu:.2f} s of CPU, so on {cores} cores it cannot finish "
                     f"in less than {cpu / cores:.2f} s")
        lines += ["", "Medians: " + "; ".join(notes) + "."]
    table = "\n".join(lines)
    print()
    print(table)
    _write_section(table, "decode-warm" if args.warm_gib else "decode")


def _mem_total_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) / 2**20
    except OSError:
        return 0.0


def _versions() -> str:
    import av
    import cv2
    import torch
    return f"torch {torch.__version__}, PyAV {av.__version__}, OpenCV {cv2.__version__}"


def _comfyui_version(comfyui: str) -> str:
    """', ComfyUI 0.3.64' for the comfyui-real row, read from the checkout."""
    try:
        text = (Path(comfyui) / "comfyui_version.py").read_text()
        return ", ComfyUI " + text.split('"')[1]
    except (OSError, IndexError):
        return ", ComfyUI (version unknown)"


def _write_section(text: str, key: str) -> None:
    """Replace this benchmark's section in bench/results.md, keeping the others."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    block = f"{begin}\n{text}\n{end}\n"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(new)


if __name__ == "__main__":
    main()
