"""When a job looks at its status again: an early first look, sparse while the job has far
to go, dense near its expected end, within each job's share of the request budget; and what
the process learned about how long jobs really take (Segmind's speed varies)."""
from __future__ import annotations

import itertools
import math
import threading
import time
from typing import Any, Callable

from .request_budget import RequestBudget

_SLICE = 0.2  # the longest sleep between two looks at Cancel and at other jobs' completions


class PollSchedule:
    """What the jobs of one process share about polling: the learned run-time factor, how
    many jobs completed (a completion wakes the others near their end), each job's phase.
    `clock` places the jobs' turns (a test passes a simulated one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._factor: float | None = None
        self._completions = 0
        self._phases: dict[int, int] = {}
        self._phase_count = itertools.count()
        self._turn = threading.local()  # this thread's last gap: its own part, and the budget that set its floor

    def expected_with_learning(self, expected: float) -> float:
        """The expected run time, corrected by how long this process's finished jobs really took
        compared with their estimate."""
        with self._lock:
            factor = self._factor
        return expected if factor is None else expected * factor

    def job_finished(self, *, expected: float, took: float) -> None:
        """A job completed `took` seconds after submit; its estimate was `expected`. Also wakes
        every job waiting in sleep(): jobs sent together tend to finish together."""
        with self._lock:
            if expected > 0 and math.isfinite(took) and took > 0:
                ratio = min(5.0, max(0.05, took / expected))
                self._factor = ratio if self._factor is None else 0.5 * self._factor + 0.5 * ratio
            self._completions += 1

    def gap(self, *, elapsed: float, expected: float, first: float, longest: float,
            budget: RequestBudget | Any = None) -> float:
        """Seconds until the next status check. `first` is the densest gap, `longest` the
        sparsest; `budget` (shared by every job polling) sets the floor of each job's gap."""
        exp = self.expected_with_learning(expected)
        if elapsed < 2 * first or elapsed < 2.0:
            gap = max(first, min(2.0, longest))
        elif exp - elapsed > 0:
            gap = min(longest, max(first, 0.3 * (exp - elapsed)))
        else:
            gap = min(longest, first + 0.1 * (elapsed - exp))
        # Many jobs share the budget: each polls no more often than its share allows, and the
        # jobs take turns (each its own phase of the share), so together they still look every
        # share/jobs seconds; the first to see its clip done wakes the others (sleep()).
        share = getattr(budget, "poll_floor", None)  # a budget that spaces no polls has none
        floor = share() if callable(share) else 0.0
        self._turn.own, self._turn.budget, self._turn.floor = gap, None, floor
        if floor <= gap:
            return gap
        self._turn.budget = budget
        jobs = max(1, budget.active_jobs())
        offset = (self._phase() % jobs) * floor / jobs
        now = self._clock()
        turn = math.ceil((now + gap - offset) / floor) * floor + offset
        return max(gap, turn - now)

    def sleep(self, seconds: float, *, elapsed: float, expected: float,
              sleep: Callable[[float], None]) -> bool:
        """Sleep until the next poll (the last gap() of this thread), waking early (True) when
        another job completed while this one is near its own end, or when the budget's floor
        that set the gap fell: jobs ended (here or in another process) and left their share
        of the polls to the ones still waiting. `sleep(s)` sleeps s seconds and raises on Cancel."""
        with self._lock:
            seen = self._completions
        near_end = 0.6 * self.expected_with_learning(expected)
        own = getattr(self._turn, "own", seconds)
        budget = getattr(self._turn, "budget", None)
        floor = getattr(self._turn, "floor", 0.0)
        slept = 0.0  # counted by slices, so a test's instant `sleep` ends it at once
        while slept < seconds:
            step = min(_SLICE, seconds - slept)
            sleep(step)
            slept += step
            if elapsed + slept >= near_end:
                with self._lock:
                    if self._completions != seen:
                        return True
            if budget is not None and slept >= own and self._floor_fell(budget, floor, slept):
                return True
        return False

    @staticmethod
    def _floor_fell(budget: Any, floor: float, slept: float) -> bool:
        """The budget's floor (its store read again at most once a second) fell below the one
        that set this gap, and this job has waited the new one out: its turn among fewer jobs
        has come. While the floor stands, the job keeps its turn (the jobs stay spread)."""
        look = getattr(budget, "look_again", None)
        if callable(look):
            look()
        now = budget.poll_floor()
        return now < floor and slept >= now

    def _phase(self) -> int:
        """This job's turn among the jobs polling at once (each job waits on a thread of its own)."""
        ident = threading.get_ident()
        with self._lock:
            if ident not in self._phases:
                if len(self._phases) > 4096:
                    self._phases.clear()
                self._phases[ident] = next(self._phase_count)
            return self._phases[ident]
