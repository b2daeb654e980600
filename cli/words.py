"""Messages in the command line's own words: flag names instead of node field names,
terminal advice instead of ComfyUI advice, no raw library error numbers, and never the
key (argparse would echo a mistyped `--api-key SG_...` back in its error)."""
from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from ..core.credentials import redact

# Request and node field names -> the flag that sets them here.
FIELD_FLAGS = {
    "prompt": "--prompt", "negative_prompt": "--negative-prompt", "image": "--image",
    "width": "--width", "height": "--height", "num_frames": "--num-frames", "fps": "--fps",
    "seed": "--seed", "guidance_scale": "--guidance-scale", "timeout_seconds": "--timeout",
    "upload_format": "--upload-format", "api_mode": "--api-mode", "force_rerun": "--force-rerun",
    "backend": "--backend",
}
_BARE = ("negative_prompt", "num_frames", "guidance_scale", "timeout_seconds", "upload_format",
         "api_mode", "force_rerun")
_PHRASES = (
    ("check prompt, width, height, num_frames, fps and guidance_scale",
     "check --prompt, --width, --height, --num-frames, --fps and --guidance-scale"),
    (" before starting ComfyUI", ""),
    ("or start ComfyUI with --output-directory pointing somewhere writable",
     "or give --out a writable folder"),
    ("Queue the same graph again", "Run the same command again"),
    ("queue the same graph again", "run the same command again"),
    ("queueing the same graph again", "running the same command again"),
    ("Queue the original graph", "Run the original command"),
    ("copy it from the Segmind jobs panel or a node's summary", "the `jobs` command lists those recorded here"),
    ("queueing again", "running again"),
    ("Queue again", "Run again"),
    ("queue again", "run again"),
    ("the next identical queue", "the same command run again"),
    ("Cancelled by the user.", "Interrupted."),
)
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*|\s*\(errno -?\d+\)|; last error log: .*$", re.I | re.M)


def scrub(text: str) -> str:
    """Remove anything key-shaped, and the key of this environment whatever its shape."""
    import os

    return redact(str(text), os.environ.get("SEGMIND_API_KEY", "").strip() or None)


def cli_words(text: str, fields: bool = True) -> str:
    """A core or library message, re-worded for a terminal and scrubbed of any key.
    `fields=False` keeps field names (a manifest's columns are named that way)."""
    text = scrub(text)
    for old, new in _PHRASES:
        text = text.replace(old, new)
    if fields:
        for name, flag in FIELD_FLAGS.items():
            text = text.replace(f"'{name}'", flag)
        for name in _BARE:
            text = re.sub(rf"(?<![\w-]){name}(?!\w)", FIELD_FLAGS[name], text)
    return _ERRNO.sub("", text)


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
