"""`retake`: one section of a clip made again by LTX-2 Retake (`ltx-retake-video`), from the
terminal, through the same core as the node (core/retake_job.py, core/lifecycle.py).

Order, as for every paid run: every check of the clip and the section (nothing sent), then
the estimate, --max-cost, the question in a terminal above $1, the spend limits and the
credits, then the upload and the job. The default backend is the free offline retake.
Writes the MP4, its provenance JSON, a WAV of its sound and a summary, named after the clip
(`<clip>_retake.mp4`); --json prints the summary on stdout."""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import Cancelled
from ..core.models import LTX_RETAKE
from .safe_text import for_terminal

MODE_CHOICES = ("both", "video", "audio", "replace_audio_and_video", "replace_video", "replace_audio")


@dataclass
class _Job:
    """The one clip as cli.run's cost gates read it."""
    estimate: float
    model: str = LTX_RETAKE.path
    learned: Any = None
    reservation: Any = None


def add_arguments(p: Any, money: Any, seconds: Any) -> None:
    """The subcommand's flags; `money` and `seconds`: the command line's own argument types
    (__main__.py), as every subcommand checks --max-cost and --timeout."""
    from ..core.retake_rules import MIN_SECTION_SECONDS

    p.add_argument("clip", type=Path, help="the clip to edit: an MP4 of at least 73 frames")
    p.add_argument("--start", "--start-time", dest="start", type=float, required=True, metavar="S",
                   help="where the section to make again starts, in seconds from the first frame")
    p.add_argument("--seconds", "--duration", dest="seconds", type=float, default=MIN_SECTION_SECONDS,
                   metavar="S", help=f"how many seconds to make again (at least {MIN_SECTION_SECONDS:g}; default "
                                     f"{MIN_SECTION_SECONDS:g}); a section past the end is cut there")
    p.add_argument("--prompt", default="", metavar="TEXT", help="what should happen in that section")
    p.add_argument("--mode", choices=MODE_CHOICES, default="both", metavar="MODE",
                   help="what is made again: both (default), video (the sound kept) or audio (the picture "
                        "kept); Segmind's own replace_* values are taken too")
    p.add_argument("--backend", choices=("offline", "segmind"), default="offline",
                   help="offline: a free local stand-in, the section tinted and its tone swapped (default). "
                        "segmind: the real, paid retake")
    p.add_argument("--dry-run", action="store_true", help="print the request and the estimate; send nothing")
    p.add_argument("--max-cost", type=money, metavar="USD", help="refuse a retake estimated above this")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before a run estimated above $1")
    p.add_argument("--force-rerun", action="store_true", help="pay for a new retake even when it is cached")
    p.add_argument("--api-mode", choices=("async", "sync"), default="async",
                   help="segmind only: async = v2 submit and poll (default), sync = one long v1 request")
    p.add_argument("--timeout", type=seconds, default=900.0, metavar="SECONDS",
                   help="how long to wait for the job (default 900); a job still running then is recorded "
                        "and collected by the same command run again")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (as for a run)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def run(args: Any, prog: str, user_dir: Path, output_dir: Path) -> int:
    """The subcommand; its exit code (errors are raised for __main__ to word)."""
    from ..core.errors import InvalidInputError
    from ..core.retake_job import MODEL, plan_retake

    if not args.clip.is_file():
        raise InvalidInputError(f"{args.clip}: no such file. Give the clip to retake (an MP4).")
    plan = plan_retake(args.clip, start_time=args.start, duration=args.seconds, prompt=args.prompt,
                       mode=args.mode)
    say = (lambda text: None) if args.quiet else (lambda text: print(for_terminal(text), file=sys.stderr, flush=True))
    if plan.section.clamped:
        say(f"Note: the section runs past the clip's end ({plan.section.clip_seconds:.2f} s); it is cut there "
            f"({plan.section.duration:.2f} s are made again).")
    if args.backend == "offline":
        if args.dry_run:
            return _emit({"dry_run": True, "backend": "offline", "model": MODEL, "estimate_usd": 0.0,
                          "request": _request_shown(plan), "summary": "Estimated cost: $0 (offline preview)."},
                         args, "Offline retake: made on this machine, nothing sent.\nEstimated cost: $0. "
                               "Dry run: nothing was sent.")
        return _offline(args, plan, user_dir, output_dir, say)
    return _paid(args, prog, plan, user_dir, output_dir, say)


def _request_shown(plan: Any) -> dict[str, Any]:
    from ..core.models import LTX_RETAKE

    name = LTX_RETAKE.media_fields[0].name
    return {name: f"{plan.clip.described()} (uploaded, or inline as a data URI)", **plan.body}


def _offline(args: Any, plan: Any, user_dir: Path, output_dir: Path, say: Any) -> int:
    from ..core.clip_saving import OUTPUT_SUBFOLDER, ensure_writable
    from ..core.retake_job import MODEL, retake_offline_clip

    ensure_writable(output_dir / OUTPUT_SUBFOLDER)
    say("Offline retake: rendering locally (free, nothing is sent)...")
    stop = threading.Event()
    try:
        clip = retake_offline_clip(args.clip, plan, output_dir, cancel_check=stop.is_set)
    except KeyboardInterrupt:
        stop.set()
        raise
    from ..core.result_cache import request_fingerprint

    # The same retake run again replaces its own files (another clip or section: another name).
    fingerprint = request_fingerprint(MODEL, plan.body, None, "offline", plan.clip)
    return _finish(args, plan, clip, "offline", "offline preview", fingerprint=fingerprint)


def _paid(args: Any, prog: str, plan: Any, user_dir: Path, output_dir: Path, say: Any) -> int:
    from ..core.client import ClientConfig
    from ..core.job_journal import JobJournal, journal_directory
    from ..core.learned_estimate import ChargeHistory
    from ..core.lifecycle import API_MODES, run_on_segmind
    from ..core.pay_plan import plan_payments
    from ..core.result_cache import ResultCache, cache_directory
    from ..core.retake_job import MODEL, retake_request
    from .plan import money
    from .run import API_MODE_NAMES, max_cost_gate, pay_gate

    config = ClientConfig.from_env()
    api_mode = API_MODES[API_MODE_NAMES[args.api_mode]]
    req = retake_request(plan, api_mode=api_mode, timeout=args.timeout)
    decision = plan_payments([(req.model, req.body, None, req.video)], api_base=config.api_base,
                             cache=ResultCache.from_env(cache_directory(user_dir)),
                             journal=JobJournal(journal_directory(user_dir)), force_rerun=args.force_rerun,
                             damaged_pays=True)[0]
    learned = ChargeHistory.load(user_dir).estimate(MODEL, req.body) if decision.pays else None
    job = _Job(estimate=learned.amount if learned is not None else 0.0, learned=learned)
    why = {"cached": "its clip is in the result cache", "recorded": "a paid job of it is recorded"}.get(decision.kind)
    line = (f"Estimated cost: {money(job.estimate)} ({learned.basis()}; unconfirmed by Segmind: the real charge "
            "is reported after the run)." if decision.pays else f"Estimated cost: $0 ({why}).")
    if args.dry_run:
        state = {"dry_run": True, "backend": "segmind", "model": MODEL, "state": decision.kind,
                 "estimate_usd": round(job.estimate, 4), "request": _request_shown(plan), "summary": line,
                 "endpoint": f"{config.api_base}/{'v2' if args.api_mode == 'async' else 'v1'}/{MODEL}"}
        settings = _settings(args, prog, user_dir, output_dir)
        code = _emit(state, args, f"POST {state['endpoint']}\n{json.dumps(state['request'], indent=2)}\n{line}\n"
                                  "Dry run: nothing was sent.")
        max_cost_gate([job], settings)  # a dry run tells whether the real run would be refused
        return code
    say(line)
    settings = _settings(args, prog, user_dir, output_dir)
    max_cost_gate([job], settings)
    _preflight(user_dir, output_dir)
    pay_gate([job], settings)  # the key, the question, the spend limits and credits: all before the upload
    from ..core.spend_check import NOTHING_RESERVED

    stop = threading.Event()
    resumed: list[str] = []

    def on_event(kind: str, data: dict) -> None:
        if kind == "resuming":
            resumed.append(str(data.get("request_id")))
        from ..core.status_text import describe

        text = describe(kind, data)
        if text and kind in ("uploading", "submitted", "resuming", "cache_hit", "retry", "downloading"):
            if kind != "downloading" or data.get("done") == data.get("total"):
                say(text)

    try:
        clip = run_on_segmind(req, user_dir=user_dir, output_dir=output_dir, cancel_check=stop.is_set,
                              on_event=on_event, force_rerun=args.force_rerun, run_id=settings.run_id,
                              reserved=job.reservation or NOTHING_RESERVED, source="cli", config=config)
    except KeyboardInterrupt:
        stop.set()
        raise
    except Cancelled:
        raise KeyboardInterrupt from None
    status = "cached" if clip.from_cache else ("collected" if resumed else "paid")
    return _finish(args, plan, clip, status, api_mode, fingerprint=_fingerprint(req, config))


def _fingerprint(req: Any, config: Any) -> str:
    from ..core.result_cache import request_fingerprint

    return request_fingerprint(req.model, req.body, None, config.api_base, req.video)


def _settings(args: Any, prog: str, user_dir: Path, output_dir: Path) -> Any:
    from .run import Settings

    return Settings(backend=args.backend, api_mode=args.api_mode, timeout=args.timeout, upload_format="png",
                    force_rerun=args.force_rerun, parallel=1, output_dir=output_dir, user_dir=user_dir,
                    quiet=args.quiet, as_json=args.json, yes=args.yes, max_cost=args.max_cost,
                    dry_run=args.dry_run, results=None, prog=prog)


def _preflight(user_dir: Path, output_dir: Path) -> None:
    """What could fail a paid clip locally, before anything is sent: decoders, the output folder
    and its room, the job journal (a paid job must be recordable to be resumed)."""
    from ..core.clip_files import require_pyav
    from ..core.clip_saving import OUTPUT_SUBFOLDER, ensure_writable, expected_clip_bytes
    from ..core.job_journal import journal_directory

    require_pyav()
    ensure_writable(output_dir / OUTPUT_SUBFOLDER, expected_clip_bytes({}))
    ensure_writable(journal_directory(user_dir))


def _finish(args: Any, plan: Any, clip: Any, status: str, api_mode: str, fingerprint: str) -> int:
    from ..core.clip_files import clip_summary, summary_path, write_summary, write_wav
    from ..core.input_clip import shown_body
    from ..core.retake_job import MODEL
    from .landing import destination, land

    path = land(clip.path, destination(clip.path.parent, f"{args.clip.stem}_retake", fingerprint))
    wav = path.with_suffix(".wav")
    audio = write_wav(path, wav)
    facts = clip_summary(path)
    info = clip.info
    section = plan.section
    summary = {
        "video": str(path), "audio": str(wav), "model": MODEL, "backend": args.backend, "api_mode": api_mode,
        "status": status, **{k: facts[k] for k in ("width", "height", "frame_count", "fps", "duration_seconds")},
        "audio_sample_rate": audio["sample_rate"], "audio_channels": audio["channels"],
        "cost": info.cost if status in ("paid", "offline") else 0.0,
        "remaining_credits": info.remaining_credits, "request_id": info.request_id,
        "from_cache": bool(clip.from_cache), "request": shown_body(plan.body),
        "section": {"start": section.start, "duration": section.duration, "clamped": section.clamped},
        "input": {"path": str(args.clip), **plan.clip.record()}, "fingerprint": fingerprint,
        "summary": str(summary_path(path)),
    }
    write_summary(summary_path(path), summary)
    cost = ("free" if status in ("offline", "cached", "collected") else
            f"${info.cost:.3f}" if info.cost is not None else "cost not reported")
    text = (f"Video:   {path}\n"
            f"         {facts['width']}x{facts['height']}, {facts['frame_count']} frames @ {facts['fps']:g} fps; "
            f"{section.start:g}-{section.end:g} s made again ({plan.mode})\n"
            f"Audio:   {wav}\nSummary: {summary_path(path)}\nCost:    {cost}")
    return _emit(summary, args, text)


def _emit(data: dict[str, Any], args: Any, text: str) -> int:
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(for_terminal(text))
    return 0
