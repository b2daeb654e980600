"""The user's spend limits, in `<user>/segmind/limits.json` (UserFolder.limits):
{"per_day": float|null, "per_run": float|null}, dollars; null means no limit."""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Action, InvalidInputError, LimitsFileError
from .params import finite_number
from .user_folder import UserFolder

SETTINGS_HINT = f"{Action.CHANGE_SETTING('spend_limits')}"  # each face words where the limits are set
LIMIT_MAX = 1_000_000.0       # dollars; anything above is a typo


def limits_path(user_dir: str | os.PathLike) -> Path:
    return UserFolder(user_dir).limits


def parse_limit(name: str, raw: Any) -> float | None:
    """A limit value from a user: None/""/null means no limit; else dollars, 0..1e6."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = None if isinstance(raw, bool) else finite_number(raw)
    if value is None or not 0 <= value <= LIMIT_MAX:
        raise InvalidInputError(
            f"Spend limit '{name}' is {raw!r}: set it to an amount in US dollars such as 5 "
            f"(0 to {LIMIT_MAX:,.0f}), or leave it empty for no limit.")
    return value


@dataclass
class SpendLimits:
    per_day: float | None = None   # dollars per calendar day (local time); None = no limit
    per_run: float | None = None   # dollars per queued run (one ComfyUI prompt); None = no limit

    @classmethod
    def load(cls, user_dir: str | os.PathLike) -> "SpendLimits":
        """The saved limits; none when the file does not exist. A damaged file raises
        LimitsFileError: guessing "no limit" would spend money the user capped."""
        path = limits_path(user_dir)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, RecursionError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise LimitsFileError(_damaged(path, why)) from None
        if not isinstance(raw, dict):
            raise LimitsFileError(_damaged(path, "not a JSON object"))
        try:
            return cls(per_day=parse_limit("per_day", raw.get("per_day")),
                       per_run=parse_limit("per_run", raw.get("per_run")))
        except InvalidInputError as exc:
            raise LimitsFileError(_damaged(path, str(exc))) from None

    def save(self, user_dir: str | os.PathLike) -> Path:
        path = limits_path(user_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_text(json.dumps(self.as_dict(), indent=1), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def as_dict(self) -> dict[str, float | None]:
        return {"per_day": self.per_day, "per_run": self.per_run}


def _damaged(path: Path, why: str) -> str:
    return (f"The spend limits file {path} cannot be read ({why}), so no paid run is started. "
            f"Set the limits again in {SETTINGS_HINT}, or fix or delete that file.")
