"""Command line: Segmind LTX-2 clips (with sound) from pictures and prompts, outside
ComfyUI, through the same code as the nodes. No torch needed.

From a clone of the pack (any folder name):
    python segmind_ltx2.py --image examples_workflows/example.png --prompt "the lake ripples"
After `pip install -e .`:   segmind-ltx2 --image photo.png --prompt "..."
From the folder holding the pack (e.g. ComfyUI/custom_nodes): python -m <pack folder> ...

The default backend is the free offline preview (no key, no network); --backend segmind
makes the real, paid clip. Each clip: the MP4, a WAV of its sound and a JSON summary.
Batches: --manifest clips.csv (one row per clip) or --images-dir folder/ --prompt "...".
`jobs` lists recorded jobs and cached clips; `collect REQUEST_ID` fetches a paid clip."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli.safe_text import for_terminal
from .cli.words import Parser, cli_words
from .cli.fields import add_field_flags, manifest_columns
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


# --------------------------------------------------------------------------- parsers

def _parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(
        prog=prog, allow_abbrev=False,
        description="Make Segmind LTX-2 video clips (with sound) from pictures and prompts.",
        epilog="The default --backend offline is free and needs no key: it animates the picture locally "
               "so you can see the whole job run. --backend segmind makes the real clip (about $0.455 and "
               f"2 minutes at the defaults). Other commands: `{prog} jobs` lists recorded jobs and cached "
               f"clips; `{prog} collect REQUEST_ID` fetches a paid clip without paying again.")
    what = p.add_argument_group("what to make")
    what.add_argument("--image", type=Path, metavar="FILE", help="the first frame (PNG, JPEG, WebP, ...); required unless --t2v")
    what.add_argument("--t2v", action="store_true", help="text to video: no picture, the prompt alone")
    what.add_argument("--prompt", metavar="TEXT", help="describe the scene, motion and sound")
    what.add_argument("--negative-prompt", default=DEFAULT_NEGATIVE_PROMPT, metavar="TEXT", help="what to avoid")
    add_field_flags(what)  # one flag per request field, from the model descriptors (cli/fields.py)

    batch = p.add_argument_group("batches (one clip per row or picture, run in parallel)")
    batch.add_argument("--manifest", type=Path, metavar="FILE",
                       help="CSV or JSONL, one clip per row: image (relative to the manifest), prompt, and any "
                            f"of {', '.join(manifest_columns()[2:])}; flags give the values a row leaves empty")
    batch.add_argument("--images-dir", type=Path, metavar="DIR", help="every picture in this folder, with the one --prompt")
    batch.add_argument("--parallel", type=_parallel, default=DEFAULT_PARALLEL, metavar="N",
                       help=f"clips in flight at once (default {DEFAULT_PARALLEL}); the pack's request "
                            "budget keeps them within Segmind's rate limit")
    batch.add_argument("--results", type=Path, metavar="FILE",
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

    other = p.add_argument_group("other")
    other.add_argument("--check-key", action="store_true", help="check the Segmind key and print the credits left")
    other.add_argument("--clear-cache", action="store_true", help="delete the cached Segmind clips")
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


def _collect_parser(prog: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"{prog} collect", allow_abbrev=False,
               description="Fetch a paid job's clip by its request id, without paying again: from the cache, "
                           "or from Segmind (which keeps a job's result for one hour).")
    p.add_argument("request_id", help="the request id (see `jobs`, or a run's summary)")
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

    user = user_directory()
    key = credentials.require_api_key(user)  # a missing key: the message names both places
    _, source = credentials.load_api_key(user)
    where = "SEGMIND_API_KEY" if source == "env" else str(credentials.key_file_path(user))
    data = SegmindClient(key, ClientConfig.from_env()).credits()
    print(f"Key OK (from {where}). Credits left: {data.get('credits')} (free credits: {data.get('free-credits', 0)})")
    return 0


def clear() -> int:
    from .core.result_cache import cache_directory, clear_cache

    folder = cache_directory(user_directory())
    print(f"Removed {clear_cache(folder)} cached clip(s) from {folder}")
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
        from .cli.jobs import collect

        cargs = _collect_parser(prog).parse_args(argv[1:])
        return collect(cargs.request_id, user_dir=user_directory(), output_dir=output_directory(cargs.out),
                       timeout=cargs.timeout, quiet=cargs.quiet, as_json=cargs.json)
    args = _parser(prog).parse_args(argv)
    if args.clear_cache:
        clear()
    if args.check_key:
        return check_key()
    if args.clear_cache and not (args.prompt or args.manifest or args.images_dir):
        return 0
    return make(args, prog)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .cli.places import program_name
    from .cli.run import Refused
    from .core.errors import InvalidInputError, MissingAPIKeyError, OutputFolderError, SegmindError

    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or program_name()
    try:
        return _dispatch(argv, prog)
    except (InvalidInputError, MissingAPIKeyError, OutputFolderError, Refused) as exc:
        print(f"error: {for_terminal(cli_words(exc))}", file=sys.stderr)
        return 2
    except SegmindError as exc:
        print(f"error: {for_terminal(cli_words(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nInterrupted. A job already submitted to Segmind keeps running (and is billed) there; "
              f"it is recorded, so the same command run again within the hour collects it without paying "
              f"again (`{prog} jobs` lists them).", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
