"""Estimates that learn what Segmind really charged.

The quoted rule (params.estimate_cost: $0.455 scaled by the rendered volume) is Segmind's
product-page price for the default clip and our unconfirmed guess for every other size. The
ledger knows what was really charged (lines with a `cost`), so the estimate a spend check
uses is never below it for a comparable clip:

    comparable = the same model, a rendered volume (width x height x frames on LTX-2's
                 grid; for Pro and Fast what the resolution and duration render) no larger
                 than this clip's
    estimate   = max(quoted rule, the largest real charge among comparable clips)

A bigger clip is assumed never cheaper than a smaller one of the same model; if Segmind
charges per run, the first small clip teaches the floor and every later one is estimated
at least at that charge. A real charge below the quoted rule never lowers the estimate.
Clips whose size the ledger does not know are not comparable to anything."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import SpendRecordsError
from .models import PER_SECOND
from .params import estimate_cost, snap_to_grid, whole_number

log = logging.getLogger(__name__)


def rendered_volume(fields: Mapping[str, Any] | Any) -> int | None:
    """width x height x frames as LTX-2 renders them (on its grid), or None when unknown."""
    get = fields.get if isinstance(fields, Mapping) else (lambda name: getattr(fields, name, None))
    size = [whole_number(get(name)) for name in ("width", "height", "num_frames")]
    if any(v is None or v <= 0 for v in size):
        return None
    w, h, n = snap_to_grid(*size)  # type: ignore[arg-type]
    return w * h * n


def rendered_fields(model: str | None, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The body's width, height and num_frames, or, for a model whose resolution and duration
    pick them (Pro, Fast), what those render: so its charges compare by size too."""
    if all(body.get(name) is not None for name in ("width", "height", "num_frames")):
        return body
    from .models import MODELS

    found = MODELS.get(model or "")
    rendered = found.rendered(body) if found is not None else None
    if rendered is None or rendered[2] is None:
        return body
    return {**body, "width": rendered[0], "height": rendered[1], "num_frames": rendered[2]}


@dataclass(frozen=True)
class Estimate:
    amount: float                # what the spend checks use
    quoted: float                # the quoted rule's estimate
    charged_floor: float | None  # the largest real charge among comparable clips
    charged_clips: int           # clips of this model whose real charge the ledger holds
    comparable_clips: int = 0    # of those, the ones no larger than this clip
    per_clip: bool = False       # one price per clip (a flat rule, Retake's): every charge is comparable
    per_second: bool = False     # a rate per second by resolution (Pro, Fast): no volume to compare by

    @property
    def learned(self) -> bool:
        return self.charged_floor is not None and self.charged_floor > self.quoted

    def basis(self) -> str:
        """What the estimate is based on, in a few words (node and terminal alike)."""
        def usd(v: float) -> str:
            return f"${v:.2f}" if v >= 1 or v == 0 else f"${v:.3f}"

        clips = f"{self.charged_clips} charged clip{'s' if self.charged_clips != 1 else ''}"
        if self.per_clip:
            if self.learned:
                return (f"learned from {clips}: Segmind charged {usd(self.charged_floor or 0.0)} for one (the "
                        f"quoted price is {usd(self.quoted)})")
            return "Segmind's quoted price per clip" + (f"; {clips} cost no more" if self.comparable_clips
                                                          else " (unconfirmed)")
        if self.per_second and not self.learned:
            return "a price per second by resolution (unconfirmed)"
        if self.learned:
            return (f"learned from {clips}: Segmind charged {usd(self.charged_floor or 0.0)} for a clip this "
                    f"size or smaller (the quoted rule says {usd(self.quoted)})")
        if self.comparable_clips:
            n = self.comparable_clips
            return (f"Segmind's quoted price scaled by size; {n} charged clip{'s' if n != 1 else ''} "
                    "this size or smaller cost no more")
        return "Segmind's quoted price scaled by size (unconfirmed for this size)"


class ChargeHistory:
    """The real charges in a user folder's ledger, read once, by model."""

    def __init__(self, charges: Mapping[str, list[tuple[int | None, float]]] | None = None) -> None:
        self._charges = {model: list(items) for model, items in (charges or {}).items()}

    @classmethod
    def load(cls, user_dir: "str | os.PathLike[str] | None") -> "ChargeHistory":
        """An unreadable ledger teaches nothing here (the per-day limit check refuses it itself)."""
        if user_dir is None:
            return cls()
        from .ledger import Ledger

        try:
            lines = Ledger(user_dir).lines()
        except SpendRecordsError as exc:
            log.warning("Segmind: %s", exc)
            return cls()
        latest = {}
        for n, line in enumerate(lines):
            latest[line.request_id or f"#{n}"] = line  # a job recorded twice: its latest line
        charges: dict[str, list[tuple[int | None, float]]] = {}
        for line in latest.values():
            if line.cost is not None and line.cost >= 0 and line.model:
                charges.setdefault(line.model, []).append((rendered_volume(line), line.cost))
        return cls(charges)

    def estimate(self, model: str | None, body: Mapping[str, Any]) -> Estimate:
        quoted = estimate_cost(body, model)  # the model's quoted rule (core/params.py)
        charged = self._charges.get(model or "", [])
        volume = rendered_volume(rendered_fields(model, body))
        per_clip = _flat(model)
        comparable = [cost for v, cost in charged
                      if per_clip or (v is not None and volume is not None and v <= volume)]
        floor = max(comparable) if comparable else None
        return Estimate(amount=max(quoted, floor or 0.0), quoted=quoted, charged_floor=floor,
                        charged_clips=len(charged), comparable_clips=len(comparable), per_clip=per_clip,
                        per_second=_rule(model) == PER_SECOND)


def _rule(model: str | None) -> str | None:
    """The model's price rule (core/models.py VOLUME, PER_SECOND, FLAT), None for an unknown model."""
    from .models import MODELS

    found = MODELS.get(model or "")
    return found.price.rule if found is not None else None


def _flat(model: str | None) -> bool:
    """The model is priced one price per clip, whatever its fields (core/models.py FLAT)."""
    from .models import FLAT

    return _rule(model) == FLAT


def bases_of(estimates: "list[Estimate]") -> str | None:
    """One phrase for several clips' estimates: the learned ones first (they matter most)."""
    texts = list(dict.fromkeys(e.basis() for e in sorted(estimates, key=lambda e: not e.learned)))
    if not texts:
        return None
    return texts[0] if len(texts) == 1 else f"{texts[0]}; others: {'; '.join(texts[1:])}"


def learned_estimate(user_dir: "str | os.PathLike[str] | None", model: str | None,
                     body: Mapping[str, Any]) -> tuple[float, str]:
    """(amount, basis) for one clip: the amount every spend check uses, and what it is based on."""
    found = ChargeHistory.load(user_dir).estimate(model, body)
    return found.amount, found.basis()
