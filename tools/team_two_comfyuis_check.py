"""Issue 22 part B in real ComfyUIs: two "machines" (two ComfyUI processes with separate user
and output folders) on one Redis and one Segmind stand-in.

Starts the stand-in (tests/fake_segmind.py) and a redis-server (tests/redis_server.py) in
this process, then two ComfyUIs (a checkout of 0.3.64 or later with this pack in
custom_nodes) with SEGMIND_LTX2_REDIS_URL set, and checks through /prompt, /history and
/segmind/jobs:

  the same graph queued on both at once: one job billed, an MP4 saved on each;
  a per-day limit set on both with room for what was spent: a new graph on the other is
  refused before any upload; each jobs tab lists the paid job with the machine that paid it.

    /work/comfy/venv/bin/python tools/team_two_comfyuis_check.py --comfyui /work/comfy \\
        [--python /work/comfy/venv/bin/python] [--generation-seconds 4]

Prints a table (Markdown) and exits non-zero when a target is missed. Only 127.0.0.1 is used."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))
from comfyui_harness import (Comfy, i2v, load, missed, png, save_video, stand_in_env, start_comfy, stop,  # noqa: E402
                             table, tidy_up, wait_ready)
from fake_segmind import FakeSegmind  # noqa: E402
from redis_server import RedisServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (main.py)")
    ap.add_argument("--python", default=sys.executable, help="the Python of ComfyUI's environment")
    ap.add_argument("--ports", type=int, nargs=2, default=(8197, 8198))
    ap.add_argument("--generation-seconds", type=float, default=4.0)
    args = ap.parse_args()
    if not (args.comfyui / "main.py").is_file():
        ap.error(f"--comfyui {args.comfyui}: no main.py there")

    tag = uuid.uuid4().hex[:6]  # fresh prompts each run
    work = Path(tempfile.mkdtemp(prefix=f"segmind-team-{tag}-"))
    inputs = args.comfyui / "input"
    inputs.mkdir(exist_ok=True)
    picture = f"segmind_team_{tag}.png"
    png(inputs / picture, 64, 48, 5)
    machines = {name: (work / name / "user", work / name / "output") for name in ("comfy-a", "comfy-b")}
    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    procs: list[subprocess.Popen] = []
    with FakeSegmind(generation_seconds=args.generation_seconds) as fake, RedisServer() as redis:
        base_env = stand_in_env(fake, SEGMIND_LTX2_REDIS_URL=redis.url)
        try:
            comfys = {}
            for (name, (user, output)), port in zip(machines.items(), args.ports):
                log = work / f"{name}.log"
                procs.append(start_comfy(args.python, args.comfyui, port, {**base_env, "SEGMIND_LTX2_MACHINE": name},
                                         log, user=user, output=output))
                comfys[name] = Comfy(f"http://127.0.0.1:{port}")
            for (name, comfy), proc in zip(comfys.items(), procs):
                wait_ready(comfy, proc, work / f"{name}.log")

            # The same graph queued on both at once.
            graph = {**load("1", picture), **i2v("2", f"team {tag}", ["1", 0]), **save_video("3", "2", f"team/{tag}")}
            items: dict[str, dict] = {}

            def run(name: str) -> None:
                items[name] = comfys[name].run(graph)[1]

            threads = [threading.Thread(target=run, args=(n,)) for n in comfys]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            mp4s = {n: sorted((out / "team").glob(f"{tag}*.mp4")) for n, (_, out) in machines.items()}
            ok = (all(i["status"]["status_str"] == "success" for i in items.values()) and fake.jobs_submitted == 1
                  and all(len(m) == 1 for m in mp4s.values()))
            rows.append(("the same graph queued on both ComfyUIs at once",
                         f"{fake.jobs_submitted} job billed; MP4s saved: "
                         f"{', '.join(f'{n}: {len(m)}' for n, m in mp4s.items())}; {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["same request"]

            # A per-day limit with room for what was spent, on both: the other is refused.
            spent = fake.price_of("ltx-2-19b-i2v", {}) * fake.jobs_submitted
            for user, _ in machines.values():
                (user / "segmind").mkdir(parents=True, exist_ok=True)
                (user / "segmind" / "limits.json").write_text(json.dumps({"per_day": spent + 0.0005, "per_run": None}))
            billed, uploads = fake.jobs_submitted, fake.counts.get("uploads", 0)
            other = {**load("1", picture), **i2v("2", f"team second {tag}", ["1", 0])}
            item = comfys["comfy-b"].run(other)[1]
            text = json.dumps(item["status"].get("messages", []))
            ok = (item["status"]["status_str"] == "error" and "per day" in text and fake.jobs_submitted == billed
                  and fake.counts.get("uploads", 0) == uploads)
            rows.append(("a per-day limit across both (room for what one spent)",
                         f"second graph on comfy-b: {item['status']['status_str']}, "
                         f"{fake.jobs_submitted - billed} billed, {fake.counts.get('uploads', 0) - uploads} uploads; "
                         f"{'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["per-day limit"]

            # Each jobs tab lists the paid job, naming the machine that paid it.
            named = {}
            for name, comfy in comfys.items():
                past = comfy.call("/segmind/jobs")["past"]
                named[name] = sorted({p.get("machine") for p in past if p.get("prompt") == f"team {tag}"} - {None})
            ok = all(len(v) == 1 and v[0] in machines for v in named.values()) and named["comfy-a"] == named["comfy-b"]
            rows.append(("the jobs tab of each", f"paid by {named}; {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["jobs tab"]
        finally:
            stop(procs)

    print(f"\n#### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: two real ComfyUIs, one Redis, "
          f"stand-in generation {args.generation_seconds:g} s\n\n" + table(("scenario", "result"), rows) + missed(failures))
    tidy_up(work, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
