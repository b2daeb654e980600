"""Issue 20's proof for Extend, run in a real ComfyUI against the local Segmind stand-in.

Starts the stand-in (tests/fake_segmind.py, clips that show their uploaded picture) in this
process and ComfyUI (0.3.64 or later, with this pack in custom_nodes) pointed at it, then
queues through /prompt:

  Load Image -> Image to Video (a 9-frame clip) -> Extend by 2 segments (9 frames each)
  -> Save Video: 3 jobs billed (1 clip + 2 segments); the Extend's VIDEO has 9 + 2 x 8
  frames (the sum less each segment's repeated first frame) and its sound runs to the end;
  the same graph queued again: 0 billed; queued again after ComfyUI's cache is dropped
  (/free): 0 billed (every segment from the pack's result cache); a 3-line Extend of the
  same clip: 1 billed (segments 1-2 reused, segment 3 paid).

    /work/venv/bin/python tools/comfyui_extend_check.py --comfyui /work/comfy \\
        --python /work/comfy/venv/bin/python

Prints a table (Markdown) and exits non-zero when a check fails. Only 127.0.0.1 is used."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))
from comfyui_concurrency_check import SMALL, Comfy, load, png, save_video  # noqa: E402
from fake_segmind import FakeSegmind  # noqa: E402

I2V, EXTEND = "SegmindLTX2ImageToVideo", "SegmindLTX2Extend"
SEGMENT = {"model": "ltx-2-19b-i2v", "negative_prompt": "", "num_frames": 9, "seed": 1, "guidance_scale": 4.0,
           "duration": 6, "resolution": "1080p", "generate_audio": True}


def graph(name: str, tag: str, prompts: list[str], prefix: str = "extended") -> dict:
    return {**load("1", name),
            "2": {"class_type": I2V, "inputs": {"image": ["1", 0], "prompt": f"a clip {tag}", **SMALL}},
            "3": {"class_type": EXTEND, "inputs": {"video": ["2", 4], "prompts": "\n".join(prompts), **SEGMENT}},
            **save_video("4", "3", f"check/{tag}_{prefix}")}


# A prompt of core nodes only: the worker acts on /free's flag after a prompt.
TINY = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}


def probe(path: Path) -> tuple[int, float, float]:
    """(frames, video seconds, audio seconds) of an MP4."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        frames = sum(1 for _ in c.decode(vs))
        rate = float(vs.average_rate or 24)
    with av.open(str(path)) as c:
        samples, sample_rate = 0, 24000
        for frame in c.decode(audio=0):
            samples += frame.samples
            sample_rate = frame.sample_rate
    return frames, frames / rate, samples / sample_rate


def summary(item: dict, node: str = "3") -> dict[str, Any]:
    found = item.get("outputs", {}).get(node, {}).get("segmind") or [{}]
    return found[0] if isinstance(found, list) else found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (main.py)")
    ap.add_argument("--python", default=sys.executable, help="the Python of ComfyUI's environment")
    ap.add_argument("--port", type=int, default=8198)
    args = ap.parse_args()
    if not (args.comfyui / "main.py").is_file():
        ap.error(f"--comfyui {args.comfyui}: no main.py there")

    tag = uuid.uuid4().hex[:6]  # fresh prompts each run: nothing comes from an earlier run's cache
    inputs = args.comfyui / "input"
    inputs.mkdir(exist_ok=True)
    name = f"segmind_extend_{tag}.png"
    png(inputs / name, 256, 256, 7)

    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    with FakeSegmind(polls_until_done=1, animate_uploads=True) as fake:
        env = {**os.environ, "SEGMIND_API_BASE": fake.api_base, "SEGMIND_STORAGE_BASE": fake.storage_base,
               "SEGMIND_API_KEY": fake.api_key}
        log = open(f"/tmp/comfyui_extend_check_{tag}.log", "w")
        proc = subprocess.Popen([args.python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(args.port)],
                                cwd=args.comfyui, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            comfy = Comfy(f"http://127.0.0.1:{args.port}")
            deadline = time.monotonic() + 180
            while True:
                try:
                    comfy.call("/object_info/" + EXTEND)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit(f"ComfyUI did not start (or has no {EXTEND}); see {log.name}")
                    time.sleep(1)

            def check(label: str, item: dict, billed: int, want_billed: int, more: str = "", ok: bool = True) -> None:
                good = ok and item["status"]["status_str"] == "success" and billed == want_billed
                rows.append((label, f"{billed} job(s) billed{more}, {'ok' if good else 'FAILED'}"))
                if not good:
                    failures.append(label)

            two = [f"the deer looks up {tag}", f"the deer walks off {tag}"]
            b0 = fake.jobs_submitted
            _, item = comfy.run(graph(name, tag, two))
            s = summary(item)
            want = 9 + 2 * 8
            mp4s = sorted((args.comfyui / "output" / "check").glob(f"{tag}_extended*.mp4"))
            frames, video_s, audio_s = probe(mp4s[-1]) if mp4s else (0, 0.0, 0.0)
            check("Image to Video + Extend by 2 segments", item, fake.jobs_submitted - b0, 3,
                  f"; VIDEO {frames} frames (want {want} = 9 + 2 x 9 less 2 repeated), {video_s:.3f} s of picture, "
                  f"{audio_s:.3f} s of sound", ok=frames == want == s.get("frame_count") and audio_s >= video_s - 0.05)

            b0 = fake.jobs_submitted
            _, item = comfy.run(graph(name, tag, two, "again"))  # another prefix: Save Video runs again
            check("the same graph queued again", item, fake.jobs_submitted - b0, 0)

            comfy.call("/free", {"free_memory": True})
            comfy.run(TINY)
            b0 = fake.jobs_submitted
            _, item = comfy.run(graph(name, tag, two, "fresh"))
            check("queued again after ComfyUI's cache is dropped", item, fake.jobs_submitted - b0, 0,
                  ok=summary(item).get("paid_segments") == 0)

            b0 = fake.jobs_submitted
            _, item = comfy.run(graph(name, tag, [*two, f"the meadow is empty {tag}"], "three"))
            check("a third line added: only segment 3 paid", item, fake.jobs_submitted - b0, 1,
                  f"; {summary(item).get('frame_count')} frames", ok=summary(item).get("frame_count") == 9 + 3 * 8)
        finally:
            proc.send_signal(2)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"Extend in a real ComfyUI against the stand-in ({stamp}):\n")
    print("| scenario | result |\n| --- | --- |")
    for label, result in rows:
        print(f"| {label} | {result} |")
    if failures:
        print(f"\nFAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
