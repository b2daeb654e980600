"""What a run will pay for, decided once, from local state only (nothing is sent): for each
request, in order, one of

  cached     its clip is in the result cache (free; not under force_rerun)
  recorded   a paid job of it is in the journal and still collectable (free, even under
             force_rerun: that job is the re-run, already paid for)
  duplicate  an earlier request of the same run is the same request (free: it waits for that
             one's clip)
  new        a new, billed job

The nodes' spend check (lifecycle.reserve_spend), the command line's plan (cli/plan.py) and
the lifecycle itself all ask this one function, so the estimate shown, the amount reserved
and what is really sent agree."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import CachedClipDamagedError
from .result_cache import request_fingerprint

CACHED, RECORDED, DUPLICATE, NEW = "cached", "recorded", "duplicate", "new"


@dataclass(frozen=True)
class PayDecision:
    kind: str                          # CACHED, RECORDED, DUPLICATE or NEW
    fingerprint: str
    request_id: str | None = None      # the cached clip's or the recorded job's
    duplicate_of: int | None = None    # index of the earlier, identical request
    hit: Any = field(default=None, compare=False, repr=False)  # the cache's CacheHit, for CACHED

    @property
    def pays(self) -> bool:
        return self.kind == NEW


def decide(fingerprint: str, api_base: str, cache: Any, journal: Any, force_rerun: bool = False,
           damaged_pays: bool = False) -> PayDecision:
    """One request on its own (no duplicates to look at): cached, recorded or new. A cached
    clip found damaged is removed and raises CachedClipDamagedError (the node stops before
    paying, saying so); with `damaged_pays` it counts as new instead (the command line shows
    it in its estimate and asks first)."""
    pending = journal.get(fingerprint) if journal is not None else None
    if pending is not None and pending.collectable() and pending.api_base == api_base:
        return PayDecision(RECORDED, fingerprint, pending.request_id)
    if not force_rerun and cache is not None:
        try:
            hit = cache.lookup(fingerprint)
        except CachedClipDamagedError:
            if not damaged_pays:
                raise
            hit = None  # removed from the cache: this clip is paid for again
        if hit is not None:
            if pending is not None:
                journal.remove(fingerprint)  # too old to collect, and the clip is here anyway
            return PayDecision(CACHED, fingerprint, hit.meta.get("request_id"), hit=hit)
    return PayDecision(NEW, fingerprint)


def plan_payments(requests: Sequence[tuple[str, dict, Any]], *, api_base: str, cache: Any, journal: Any,
                  force_rerun: bool = False, damaged_pays: bool = False) -> list[PayDecision]:
    """`requests`: (model, body, encoded picture or None[, input clip or None]) per clip, in
    run order."""
    first: dict[str, int] = {}
    out: list[PayDecision] = []
    for index, (model, body, image, *video) in enumerate(requests):
        fingerprint = request_fingerprint(model, body, image, api_base, video[0] if video else None)
        if fingerprint in first:
            out.append(PayDecision(DUPLICATE, fingerprint, duplicate_of=first[fingerprint]))
            continue
        first[fingerprint] = index
        out.append(decide(fingerprint, api_base, cache, journal, force_rerun, damaged_pays))
    return out
