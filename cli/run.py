"""Making the clips: cost first (estimate, --max-cost, a question in a terminal, --dry-run),
every local check before anything is uploaded, then the rows in parallel through the same
lifecycle as the node (result cache and job journal in the same user folder, so a run
repeated pays only for what is missing), then the files, a table and a results file.

Writes per clip: the MP4, a 16-bit WAV of its sound and a JSON summary, with PyAV and
numpy alone (torch is never imported, no frame tensor is built)."""
from __future__ import annotations

import concurrent.futures as futures
import csv
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import (Cancelled, InvalidInputError, MissingAPIKeyError, SegmindAPIError,
                           SegmindError)
from . import plan as planning
from .plan import DUPLICATE, NEW, Row, money, plural
from .progress import JobBar, Progress
from .safe_text import for_spreadsheet, for_terminal
from .words import cli_words

CONFIRM_ABOVE_USD = 1.0   # in a terminal, a run estimated above this asks first
API_MODE_NAMES = {"async": 0, "sync": 1}  # index into core.lifecycle.API_MODES
# Answers after which no other row can succeed either: stop starting new ones.
_FATAL_STATUSES = frozenset({401, 403, 406})
RESULT_COLUMNS = ("row", "name", "image", "status", "video", "audio", "summary", "request_id", "cost",
                  "estimate_usd", "width", "height", "frame_count", "fps", "duration_seconds", "error")


class Refused(SegmindError):
    """The run was not started: over --max-cost, not confirmed, or not enough credits."""


class Interrupted(Exception):
    """Ctrl-C during the run: what finished is on disk (and in the results file, if any)."""

    def __init__(self, offline: bool, results_file: Path | None = None, finished: int = 0) -> None:
        super().__init__("interrupted")
        self.offline, self.results_file, self.finished = offline, results_file, finished


@dataclass
class Settings:
    backend: str            # "offline" | "segmind"
    api_mode: str           # "async" | "sync"
    timeout: float
    upload_format: str
    force_rerun: bool
    parallel: int
    output_dir: Path
    user_dir: Path
    quiet: bool
    as_json: bool
    yes: bool
    max_cost: float | None
    dry_run: bool
    results: Path | None
    prog: str
    run_id: str = field(default_factory=lambda: f"cli-{uuid.uuid4().hex[:12]}")  # one per command


def _err(text: str, settings: Settings) -> None:
    if not settings.quiet:  # notes name pictures and rows: no control characters reach the terminal
        print(for_terminal(text), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- before anything is sent

def preflight(rows: list[Row], settings: Settings) -> None:
    """Everything local that could fail a paid clip, checked before any upload."""
    from ..core.clip_files import check_free_space, estimate_clip_bytes, missing_codecs, require_pyav
    from ..core.errors import OutputFolderError
    from ..core.clip_saving import OUTPUT_SUBFOLDER, ensure_writable

    require_pyav()
    missing = missing_codecs(offline=settings.backend == "offline")
    if missing:
        raise InvalidInputError(
            f"This PyAV build lacks the {', '.join(missing)} it needs to check and write clips. "
            "Reinstall it from PyPI (pip install --force-reinstall av), whose wheels include them. Nothing was sent.")
    folder = settings.output_dir / OUTPUT_SUBFOLDER
    try:
        ensure_writable(folder)
    except OutputFolderError as exc:
        raise OutputFolderError(cli_words(exc)) from None
    if settings.backend == "segmind":  # a paid job must be recordable, or it could not be resumed
        from ..core.job_journal import journal_directory

        try:
            ensure_writable(journal_directory(settings.user_dir))
        except OutputFolderError:
            raise OutputFolderError(
                f"Cannot write the job journal in {journal_directory(settings.user_dir)}: a paid job "
                "could not be collected after an interruption. Nothing was sent. Make the folder "
                "writable, or set SEGMIND_LTX2_HOME to a writable folder.") from None
    needed = sum(estimate_clip_bytes(r.body, r.rendered(), r.fps()) for r in rows if r.state != DUPLICATE)
    check_free_space(folder, needed, plural(len(rows), "clip"))
    if settings.results is not None:
        try:
            settings.results.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFolderError(f"--results {settings.results}: cannot create its folder "
                                    f"({exc.strerror or type(exc).__name__}).") from None


def _client(settings: Settings, **kw: Any) -> Any:
    from ..core.client import ClientConfig, SegmindClient
    from ..core.credentials import require_api_key

    return SegmindClient(require_api_key(settings.user_dir), ClientConfig.from_env(), user_dir=settings.user_dir,
                         **kw)


def max_cost_gate(rows: list[Row], settings: Settings) -> None:
    total = sum(r.estimate for r in rows)
    if settings.max_cost is not None and total > settings.max_cost:
        from ..core.learned_estimate import bases_of

        basis = bases_of([r.learned for r in rows if r.learned is not None and r.estimate])
        based = f" ({basis})" if basis else ""
        raise Refused(f"Refused: this run is estimated at {money(total)}{based}, above --max-cost "
                      f"{money(settings.max_cost)}. Nothing was sent. "
                      f"{_cheaper({r.model for r in rows if r.estimate})}.")


def _cheaper(models: set[str]) -> str:
    """What to change to pass --max-cost, by the price rules of the run's models (core/models.py)."""
    from ..core.models import FLAT, MODELS, PER_SECOND

    rules = {MODELS[m].price.rule for m in models if m in MODELS}
    if rules == {FLAT}:
        return "Raise --max-cost: a retake has one price, whatever its section"
    ways = []
    if rules - {FLAT, PER_SECOND}:
        ways.append("smaller clips (--num-frames, --width, --height)")
    if PER_SECOND in rules:
        ways.append("shorter or lower ones (--duration, --resolution)")
    return f"Raise --max-cost, or make fewer clips{', or ' if ways else ''}{', or '.join(ways)}"


def ask_to_pay(total: float, yes: bool, what: str = "this run") -> None:
    """Above CONFIRM_ABOVE_USD, a terminal asks before paying (--yes skips it); with no terminal
    to ask in (a script, a pipe), paying above it must be said with --yes. Refused otherwise."""
    if total <= CONFIRM_ABOVE_USD or yes:
        return
    if not (sys.stdin is not None and sys.stdin.isatty()):
        raise Refused(f"Not started: {what} is estimated at {money(total)} and there is no terminal to ask "
                      "whether to pay it. Nothing was sent. Add --yes to run it unattended.")
    print(f"{what[0].upper()}{what[1:]} is estimated at {money(total)}. Proceed? [y/N] ", end="", file=sys.stderr,
          flush=True)
    try:
        answer = input()
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Refused("Not started: nothing was sent. (--yes skips this question.)")


def pay_gate(rows: list[Row], settings: Settings) -> None:
    """With something to pay for: the key must exist, a terminal asks above a small sum,
    and the account must hold the estimate (the credits check is free)."""
    total = sum(r.estimate for r in rows)
    if total <= 0:
        return
    client = _client(settings)  # a missing key fails here, before the question and the upload
    ask_to_pay(total, settings.yes)
    # The spend limits (as in ComfyUI's settings) and the credits left, for the whole run at
    # once: a batch that would pass a limit is refused whole. The amounts stay reserved for
    # the rows, which pass them on to run_on_segmind.
    from ..core.errors import InsufficientCreditsError, SpendLimitError
    from ..core.learned_estimate import bases_of
    from ..core.spend_check import guard_before_paying

    paying = [r for r in rows if r.estimate]
    try:
        handles = guard_before_paying(settings.user_dir, settings.run_id, [r.estimate for r in paying], client,
                                      bases_of([r.learned for r in paying if r.learned is not None]))
    except (SpendLimitError, InsufficientCreditsError) as exc:
        raise Refused(cli_words(exc)) from None
    for row, handle in zip(paying, handles):
        row.reservation = handle  # each row's own: settled or released by its run_on_segmind


# --------------------------------------------------------------------------- one clip

def _make_clip(row: Row, settings: Settings, bar: JobBar, stop: threading.Event) -> dict[str, Any]:
    from ..core.clip_files import clip_summary, summary_path, write_summary, write_wav
    from .pictures import encode_picture, for_upload, load_picture

    picture = load_picture(row.image_path) if row.image_path is not None else None
    resumed: list[str] = []
    if settings.backend == "offline":
        from ..core.offline_preview import generate_offline_clip

        bar.phase("rendering", row.rendered()[2] or 0, unit=" frames")
        clip = generate_offline_clip(row.model, row.body, picture, settings.output_dir, cancel_check=stop.is_set,
                                     progress=lambda done, total: bar.update(done, total))
        status, api_mode = "offline", "offline preview"
    else:
        from ..core.lifecycle import API_MODES, GenerationRequest, run_on_segmind

        api_mode = API_MODES[API_MODE_NAMES[settings.api_mode]]
        bar.phase("preparing")
        image = (encode_picture(for_upload(picture, row.body, row.model), settings.upload_format)
                 if picture is not None else None)
        del picture
        req = GenerationRequest(model=row.model, body=row.body, image=image, api_mode=api_mode,
                                timeout=settings.timeout)

        def on_event(kind: str, data: dict) -> None:
            if kind == "resuming":
                resumed.append(str(data.get("request_id")))
            bar.event(kind, data)

        clip = run_on_segmind(req, user_dir=settings.user_dir, output_dir=settings.output_dir,
                              cancel_check=stop.is_set, on_event=on_event, force_rerun=settings.force_rerun,
                              run_id=settings.run_id, reserved=_take_reservation(row), source="cli")
        status = "cached" if clip.from_cache else ("collected" if resumed else "paid")
    from .landing import destination, land

    path = land(clip.path, destination(clip.path.parent, row.stem or clip.path.stem, row.fingerprint))
    bar.phase("writing audio", unit="s")
    wav = path.with_suffix(".wav")
    audio = write_wav(path, wav, progress=lambda done, total: bar.update(round(done, 1), round(total, 1)))
    facts = clip_summary(path)
    info = clip.info
    summary = {
        "video": str(path), "audio": str(wav), "model": row.model, "backend": settings.backend,
        "api_mode": api_mode, **{k: facts[k] for k in ("width", "height", "frame_count", "fps", "duration_seconds")},
        "audio_sample_rate": audio["sample_rate"], "audio_channels": audio["channels"],
        "cost": info.cost if status in ("paid", "offline") else 0.0,
        "remaining_credits": info.remaining_credits, "request_id": info.request_id,
        "from_cache": bool(clip.from_cache), "request": row.body, "fingerprint": row.fingerprint,
        "summary": str(summary_path(path)),
    }
    write_summary(summary_path(path), summary)
    return {**_row_fields(row), "status": status, **summary}


def _take_reservation(row: Row) -> Any:
    """The row's reservation, handed once (to run_on_segmind, or back when the row never starts)."""
    from ..core.spend_check import NOTHING_RESERVED

    handle, row.reservation = row.reservation or NOTHING_RESERVED, None
    return handle


def _row_fields(row: Row) -> dict[str, Any]:
    return {"row": row.number, "name": row.label, "image": str(row.image_path) if row.image_path else None,
            "prompt": row.body.get("prompt"), "estimate_usd": round(row.estimate, 4)}


def _failure(row: Row, status: str, message: str) -> dict[str, Any]:
    return {**_row_fields(row), "status": status, "error": message, "video": None, "cost": None,
            "request_id": row.request_id}


# --------------------------------------------------------------------------- the whole run

def execute(rows: list[Row], settings: Settings, batch: bool) -> list[dict[str, Any]]:
    """Run every row (duplicates share their first row's clip); returns one result per row."""
    show = not settings.quiet
    bars_wanted = show and sys.stderr is not None and sys.stderr.isatty()
    leaders = [r for r in rows if r.state != DUPLICATE]
    progress = Progress(slots=min(settings.parallel, len(leaders)), bars=bars_wanted, lines=show)
    stop, halt = threading.Event(), threading.Event()
    halt_reason: list[str] = []
    results: dict[int, dict[str, Any]] = {}

    def label(row: Row) -> str:
        return f"[{row.number}/{len(rows)}] {row.label}" if batch else ""

    def work(row: Row) -> dict[str, Any]:
        if halt.is_set() or stop.is_set():
            from ..core.spend_check import release

            release(settings.user_dir, _take_reservation(row))  # never started: nothing billed
            return _failure(row, "skipped", f"not started: {halt_reason[0] if halt_reason else 'Ctrl-C'}")
        bar = progress.job(label(row))
        try:
            result = _make_clip(row, settings, bar, stop)
        except Cancelled:
            if not batch:
                raise
            result = _failure(row, "interrupted", "stopped by Ctrl-C before it finished" + (
                f"; job {row.request_id} is recorded: run the same command again to collect it" if row.request_id else ""))
        except SegmindError as exc:
            if not batch:
                raise  # one clip: the command's own error and exit code
            message = cli_words(exc)
            if isinstance(exc, MissingAPIKeyError) or (isinstance(exc, SegmindAPIError) and exc.status in _FATAL_STATUSES):
                halt_reason.append(f"row {row.number} failed: {message}")
                halt.set()
            result = _failure(row, "failed", message)
        except Exception as exc:  # a bug: say what, keep the other clips going
            if not batch:
                raise
            result = _failure(row, "failed", f"internal error ({type(exc).__name__}: {cli_words(exc)}); "
                                             "please report it")
        except BaseException:
            bar.close()
            raise
        if batch:
            _announce(progress, label(row), result)  # while its bar is up: tqdm redraws around it
        bar.close()
        return result

    interrupted = False
    try:
        with futures.ThreadPoolExecutor(max_workers=max(1, settings.parallel),
                                        thread_name_prefix="segmind-cli") as pool:
            pending = {pool.submit(work, r): r for r in leaders}
            try:
                while pending:
                    done, _ = futures.wait(pending, timeout=0.25)
                    for fut in done:
                        results[pending.pop(fut).number] = fut.result()
            except KeyboardInterrupt:
                interrupted = True
                stop.set()  # the clips in progress stop at their next check; the pool waits for them
                for fut in pending:
                    fut.cancel()
    finally:
        progress.close()
    if interrupted:
        # What finished is kept: the clips on disk, and each row's state for the results file.
        for fut, row in pending.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                results[row.number] = fut.result()
            elif fut.cancelled():
                results[row.number] = _failure(row, "skipped", "not started: Ctrl-C")
            else:
                results[row.number] = _failure(row, "interrupted", "stopped by Ctrl-C before it finished")
        raise RunInterrupted(_with_duplicates(rows, results))
    return _with_duplicates(rows, results)


class RunInterrupted(Exception):
    def __init__(self, results: list[dict[str, Any]]) -> None:
        super().__init__("interrupted")
        self.results = results


def _with_duplicates(rows: list[Row], results: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        if row.state == DUPLICATE:
            first = results.get(row.duplicate_of or 0, {})
            shared = {k: first.get(k) for k in ("video", "audio", "summary", "request_id", "width", "height",
                                                "frame_count", "fps", "duration_seconds")}
            ok = first.get("video") is not None
            results[row.number] = {**_row_fields(row), **shared, "cost": 0.0 if ok else None,
                                   "status": f"same as row {row.duplicate_of}",
                                   "error": None if ok else first.get("error")}
    return [results[r.number] for r in rows]


def _announce(progress: Progress, label: str, result: dict[str, Any]) -> None:
    prefix = f"{label}: " if label else ""
    if result.get("video"):
        progress.write(f"{prefix}{result['status']} -> {result['video']} ({_cost_text(result)})")
    else:
        progress.write(f"{prefix}{result['status']}: {result.get('error')}")


def _cost_text(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "offline":
        return "free"
    if status == "paid":
        return money(result["cost"]) if result.get("cost") is not None else "cost not reported"
    if result.get("video"):
        return "free" if status != "collected" else "free (paid earlier)"
    return "-"


def write_results(path: Path, results: list[dict[str, Any]]) -> Path:
    import os

    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for r in results:
                writer.writerow({k: "" if r.get(k) is None else for_spreadsheet(r.get(k)) for k in RESULT_COLUMNS})
        else:
            for r in results:
                fh.write(json.dumps({k: r.get(k) for k in RESULT_COLUMNS}) + "\n")
    os.replace(tmp, path)
    return path


def table(results: list[dict[str, Any]]) -> str:
    head = ("ROW", "NAME", "STATUS", "COST", "REQUEST ID", "VIDEO / ERROR")
    body = [tuple(for_terminal(cell) for cell in (
        str(r["row"]), _short(for_terminal(r.get("name") or ""), 28), r["status"], _cost_text(r),
        r.get("request_id") or "-", _where(r))) for r in results]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line[:-1], widths)) + "  " + line[-1] for line in [head, *body]]
    return "\n".join(lines)


def _where(r: dict[str, Any]) -> str:
    if not r.get("video"):
        return _short(r.get("error") or "", 100)
    path = Path(r["video"])
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def totals(results: list[dict[str, Any]], rows: list[Row]) -> dict[str, Any]:
    paid = sum(r["cost"] or 0.0 for r in results if r["status"] == "paid")
    counts: dict[str, int] = {}
    for r in results:
        key = "same request as another row" if r["status"].startswith("same as") else r["status"]
        counts[key] = counts.get(key, 0) + 1
    failed = sum(1 for r in results if not r.get("video"))
    return {"clips": len(results), "made": len(results) - failed, "failed": failed, "counts": counts,
            "paid_usd": round(paid, 4), "estimate_usd": round(sum(r.estimate for r in rows), 4)}


def single_summary(s: dict[str, Any]) -> str:
    """One clip, as the command line has always printed it."""
    if not s.get("video"):
        return for_terminal(f"Failed: {s.get('error')}")
    credits = "" if s.get("remaining_credits") is None else f", credits left {s['remaining_credits']}"
    return (f"Video:   {s['video']}\n"
            f"         {s['width']}x{s['height']}, {plural(s['frame_count'], 'frame')} @ {s['fps']:g} fps "
            f"({s['duration_seconds']} s)\n"
            f"Audio:   {s['audio']} ({s['audio_channels']} ch, {s['audio_sample_rate']} Hz)\n"
            f"Summary: {s['summary']}\n"
            f"Cost:    {_cost_text(s)}" + (credits if s.get("status") == "paid" else ""))


def run(rows: list[Row], batch: bool, settings: Settings) -> int:
    """Plan, gate, run and report. Returns the exit code."""
    for row in rows:
        if row.warning:
            _err(f"Note: {row.warning}", settings)
    if settings.backend == "offline":
        planning.mark_offline(rows)
        if settings.dry_run:
            _emit_dry_run(rows, settings, offline=True)
            return 0
        preflight(rows, settings)
        _err("Offline preview: rendering locally (free, nothing is sent)...", settings)
    else:
        from ..core.client import ClientConfig

        config = ClientConfig.from_env()
        planning.classify(rows, api_base=config.api_base, user_dir=settings.user_dir,
                          force_rerun=settings.force_rerun)
        if settings.dry_run:
            _emit_dry_run(rows, settings, offline=False, config=config)
            max_cost_gate(rows, settings)  # a dry run tells whether the real run would be refused
            return 0
        line = planning.estimate_line(rows)
        if any(r.state == NEW for r in rows):
            line += " (An estimate: Segmind reports the real charge of each clip.)"
        _err(line, settings)
        max_cost_gate(rows, settings)
        preflight(rows, settings)
        pay_gate(rows, settings)
    started = time.monotonic()
    offline = settings.backend == "offline"
    try:
        results = execute(rows, settings, batch)
    except RunInterrupted as stopped:
        path = None
        if batch or settings.results is not None:  # a rerun and a person both see what finished
            path = write_results(settings.results or _default_results(settings), stopped.results)
        raise Interrupted(offline, path, sum(1 for r in stopped.results if r.get("video"))) from None
    except (KeyboardInterrupt, Cancelled):
        raise Interrupted(offline) from None
    if batch or settings.results is not None:
        results_path = settings.results or _default_results(settings)
        write_results(results_path, results)
    else:
        results_path = None
    sums = totals(results, rows)
    report = {"clips": results, "results_file": str(results_path) if results_path else None,
              **{k: v for k, v in sums.items() if k != "clips"}, "seconds": round(time.monotonic() - started, 1)}
    if settings.as_json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(results, report, batch, settings.backend == "offline")
    return 0 if sums["failed"] == 0 else 1


def _default_results(settings: Settings) -> Path:
    from ..core.clip_saving import OUTPUT_SUBFOLDER

    return settings.output_dir / OUTPUT_SUBFOLDER / f"results-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


def _print_report(results: list[dict[str, Any]], report: dict[str, Any], batch: bool, offline: bool) -> None:
    if not batch:
        print(single_summary(results[0]))
        return
    print(table(results))
    counts = ", ".join(f"{n} {k}" for k, n in report["counts"].items())
    paid = ("Nothing paid (offline preview)." if offline else
            f"Paid {money(report['paid_usd'])} (estimated {money(report['estimate_usd'])}).")
    print(f"\n{plural(len(results), 'clip')}: {counts}. {paid}")
    if report["results_file"]:
        print(f"Results: {report['results_file']}")
    for r in results:
        if not r.get("video") and r.get("error") and len(r["error"]) > 100:
            print(for_terminal(f"Row {r['row']} ({r['name']}): {r['error']}"))


def _shape(row: Row) -> str:
    """'720x1280, 181 frames' (19B asks for a size) or '1080p, 6 s' (Pro and Fast pick one)."""
    if "width" in row.body:
        return f"{row.body['width']}x{row.body['height']}, {plural(row.body['num_frames'], 'frame')}"
    return f"{row.body.get('resolution')}, {row.body.get('duration')} s"


def _emit_dry_run(rows: list[Row], settings: Settings, offline: bool, config: Any = None) -> None:
    if offline:
        plan = [{"row": r.number, "label": r.label, "state": r.state, "estimate_usd": 0.0, "requests": []}
                for r in rows]
        text = "\n".join(f"Row {r.number} ({r.label}): offline preview {_shape(r)}: made on this machine, "
                         "nothing sent" for r in rows)
        line = "Estimated cost: $0 (offline preview)."
    else:
        plan = planning.planned_requests(rows, api_base=config.api_base, storage_base=config.storage_base,
                                         api_mode=settings.api_mode)
        text = planning.describe_plan(plan, rows)
        line = planning.estimate_line(rows)
    if settings.as_json:
        print(json.dumps({"dry_run": True, "rows": plan, "estimate_usd": round(sum(r.estimate for r in rows), 4),
                          "summary": line}, indent=2))
    else:
        print(for_terminal(text))
        print(f"{line}\nDry run: nothing was sent.")
