"""Decodes take turns: one clip's frames at a time in a process."""
from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator

_SLICE = 0.2  # the longest wait between two looks at Cancel


class DecodeTurns:
    """One decode at a time: each clip's frames take ~1.9 GiB at the defaults, and the memory
    guard of the next decode then sees what the previous ones hold. Decoding is CPU-bound, so
    taking turns costs no wall time on the cores ComfyUI has."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def turn(self, cancel_check: Callable[[], None] | None = None,
             on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        waited = False
        while not self._lock.acquire(timeout=_SLICE):
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            if cancel_check is not None:
                cancel_check()
        try:
            yield
        finally:
            self._lock.release()
