"""What the command-line tests share: a picture file written with PyAV alone, one
in-process run of the command with what it printed, and a run that fails after paying."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pack_loader import pack_module


def picture(path: Path, seed: int = 0, width: int = 128, height: int = 96) -> Path:
    """A PNG of random pixels (distinct per seed), its folders made."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """The command run in this process: exit code, stdout, stderr."""
    code = pack_module("__main__").main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@contextmanager
def submit_refused_after_each_booking(server: Any, monkeypatch: Any) -> Iterator[None]:
    """While inside: each time a job is booked with its cost, the stand-in (`server`) refuses
    the next submit (HTTP 400), so a run of segments stops right after paying for one."""
    ledger = pack_module("core.ledger")
    original = ledger.Ledger.record

    def record(self: Any, line: dict) -> Any:
        written = original(self, line)
        if line.get("cost") is not None and not server.pending_faults("submit"):
            server.fault("submit", status=400, json={"error": "bad prompt"})
        return written

    with monkeypatch.context() as patched:
        patched.setattr(ledger.Ledger, "record", record)
        yield
