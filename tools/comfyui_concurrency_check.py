"""Issue 11's "done when", run in a real ComfyUI against the local Segmind stand-in.

Starts the stand-in (tests/fake_segmind.py) in this process with a generation delay,
starts ComfyUI (a checkout of 0.3.64 or later with this pack in custom_nodes) pointed at
it, and queues graphs through /prompt, timing each until /history has it:

  1 node; 3 independent nodes; a batch of 4 distinct pictures saved by SaveVideo;
  the batch queued again; Cancel (/interrupt) while 3 nodes wait; a graph that first
  only saves the VIDEO, then gains a SaveImage on the frames.

    .ci-venv/bin/python tools/comfyui_concurrency_check.py --comfyui /path/to/ComfyUI \\
        --python /path/to/ComfyUI/venv/bin/python [--generation-seconds 12]

Prints a table (Markdown) and exits non-zero when a target is missed. Only 127.0.0.1 is used."""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))
# Comfy, I2V, SMALL and the graph pieces moved to comfyui_harness; still importable from here.
from comfyui_harness import (I2V, SMALL, Comfy, append_results, comfyui_version, i2v, load, missed,  # noqa: E402,F401
                             png, save_video, stand_in_env, start_comfy, stop, table, wait_ready)
from fake_segmind import FakeSegmind  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (main.py)")
    ap.add_argument("--python", default=sys.executable, help="the Python of ComfyUI's environment")
    ap.add_argument("--port", type=int, default=8199)
    ap.add_argument("--generation-seconds", type=float, default=12.0)
    ap.add_argument("--write", action="store_true", help="append the table to bench/results.md")
    args = ap.parse_args()
    if not (args.comfyui / "main.py").is_file():
        ap.error(f"--comfyui {args.comfyui}: no main.py there")

    tag = uuid.uuid4().hex[:6]  # fresh prompts each run: nothing comes from an earlier run's cache
    inputs = args.comfyui / "input"
    inputs.mkdir(exist_ok=True)
    names = [f"segmind_check_{tag}_{i}.png" for i in range(4)]
    for i, name in enumerate(names):
        png(inputs / name, 64, 48, i)

    rows: list[tuple[str, str, str]] = []
    failures: list[str] = []
    with FakeSegmind(generation_seconds=args.generation_seconds) as fake:
        log = Path(f"/tmp/comfyui_check_{tag}.log")
        proc = start_comfy(args.python, args.comfyui, args.port, stand_in_env(fake), log)
        try:
            comfy = Comfy(f"http://127.0.0.1:{args.port}")
            wait_ready(comfy, proc, log, seconds=180)

            def billed() -> int:
                return fake.jobs_submitted

            # 1 node
            b0 = billed()
            t1, item = comfy.run({**load("1", names[0]), **i2v("2", f"one {tag}", ["1", 0]),
                                  **save_video("3", "2", f"check/{tag}_one")})
            ok = item["status"]["status_str"] == "success" and billed() - b0 == 1
            rows.append(("1 node", f"{t1:.1f} s", f"{billed() - b0} job billed, {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["1 node"]

            # 3 independent nodes
            b0 = billed()
            graph: dict = {**load("1", names[1])}
            for k in range(3):
                graph.update(i2v(str(10 + k), f"three {k} {tag}", ["1", 0]))
                graph.update(save_video(str(20 + k), str(10 + k), f"check/{tag}_three{k}"))
            t3, item = comfy.run(graph)
            ok = item["status"]["status_str"] == "success" and billed() - b0 == 3 and t3 <= 1.3 * t1
            rows.append(("3 nodes", f"{t3:.1f} s ({t3 / t1:.2f}x one; target <= 1.3x)",
                         f"{billed() - b0} jobs billed, {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["3 nodes"]

            # a batch of 4 distinct pictures -> 4 MP4s through one SaveVideo
            batch = {**{k: v for i, n in enumerate(names) for k, v in load(str(30 + i), n).items()},
                     "40": {"class_type": "ImageBatch", "inputs": {"image1": ["30", 0], "image2": ["31", 0]}},
                     "41": {"class_type": "ImageBatch", "inputs": {"image1": ["40", 0], "image2": ["32", 0]}},
                     "42": {"class_type": "ImageBatch", "inputs": {"image1": ["41", 0], "image2": ["33", 0]}},
                     **i2v("50", f"batch {tag}", ["42", 0], batch_mode="every picture"),
                     **save_video("51", "50", f"check/{tag}_batch")}
            b0 = billed()
            tb, item = comfy.run(batch)
            saved = item.get("outputs", {}).get("51", {})
            files = [f for key in ("images", "videos", "animated") for f in saved.get(key, []) if isinstance(f, dict)]
            mp4s = list((args.comfyui / "output" / "check").glob(f"{tag}_batch*.mp4"))
            ok = item["status"]["status_str"] == "success" and billed() - b0 == 4 and len(mp4s) == 4
            rows.append(("batch of 4 pictures", f"{tb:.1f} s ({tb / t1:.2f}x one)",
                         f"{billed() - b0} jobs billed, {len(mp4s)} MP4s saved by SaveVideo "
                         f"({len(files)} in its UI output), {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["batch"]

            # the same batch queued again: ComfyUI's own cache, then the pack's (change the prefix)
            b0 = billed()
            batch["51"]["inputs"]["filename_prefix"] = f"check/{tag}_batch_again"
            batch["50"]["inputs"]["force_rerun"] = False
            ta, item = comfy.run(batch)
            ok = item["status"]["status_str"] == "success" and billed() == b0
            rows.append(("the batch queued again", f"{ta:.1f} s", f"{billed() - b0} jobs billed, {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["requeue"]

            # Cancel while three nodes wait
            fake.generation_seconds = 60.0
            b0 = billed()
            graph = {**load("1", names[2])}
            for k in range(3):
                graph.update(i2v(str(60 + k), f"cancel {k} {tag}", ["1", 0]))
                graph.update(save_video(str(70 + k), str(60 + k), f"check/{tag}_cancel{k}"))
            pid = comfy.queue(graph)
            while billed() - b0 < 3:
                time.sleep(0.05)
            time.sleep(1.0)
            pressed = time.monotonic()
            comfy.call("/interrupt", {})
            item = comfy.wait(pid)
            stopped = time.monotonic() - pressed
            polls = fake.counts["status_calls"]
            time.sleep(2.0)
            quiet = fake.counts["status_calls"] - polls
            msgs = [m[0] for m in item["status"].get("messages", [])]
            ok = "execution_interrupted" in msgs and quiet == 0 and stopped < 2.0
            rows.append(("Cancel while 3 nodes wait", f"stopped {stopped:.2f} s after /interrupt",
                         f"{quiet} status polls in the 2 s after; {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["cancel"]
            fake.generation_seconds = args.generation_seconds

            # Only the VIDEO used, then a frames consumer wired in and queued again
            b0 = billed()
            only_video = {**load("1", names[3]), **i2v("80", f"consumer {tag}", ["1", 0]),
                          **save_video("81", "80", f"check/{tag}_consumer")}
            tv, item = comfy.run(only_video)
            summary = item["outputs"]["80"]["segmind"][0]
            ok1 = summary.get("decoded") is False
            with_frames = {**only_video, "82": {"class_type": "SaveImage",
                                                "inputs": {"images": ["80", 0], "filename_prefix": f"check/{tag}_frames"}}}
            tf, item = comfy.run(with_frames)
            pngs = sorted((args.comfyui / "output" / "check").glob(f"{tag}_frames*.png"))
            import zlib as _z  # noqa: F401  (PNG size read from the header)
            sizes = {struct.unpack(">II", p.read_bytes()[16:24]) for p in pngs}
            ok = ok1 and len(pngs) == 9 and sizes == {(256, 256)} and billed() - b0 == 1
            rows.append(("frames consumer wired in later", f"first run decoded frames: {not ok1}",
                         f"then {len(pngs)} frames of {sorted(sizes)} saved, {billed() - b0} job billed, "
                         f"{'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["consumer"]
        finally:
            stop([proc])

    version = comfyui_version(args.comfyui)
    text = (f"#### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: real ComfyUI {version}, stand-in "
            f"generation {args.generation_seconds:g} s, pack budget {os.environ.get('SEGMIND_LTX2_REQUESTS_PER_MINUTE', '50')}/min\n\n"
            f"Scenarios run one after another in one ComfyUI, so they share the request budget's minute. "
            f"Requests the stand-in saw in all: {json.dumps(fake.counts)}\n\n"
            + table(("scenario", "time", "result"), rows) + missed(failures))
    print("\n" + text)
    if args.write:
        append_results("### comfyui-concurrency: issue 11 in a real ComfyUI", "tools/comfyui_concurrency_check.py", text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
