"""`jobs`: every paid job this user folder knows of (the ledger of runs, the result cache
of finished clips, the journal of accepted jobs whose clip is not on disk yet), with its
state and how to get its clip. `collect REQUEST_ID`: get a paid job's clip by its id
without paying: from the cache, from the output folder, else from Segmind (v2 status and
result; Segmind keeps a job's result for one hour and its file for seven days). Both are
core.collect, as the jobs panel and the Collect node use it; this adds the terminal's words."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from .safe_text import for_terminal


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _state(job: dict[str, Any], now: float) -> str:
    from ..core.job_journal import RESULT_TTL

    if job.get("cached"):
        return "clip in the result cache"
    if job.get("clip_path"):
        return "clip in the output folder"
    if job.get("collectable"):
        left = RESULT_TTL - (now - (job.get("time") or now))
        return f"on Segmind; collectable for {_age(left)} more" if left > 0 else "on Segmind (file kept 7 days)"
    return "expired: Segmind keeps a job's result for one hour"


def list_jobs(user_dir: Path, output_dir: Path, prog: str, as_json: bool) -> int:
    from ..core.collect import recorded_jobs

    now = time.time()
    jobs = [job.as_dict() for job in recorded_jobs(user_dir, output_dir)]
    for job in jobs:
        job["state"] = _state(job, now)
        job["collect"] = (f"{prog} collect {job['request_id']}" if job["request_id"] and job["collectable"]
                          else "run the same request again (cached: free; otherwise a new, billed clip)")
    if as_json:
        print(json.dumps({"user_folder": str(user_dir), "jobs": jobs}, indent=2, default=str))
        return 0
    print(f"Jobs recorded in {user_dir}:")
    if not jobs:
        print("  none yet.")
        return 0
    for job in jobs:
        grid = job.get("grid") or {}
        shape = f"{grid['width']}x{grid['height']}, {grid['num_frames']} frames" if grid else "size unknown"
        cost = job.get("cost")
        paid = f"${cost:.3f}" if isinstance(cost, (int, float)) else (
            f"~${job['estimate']:.3f} (estimate)" if isinstance(job.get("estimate"), (int, float)) else "cost unknown")
        prompt = " ".join(str(job.get("prompt") or "").split())[:50]
        print(for_terminal(f"  {job['request_id'] or '(no request id)'}  {_age(now - (job.get('time') or now))} ago  "
                           f"{shape}  {paid}  \"{prompt}\"\n"
                           f"      {job['state']}; to collect: {job['collect']}"))
    return 0


def collect(request_id: str, *, user_dir: Path, output_dir: Path, timeout: float, quiet: bool,
            as_json: bool) -> int:
    """Save a paid job's clip (plus WAV and summary) in the output folder, never submitting."""
    from ..core.clip_files import clip_summary, summary_path, write_summary, write_wav
    from ..core.collect import collect_clip, validate_request_id
    from .progress import Progress

    rid = validate_request_id(request_id)
    progress = Progress(slots=1, bars=not quiet and sys.stderr.isatty(), lines=not quiet)
    bar = progress.job("")
    try:
        bar.phase("collecting")
        clip = collect_clip(rid, user_dir=user_dir, output_dir=output_dir, on_event=bar.event, timeout=timeout)
        bar.phase("writing audio", unit="s")
        wav = clip.path.with_suffix(".wav")
        audio = write_wav(clip.path, wav, progress=lambda done, total: bar.update(round(done, 1), round(total, 1)))
    finally:
        bar.close()
        progress.close()
    facts = clip_summary(clip.path)
    where = {"cache": "from the result cache", "output": "from the output folder"}.get(clip.source, "from Segmind")
    summary = {"video": str(clip.path), "audio": str(wav), "backend": "segmind", "request_id": rid,
               "collected_from": clip.source, **facts, "audio_sample_rate": audio["sample_rate"],
               "audio_channels": audio["channels"], "cost": 0.0, "summary": str(summary_path(clip.path)),
               "provenance": clip.provenance}
    write_summary(summary_path(clip.path), summary)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(f"Collected job {rid} {where} (not billed again)\nVideo:   {clip.path}\n"
              f"         {facts['width']}x{facts['height']}, {facts['frame_count']} frames @ {facts['fps']:g} fps "
              f"({facts['duration_seconds']} s)\nAudio:   {wav}\nSummary: {summary['summary']}")
    return 0
