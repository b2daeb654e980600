"""The spend check before any upload: today's ledger plus every process's reservations plus
the new clips against the per-day limit, this run's reservations against the per-run limit,
then the account's credits. A batch passes or is refused whole; what passes is reserved, one
handle per clip, released or settled by explicit calls (reservations.py)."""
from __future__ import annotations

import os
from typing import Any

from .errors import SpendLimitError
from .reservations import NOTHING_RESERVED, Reservation, check_amounts
from .spend_limits import SETTINGS_HINT, SpendLimits, limits_path

_EPS = 1e-9                   # float sums of estimates must not refuse a run exactly at the limit


def money(value: float) -> str:
    return f"${value:.2f}" if value >= 1 or value == 0 else f"${value:.3f}"


def check_spend(user_dir: str | os.PathLike, run_id: str | None, amounts: list[float],
                basis: str | None = None) -> list[Reservation]:
    """Refuse (SpendLimitError) before any upload when the jobs of `amounts` would pass a
    limit: today's ledger + every reservation in flight (every process's) + sum(amounts) over
    per_day, or this run's reservations + sum(amounts) over per_run. On success each amount
    is reserved for `run_id` and its handle returned, in order; all together, atomically
    with the check, so two processes cannot both pass the last dollar of a limit. `basis`:
    what the estimate is based on (learned_estimate.Estimate.basis), for the message."""
    values = check_amounts(amounts)
    total = sum(values)
    n = len(values)
    clips = f"{n} clip{'s' if n != 1 else ''}"
    # What the user can do comes first: a node's badge shows only the start of a message.
    based = f" The estimate is {basis}." if basis else ""
    limits = SpendLimits.load(user_dir)
    # This machine's files, or the team's Redis (a per-day limit then holds across machines);
    # a team Redis that is down and set to refuse stops the run here, before any upload.
    from .team_stores import record_stores

    stores = record_stores(user_dir)
    where = f"change it in {SETTINGS_HINT}"
    saved = f" The limits are saved in {limits_path(user_dir)}."

    def admit(reserved: float, already: float) -> None:
        if limits.per_run is not None and already + total > limits.per_run + _EPS:
            spent = f" this run has already reserved {money(already)}, and" if already else ""
            raise SpendLimitError(
                f"Refused before any upload: the spend limit per run is {money(limits.per_run)} ({where});"
                f"{spent} the estimate for {clips} is {money(total)}, which would pass it. Nothing was "
                f"sent to Segmind: make fewer or smaller clips, or raise the limit.{based}{saved}")
        if limits.per_day is not None:
            spent = stores.ledger.spent_today()  # an unreadable ledger refuses (SpendRecordsError)
            if spent + reserved + total > limits.per_day + _EPS:
                running = f" plus {money(reserved)} for jobs still running" if reserved > _EPS else ""
                raise SpendLimitError(
                    f"Refused before any upload: the spend limit per day is {money(limits.per_day)} ({where}); "
                    f"{money(spent)} was spent today{running}, and the estimate for {clips} is "
                    f"{money(total)}, which would pass it. Nothing was sent to Segmind: wait until "
                    f"tomorrow, or raise the limit.{based}{saved}")

    return stores.reservations.reserve(run_id, values, admit)


def guard_before_paying(user_dir: str | os.PathLike, run_id: str | None, amounts: list[float],
                        client: Any = None, basis: str | None = None) -> list[Reservation]:
    """Both checks before any upload, for the jobs that will be paid (not cache hits nor
    recorded jobs being resumed): the spend limits (reserving the amounts), then, given a
    client, the credits left (one credits call a minute at most). A refusal by the credits
    check gives the reservations back. Pair every handle with release() or settle()."""
    from .credits import check_credits, credits_left

    handles = check_spend(user_dir, run_id, amounts, basis)
    if client is None:
        return handles
    try:
        check_credits(credits_left(client), amounts)
    except BaseException:
        for handle in handles:
            release(user_dir, handle)
        raise
    return handles


def release(user_dir: str | os.PathLike, handle: Reservation | None) -> None:
    """A reserved job ended unpaid (refused, failed before acceptance, served from the
    cache): it no longer counts against either limit."""
    if handle is not None and handle.id is not None:
        _store_of(user_dir, handle).release(handle)


def settle(user_dir: str | os.PathLike, handle: Reservation | None, request_id: str | None) -> None:
    """A reserved job was accepted and its ledger line written: the ledger counts it now."""
    if handle is not None and handle.id is not None:
        _store_of(user_dir, handle).settle(handle, request_id)


def _store_of(user_dir: str | os.PathLike, handle: Reservation) -> Any:
    """The store that made the reservation (the team's Redis, or this machine's file), even if
    the team setting or Redis's state changed since: it is ended where it counts."""
    from .reservations import FileReservations

    return getattr(handle, "store", None) or FileReservations(user_dir)


def reserved_total(user_dir: str | os.PathLike) -> float:
    """Estimates reserved by jobs in flight in every process (not yet in the ledger)."""
    from .team_stores import record_stores

    return record_stores(user_dir).reservations.in_flight()


__all__ = ["NOTHING_RESERVED", "Reservation", "check_spend", "guard_before_paying", "money", "release",
           "reserved_total", "settle"]
