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
import signal
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from fake_segmind import FakeSegmind  # noqa: E402

I2V = "SegmindLTX2ImageToVideo"
SMALL = {"width": 256, "height": 256, "num_frames": 9, "fps": 8, "seed": 1, "guidance_scale": 4.0,
         "negative_prompt": ""}


def png(path: Path, width: int, height: int, seed: int) -> None:
    """A small distinct RGB picture, written without any imaging library."""
    rows = b"".join(b"\x00" + bytes(((x * (seed + 3) + y * 7 + seed * 41) % 256) for x in range(width)
                                    for _ in range(3)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Comfy:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client_id = uuid.uuid4().hex

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def queue(self, graph: dict) -> str:
        answer = self.call("/prompt", {"prompt": graph, "client_id": self.client_id})
        if answer.get("node_errors"):
            raise SystemExit(f"ComfyUI refused the graph: {answer['node_errors']}")
        return answer["prompt_id"]

    def wait(self, prompt_id: str, limit: float = 600) -> dict:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            hist = self.call(f"/history/{prompt_id}")
            if prompt_id in hist and hist[prompt_id].get("status", {}).get("completed") is not None:
                item = hist[prompt_id]
                if item["status"].get("status_str") in ("success", "error"):
                    return item
            time.sleep(0.1)
        raise SystemExit(f"prompt {prompt_id} did not finish in {limit} s")

    def run(self, graph: dict) -> tuple[float, dict]:
        start = time.monotonic()
        item = self.wait(self.queue(graph))
        return time.monotonic() - start, item


def i2v(node_id: str, prompt: str, image: list, **extra: Any) -> dict:
    return {node_id: {"class_type": I2V, "inputs": {"image": image, "prompt": prompt, **SMALL, **extra}}}


def save_video(node_id: str, source: str, prefix: str) -> dict:
    return {node_id: {"class_type": "SaveVideo", "inputs": {"video": [source, 4], "filename_prefix": prefix,
                                                            "format": "auto", "codec": "auto"}}}


def load(node_id: str, name: str) -> dict:
    return {node_id: {"class_type": "LoadImage", "inputs": {"image": name}}}


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
        env = {**os.environ, "SEGMIND_API_BASE": fake.api_base, "SEGMIND_STORAGE_BASE": fake.storage_base,
               "SEGMIND_API_KEY": fake.api_key}
        log = open(f"/tmp/comfyui_check_{tag}.log", "w")
        proc = subprocess.Popen([args.python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(args.port)],
                                cwd=args.comfyui, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            comfy = Comfy(f"http://127.0.0.1:{args.port}")
            deadline = time.monotonic() + 180
            while True:
                try:
                    comfy.call("/object_info/" + I2V)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit(f"ComfyUI did not start; see {log.name}")
                    time.sleep(1)

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
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    version = (args.comfyui / "comfyui_version.py")
    version = version.read_text().split('"')[1] if version.is_file() else "unknown version"
    text = (f"#### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: real ComfyUI {version}, stand-in "
            f"generation {args.generation_seconds:g} s, pack budget {os.environ.get('SEGMIND_LTX2_REQUESTS_PER_MINUTE', '50')}/min\n\n"
            f"Scenarios run one after another in one ComfyUI, so they share the request budget's minute. "
            f"Requests the stand-in saw in all: {json.dumps(fake.counts)}\n\n"
            "| scenario | time | result |\n| --- | --- | --- |\n"
            + "".join("| " + " | ".join(row) + " |\n" for row in rows)
            + (f"\nMissed: {', '.join(failures)}\n" if failures else ""))
    print("\n" + text)
    if args.write:
        results = REPO / "bench" / "results.md"
        body = results.read_text(encoding="utf-8") if results.is_file() else ""
        heading = "### comfyui-concurrency: issue 11 in a real ComfyUI"
        if heading not in body:
            body = body.rstrip("\n") + f"\n\n{heading}\n\nWritten by tools/comfyui_concurrency_check.py --write.\n"
        results.write_text(body.rstrip("\n") + "\n\n" + text, encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
