"""Issue 22's review in a real ComfyUI: a team Redis address set (with a password) in a
ComfyUI whose Python cannot import redis-py. Before the fix a route answered HTTP 500.

Starts the stand-in (tests/fake_segmind.py) in this process, then one ComfyUI (0.3.64 or later
with this pack in custom_nodes) with SEGMIND_LTX2_REDIS_URL set and redis-py hidden (a folder
first on PYTHONPATH whose `redis` package raises ImportError), and checks:

  GET /segmind_ltx2/team and GET /segmind/jobs answer 200 and say "pip install redis";
  an Image to Video graph fails before any upload or payment, its error saying the same;
  the password is in no answer and not in ComfyUI's log.

    /work/comfy/venv/bin/python tools/comfyui_no_redis_check.py --comfyui /work/comfy \\
        [--python /work/comfy/venv/bin/python] [--port 8199]

Prints a table (Markdown) and exits non-zero when a target is missed. Only 127.0.0.1 is used."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))
from comfyui_harness import (Comfy, i2v, load, missed, png, stand_in_env, start_comfy, stop, table,  # noqa: E402
                             tidy_up, wait_ready)
from fake_segmind import FakeSegmind  # noqa: E402

PASSWORD = "n0t-in-any-answer"
HIDE_REDIS = 'raise ImportError("No module named \'redis\' (hidden by tools/comfyui_no_redis_check.py)")\n'


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comfyui", type=Path, required=True, help="the ComfyUI folder (main.py)")
    ap.add_argument("--python", default=sys.executable, help="the Python of ComfyUI's environment")
    ap.add_argument("--port", type=int, default=8199)
    args = ap.parse_args()
    if not (args.comfyui / "main.py").is_file():
        ap.error(f"--comfyui {args.comfyui}: no main.py there")

    tag = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix=f"segmind-noredis-{tag}-"))
    (work / "hide" / "redis").mkdir(parents=True)
    (work / "hide" / "redis" / "__init__.py").write_text(HIDE_REDIS)
    inputs = args.comfyui / "input"
    inputs.mkdir(exist_ok=True)
    picture = f"segmind_noredis_{tag}.png"
    png(inputs / picture, 64, 48, 5)
    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    log = work / "comfyui.log"
    with FakeSegmind() as fake:
        env = stand_in_env(fake, SEGMIND_LTX2_REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:6390/0",
                           PYTHONPATH=os.pathsep.join([str(work / "hide"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        proc = start_comfy(args.python, args.comfyui, args.port, env, log, user=work / "user", output=work / "output")
        try:
            comfy = Comfy(f"http://127.0.0.1:{args.port}")
            wait_ready(comfy, proc, log)
            answers = []
            for route in ("/segmind_ltx2/team", "/segmind/jobs"):
                try:
                    answer = comfy.call(route)
                    status = 200
                except urllib.error.HTTPError as exc:
                    answer, status = exc.read().decode(errors="replace"), exc.code
                text = json.dumps(answer)
                answers.append(text)
                ok = status == 200 and "pip install redis" in text and PASSWORD not in text
                rows.append((f"GET {route}", f"HTTP {status}; says pip install redis: {'pip install redis' in text}; "
                                             f"{'ok' if ok else 'FAILED'}"))
                failures += [] if ok else [route]

            item = comfy.run({**load("1", picture), **i2v("2", f"no redis {tag}", ["1", 0])})[1]
            text = json.dumps(item["status"].get("messages", []))
            answers.append(text)
            ok = (item["status"]["status_str"] == "error" and "pip install redis" in text
                  and fake.jobs_submitted == 0 and fake.counts.get("uploads", 0) == 0)
            rows.append(("an Image to Video graph", f"{item['status']['status_str']}; says pip install redis: "
                         f"{'pip install redis' in text}; {fake.jobs_submitted} billed, "
                         f"{fake.counts.get('uploads', 0)} uploads; {'ok' if ok else 'FAILED'}"))
            failures += [] if ok else ["graph"]
        finally:
            stop([proc])
    leaked = PASSWORD in log.read_text(errors="replace") or any(PASSWORD in a for a in answers)
    rows.append(("the Redis password", f"{'in an answer or the log: FAILED' if leaked else 'in no answer, not in the log; ok'}"))
    failures += ["password"] if leaked else []

    print(f"\n#### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: a real ComfyUI without redis-py, "
          f"a team Redis set\n\n" + table(("check", "result"), rows) + missed(failures))
    tidy_up(work, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
