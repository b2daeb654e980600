"""`extend` and `join`: the command line's faces of Extend (core/extend_jobs.py) and of the
join (core/clip_join.py), without torch.

`extend CLIP --prompts FILE | --prompt TEXT ...`: the clip continued from its last frame,
one segment per prompt, by LTX-2 19B (`--model 19b`, the clip's size and rate) or LTX-2 Pro
(`--model pro`). The estimate of every segment is shown first; --max-cost, the question
above $1 and the spend limits and credits count the whole Extend before any upload. Each
segment is a paid job of its own, so the same command run again after a failure pays only
for the segments not made yet. The default backend is the free offline preview.

`join A.mp4 B.mp4 ... [-o OUT.mp4] [--conform] [--drop-first-frame]`: clips one after
another, the sound crossfaded at each seam. Free and local."""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError, SegmindError
from ..core.extend_jobs import EXTEND_MODELS, extend_fields
from .fields import field_help, flag
from .safe_text import for_terminal
from .words import Parser, cli_words

MODEL_FLAGS = {"19b": EXTEND_MODELS[0], "pro": EXTEND_MODELS[1]}
CHOSEN_BY = {EXTEND_MODELS[1].path: "--model pro"}


def _field_flags(group: Any) -> None:
    """One flag per field a segment takes (19B's and Pro's, once each), defaulting to None: a
    flag not given leaves the model's default."""
    from ..core.models import BOOL, CHOICE, FLOAT, INT

    seen: set[str] = set()
    for m in EXTEND_MODELS:
        for f in extend_fields(m):
            if f.name in seen or f.name == "negative_prompt":
                continue
            seen.add(f.name)
            models = [x for x in EXTEND_MODELS if any(g.name == f.name for g in extend_fields(x))]
            kwargs: dict[str, Any] = {"dest": f.name, "default": None,
                                      "help": field_help(f, models, CHOSEN_BY)}
            if f.kind == INT:
                kwargs.update(type=int, metavar="N")
            elif f.kind == FLOAT:
                kwargs.update(type=float, metavar="X")
            elif f.kind == CHOICE:
                kwargs.update(type=type(f.choices[0]), choices=f.choices)
            elif f.kind == BOOL:
                kwargs.update(action=argparse.BooleanOptionalAction)
            group.add_argument(flag(f.name), **kwargs)


def extend_parser(prog: str, money: Any, seconds: Any) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} extend", allow_abbrev=False,
               description="Continue a clip from its last frame, one segment per prompt, joined into one clip "
                           "with sound that runs on across the seams. Each segment is a paid Segmind job "
                           "(--backend segmind); the same command run again after a failure pays only for the "
                           "segments not made yet. The default --backend offline is free.")
    p.add_argument("clip", type=Path, help="the clip to continue (MP4 or anything FFmpeg reads)")
    what = p.add_argument_group("what to make")
    what.add_argument("--prompts", type=Path, metavar="FILE", help="a text file, one prompt per line = one segment each")
    what.add_argument("--prompt", action="append", metavar="TEXT",
                      help="one segment's prompt; give it once per segment, in order")
    what.add_argument("--model", choices=tuple(MODEL_FLAGS), default="19b",
                      help="19b (default): LTX-2 19B Image to Video at the clip's size and rate; pro: LTX-2 Pro at "
                           "its resolution, fitted to the clip")
    what.add_argument("--negative-prompt", metavar="TEXT", help="19b: what to avoid (the model's default if not given)")
    _field_flags(what)
    cost = p.add_argument_group("cost")
    cost.add_argument("--backend", choices=("offline", "segmind"), default="offline",
                      help="offline: free local stand-in segments (default). segmind: the real, paid segments")
    cost.add_argument("--offline", dest="backend", action="store_const", const="offline",
                      help="the same as --backend offline")
    cost.add_argument("--dry-run", action="store_true", help="print each segment's state and estimate; send nothing")
    cost.add_argument("--max-cost", type=money, metavar="USD",
                      help="refuse an Extend estimated above this many US dollars, before anything is sent")
    cost.add_argument("--yes", "-y", action="store_true", help="do not ask before an Extend estimated above $1")
    cost.add_argument("--force-rerun", action="store_true", help="pay for every segment even when it is cached")
    service = p.add_argument_group("service")
    service.add_argument("--api-mode", choices=("async", "sync"), default="async",
                         help="async = v2 submit and poll (default), sync = one long v1 request per segment")
    service.add_argument("--timeout", type=seconds, default=900.0, metavar="SECONDS",
                         help="how long to wait for each segment (default 900)")
    service.add_argument("--upload-format", choices=("png", "jpeg"), default="png",
                         help="how each segment's first picture is uploaded")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="DIR", help="output folder (as for a run)")
    out.add_argument("-o", "--output", type=Path, metavar="FILE",
                     help="the extended clip's file (default: extended_<time>_<id>.mp4 in the output folder)")
    out.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    out.add_argument("--quiet", "-q", action="store_true", help="no status lines")
    return p


def join_parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} join", allow_abbrev=False,
               description="Join clips one after another into one clip, with a short crossfade of the sound at "
                           "each seam so it plays through without a click. Free and local.")
    p.add_argument("clips", type=Path, nargs="+", help="two clips or more, in order")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="the joined clip (default: joined_<time>_<id>.mp4 in the output folder)")
    p.add_argument("--conform", action="store_true",
                   help="fit a clip of another size or frame rate to the first (black bars, frames repeated or "
                        "skipped) instead of refusing it")
    p.add_argument("--drop-first-frame", action="store_true",
                   help="leave out each later clip's first frame (a continuation that starts on the previous "
                        "clip's last frame)")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder for the default file name")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return p


# --------------------------------------------------------------------------- extend


def _say(text: str, quiet: bool) -> None:
    if not quiet:
        print(for_terminal(text), file=sys.stderr, flush=True)


def _prompts(args: argparse.Namespace) -> list[str]:
    from ..core.extend_chain import segment_prompts

    if bool(args.prompts) == bool(args.prompt):
        raise InvalidInputError("Give the segments' prompts either as --prompts FILE (one a line) or as --prompt "
                                "TEXT once per segment (not both).")
    if args.prompts:
        try:
            text = args.prompts.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"--prompts {args.prompts}: cannot read it as text "
                                    f"({getattr(exc, 'strerror', None) or type(exc).__name__}). Give a UTF-8 text "
                                    "file with one prompt a line.") from None
        return segment_prompts(text)
    return segment_prompts("\n".join(p.replace("\n", " ") for p in args.prompt))


def _destination(args: argparse.Namespace, output_dir: Path, word: str) -> Path:
    """Where the clip is written, proven writable before anything is made or paid for."""
    from ..core.clip_saving import OUTPUT_SUBFOLDER, ensure_writable, made_clip_path
    from ..core.errors import OutputFolderError

    if args.output is not None:
        if args.output.suffix.lower() != ".mp4":
            raise InvalidInputError(f"-o {args.output}: the clip is written as MP4; name it "
                                    f"{args.output.with_suffix('.mp4').name}.")
        try:
            ensure_writable(args.output.parent)
        except OutputFolderError:
            raise InvalidInputError(f"-o {args.output}: its folder {args.output.parent} cannot be written. "
                                    "Nothing was sent. Give -o a file in a writable folder.") from None
        return args.output
    ensure_writable(output_dir / OUTPUT_SUBFOLDER)
    return made_clip_path(output_dir, word)


def _plan_rows(plan: Any, prompts: list[str]) -> list[dict[str, Any]]:
    return [{"segment": s.index + 1, "prompt": prompts[s.index], "state": s.kind,
             "estimate_usd": round(s.amount, 4), "request_id": s.request_id} for s in plan.segments]


def extend(args: argparse.Namespace, *, user_dir: Path, output_dir: Path) -> int:
    from ..core.clip_files import clip_summary, summary_path, write_summary, write_wav
    from ..core.extend_jobs import SourceClip, segment_bodies
    from ..core.spend_check import money

    if not args.clip.is_file():
        raise InvalidInputError(f"{args.clip}: no such clip. Give the path of the clip to continue.")
    model = MODEL_FLAGS[args.model]
    own = {f.name for f in extend_fields(model)}
    foreign = [f.name for m in EXTEND_MODELS for f in extend_fields(m)
               if f.name not in own and getattr(args, f.name, None) is not None]
    if foreign:
        raise InvalidInputError(f"{', '.join(flag(n) for n in dict.fromkeys(foreign))} is not a setting of "
                                f"{model.title} (--model {args.model}): leave it out, or pick the model it "
                                "belongs to with --model.")
    prompts = _prompts(args)
    source = SourceClip.read(args.clip)
    values = {f.name: getattr(args, f.name, None) for f in extend_fields(model)}
    bodies = segment_bodies(model, values, prompts, source)
    dest = _destination(args, output_dir, "extended")
    n = len(bodies)
    started = time.monotonic()
    plan = None
    if args.backend == "offline":
        if args.dry_run:
            return _dry_run(args, [{"segment": i + 1, "prompt": p, "state": "offline", "estimate_usd": 0.0}
                                   for i, p in enumerate(prompts)], "Estimated cost: $0 (offline preview).")
        from ..core.extend_jobs import run_extend_offline

        _say(f"Offline preview: {n} segment{'s' if n != 1 else ''} rendered locally (free, nothing is sent)...",
             args.quiet)
        joined = run_extend_offline(source, model, bodies, dest, output_dir=output_dir)
        cost, paid, request_ids = 0.0, 0, []
    else:
        joined, cost, paid, request_ids, plan = _paid(args, model, bodies, dest, user_dir, output_dir)
        if joined is None:
            return 0
    facts = clip_summary(joined.path)
    wav = joined.path.with_suffix(".wav")
    audio = write_wav(joined.path, wav)  # like a run's clip: its sound beside it
    summary = {"video": str(joined.path), "audio": str(wav), "audio_sample_rate": audio["sample_rate"],
               "source": str(args.clip), "model": model.path, "backend": args.backend,
               "segments": n, "paid_segments": paid, "prompts": prompts, "request_ids": request_ids,
               "seams": list(joined.seams), "cost": cost,
               "estimate_usd": round(plan.total, 4) if plan is not None else 0.0, **facts,
               "seconds": round(time.monotonic() - started, 1)}
    summary["summary"] = str(write_summary(summary_path(joined.path), summary))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        spent = "free (offline preview)" if args.backend == "offline" else (
            "free (every segment cached or already paid)" if not paid else
            f"{money(cost)}" if cost is not None else "not reported")
        print(for_terminal(
            f"Video:    {joined.path}\n"
            f"          {facts['width']}x{facts['height']}, {facts['frame_count']} frames @ {facts['fps']:g} fps "
            f"({facts['duration_seconds']} s): the clip and {n} segment{'s' if n != 1 else ''}\n"
            f"Audio:    {wav} ({audio['channels']} ch, {audio['sample_rate']} Hz)\n"
            f"Summary:  {summary['summary']}\n"
            f"Cost:     {spent}"))
    return 0


def _paid(args: argparse.Namespace, model: Any, bodies: list[dict], dest: Path, user_dir: Path,
          output_dir: Path) -> tuple[Any, float | None, int, list, Any]:
    from ..core.client import ClientConfig, SegmindClient
    from ..core.credentials import require_api_key
    from ..core.errors import InsufficientCreditsError, SpendLimitError
    from ..core.extend_jobs import plan_extend, reserve_extend, run_extend
    from ..core.lifecycle import API_MODES
    from ..core.spend_check import money
    from .run import Refused, ask_to_pay

    config = ClientConfig.from_env()
    plan = plan_extend(args.clip, model, bodies, user_dir=user_dir, api_base=config.api_base,
                       force_rerun=args.force_rerun, upload_format=args.upload_format, damaged_pays=True)
    prompts = [b["prompt"] for b in bodies]
    line = f"Extend: {plan.describe()}"
    if plan.paying:
        line += f" Estimate: {plan.basis()}; Segmind reports the real charge of each segment."
    if args.dry_run:
        code = _dry_run(args, _plan_rows(plan, prompts), line)
        if args.max_cost is not None and plan.total > args.max_cost:
            raise Refused(f"Refused: this Extend is estimated at {money(plan.total)}, above --max-cost "
                          f"{money(args.max_cost)}. Nothing was sent.")
        return None, None, 0, [], plan
    _say(line, args.quiet)
    if args.max_cost is not None and plan.total > args.max_cost:
        raise Refused(f"Refused: this Extend is estimated at {money(plan.total)} ({plan.basis()}), above --max-cost "
                      f"{money(args.max_cost)}. Nothing was sent. Raise --max-cost, or make fewer or shorter "
                      "segments.")
    run_id = f"cli-{uuid.uuid4().hex[:12]}"
    client = None
    if plan.paying:
        _journal_writable(user_dir)
        client = SegmindClient(require_api_key(user_dir), config)  # a missing key fails before the question
        ask_to_pay(plan.total, args.yes, "this Extend")
    try:
        handles = reserve_extend(plan, user_dir=user_dir, run_id=run_id, client=client, output_dir=output_dir)
    except (SpendLimitError, InsufficientCreditsError) as exc:
        raise Refused(cli_words(exc)) from None

    def on_event(index: int, kind: str, data: dict) -> None:
        from ..core.status_text import describe

        text = describe(kind, data) if kind != "status" else None  # a line per poll would flood the terminal
        if text:
            _say(f"Segment {index + 1}/{len(bodies)}: {text}", args.quiet)

    result = run_extend(args.clip, model, bodies, dest, user_dir=user_dir, output_dir=output_dir, reserved=handles,
                        run_id=run_id, api_mode=API_MODES[0 if args.api_mode == "async" else 1],
                        timeout=args.timeout, upload_format=args.upload_format, force_rerun=args.force_rerun,
                        on_event=on_event, origin="cli", config=config)
    paid = sum(1 for s in result.segments if not s.from_cache)
    return result.joined, result.cost, paid, [s.info.request_id for s in result.segments], plan


def _journal_writable(user_dir: Path) -> None:
    """A paid segment must be recordable, or it could not be resumed (as a run checks it)."""
    from ..core.clip_saving import ensure_writable
    from ..core.errors import OutputFolderError
    from ..core.job_journal import journal_directory

    try:
        ensure_writable(journal_directory(user_dir))
    except OutputFolderError:
        raise OutputFolderError(
            f"Cannot write the job journal in {journal_directory(user_dir)}: a paid segment could not be "
            "collected after an interruption. Nothing was sent. Make the folder writable, or set "
            "SEGMIND_LTX2_HOME to a writable folder.") from None


def _dry_run(args: argparse.Namespace, rows: list[dict[str, Any]], line: str) -> int:
    if args.json:
        print(json.dumps({"dry_run": True, "segments": rows, "summary": line,
                          "estimate_usd": round(sum(r["estimate_usd"] for r in rows), 4)}, indent=2))
        return 0
    for r in rows:
        print(for_terminal(f"Segment {r['segment']}: {r['state']}, ~${r['estimate_usd']:.3f}  \"{r['prompt'][:60]}\""))
    print(for_terminal(f"{line}\nDry run: nothing was sent."))
    return 0


# --------------------------------------------------------------------------- join


def join(args: argparse.Namespace, *, output_dir: Path) -> int:
    from ..core.clip_files import clip_summary
    from ..core.clip_join import ClipMismatchError, join_clips

    for clip in args.clips:
        if not clip.is_file():
            raise InvalidInputError(f"{clip}: no such clip. Give the paths of the clips to join, in order.")
    dest = _destination(args, output_dir, "joined")
    try:
        joined = join_clips(args.clips, dest, conform=args.conform, drop_first_frame_of_next=args.drop_first_frame)
    except ClipMismatchError as exc:
        raise InvalidInputError(f"{exc} Here: add --conform to have the join do it.") from None
    facts = clip_summary(joined.path)
    summary = {"video": str(joined.path), "clips": [str(c) for c in args.clips], "seams": list(joined.seams),
               **facts}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(for_terminal(f"Video:  {joined.path}\n"
                           f"        {facts['width']}x{facts['height']}, {facts['frame_count']} frames @ "
                           f"{facts['fps']:g} fps ({facts['duration_seconds']} s) from {len(args.clips)} clips"))
    return 0


__all__ = ["extend", "extend_parser", "join", "join_parser", "SegmindError"]
