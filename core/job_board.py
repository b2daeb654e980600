"""The board of this process's jobs: what the sidebar's Live jobs list shows, and how many
jobs wait for a result (the request budget keeps room for each)."""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

ENDED_STATES = ("done", "failed", "cancelled")
WAITING_STATES = ("queued", "processing")  # a result fetch still to come
KEEP_ENDED_SECONDS = 600.0


@dataclass
class JobRecord:
    key: str
    node_id: str | None
    prompt_id: str | None
    label: str
    estimate_usd: float
    width: int
    height: int
    num_frames: int
    state: str = "uploading"
    started: float = field(default_factory=time.time)
    ended: float | None = None
    eta: float | None = None
    request_id: str | None = None
    cost: float | None = None

    def as_dict(self) -> dict[str, Any]:
        now = time.time()
        return {"key": self.key, "node_id": self.node_id, "prompt_id": self.prompt_id, "label": self.label,
                "state": self.state, "started": self.started, "elapsed": (self.ended or now) - self.started,
                "eta": self.eta, "estimate_usd": self.estimate_usd, "request_id": self.request_id,
                "cost": self.cost, "width": self.width, "height": self.height, "num_frames": self.num_frames}


class JobBoard:
    """The jobs of this process, for the sidebar's Live jobs list and the request budget."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._watchers: list[Callable[[], None]] = []

    def watch(self, on_waiting_change: Callable[[], None]) -> None:
        """Call `on_waiting_change()` whenever the count of waiting() jobs changes (the request
        budget tells the other processes on its store)."""
        with self._lock:
            self._watchers.append(on_waiting_change)

    def add(self, **fields: Any) -> JobRecord:
        job = JobRecord(key=f"job-{next(self._ids)}", **fields)
        with self._lock:
            self._jobs[job.key] = job
            self._prune()
        return job

    def update(self, job: JobRecord, **fields: Any) -> None:
        with self._lock:
            was_waiting = job.state in WAITING_STATES
            for name, value in fields.items():
                setattr(job, name, value)
            if job.state in ENDED_STATES and job.ended is None:
                job.ended = time.time()
            watchers = list(self._watchers) if was_waiting != (job.state in WAITING_STATES) else []
        for watcher in watchers:  # outside the lock: a watcher may write to a shared store
            watcher()

    def waiting(self) -> int:
        """Jobs that will still need a result fetch: for the budget's reserve."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state in WAITING_STATES)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune()
            return [j.as_dict() for j in sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)]

    def _prune(self) -> None:
        now = time.time()
        for key in [k for k, j in self._jobs.items() if j.ended is not None and now - j.ended > KEEP_ENDED_SECONDS]:
            del self._jobs[key]
