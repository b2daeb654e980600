"""Issue 22's "one machine, many processes" in real ComfyUIs: two ComfyUI processes and a
command-line batch on one key, against one stand-in with Segmind's rate limit, together
stay within the requests a minute with zero 429s.

Starts the stand-in (tests/fake_segmind.py) in this process with a generation delay and a
rate limit of --rate-limit API calls a minute, then two ComfyUIs (0.3.64 or later, this pack
in custom_nodes) on one user folder (--user-directory) with SEGMIND_LTX2_REQUESTS_PER_MINUTE
set to the same number, and once both answer, queues a batch of --clips distinct pictures on
each (one Image to Video node, batch_mode "every picture", SaveVideo) and runs the command
line's batch of --clips more on the same user folder, all at once.

    .ci-venv/bin/python tools/comfyui_team_check.py --comfyui /path/to/ComfyUI \\
        --python /path/to/ComfyUI/venv/bin/python [--rate-limit 30] [--clips 4] [--generation-seconds 5]
        [--redis redis://127.0.0.1:6379/0]   # then each process gets its own user folder: three machines

With --redis, ComfyUI's Python needs redis-py (pip install redis). Prints a Markdown table
and exits non-zero when a target is missed (any 429; a clip missing or billed twice; more
requests in one minute than the limit). Only 127.0.0.1 is used; everything is written under
a temporary folder."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))
from comfyui_harness import (Comfy, i2v, load, png, save_video, stand_in_env, start_comfy, stop, table,  # noqa: E402
                             wait_ready)
from fake_segmind import RATE_LIMITED_STAGES, FakeSegmind  # noqa: E402

WINDOW = 60.0  # Segmind's plans count a minute


def busiest_window(times: list[float], window: float) -> int:
    times, best, j = sorted(times), 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def batch_graph(names: list[str], prompt: str, prefix: str) -> dict:
    graph: dict = {}
    for i, name in enumerate(names):
        graph.update(load(str(10 + i), name))
    last = "10"
    for i in range(1, len(names)):
        node = str(30 + i)
        graph[node] = {"class_type": "ImageBatch", "inputs": {"image1": [last, 0], "image2": [str(10 + i), 0]}}
        last = node
    graph.update(i2v("50", prompt, [last, 0], batch_mode="every picture"))
    graph.update(save_video("51", "50", prefix))
    return graph


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (main.py)")
    ap.add_argument("--python", default=sys.executable, help="the Python of ComfyUI's environment")
    ap.add_argument("--port", type=int, default=8201, help="the first ComfyUI's port; the second gets the next")
    ap.add_argument("--rate-limit", type=int, default=30, help="API calls a minute, the stand-in's and the pack's")
    ap.add_argument("--clips", type=int, default=4, help="clips per process")
    ap.add_argument("--generation-seconds", type=float, default=5.0)
    ap.add_argument("--redis", help="share through this Redis, each process with its own user folder")
    args = ap.parse_args()
    if not (args.comfyui / "main.py").is_file():
        ap.error(f"--comfyui {args.comfyui}: no main.py there")

    work = Path(tempfile.mkdtemp(prefix="segmind-team-check-"))
    inputs = work / "input"
    inputs.mkdir()
    tag = os.urandom(3).hex()
    names = [[f"team_{tag}_{k}_{i}.png" for i in range(args.clips)] for k in range(3)]
    for k, group in enumerate(names):
        for i, name in enumerate(group):
            png(inputs / name, 64, 48, 10 * k + i)
    cli_manifest = inputs / "cli.csv"
    cli_manifest.write_text("image,prompt\n" + "".join(f"{n},cli {tag} {i}\n" for i, n in enumerate(names[2])))

    def user(k: int) -> Path:
        return work / (f"user{k}" if args.redis else "user")

    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    procs: list[subprocess.Popen] = []
    with FakeSegmind(generation_seconds=args.generation_seconds, rate_limit=args.rate_limit,
                     rate_window=WINDOW) as fake:
        base = stand_in_env(fake, SEGMIND_LTX2_REQUESTS_PER_MINUTE=str(args.rate_limit))
        base.pop("SEGMIND_LTX2_REDIS_URL", None)
        if args.redis:
            base["SEGMIND_LTX2_REDIS_URL"] = args.redis
        try:
            comfys = []
            for k in range(2):
                procs.append(start_comfy(args.python, args.comfyui, args.port + k, base, work / f"comfyui{k}.log",
                                         user=user(k), inputs=inputs, output=work / f"out{k}"))
                comfys.append(Comfy(f"http://127.0.0.1:{args.port + k}"))
            deadline = time.monotonic() + 240  # one wait for both
            for k, comfy in enumerate(comfys):
                wait_ready(comfy, procs[k], work / f"comfyui{k}.log", deadline=deadline, name=f"ComfyUI {k}")
            start = time.monotonic()
            ids = [comfy.queue(batch_graph(names[k], f"comfy {k} {tag}", f"team/{tag}_{k}"))
                   for k, comfy in enumerate(comfys)]
            cli = subprocess.run(
                [args.python, str(REPO / "segmind_ltx2.py"), "--backend", "segmind", "--manifest", str(cli_manifest),
                 "--parallel", str(args.clips), "--width", "256", "--height", "256", "--num-frames", "9",
                 "--fps", "8", "--yes", "--quiet", "--out", str(work / "out_cli")],
                env={**base, "SEGMIND_LTX2_HOME": str(user(2))}, capture_output=True, text=True, timeout=1200)
            items = [comfy.wait(pid, limit=1200) for comfy, pid in zip(comfys, ids)]
            wall = time.monotonic() - start
        finally:
            stop(procs)
        with fake.lock:
            times = [t for stage in RATE_LIMITED_STAGES for t in fake.request_times.get(stage, [])]
            limited, billed = fake.counts["rate_limited"], fake.jobs_submitted

    clips = 3 * args.clips
    # SaveVideo's copies for ComfyUI (the pack keeps its own in segmind_ltx2/ too), the CLI's clips.
    mp4s = (sum(len(list((work / f"out{k}" / "team").glob(f"{tag}_{k}*.mp4"))) for k in range(2))
            + len(list((work / "out_cli").rglob("*.mp4"))))
    statuses = [item["status"]["status_str"] for item in items]
    busiest = busiest_window(times, WINDOW)
    checks = [
        ("both ComfyUI batches", " / ".join(statuses), statuses == ["success", "success"]),
        ("command-line batch", f"exit {cli.returncode}", cli.returncode == 0),
        ("clips on disk", f"{mp4s} of {clips}", mp4s >= clips),
        ("jobs billed", f"{billed} (one per clip)", billed == clips),
        ("429s from the stand-in", f"{limited} (target 0)", limited == 0),
        ("most API requests in one minute", f"{busiest} (limit {args.rate_limit})", busiest <= args.rate_limit),
        ("API requests per clip", f"{len(times) / clips:.1f}", True),
        ("wall time", f"{wall:.1f} s", True),
    ]
    for name, value, ok in checks:
        rows.append((name, value + ("" if ok else " FAILED")))
        if not ok:
            failures.append(name)
    if cli.returncode:
        print(cli.stderr[-2000:], file=sys.stderr)
    where = f"Redis {args.redis.split('@')[-1]}, a user folder per process" if args.redis else "one user folder"
    print(f"\n#### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: two real ComfyUIs + the command line, "
          f"{args.clips} clips each, one key, {args.rate_limit} requests a minute, shared through {where}\n")
    print(table(("check", "result"), rows), end="")
    print(f"\nLogs and outputs: {work}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
