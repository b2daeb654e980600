"""`limits` and `spend`: the spend limits and today's spend, on the same files the nodes
use (ComfyUI's Settings > Segmind > Spend limits and the jobs tab read and write them):
core.ledger's SpendLimits (limits.json) and Ledger (the ledger of paid runs)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError

OFF_WORDS = ("off", "none", "no", "")


def _limit(name: str, text: str | None, current: float | None) -> float | None:
    from ..core.spend_limits import parse_limit

    if text is None:
        return current
    if text.strip().lower() in OFF_WORDS:
        return None
    try:
        return parse_limit(name, text.strip().lstrip("$"))
    except InvalidInputError:
        raise InvalidInputError(f"--{name.replace('_', '-')} {text!r}: give an amount in US dollars such as 5, "
                                "or 'off' for no limit.") from None


def _shown(value: float | None) -> str:
    return "no limit" if value is None else f"${value:.2f}"


def limits(user_dir: Path, per_day: str | None, per_run: str | None, as_json: bool) -> int:
    """Show the spend limits; with --per-day / --per-run, set them first."""
    from ..core.spend_limits import SpendLimits, limits_path

    current = SpendLimits.load(user_dir)
    changed = per_day is not None or per_run is not None
    if changed:
        current = SpendLimits(per_day=_limit("per_day", per_day, current.per_day),
                              per_run=_limit("per_run", per_run, current.per_run))
        current.save(user_dir)
    if as_json:
        print(json.dumps({**current.as_dict(), "file": str(limits_path(user_dir))}, indent=2))
        return 0
    print(f"Spend limits{' saved' if changed else ''} ({limits_path(user_dir)}):\n"
          f"  per day:        {_shown(current.per_day)}\n"
          f"  per run:        {_shown(current.per_run)}\n"
          "A paid run that would pass one is refused before anything is uploaded. "
          "Set with --per-day USD / --per-run USD ('off' removes one).")
    return 0


def spend(user_dir: Path, count: int, as_json: bool) -> int:
    """Today's spend against the daily limit, and the latest paid runs."""
    from ..core.ledger import entry_amount
    from ..core.team_stores import record_stores
    from ..core.spend_limits import SpendLimits
    from .safe_text import for_terminal

    ledger = record_stores(user_dir).ledger  # with a team: every machine's spend (Redis)
    today = ledger.spent_today()
    day_limit = SpendLimits.load(user_dir).per_day
    recent = [e.as_dict() if hasattr(e, "as_dict") else dict(e) for e in ledger.entries(limit=count)]
    if as_json:
        print(json.dumps({"today_usd": round(today, 4), "per_day_limit": day_limit,
                          "recent": recent}, indent=2, default=str))
        return 0
    left = "" if day_limit is None else f" of the ${day_limit:.2f} daily limit (${max(0.0, day_limit - today):.2f} left)"
    print(f"Spent today: ${today:.3f}{left}.")
    if recent:
        print("Latest paid runs:")
        for entry in recent:
            print(for_terminal(f"  {_when(entry.get('time'))}  ${entry_amount(entry):.3f}  "
                               f"{entry.get('request_id') or '-'}  {_prompt(entry)}"))
    else:
        print("No paid runs recorded yet.")
    return 0


def _when(t: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(t)))
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


def _prompt(entry: dict[str, Any]) -> str:
    return '"' + " ".join(str(entry.get("prompt") or "").split())[:50] + '"'
