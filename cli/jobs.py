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
        machine = f"on {job['machine']}  " if job.get("machine") else ""  # a team's jobs name their machine
        print(for_terminal(f"  {job['request_id'] or '(no request id)'}  {machine}{_age(now - (job.get('time') or now))} ago  "
                           f"{shape}  {paid}  \"{prompt}\"\n"
                           f"      {job['state']}; to collect: {job['collect']}"))
    return 0


OFFLINE_PREFIX = "offline-"  # the offline preview's ids: made here, never on Segmind


def collect(request_id: str, *, user_dir: Path, output_dir: Path, timeout: float, quiet: bool,
            as_json: bool) -> int:
    """Save a paid job's clip (plus WAV and summary) in the output folder, never submitting;
    a clip of that job already there is kept as it is (no second set of files)."""
    summary = collect_one(request_id, user_dir=user_dir, output_dir=output_dir, timeout=timeout, quiet=quiet)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(_collected_text(summary))
    return 0


def _collected_text(s: dict[str, Any]) -> str:
    from .plan import plural

    where = {"cache": "from the result cache", "output": "already in the output folder",
             "offline": "already in the output folder (an offline preview: free)"}.get(
        s.get("collected_from"), "from Segmind")
    return (f"Collected job {s['request_id']} {where} (not billed again)\nVideo:   {s['video']}\n"
            f"         {s['width']}x{s['height']}, {plural(s['frame_count'], 'frame')} @ {s['fps']:g} fps "
            f"({s['duration_seconds']} s)\nAudio:   {s['audio']}\nSummary: {s['summary']}")


def collect_one(request_id: str, *, user_dir: Path, output_dir: Path, timeout: float, quiet: bool) -> dict[str, Any]:
    from ..core.clip_files import clip_summary, summary_path, write_summary, write_wav
    from ..core.collect import collect_clip, validate_request_id
    from ..core.errors import InvalidInputError
    from ..core.clip_saving import OUTPUT_SUBFOLDER, safe_name
    from .landing import destination, land, on_disk, summary_of
    from .progress import Progress

    rid = validate_request_id(request_id)
    folder = Path(output_dir) / OUTPUT_SUBFOLDER
    here = on_disk(folder, rid)
    if here is not None:  # nothing to fetch, nothing to copy
        known = summary_of(here) or {}
        if known.get("audio") and Path(known["audio"]).is_file():
            return {**known, "collected_from": "offline" if rid.startswith(OFFLINE_PREFIX) else "output"}
    elif rid.startswith(OFFLINE_PREFIX):
        raise InvalidInputError(f"{rid} is an offline preview's id: that clip was made on this machine, never on "
                                f"Segmind, and is no longer in {folder}. Run the same command again to make it "
                                "again (free).")
    progress = Progress(slots=1, bars=not quiet and sys.stderr.isatty(), lines=not quiet)
    bar = progress.job("")
    try:
        bar.phase("collecting")
        if here is not None:
            path, source, provenance = here, "output", None
        else:
            clip = collect_clip(rid, user_dir=user_dir, output_dir=output_dir, on_event=bar.event, timeout=timeout)
            path, source, provenance = clip.path, clip.source, clip.provenance
            if source != "output":  # a fresh copy: under the job's own name, one set of files
                path = land(path, destination(path.parent, f"collected-{safe_name(rid, 36)}", rid))
        bar.phase("writing audio", unit="s")
        wav = path.with_suffix(".wav")
        audio = write_wav(path, wav, progress=lambda done, total: bar.update(round(done, 1), round(total, 1)))
    finally:
        bar.close()
        progress.close()
    facts = clip_summary(path)
    summary = {"video": str(path), "audio": str(wav), "backend": "segmind", "request_id": rid,
               "collected_from": source, **facts, "audio_sample_rate": audio["sample_rate"],
               "audio_channels": audio["channels"], "cost": 0.0, "summary": str(summary_path(path)),
               "fingerprint": rid, "provenance": provenance}
    write_summary(summary_path(path), summary)
    return summary


def collect_all(*, prog: str, user_dir: Path, output_dir: Path, timeout: float, quiet: bool, as_json: bool) -> int:
    """Every recorded job that can be collected and whose clip is not in the output folder."""
    from ..core.collect import recorded_jobs
    from ..core.errors import SegmindError
    from ..core.clip_saving import OUTPUT_SUBFOLDER
    from .landing import on_disk
    from .plan import plural
    from .safe_text import for_terminal
    from .words import cli_words

    folder = Path(output_dir) / OUTPUT_SUBFOLDER
    wanted = [j.request_id for j in recorded_jobs(user_dir, output_dir)
              if j.request_id and j.collectable and not j.clip_path and on_disk(folder, j.request_id) is None]
    done, failed = [], []
    for rid in wanted:
        try:
            done.append(collect_one(rid, user_dir=user_dir, output_dir=output_dir, timeout=timeout, quiet=quiet))
        except SegmindError as exc:
            failed.append({"request_id": rid, "error": cli_words(exc)})
    if as_json:
        print(json.dumps({"collected": done, "failed": failed}, indent=2, default=str))
    else:
        if not wanted:
            print(f"Nothing to collect: every recorded job's clip is in the output folder or expired (`{prog} jobs`).")
        for s in done:
            print(_collected_text(s))
        for f in failed:
            print(for_terminal(f"Job {f['request_id']}: {f['error']}"))
        if wanted:
            print(f"{plural(len(done), 'clip')} collected, {len(failed)} failed; nothing was billed.")
    return 1 if failed else 0
