"""Text from Segmind or a manifest, made safe for where the command line puts it.

A terminal: control characters are dropped, so an escape sequence inside a request id or a
manifest name cannot retitle the window, clear the screen or rewrite what was printed.
A spreadsheet: a cell that starts like a formula (= + - @, tab, carriage return) gets a
leading quote, as OWASP's CSV injection guidance advises, so it opens as plain text."""
from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls (keeping newline and tab), DEL, and the bidirectional overrides and
# isolates that make text display in another order than it reads.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def for_terminal(text: Any) -> str:
    """`text` as a string with every control character removed."""
    return _CONTROL.sub("", str(text))


def for_spreadsheet(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula; numbers and empty cells unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
