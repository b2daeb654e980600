"""Command line: Segmind LTX-2 clips (with sound) from pictures and prompts, outside
ComfyUI, through the same code as the nodes. No torch needed.

From a clone of the pack (any folder name):
    python segmind_ltx2.py --image examples_workflows/example.png --prompt "the lake ripples"
After `pip install -e .`:   segmind-ltx2 --image photo.png --prompt "..."
From the folder holding the pack (e.g. ComfyUI/custom_nodes): python -m <pack folder> ...

The default backend is the free offline preview (no key, no network); --backend segmind
makes the real, paid clip. Each clip: the MP4, a WAV of its sound and a JSON summary.
Batches: --manifest clips.csv (one row per clip) or --images-dir folder/ --prompt "...".
`jobs` lists recorded jobs and cached clips; `collect REQUEST_ID` (or --all) fetches a paid
clip; `limits` and `spend` show and set the spend limits and today's spend; `retake CLIP
--start S --seconds S` makes one section of a clip again (LTX-2 Retake); `extend CLIP
--prompts FILE` continues a clip segment by segment; `join A.mp4 B.mp4 ...` joins clips."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Iterator

from .cli.safe_text import for_terminal
from .cli.words import Parser, cli_words
from .cli.fields import MODEL_NAMES, add_field_flags, manifest_columns
from .core.params import DEFAULT_NEGATIVE_PROMPT

_API_MODES = ("async", "sync")
DEFAULT_PARALLEL = 4
DEFAULT_TIMEOUT = 900.0


# --------------------------------------------------------------------------- argument types

def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds between 1 and 86400 "
                                         "(900 fits a 2-minute job with queueing)")
    return value


def _money(text: str) -> float:
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in US dollars, e.g. 2 or 0.50")
    return value


def _parallel(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 32:
        raise argparse.ArgumentTypeError(f"{text!r}: give how many clips to run at once, 1 to 32")
    return value


def _results_file(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise argparse.ArgumentTypeError(f"{text!r}: the results file is written as JSON lines or CSV: "
                                         f"name it {path.with_suffix('.jsonl').name} or {path.with_suffix('.csv').name}")
    return path


def _seconds_of_video(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r}: give the clip's length in seconds, e.g. 5 "
                                         "(LTX-2 makes at most 400 frames: about 16 s at 24 fps)")
    return value


# --------------------------------------------------------------------------- parsers

def _parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(
        prog=prog, allow_abbrev=False,
        description="Make Segmind LTX-2 video clips (with sound) from pictures and prompts.",
        epilog="The default --backend offline is free and needs no key: it animates the picture locally "
               "so you can see the whole job run. --backend segmind makes the real clip (about $0.455 and "
               f"2 minutes at the defaults). Other commands: `{prog} jobs` lists recorded jobs and cached "
               f"clips; `{prog} collect REQUEST_ID` (or --all) fetches a paid clip without paying again; "
               f"`{prog} limits` and `{prog} spend` show and set the spend limits and today's spend; "
               f"`{prog} retake CLIP --start S --seconds S --prompt ...` makes one section of a clip again; "
               f"`{prog} extend CLIP --prompts FILE` continues a clip segment by segment; `{prog} join A.mp4 "
               "B.mp4 ...` joins clips into one.")
    what = p.add_argument_group("what to make")
    what.add_argument("--model", choices=tuple(MODEL_NAMES), default=None,
                      help="19b (default): LTX-2 19B, from a picture or (--t2v) text; pro: LTX-2 Pro, from a "
                           "picture, 1080p and up; fast: LTX-2 Fast, from text alone. A manifest's model column "
                           "picks per row")
    what.add_argument("--image", type=Path, metavar="FILE",
                      help="the first frame (PNG, JPEG, WebP, ...); required unless --t2v or --model fast")
    what.add_argument("--t2v", action="store_true", help="text to video: no picture, the prompt alone")
    what.add_argument("--prompt", metavar="TEXT", help="describe the scene, motion and sound")
    what.add_argument("--negative-prompt", default=DEFAULT_NEGATIVE_PROMPT, metavar="TEXT", help="what to avoid")
    add_field_flags(what)  # one flag per request field, from the model descriptors (cli/fields.py)
    what.add_argument("--seconds", type=_seconds_of_video, metavar="S",
                      help="the clip's length in seconds instead of --num-frames (frames = seconds x fps)")
    what.add_argument("--fit", choices=("match", "crop"), default="match",
                      help="match (default): the clip keeps the picture's shape and orientation, within "
                           "--width x --height (turned to the picture's orientation when not given). "
                           "crop: fill --width x --height exactly, cutting what sticks out")

    batch = p.add_argument_group("batches (one clip per row or picture, run in parallel)")
    batch.add_argument("--manifest", type=Path, metavar="FILE",
                       help="CSV or JSONL, one clip per row: image (relative to the manifest), prompt, and any "
                            f"of {', '.join(manifest_columns()[2:])}, model (19b, pro or fast); flags give the values a row leaves empty")
    batch.add_argument("--images-dir", type=Path, metavar="DIR",
                       help="every picture in this folder, or matching a quoted pattern ('shots/*.png', "
                            "'shots/**/*.jpg'); the prompt is --prompt, or photo.txt beside photo.png")
    batch.add_argument("--recursive", "-r", action="store_true", help="--images-dir: take the subfolders' pictures too")
    batch.add_argument("--parallel", type=_parallel, default=DEFAULT_PARALLEL, metavar="N",
                       help=f"clips in flight at once (default {DEFAULT_PARALLEL}); the pack's request "
                            "budget keeps them within Segmind's rate limit")
    batch.add_argument("--results", type=_results_file, metavar="FILE",
                       help="the results file: .jsonl or .csv (default: results-<time>.jsonl in the output folder)")

    cost = p.add_argument_group("cost")
    cost.add_argument("--backend", choices=("offline", "segmind"), default="offline",
                      help="offline: free local preview (default). segmind: the real, paid clip")
    cost.add_argument("--dry-run", action="store_true",
                      help="print the exact requests and the estimate; send nothing (no key needed)")
    cost.add_argument("--max-cost", type=_money, metavar="USD",
                      help="refuse a run estimated above this many US dollars, before anything is sent")
    cost.add_argument("--yes", "-y", action="store_true", help="do not ask before a run estimated above $1")
    cost.add_argument("--force-rerun", action="store_true",
                      help="pay for a new clip even when the same request is cached")

    service = p.add_argument_group("service")
    service.add_argument("--api-mode", choices=_API_MODES, default="async",
                         help="segmind only: async = v2 submit and poll (default), sync = one long v1 request")
    service.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                         help=f"how long to wait for each clip (default {DEFAULT_TIMEOUT:g}); a job still running "
                              "then is recorded and collected by the same command run again")
    service.add_argument("--upload-format", choices=("png", "jpeg"), default="png",
                         help="how the picture is uploaded: png (lossless, default) or jpeg (smaller)")

    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="DIR",
                     help="output folder (default: $SEGMIND_LTX2_OUTPUT, else ComfyUI/output when the pack "
                          "is in ComfyUI/custom_nodes, else ./output)")
    out.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (all else on stderr)")
    out.add_argument("--quiet", "-q", action="store_true", help="no progress bars or status lines")
    out.add_argument("--version", action="version", version=f"%(prog)s {_version()}")

    team = p.add_argument_group("team (one Segmind account on many machines; docs/team.md; any command)")
    team.add_argument("--redis", metavar="URL",
                      help="the team's Redis for this process (redis://host:6379/0; '' for none): overrides "
                           "SEGMIND_LTX2_REDIS_URL and the saved team setting")
    team.add_argument("--when-redis-down", choices=("refuse", "local"),
                      help="refuse (default): pay nothing while the team's Redis is out of reach; local: "
                           "use this machine's own records, with a warning")

    other = p.add_argument_group("other")
    other.add_argument("--check-key", action="store_true",
                       help="check the Segmind key, print the credits left and where records are shared")
    other.add_argument("--clear-cache", action="store_true",
                       help="delete the cached Segmind clips (asks first in a terminal; --yes skips the question)")
    return p


def _version() -> str:
    from .cli.places import version

    return version()


def _jobs_parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} jobs", allow_abbrev=False,
               description="List the recorded jobs (paid, clip not yet on disk) and the cached clips, "
                           "with how to collect each.")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument("--out", type=Path, metavar="DIR", help="the output folder to look for clips in (as for a run)")
    return p


def _limits_parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} limits", allow_abbrev=False,
               description="Show or set the spend limits (the same as ComfyUI's Settings > Segmind > Spend limits).")
    p.add_argument("--per-day", metavar="USD", help="the most a calendar day may spend; 'off' for no limit")
    p.add_argument("--per-run", metavar="USD", help="the most one command (or one queued graph) may spend; 'off' for no limit")
    p.add_argument("--json", action="store_true", help="print the limits as JSON")
    return p


def _spend_parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} spend", allow_abbrev=False,
               description="Today's spend (as ComfyUI's Segmind tab shows it) and the latest paid runs.")
    p.add_argument("--last", type=int, default=10, metavar="N", help="how many paid runs to list (default 10)")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    return p


def _retake_parser(prog: str) -> argparse.ArgumentParser:
    from .cli.retake import add_arguments

    p = Parser(prog=f"{prog} retake", allow_abbrev=False,
               description="Make one section of a clip again with LTX-2 Retake (ltx-retake-video): its picture, "
                           "its sound or both; the rest of the clip is kept. The default --backend offline is "
                           "free (the section tinted, its tone swapped); --backend segmind is the real, paid "
                           "retake (about $0.791, unconfirmed). Every check of the clip and the section runs "
                           "before anything is sent.")
    add_arguments(p, _money, _positive_seconds)
    return p


def _collect_parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} collect", allow_abbrev=False,
               description="Fetch a paid job's clip by its request id, without paying again: from the cache, "
                           "or from Segmind (which keeps a job's result for one hour).")
    p.add_argument("request_id", nargs="?", help="the request id (see `jobs`, or a run's summary)")
    p.add_argument("--all", action="store_true", help="every recorded job whose clip is not in the output folder yet")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (as for a run)")
    p.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"how long to wait if the job is still running (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or status lines")
    return p


# --------------------------------------------------------------------------- commands

def user_directory() -> Path:
    """Where the key file, result cache and job journal live (see cli/places.py)."""
    from .cli.places import user_directory as where

    return where()


def check_key() -> int:
    from .core import credentials
    from .core.client import ClientConfig, SegmindClient
    from .core.shared_store import team_status

    user = user_directory()
    print(for_terminal(f"Shared records: {team_status(user).text}"))
    key = credentials.require_api_key(user)  # a missing key: the message names both places
    _, source = credentials.load_api_key(user)
    where = "SEGMIND_API_KEY" if source == "env" else str(credentials.key_file_path(user))
    data = SegmindClient(key, ClientConfig.from_env(), user_dir=user).credits()
    # The service's text: no control characters reach the terminal (client.credits redacts it).
    print(for_terminal(f"Key OK (from {where}). Credits left: {data.get('credits')} "
                       f"(free credits: {data.get('free-credits', 0)})"))
    return 0


def clear(yes: bool) -> int:
    from .cli.plan import plural
    from .core.result_cache import cache_directory, clear_cache

    folder = cache_directory(user_directory())
    clips = sorted(folder.glob("*.mp4")) if folder.is_dir() else []
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0
    if not clips:
        print(f"The result cache ({folder}) holds no clips: nothing to free.", file=sys.stderr)
        return 0
    what = f"{plural(len(clips), 'cached clip')} ({size / 1e6:.1f} MB) in {folder}"
    if not yes:
        if not (sys.stdin is not None and sys.stdin.isatty()):
            from .core.errors import InvalidInputError

            raise InvalidInputError(f"--clear-cache would delete {what}: paid clips, which a rerun then pays "
                                    "for again. Add --yes to delete them.")
        print(f"Delete {what}? A rerun of their requests is then paid again. [y/N] ",
              end="", file=sys.stderr, flush=True)
        try:
            answer = input()
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Kept the cache.", file=sys.stderr)
            return 0
    removed = clear_cache(folder)
    print(f"Removed {plural(removed, 'cached clip')} from {folder}, freeing {size / 1e6:.1f} MB.")
    return 0


def make(args: argparse.Namespace, prog: str) -> int:
    from .cli.places import output_directory
    from .cli.plan import rows_from_args
    from .cli.run import Settings, run

    rows, batch = rows_from_args(args)
    settings = Settings(
        backend=args.backend, api_mode=args.api_mode, timeout=args.timeout, upload_format=args.upload_format,
        force_rerun=args.force_rerun, parallel=args.parallel, output_dir=output_directory(args.out),
        user_dir=user_directory(), quiet=args.quiet, as_json=args.json, yes=args.yes, max_cost=args.max_cost,
        dry_run=args.dry_run, results=args.results, prog=prog)
    return run(rows, batch, settings)


def _dispatch(argv: list[str], prog: str) -> int:
    from .cli.places import output_directory

    if argv and argv[0] == "jobs":
        from .cli.jobs import list_jobs

        jargs = _jobs_parser(prog).parse_args(argv[1:])
        return list_jobs(user_directory(), output_directory(jargs.out), prog, jargs.json)
    if argv and argv[0] == "collect":
        from .cli.jobs import collect, collect_all

        cparser = _collect_parser(prog)
        cargs = cparser.parse_args(argv[1:])
        if cargs.all == bool(cargs.request_id):
            cparser.error("give a request id, or --all for every recorded job not on disk yet (not both)")
        where = dict(user_dir=user_directory(), output_dir=output_directory(cargs.out), timeout=cargs.timeout,
                     quiet=cargs.quiet, as_json=cargs.json)
        return collect_all(prog=prog, **where) if cargs.all else collect(cargs.request_id, **where)
    if argv and argv[0] == "retake":
        from .cli.retake import run as retake

        rargs = _retake_parser(prog).parse_args(argv[1:])
        return retake(rargs, prog, user_directory(), output_directory(rargs.out))
    if argv and argv[0] in ("limits", "spend"):
        from .cli import spending

        if argv[0] == "limits":
            largs = _limits_parser(prog).parse_args(argv[1:])
            return spending.limits(user_directory(), largs.per_day, largs.per_run, largs.json)
        sargs = _spend_parser(prog).parse_args(argv[1:])
        return spending.spend(user_directory(), max(1, sargs.last), sargs.json)
    if argv and argv[0] in ("extend", "join"):
        from .cli import extend as extending

        if argv[0] == "extend":
            eargs = extending.extend_parser(prog, _money, _positive_seconds).parse_args(argv[1:])
            return extending.extend(eargs, user_dir=user_directory(), output_dir=output_directory(eargs.out))
        joins = extending.join_parser(prog).parse_args(argv[1:])
        return extending.join(joins, output_dir=output_directory(joins.out))
    args = _parser(prog).parse_args(argv)
    if args.clear_cache:
        clear(args.yes)
    if args.check_key:
        return check_key()
    if args.clear_cache and not (args.prompt or args.manifest or args.images_dir):
        return 0
    return make(args, prog)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .cli.places import program_name

    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or program_name()
    as_json = "--json" in argv
    Parser.json_errors = as_json
    try:
        code = _run(argv, prog, as_json)
        sys.stdout.flush()  # a closed pipe (`jobs | head`) fails here, inside the handler
        return code
    except BrokenPipeError:
        # The reader went away: say nothing more, and keep Python's exit flush from complaining.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


_TEAM_FLAGS = {"--redis": "SEGMIND_LTX2_REDIS_URL", "--when-redis-down": "SEGMIND_LTX2_WHEN_REDIS_DOWN"}


def _take_team_flags(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """--redis URL and --when-redis-down refuse|local, for any command: taken out of argv as the
    environment variables they stand for (core/shared_store.py reads those)."""
    rest, found, i = [], {}, 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _TEAM_FLAGS and (eq or i + 1 < len(argv)):
            if not eq:
                i += 1
                value = argv[i]
            found[_TEAM_FLAGS[name]] = value
        elif arg == "--":
            rest.extend(argv[i:])
            break
        else:
            rest.append(arg)
        i += 1
    return rest, found


@contextlib.contextmanager
def _team_environment(values: dict[str, str]) -> Iterator[None]:
    """The team flags in force for this command only (main() may run in a test's process)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _run(argv: list[str], prog: str, as_json: bool) -> int:
    from .cli.plan import ManifestError
    from .cli.run import Interrupted, Refused
    from .core.errors import InvalidInputError, MissingAPIKeyError, OutputFolderError, SegmindError

    argv, team = _take_team_flags(argv)
    if team.get(_TEAM_FLAGS["--when-redis-down"], "refuse") not in ("refuse", "local"):
        return _error(f"--when-redis-down is {team[_TEAM_FLAGS['--when-redis-down']]!r}: give refuse or local.",
                      2, as_json)
    try:
        with _team_environment(team):
            return _dispatch(argv, prog)
    except ManifestError as exc:  # already in the manifest's words: columns named as columns
        return _error(cli_words(str(exc), fields=False), 2, as_json)
    except (InvalidInputError, MissingAPIKeyError, OutputFolderError, Refused) as exc:
        return _error(cli_words(exc), 2, as_json)
    except SegmindError as exc:
        return _error(cli_words(exc), 1, as_json)
    except Interrupted as exc:
        done = f" {exc.finished} finished clip(s) are on disk." if exc.finished else ""
        listed = f" The results so far: {exc.results_file}." if exc.results_file else ""
        if exc.offline:
            text = f"Interrupted. Nothing was sent and nothing is billed (offline preview).{done}{listed}"
        else:
            text = (f"Interrupted.{done}{listed} A job already submitted to Segmind keeps running (and is billed) "
                    f"there; it is recorded, so the same command run again within the hour collects it without "
                    f"paying again (`{prog} jobs` lists them).")
        return _error(text, 130, as_json, prefix="\n")
    except KeyboardInterrupt:
        return _error(f"Interrupted. A job already submitted to Segmind keeps running (and is billed) there; "
                      f"it is recorded, so the same command run again within the hour collects it without paying "
                      f"again (`{prog} jobs` lists them).", 130, as_json, prefix="\n")


def _error(text: str, code: int, as_json: bool, prefix: str = "") -> int:
    """The message on stderr; with --json also a JSON object on stdout, so a script reading
    stdout always gets one."""
    text = for_terminal(text)  # no control characters from a service or a manifest reach the terminal
    print(f"{prefix}error: {text}" if code != 130 else f"{prefix}{text}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": text, "exit_code": code}, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
