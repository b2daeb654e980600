"""The core's errors in the command line's own words: what the user can do
(core.errors.Action) as a terminal user does it (run the command again, a --flag, the
`limits` command), no raw library error numbers, and never the key (argparse would echo
a mistyped `--api-key SG_...` back in its error)."""
from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from ..core.credentials import redact
from ..core.errors import Action, SegmindError, words_from
from .fields import flag

# Fields whose flag is not the descriptors' rule (cli.fields.flag: num_frames -> --num-frames).
FIELD_FLAGS = {"timeout_seconds": "--timeout", "request_id": "`collect REQUEST_ID`"}
CLI_WORDS: dict[str, str] = {
    "retry": "run again",
    "run_again": "run the same command again",
    "run_original": "run the original command",
    "output_folder": "give --out a writable folder",
    "find_request_id": "the `jobs` command lists those recorded here",
    "spend_limits": "the `limits` command",
    "api_key": "SEGMIND_API_KEY or the key file (see --check-key)",
    "shared_store": "--redis or SEGMIND_LTX2_REDIS_URL",
}
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*|\s*\(errno -?\d+\)|; last error log: .*$", re.I | re.M)


_AS_FLAGS = words_from(CLI_WORDS, lambda name: FIELD_FLAGS.get(name) or flag(name))
_AS_COLUMNS = words_from(CLI_WORDS)


def terminal_words(action: Action, fields: bool = True) -> str:
    """An action as a command line user does it. `fields=False` names a field as a
    manifest's column (its own name) rather than its flag."""
    return (_AS_FLAGS if fields else _AS_COLUMNS)(action)


def scrub(text: str) -> str:
    """Remove anything key-shaped, and the key of this environment whatever its shape."""
    import os

    return redact(str(text), os.environ.get("SEGMIND_API_KEY", "").strip() or None)


def cli_words(message: BaseException | str, fields: bool = True) -> str:
    """A core error (or a library's message) in the terminal's words, scrubbed of any key
    and of raw error numbers. `fields=False` names fields as a manifest's columns."""
    if isinstance(message, SegmindError):
        text = message.worded(lambda action: terminal_words(action, fields))
    else:
        text = str(message)
    return _ERRNO.sub("", scrub(text))


class Parser(argparse.ArgumentParser):
    """argparse, with its error text scrubbed of keys and a hint for a key given as a flag;
    with --json on the command line, the error is also a JSON object on stdout."""

    json_errors = False  # set by __main__.main when --json is given

    def error(self, message: str) -> NoReturn:
        hint = ""
        if "--api-key" in message or "--key" in message or "SG_" in message:
            hint = ("\nThe key is never given on the command line (it would stay in your shell "
                    "history): set SEGMIND_API_KEY, or put it in the key file (see --check-key).")
        if self.json_errors:
            import json

            print(json.dumps({"error": f"{scrub(message)}{hint}", "exit_code": 2}, indent=2))
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {scrub(message)}{hint}\n")
