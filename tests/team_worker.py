"""One process of a team, for the tests and bench/bench_team.py: the pack's command line run
as ComfyUI would load the pack (tests/pack_loader.py), with waits fit for a local stand-in
and a budget window the caller picks, so a "minute" can last a second or two.

    python tests/team_worker.py --window 2 --per-minute 10 [--process-only] [--ready F --go G] -- <arguments>

--process-only: this process counts its requests alone (runtime.Runtime(shared_budget=False)),
as every process did before the budget was shared (issue 22). Without it the runtime's
default applies: shared by every process on the user folder, or the team's Redis. The
environment gives the stand-in, the key, the folders (SEGMIND_LTX2_HOME, SEGMIND_LTX2_OUTPUT)
and any SEGMIND_LTX2_REDIS_URL. With --ready/--go it loads what a run needs, writes the file
`--ready` and starts only once the file `--go` exists: processes started together really
send together, however long each took to start."""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pack_loader import pack_module  # noqa: E402


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, required=True, help="the budget's window in seconds")
    ap.add_argument("--per-minute", type=int, required=True, help="requests allowed per window")
    ap.add_argument("--process-only", action="store_true", help="no budget shared with other processes")
    ap.add_argument("--pack-waits", action="store_true",
                    help="the pack's own poll and retry waits (for Segmind), not the short ones for a stand-in")
    ap.add_argument("--ready", type=Path, help="written once loaded")
    ap.add_argument("--go", type=Path, help="wait for this file before running")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    runtime = pack_module("core.runtime")
    waits = (runtime.Waits(window=args.window) if args.pack_waits else
             runtime.Waits(poll_interval=0.05, poll_interval_max=0.3, backoff_base=0.05, backoff_max=0.3,
                           pause_without_reset=0.5, window=args.window))
    kw = {}
    if "shared_budget" in inspect.signature(runtime.Runtime).parameters:  # older code has no such switch
        kw["shared_budget"] = not args.process_only
    cli = pack_module("__main__")
    for name in ("cli.run", "cli.plan", "core.lifecycle", "core.client", "core.clip_files"):
        pack_module(name)  # loaded before the start, not charged to the run
    import av  # noqa: F401
    import requests  # noqa: F401

    if args.ready is not None:
        args.ready.write_text("ready")
    if args.go is not None:
        deadline = time.monotonic() + 120
        while not args.go.exists():
            if time.monotonic() > deadline:
                return 3
            time.sleep(0.01)
    with runtime.use(runtime.Runtime(waits, requests_per_minute=args.per_minute, **kw)):
        return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
