"""Progress a person would expect: one live tqdm line per clip in flight (the wait with its
countdown, the download in bytes, the offline render and the audio write), milestones
printed above the bars, and nothing but milestones when stderr is not a terminal.
--quiet silences both. tqdm is optional: without it the milestones are all there is."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

from ..core.status_text import clock, describe
from .safe_text import for_terminal

_TICK = 0.5  # seconds between redraws of a wait, so its countdown moves between polls


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """All the bars of one run. `bars`: draw live bars; `lines`: print milestones."""

    def __init__(self, *, slots: int, bars: bool, lines: bool) -> None:
        self._tqdm = _tqdm() if bars else None
        self.lines = lines
        self._lock = threading.Lock()
        # Bars closing and lines written from several threads at once would interleave
        # their cursor moves: one lock for everything that moves the cursor.
        self.screen = threading.RLock()
        self._free = list(range(max(1, slots)))
        self._active: set[JobBar] = set()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self._tqdm is not None:
            self._ticker = threading.Thread(target=self._tick, name="segmind-cli-progress", daemon=True)
            self._ticker.start()

    @property
    def live(self) -> bool:
        return self._tqdm is not None

    def write(self, text: str) -> None:
        """A milestone line, above the live bars."""
        if not self.lines:
            return
        text = for_terminal(text)  # names and ids from a manifest or the service
        with self.screen:
            if self._tqdm is not None:
                self._tqdm.write(text, file=sys.stderr)
            else:
                print(text, file=sys.stderr, flush=True)

    def job(self, label: str) -> "JobBar":
        with self._lock:
            position = self._free.pop(0) if self._free else len(self._active)
        bar = JobBar(self, label, position)
        with self._lock:
            self._active.add(bar)
        return bar

    def _release(self, bar: "JobBar") -> None:
        with self._lock:
            self._active.discard(bar)
            self._free.append(bar.position)
            self._free.sort()

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            with self._lock:
                active = list(self._active)
            for bar in active:
                bar.tick()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self._lock:
            active = list(self._active)
        for bar in active:
            bar.close()
        if self._tqdm is not None:
            # tqdm leaves the cursor mid-line after clearing a bar below the first line
            with self.screen:
                sys.stderr.write("\r")
                sys.stderr.flush()


class JobBar:
    """One clip's line. Fed by core.client events (`event`) and the command line's own
    phases (`phase` + `update`); thread-safe, since events arrive from HTTP threads too."""

    def __init__(self, owner: Progress, label: str, position: int) -> None:
        self.owner, self.label, self.position = owner, for_terminal(label), position
        self._lock = threading.Lock()
        self._bar: Any = None
        self._phase = ""
        self._status = ""
        self._processing_since: float | None = None
        self._waiting_since: float | None = None
        self._expected = 0.0
        if owner.live:
            self._bar = owner._tqdm(total=None, position=position, leave=False, dynamic_ncols=True,
                                    file=sys.stderr, desc=label, bar_format="{desc}: {elapsed}")

    def say(self, text: str) -> None:
        self.owner.write(f"{self.label}: {text}" if self.label else text)

    def phase(self, name: str, total: float | None = None, *, unit: str = "it", scale: bool = False) -> None:
        with self._lock:
            self._phase = name
            self._waiting_since = None
            self._processing_since = None
            if self._bar is None:
                return
            self._bar.reset(total=total)
            self._bar.unit, self._bar.unit_scale = unit, scale
            self._bar.unit_divisor = 1024 if unit == "B" else 1000
            if total and unit == "B":
                self._bar.bar_format = None  # tqdm's own: percentage, bar, MB done, speed, time left
            elif total:
                self._bar.bar_format = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}{postfix}"
            elif unit == "it":  # a wait with no known length: its name and the time spent
                self._bar.bar_format = "{desc} [{elapsed}]"
            else:
                self._bar.bar_format = "{desc}: {n_fmt}{unit} [{elapsed}]"
            self._bar.set_description_str(f"{self.label} {name}".strip(), refresh=False)
            with self.owner.screen:
                self._bar.refresh()

    def update(self, done: float | None, total: float | None = None, postfix: str | None = None) -> None:
        with self._lock:
            if self._bar is None:
                return
            if total is not None and total != self._bar.total:
                self._bar.total = total
            if done is not None:
                self._bar.n = done
            if postfix is not None:
                self._bar.set_postfix_str(postfix, refresh=False)
            with self.owner.screen:
                self._bar.refresh()

    def event(self, kind: str, data: dict) -> None:
        """A core.client / core.lifecycle progress event."""
        if kind == "uploading":
            self.phase("uploading")
        elif kind == "submitted":
            self.say(describe(kind, data) or "submitted")
            self._wait_phase("queued")
        elif kind == "status":
            self._on_status(data)
        elif kind == "downloading":
            if self._phase != "downloading":
                self.phase("downloading", data.get("total"), unit="B", scale=True)
            self.update(data.get("done", 0), data.get("total"))
        elif kind in ("cache_hit", "resuming", "retry", "waiting_other_run"):
            line = describe(kind, data)
            if line:
                self.say(line)

    def _wait_phase(self, name: str) -> None:
        self.phase(name)
        with self._lock:
            self._waiting_since = time.monotonic()

    def _on_status(self, data: dict) -> None:
        status = str(data.get("status") or "QUEUED").upper()
        if data.get("mode") == "sync":
            self._wait_phase("generating (v1, about 2 min)")
            return
        if status != self._status:
            self._status = status
            if not self.owner.live:
                line = describe("status", data)
                if line:
                    self.say(line)
        if status == "PROCESSING" and data.get("eta") is not None:
            expected = float(data.get("expected") or 0) or 1.0
            since = time.monotonic() - max(0.0, expected - float(data["eta"]))
            if self._phase != "processing":
                self.phase("processing", round(expected), unit="s")
            with self._lock:
                self._processing_since, self._expected = since, expected
            self.tick()
        elif self._phase not in ("queued", "processing"):
            self._wait_phase("queued")

    def tick(self) -> None:
        """Redraw a wait from the clock: the service is polled every few seconds only."""
        with self._lock:
            since, waiting, expected = self._processing_since, self._waiting_since, self._expected
        now = time.monotonic()
        if since is not None:
            elapsed = now - since
            left = expected - elapsed
            self.update(round(min(elapsed, expected), 1), postfix=f"~{clock(left)} left" if left > 0 else "finishing")
        elif waiting is not None:
            self.update(None)

    def close(self) -> None:
        with self._lock:
            bar, self._bar = self._bar, None
        if bar is not None:
            with self.owner.screen:
                bar.close()
        self.owner._release(self)
