"""The account's credits: a short-lived memo of the last answer (every credits call spends one
request of the budget), and the check before paying that the account holds the estimate."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

from .errors import Action, Cancelled, InsufficientCreditsError, SegmindError
from .params import finite_number
from .reservations import check_amounts

log = logging.getLogger(__name__)

CREDITS_TTL = 60.0            # seconds a credits answer is reused (each call uses the request budget)
_EPS = 1e-9


def check_credits(credits_left: float | None, amounts: list[float]) -> None:
    """Refuse before paying when the account's credits are known and below the estimate."""
    left = finite_number(credits_left)
    if left is None:
        return  # unknown: the service itself refuses an empty account (HTTP 406), unbilled
    values = check_amounts(amounts)
    total = sum(values)
    if left + _EPS < total:
        from .spend_check import money

        n = len(values)
        raise InsufficientCreditsError(
            f"Refused before paying: your Segmind account has {money(left)} of credits left, less than "
            f"the estimate of {money(total)} for {n} clip{'s' if n != 1 else ''}. Nothing was sent. "
            f"Top up your credits on segmind.com (or make fewer or smaller clips), then {Action.RETRY}.")


_credits_lock = threading.Lock()
_refresh_lock = threading.Lock()
_credits_failed_at: float | None = None
CREDITS_RETRY_AFTER = 10.0  # seconds a failed credits call is not repeated
_credits_value: float | None = None
_credits_at: float | None = None  # time.monotonic() of the answer


def credits_from_answer(answer: Any) -> float | None:
    """Credits left from a /v1/get-user-credits answer: paid plus free credits (a refusal on
    a wrong guess would block a run the account can pay; the service refuses the other)."""
    if not isinstance(answer, Mapping):
        return finite_number(answer)
    parts = [finite_number(answer.get(k)) for k in ("credits", "free-credits", "free_credits")]
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


def note_credits(value: Any) -> None:
    """Remember the credits left (from a credits call, or a run's `remaining_credits`)."""
    global _credits_value, _credits_at
    left = finite_number(value)
    if left is None:
        return
    with _credits_lock:
        _credits_value, _credits_at = left, time.monotonic()


def known_credits(max_age: float | None = None) -> float | None:
    """The last credits seen, if any (and no older than max_age seconds when given)."""
    with _credits_lock:
        if _credits_at is None or (max_age is not None and time.monotonic() - _credits_at > max_age):
            return None
        return _credits_value


def refresh_credits(client: Any, max_age: float = CREDITS_TTL) -> float | None:
    """Credits left through `client.credits()`, reused for `max_age` seconds: every call
    spends one request of the budget. Raises the client's SegmindError on failure."""
    # Several node runs at once: one asks, the others wait for its answer (Cancel still works).
    while not _refresh_lock.acquire(timeout=0.2):
        check = getattr(client, "check_cancel", None)
        if callable(check):
            check()
    try:
        with _credits_lock:
            fresh = _credits_at is not None and time.monotonic() - _credits_at <= max_age
            if fresh:
                return _credits_value
            if _credits_failed_at is not None and time.monotonic() - _credits_failed_at < CREDITS_RETRY_AFTER:
                raise SegmindError("The credits check failed moments ago.")
        try:
            value = credits_from_answer(client.credits())
        except SegmindError as exc:
            if not isinstance(exc, Cancelled):  # a Cancel says nothing about the service
                _note_credits_failure()
            raise
        note_credits(value)
        return value
    finally:
        _refresh_lock.release()


def _note_credits_failure() -> None:
    """A failed credits call is not repeated by every node run that starts in the next seconds."""
    global _credits_failed_at
    with _credits_lock:
        _credits_failed_at = time.monotonic()


def credits_left(client: Any, max_age: float = CREDITS_TTL) -> float | None:
    """refresh_credits for the check before paying: unknown (None) when the call fails,
    since a failed credits call must not stop a run the service would accept."""
    try:
        return refresh_credits(client, max_age)
    except Cancelled:
        raise
    except SegmindError as exc:
        log.info("Segmind: credits left unknown (%s); the run goes ahead.", exc)
        return None


def reset_credits() -> None:
    """Forget the remembered credits (tests)."""
    global _credits_value, _credits_at, _credits_failed_at
    with _credits_lock:
        _credits_value, _credits_at, _credits_failed_at = None, None, None
