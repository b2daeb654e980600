"""Benchmark: a team on one Segmind key (issue 22). Three processes, each a command-line batch
of eight clips, against one stand-in with Segmind's rate limit, all started at once:

- shared budget: the pack as it is: every process on the user folder counts in one request
  budget and honours one 429 pause (core/budget_store.py), or in the team's Redis (--redis);
- no shared budget: each process counts alone (runtime.Runtime(shared_budget=False)), as
  every process did before issue 22.

    .ci-venv/bin/python bench/bench_team.py [--processes 3] [--clips 8] [--rate-limit 50]
        [--window 60] [--generation-seconds 3] [--redis redis://127.0.0.1:6379/0] [--no-write]

Each process is tests/team_worker.py running the command line (`--backend segmind --parallel
<clips>`) with the pack's own poll and retry waits and a budget of --rate-limit requests per
--window seconds, the stand-in's limit. Each scenario gets fresh user and output folders
(with --redis: one user folder per process, as separate machines, and the Redis flushed of
this bench's account first). The processes load the pack, then wait for one signal, so they
really send together.

Measured per scenario: wall time from the signal to the last process's end; API requests per
clip (the stages the limit counts: upload, submit, status, result, credits; 429s included);
429s answered by the stand-in (target 0 with the shared budget); the most requests that
arrived within any one window (at most --rate-limit means the budget held); clips on disk.

The table is printed and written, with the date, into section "team" of bench/results.md
("team-redis" with --redis), replacing the previous run; --no-write skips that.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
RESULTS = ROOT / "bench" / "results.md"
SECTION = "team"
sys.path.insert(0, str(TESTS))

from fake_segmind import RATE_LIMITED_STAGES, FakeSegmind  # noqa: E402

WORKER = TESTS / "team_worker.py"


def pictures(folder: Path, n: int, seed: int) -> Path:
    """n distinct small PNGs and a manifest naming them."""
    import av
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["image,prompt,seed"]
    for i in range(n):
        path = folder / f"p{i}.png"
        rgb = np.random.default_rng(seed * 1000 + i).integers(0, 256, (96, 128, 3), dtype=np.uint8)
        with av.open(str(path), "w", format="image2") as out:
            stream = out.add_stream("png")
            stream.width, stream.height, stream.pix_fmt = 128, 96, "rgb24"
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            out.mux(stream.encode(None))
        rows.append(f"p{i}.png,bench team {seed} clip {i},{i}")
    (folder / "clips.csv").write_text("\n".join(rows) + "\n")
    return folder / "clips.csv"


def busiest_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def scenario(name: str, shared: bool, args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"segmind-bench-team-{'shared' if shared else 'alone'}-"))
    with FakeSegmind(generation_seconds=args.generation_seconds, rate_limit=args.rate_limit,
                     rate_window=args.window) as srv:
        if args.redis and shared:
            import redis

            sys.path.insert(0, str(ROOT))
            client = redis.Redis.from_url(args.redis)
            for key in client.scan_iter("segmind-ltx2:*budget*"):
                client.delete(key)
        procs, go = [], work / "go"
        for n in range(args.processes):
            manifest = pictures(work / f"shots{n}", args.clips, seed=n + (100 if shared else 200))
            home = work / (f"user{n}" if args.redis and shared else "user")
            env = {**os.environ, "SEGMIND_API_BASE": srv.api_base, "SEGMIND_STORAGE_BASE": srv.storage_base,
                   "SEGMIND_API_KEY": srv.api_key, "SEGMIND_LTX2_HOME": str(home),
                   "SEGMIND_LTX2_OUTPUT": str(work / f"out{n}"), "PYTHONPATH": ""}
            env.pop("SEGMIND_LTX2_REDIS_URL", None)
            if args.redis and shared:
                env["SEGMIND_LTX2_REDIS_URL"] = args.redis
            argv = [sys.executable, str(WORKER), "--window", str(args.window), "--per-minute", str(args.rate_limit),
                    "--pack-waits", "--ready", str(work / f"ready{n}"), "--go", str(go)]
            if not shared:
                argv.append("--process-only")
            argv += ["--", "--backend", "segmind", "--manifest", str(manifest), "--parallel", str(args.clips),
                     "--width", "256", "--height", "256", "--num-frames", "9", "--fps", "8", "--yes", "--quiet"]
            procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=work))
        while not all((work / f"ready{n}").exists() for n in range(args.processes)):
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker ended before starting: {[p.communicate() for p in procs]}")
            time.sleep(0.02)
        start = time.monotonic()
        go.write_text("go")
        codes = []
        for p in procs:
            _, err = p.communicate()
            codes.append(p.returncode)
            if p.returncode:
                print(f"[{name}] a process ended with {p.returncode}: {err.decode(errors='replace')[-800:]}",
                      file=sys.stderr)
        wall = time.monotonic() - start
        with srv.lock:
            times = [t for stage in RATE_LIMITED_STAGES for t in srv.request_times.get(stage, [])]
            by_stage = {stage: len(srv.request_times.get(stage, [])) for stage in RATE_LIMITED_STAGES}
            limited, billed = srv.counts["rate_limited"], srv.jobs_submitted
    clips_total = args.processes * args.clips
    on_disk = sum(len(list((work / f"out{n}").rglob("*.mp4"))) for n in range(args.processes))
    return {"name": name, "wall": wall, "requests": len(times), "per_clip": len(times) / clips_total,
            "by_stage": by_stage, "429": limited, "busiest": busiest_window(times, args.window), "billed": billed,
            "on_disk": on_disk, "clips": clips_total, "codes": codes}


def table(rows: list[dict], args: argparse.Namespace) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip() or "?"
    except OSError:
        commit = "?"
    store = f"the team's Redis ({args.redis.split('@')[-1]}), one user folder per process" if args.redis else \
        "one user folder (a file under filelock)"
    lines = [f"### team: {args.processes} processes x {args.clips} clips, one key, "
             f"{args.rate_limit} requests per {args.window:g} s ({when})", "",
             f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; pack at "
             f"{commit}. Stand-in: generation {args.generation_seconds:g} s, rate limit {args.rate_limit} API calls "
             f"per {args.window:g} s (429 + reset header past it). Each process: the command line, "
             f"`--parallel {args.clips}`, the pack's own poll and retry waits, a budget of {args.rate_limit} "
             f"per {args.window:g} s. Shared budget kept in {store}.", "",
             "| scenario | wall (s) | clips on disk | billed | API requests | per clip | by stage, per clip | "
             f"429s | most requests in one {args.window:g} s window | exit codes |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        stages = ", ".join(f"{s} {n / r['clips']:.1f}" for s, n in r["by_stage"].items() if n)
        lines.append(f"| {r['name']} | {r['wall']:.1f} | {r['on_disk']}/{r['clips']} | {r['billed']} | "
                     f"{r['requests']} | {r['per_clip']:.1f} | {stages} | {r['429']} | {r['busiest']} | "
                     f"{' '.join(map(str, r['codes']))} |")
    shared = rows[0]
    lines += ["", f"Target: 0 429s with the shared budget: {'met' if shared['429'] == 0 else 'MISSED'} "
                  f"({shared['429']}); without it: {rows[1]['429']}.", ""]
    return "\n".join(lines) + "\n"


def write_results(text: str, section: str = SECTION) -> None:
    """Replace this bench's section of bench/results.md; other sections stay as they are."""
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in old and end in old:
        new = old[:old.index(begin) + len(begin)] + "\n" + text + old[old.index(end):]
    else:
        new = old.rstrip("\n") + f"\n\n{begin}\n{text}{end}\n"
    RESULTS.write_text(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--clips", type=int, default=8, help="clips per process")
    ap.add_argument("--rate-limit", type=int, default=50, help="requests per window, the stand-in's and the budget's")
    ap.add_argument("--window", type=float, default=60.0, help="the window in seconds (Segmind: a minute)")
    ap.add_argument("--generation-seconds", type=float, default=3.0)
    ap.add_argument("--redis", help="share the budget through this Redis instead of one user folder")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    rows = [scenario("shared budget", True, args), scenario("no shared budget (each process alone)", False, args)]
    text = table(rows, args)
    print(text)
    if not args.no_write:
        section = f"{SECTION}-redis" if args.redis else SECTION
        write_results(text, section)
        print(f"Written to {RESULTS.relative_to(ROOT)} (section '{section}').", file=sys.stderr)
    return 0 if rows[0]["429"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
