"""Benchmark: many clips at once, against the Segmind stand-in with a generation delay and
a rate limit (issue 11).

    .ci-venv/bin/python bench/bench_concurrency.py [--generation-seconds 12] [--rate-limit 50]
                                                   [--plan-budget N] [--width 256] [--height 256]
                                                   [--frames 25] [--fps 24] [--repeats 1] [--no-write]

Scenarios, measured in one run side by side:
- 1 node: one Image to Video node call (the baseline of every ratio);
- 3 nodes: three node calls with different prompts and pictures, at once: awaited together
  with asyncio.gather when the node's `generate` is a coroutine function (as ComfyUI 0.3.64+
  does with independent async nodes), else each in its own thread;
- batch of 4 / batch of 8: one node call with an IMAGE batch of 4 / 8 distinct pictures and
  batch_mode="every picture"; when the node has no such option yet, N concurrent node calls
  instead, and the row says so.

Each scenario runs in a FRESH child process: the pack's process-wide state (the request
budget's window, what its polling learned, in-process memos) would otherwise carry over from
one scenario to the next and favour the later ones. The child loads the pack the way the tests
do (tests/pack_loader.py), starts a FakeSegmind in-process (tests/fake_segmind.py) with the
delay and the limit, points SEGMIND_API_BASE / SEGMIND_STORAGE_BASE / SEGMIND_API_KEY at it,
sets SEGMIND_LTX2_REQUESTS_PER_MINUTE to --plan-budget, and gives SEGMIND_LTX2_OUTPUT and
SEGMIND_LTX2_HOME private empty temp folders (nothing comes from the result cache). Before the
clock starts it imports what the first run would import lazily and has the stand-in encode its
MP4 once, so neither is charged to one scenario only.

Measured per scenario (medians over --repeats where it says so): wall time of the node calls;
its ratio to the 1-node time; API requests per clip by stage and the 429s met (counted by the
stand-in); pick-up latency, from the stand-in's job.completed_at to job.downloaded_at (the
moment the clip's last byte was sent); peak memory: VmRSS sampled every 20 ms during the calls
(/proc/self/status) and the child's whole-run high-water mark (getrusage ru_maxrss).

The table is printed and appended, with the date and the machine, to the "concurrency"
section of bench/results.md (other sections are left alone); --no-write skips that.
"""
from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
import resource  # Unix only, like the /proc reads below
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
RESULTS = ROOT / "bench" / "results.md"
SECTION = "concurrency"
NODE_NAME = "SegmindLTX2ImageToVideo"
BATCH_OPTION, EVERY_PICTURE = "batch_mode", "every picture"
BUDGET_ENV = "SEGMIND_LTX2_REQUESTS_PER_MINUTE"
RATE_WINDOW = 60.0  # the plan limits are per minute
API_STAGES = ("upload", "submit", "sync", "status", "result", "credits")  # what the limit counts
# name, kind, clips
SCENARIOS = (("1 node", "nodes", 1), ("3 nodes", "nodes", 3), ("batch of 4", "batch", 4),
             ("batch of 8", "batch", 8))
TARGETS = {"3 nodes": 1.3, "batch of 8": 1.5}
PICKUP_TARGET = 1.5
PRO_BUDGET = 50
# Knobs that would change what is measured: the bench runs the pack's own defaults.
_CLEARED_ENV = ("SEGMIND_LTX2_CACHE_MAX_GB", "SEGMIND_LTX2_PLAN")


# ----------------------------------------------------------------------------- child side

class RssSampler:
    """The highest VmRSS seen while running, sampled every `period` seconds."""

    def __init__(self, period: float = 0.02) -> None:
        self.period = period
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self.peak_kib = vm_rss_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, vm_rss_kib())

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.peak_kib = max(self.peak_kib, vm_rss_kib())


def vm_rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def batch_choice(node_cls: Any) -> str | None:
    """"every picture" when the node offers batch_mode with that choice, else None."""
    spec = node_cls.INPUT_TYPES()
    option = {**spec.get("required", {}), **spec.get("optional", {})}.get(BATCH_OPTION)
    if not option:
        return None
    choices = option[0] if isinstance(option[0], (list, tuple)) else (option[1] or {}).get("options", ())
    return EVERY_PICTURE if EVERY_PICTURE in choices else None


def _warm_up(pack_module: Any, spec: tuple[int, int, int], fps: int) -> None:
    """Pay once, outside the clock, what the first run would otherwise pay inside it."""
    from fake_segmind import make_mp4

    for name in ("av", "cv2"):
        try:
            __import__(name)
        except ImportError:
            pass
    for dotted in ("comfy_host", "core.client", "core.lifecycle", "core.image_encode", "core.video_decode",
                   "core.runtime", "core.result_cache", "core.job_journal"):
        try:
            pack_module(dotted)
        except ImportError:  # a module the pack at hand does not have
            pass
    make_mp4(None, spec[0], spec[1], spec[2], fps, audio=True)  # the stand-in's clip, encoded once


def _call_in_thread(node: Any, kwargs: dict[str, Any]) -> Any:
    import torch

    with torch.inference_mode():  # ComfyUI runs node functions under inference mode
        result = node.generate(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _run_calls(node_cls: Any, calls: list[dict[str, Any]], as_coroutines: bool) -> list[BaseException | None]:
    """Run the node calls together; the error of each (None when it worked)."""
    import torch

    if as_coroutines:
        async def together() -> list[Any]:
            return await asyncio.gather(*(node_cls().generate(**kwargs) for kwargs in calls),
                                        return_exceptions=True)

        with torch.inference_mode():
            results = asyncio.run(together())
        return [r if isinstance(r, BaseException) else None for r in results]
    errors: list[BaseException | None] = []
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(_call_in_thread, node_cls(), kwargs) for kwargs in calls]
        for future in futures:
            try:
                future.result()
                errors.append(None)
            except BaseException as exc:  # noqa: BLE001 - reported in the table, the run goes on
                errors.append(exc)
    return errors


def run_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """One scenario in this (fresh) process; returns what the parent tabulates."""
    sys.path.insert(0, str(TESTS))
    from fake_segmind import FakeSegmind, snap_to_grid

    work = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    for name in _CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ["SEGMIND_LTX2_OUTPUT"] = str(work / "output")
    os.environ["SEGMIND_LTX2_HOME"] = str(work / "user")
    os.environ[BUDGET_ENV] = str(cfg["plan_budget"])
    server = FakeSegmind(generation_seconds=cfg["generation_seconds"], rate_limit=cfg["rate_limit"],
                         rate_window=RATE_WINDOW).start()
    os.environ["SEGMIND_API_BASE"] = server.api_base
    os.environ["SEGMIND_STORAGE_BASE"] = server.storage_base
    os.environ["SEGMIND_API_KEY"] = server.api_key
    try:
        import torch
        from pack_loader import load_pack, pack_module

        node_cls = load_pack().NODE_CLASS_MAPPINGS[NODE_NAME]
        width, height, frames, fps = cfg["width"], cfg["height"], cfg["frames"], cfg["fps"]
        _warm_up(pack_module, snap_to_grid(width, height, frames), fps)

        clips, kind, tag = cfg["clips"], cfg["kind"], cfg["tag"]
        gen = torch.Generator().manual_seed(cfg["seed"])
        pictures = torch.rand(clips, height, width, 3, generator=gen)  # distinct: nothing deduplicated
        common = dict(negative_prompt="blurry", width=width, height=height, num_frames=frames, fps=fps,
                      seed=1, guidance_scale=4.0)
        as_coroutines = inspect.iscoroutinefunction(node_cls.generate)
        choice = batch_choice(node_cls) if kind == "batch" else None
        if choice is not None:
            calls = [dict(common, image=pictures, prompt=f"{tag}: a lighthouse in a storm, waves crash",
                          unique_id="1", **{BATCH_OPTION: choice})]
            how = f"one node, {BATCH_OPTION}={choice!r}"
        else:
            calls = [dict(common, image=pictures[i:i + 1], prompt=f"{tag} clip {i}: a lighthouse in a storm",
                          unique_id=str(i + 1)) for i in range(clips)]
            how = f"{clips} node calls at once" if clips > 1 else "1 node call"
            if kind == "batch":
                how = f"fallback (no {BATCH_OPTION}): {how}"
        how += ", awaited with asyncio.gather" if as_coroutines else (", in threads" if len(calls) > 1 else "")

        server.reset_counts()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        with RssSampler() as rss:
            baseline_kib = rss.peak_kib
            started = time.monotonic()
            errors = _run_calls(node_cls, calls, as_coroutines)
            wall = time.monotonic() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)

        with server.lock:
            requests_by_stage = {stage: len(times) for stage, times in server.request_times.items()}
            jobs = list(server.jobs.values())
            pickups = [j.downloaded_at - j.completed_at for j in jobs
                       if j.downloaded_at is not None and j.completed_at is not None]
            result = {
                "wall": wall,
                "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
                "how": how,
                "as_coroutines": as_coroutines,
                "torch": torch.__version__,
                "batch_option": batch_choice(node_cls) is not None,
                "requests": requests_by_stage,
                "rate_limited": server.counts["rate_limited"],
                "billed": server.jobs_submitted,
                "pickups": pickups,
                "not_picked_up": sum(1 for j in jobs if j.downloaded_at is None),
            }
        result["on_disk"] = sum(1 for _ in (work / "output").rglob("*.mp4"))
        result["peak_rss_mib"] = rss.peak_kib / 1024
        result["baseline_rss_mib"] = baseline_kib / 1024
        result["errors"] = [f"{type(e).__name__}: {e}"[:300] for e in errors if e is not None]
        return result
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- parent side

def _run_scenario(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(prefix="bench-concurrency-", suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg), "--child-out", str(out)]
        try:
            proc = subprocess.run(cmd, cwd=str(ROOT), timeout=timeout, stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"failed": f"did not finish within {timeout:.0f} s"}
        if proc.returncode != 0 or not out.stat().st_size:
            return {"failed": f"the child process ended with code {proc.returncode} (its error is above)"}
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def aggregate(name: str, clips: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "failed" not in r]
    row: dict[str, Any] = {"name": name, "clips": clips, "runs": len(runs), "ok": len(ok),
                           "failed": [r["failed"] for r in runs if "failed" in r]}
    if not ok:
        return row
    walls = [r["wall"] for r in ok]
    per_stage = {s: sum(r["requests"].get(s, 0) for r in ok) / (clips * len(ok))
                 for s in (*API_STAGES, "download")}
    pickups = [p for r in ok for p in r["pickups"]]
    row.update(
        how=ok[0]["how"], wall=_median(walls), wall_min=min(walls), cpu=_median([r["cpu"] for r in ok]),
        per_stage=per_stage, per_clip=sum(per_stage[s] for s in API_STAGES),
        rate_limited=sum(r["rate_limited"] for r in ok),
        on_disk=sum(r["on_disk"] for r in ok), billed=sum(r["billed"] for r in ok),
        pickup_median=_median(pickups), pickup_max=max(pickups) if pickups else None,
        not_picked_up=sum(r["not_picked_up"] for r in ok),
        peak_rss=max(r["peak_rss_mib"] for r in ok), baseline_rss=min(r["baseline_rss_mib"] for r in ok),
        errors=sorted({e for r in ok for e in r["errors"]}),
        as_coroutines=ok[0]["as_coroutines"], batch_option=ok[0]["batch_option"], torch=ok[0]["torch"],
    )
    # Only a row where every run made every clip, without an error, is judged against a target.
    row["complete"] = not row["failed"] and not row["errors"] and row["on_disk"] == clips * len(ok)
    return row


def _by_stage(per_stage: dict[str, float]) -> str:
    short = {"upload": "upload", "submit": "submit", "sync": "v1 run", "status": "status", "result": "result",
             "credits": "credits"}
    parts = [f"{short[s]} {per_stage[s]:.1f}" for s in API_STAGES if per_stage[s]]
    if per_stage.get("download"):
        parts.append(f"(+ download {per_stage['download']:.1f})")
    return ", ".join(parts) or "-"


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    base = next((r for r in rows if r["name"] == "1 node" and r.get("wall")), None)
    lines = [
        "| scenario | how it ran | clips on disk | billed | wall (s) | x 1 node | target | API requests / clip "
        "| by stage, per clip | 429s | pick-up median (s) | pick-up max (s) | CPU (s) | peak RSS (MiB) "
        "| RSS before (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if not r.get("wall"):
            lines.append(f"| {r['name']} | failed: {'; '.join(r['failed'])} |" + " - |" * 13)
            continue
        ratio = r["wall"] / base["wall"] if base and base.get("complete") and r.get("complete") else None
        target = TARGETS.get(r["name"])
        expected = r["clips"] * r["ok"]
        lines.append(
            f"| {r['name']} | {r['how']} | {r['on_disk']}/{expected} | {r['billed']} | {_fmt(r['wall'])} "
            f"| {_fmt(ratio, 2, 'x')} | {'<= %.1fx' % target if target else ''} | {_fmt(r['per_clip'], 1)} "
            f"| {_by_stage(r['per_stage'])} | {r['rate_limited']} | {_fmt(r['pickup_median'])} "
            f"| {_fmt(r['pickup_max'])} | {_fmt(r['cpu'], 1)} | {r['peak_rss']:.0f} | {r['baseline_rss']:.0f} |")
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    by_name = {r["name"]: r for r in rows if r.get("complete")}
    base = by_name.get("1 node")
    out = []
    incomplete = [r["name"] for r in rows if not r.get("complete")]
    if incomplete:
        out.append(f"- not judged, as some clips failed or errors occurred: {', '.join(incomplete)}")
    for name, limit in TARGETS.items():
        row = by_name.get(name)
        if not (row and base):
            out.append(f"- {name}: not measured (target <= {limit}x one node)")
            continue
        ratio = row["wall"] / base["wall"]
        note = ""
        if name == "batch of 8" and (args.plan_budget != PRO_BUDGET or args.rate_limit != PRO_BUDGET):
            note = f" (the target is stated at the pro budget, {PRO_BUDGET}/min; this run used other limits)"
        fallback = " (fallback: N node calls, the node has no batch option yet)" if "fallback" in row["how"] else ""
        out.append(f"- {name}: {ratio:.2f}x one node, target <= {limit}x: "
                   f"{'met' if ratio <= limit else 'NOT met'}{fallback}{note}")
    pickups = [r["pickup_max"] for r in by_name.values() if r.get("pickup_max") is not None]
    if pickups:
        worst = max(pickups)
        out.append(f"- pick-up: at most {worst:.2f} s over every clip, target <= {PICKUP_TARGET} s when the "
                   f"budget allows: {'met' if worst <= PICKUP_TARGET else 'NOT met'}")
    limited = sum(r["rate_limited"] for r in by_name.values())
    if args.plan_budget == args.rate_limit:
        out.append(f"- 429s: {limited} with the pack's budget set to the server's limit, target 0: "
                   f"{'met' if limited == 0 else 'NOT met'}")
    else:
        out.append(f"- 429s: {limited} (pack budget {args.plan_budget}/min against a server limit of "
                   f"{args.rate_limit}/min; the zero-429 target applies when they are equal)")
    missing = sum(r["clips"] * r["runs"] - r.get("on_disk", 0) for r in rows)
    if missing:
        out.append(f"- {missing} clip(s) did not reach the disk: see the errors below")
    return out


def _mem_total_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    return f"{rev}{' + uncommitted changes' if dirty else ''}" if rev else "unknown revision"


def report(rows: list[dict[str, Any]], args: argparse.Namespace, whole_run_maxrss_mib: float,
           load_before: float, load_after: float) -> str:
    first = next((r for r in rows if r.get("wall")), {})
    node_kind = ("generate is a coroutine function (awaited with asyncio.gather)" if first.get("as_coroutines")
                 else "generate is a plain function (concurrent calls run in threads)")
    batch = (f"has {BATCH_OPTION}={EVERY_PICTURE!r}" if first.get("batch_option")
             else f"has no {BATCH_OPTION} option (batch rows fall back to N node calls)")
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = (f"#### {when}: generation {args.generation_seconds:g} s, server limit {args.rate_limit} requests / "
            f"{RATE_WINDOW:g} s, pack budget {args.plan_budget}/min, clip {args.width}x{args.height}, "
            f"{args.frames} frames @ {args.fps} fps")
    machine = (f"Machine: {os.cpu_count()} cores (nproc), {_mem_total_gib():.0f} GiB, {platform.machine()}, "
               f"Python {platform.python_version()}, torch {first.get('torch', '?')}; pack at {_git_revision()}: "
               f"the node's {node_kind}, and it {batch}. Each scenario in a fresh process, "
               f"{'median of %d runs' % args.repeats if args.repeats > 1 else 'one run'}; load average "
               f"{load_before:.1f} before, {load_after:.1f} after. Whole-run peak RSS (getrusage, largest "
               f"child): {whole_run_maxrss_mib:.0f} MiB.")
    errors = sorted({e for r in rows for e in r.get("errors", [])} | {f for r in rows for f in r.get("failed", [])})
    parts = [head, "", machine, "", render(rows, args), "", "Targets:", *verdicts(rows, args)]
    if errors:
        parts += ["", "Errors:", *[f"- {e}" for e in errors]]
    return "\n".join(parts) + "\n"


def write_results(text: str) -> None:
    """Append this run inside the concurrency section; other sections stay as they are."""
    begin, end = f"<!-- {SECTION}:begin -->", f"<!-- {SECTION}:end -->"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in old and end in old:
        cut = old.index(end)
        new = old[:cut].rstrip("\n") + "\n\n" + text + end + old[cut + len(end):]
    else:
        intro = ("### concurrency: many clips at once (bench/bench_concurrency.py; runs appended, newest "
                 "last)\n\n")
        new = old.rstrip("\n") + f"\n\n{begin}\n{intro}{text}{end}\n"
    RESULTS.write_text(new)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generation-seconds", type=float, default=12.0,
                        help="how long the stand-in takes per clip (default 12)")
    parser.add_argument("--rate-limit", type=int, default=PRO_BUDGET,
                        help="API requests the stand-in allows per 60 s (default 50, the pro plan; free is 5)")
    parser.add_argument("--plan-budget", type=int, default=None,
                        help=f"the pack's budget ({BUDGET_ENV}), requests a minute (default: --rate-limit)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1, help="runs of every scenario (medians reported)")
    parser.add_argument("--no-write", action="store_true", help="print the table only, leave bench/results.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    if args.plan_budget is None:
        args.plan_budget = args.rate_limit
    checks = [
        (args.generation_seconds >= 0, "--generation-seconds must be 0 or more"),
        (args.rate_limit >= 1, "--rate-limit must be at least 1 (requests per 60 s)"),
        (1 <= args.plan_budget <= 10000, "--plan-budget must be between 1 and 10000 requests a minute"),
        (256 <= args.width <= 1280 and 256 <= args.height <= 1280,
         "--width and --height must be between 256 and 1280 (the node's range)"),
        (1 <= args.frames <= 400, "--frames must be between 1 and 400"),
        (1 <= args.fps <= 30, "--fps must be between 1 and 30"),
        (args.repeats >= 1, "--repeats must be at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            parser.error(message)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        result = run_child(json.loads(args.child))
        Path(args.child_out).write_text(json.dumps(result))
        return

    # Generous: about 8 requests a clip, so a small budget (or 429s) means waiting out whole minutes.
    slowest = max(clips for _, _, clips in SCENARIOS) * 8 / min(args.plan_budget, args.rate_limit)
    timeout = 600 + 20 * args.generation_seconds + 90 * slowest
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in SCENARIOS}
    for repeat in range(args.repeats):
        for index, (name, kind, clips) in enumerate(SCENARIOS):
            print(f"[{repeat + 1}/{args.repeats}] {name}...", file=sys.stderr, flush=True)
            cfg = dict(kind=kind, clips=clips, tag=f"{name} #{repeat}", seed=1000 * repeat + index,
                       generation_seconds=args.generation_seconds, rate_limit=args.rate_limit,
                       plan_budget=args.plan_budget, width=args.width, height=args.height,
                       frames=args.frames, fps=args.fps)
            result = _run_scenario(cfg, timeout)
            runs[name].append(result)
            if "failed" in result:
                print(f"    failed: {result['failed']}", file=sys.stderr, flush=True)
            else:
                print(f"    {result['wall']:.2f} s, {result['rate_limited']} x 429, "
                      f"{len(result['errors'])} error(s)", file=sys.stderr, flush=True)
    load_after = os.getloadavg()[0]
    rows = [aggregate(name, clips, runs[name]) for name, _, clips in SCENARIOS]
    whole = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    text = report(rows, args, whole, load_before, load_after)
    print(text)
    if not args.no_write:
        write_results(text)
        print(f"Appended to {RESULTS.relative_to(ROOT)} (section '{SECTION}').", file=sys.stderr)


if __name__ == "__main__":
    main()
