"""Short status lines for the node while it waits (sent over ComfyUI's progress-text channel)."""
from __future__ import annotations


def clock(seconds: float | None) -> str:
    s = max(0, int(round(seconds or 0)))
    return f"{s // 60}:{s % 60:02d}"


def megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def describe(kind: str, data: dict) -> str | None:
    """One line for a client event, or None when the event changes nothing visible."""
    if kind == "uploading":
        return "Uploading the image to Segmind..."
    if kind == "cache_hit":
        return "Reusing the cached clip for this exact request (not billed again)"
    if kind == "resuming":
        return (f"Resuming job {data.get('request_id', '?')} submitted {clock(data.get('age'))} ago "
                "(not billed again)")
    if kind == "waiting_other_run":
        return "Waiting for the same request running elsewhere (another run or process) to finish: its clip is reused, not paid twice"
    if kind == "submitted":
        return f"Submitted (request {data.get('request_id', '?')})"
    if kind == "status":
        status = str(data.get("status", "")).upper()
        if data.get("mode") == "sync":
            return "Generating (v1 sync, about 2 minutes)..."
        line = {"QUEUED": "Queued", "PROCESSING": "Processing"}.get(status, status.title() or "Waiting")
        # Same wording as the badge (web/js/format.js): " · " separators, "~m:ss left".
        line += f" · {clock(data.get('elapsed'))} elapsed"
        if data.get("eta") is not None:
            line += f" · ~{clock(data['eta'])} left" if data["eta"] > 0 else " · finishing"
        return line
    if kind == "downloading":
        total = data.get("total")
        done = data.get("done", 0)
        return f"Downloading {megabytes(done)}" + (f" of {megabytes(total)}" if total else "")
    if kind == "retry":
        return f"Retrying {data.get('stage', '')} in {data.get('wait', 0):.0f} s ({data.get('reason', '')})"
    if kind == "decoding":
        return f"Decoding {data.get('done', 0)}/{data.get('total', '?')} frames"
    return None
