"""The live jobs of a team's other machines: each process with a team Redis publishes its job
board (core/job_board.py) every PUBLISH_EVERY seconds under `<prefix>live:<process>`, kept
LIVE_TTL seconds, and names itself in the set `<prefix>live`, so a process that ends or dies
drops off the other machines' jobs tabs by itself. The jobs tab shows this process's board plus these, each with its machine."""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from .shared_store import PROCESS, keep_doing

log = logging.getLogger(__name__)

PUBLISH_EVERY = 2.0
LIVE_TTL = 10


def publish_board(client: Any, prefix: str, machine: str, jobs: list[dict[str, Any]], key: str | None = None,
                  process: str = PROCESS) -> None:
    """This process's live jobs, for the other machines (nothing when it has none)."""
    from .credentials import redact

    name = f"{prefix}live:{process}"
    if not jobs:
        client.pipeline(transaction=False).delete(name).srem(f"{prefix}live", process).execute()
        return
    payload = json.dumps({"machine": machine, "jobs": jobs}, default=str, allow_nan=False)
    client.pipeline(transaction=False).set(name, redact(payload, key), ex=LIVE_TTL) \
        .sadd(f"{prefix}live", process).expire(f"{prefix}live", 7 * 24 * 3600).execute()


def team_live_jobs(client: Any, prefix: str, process: str = PROCESS) -> list[dict[str, Any]]:
    """Every other process's live jobs, each with its `machine`; [] when Redis cannot be read.
    Read from the team's index (`<prefix>live`), never by a SCAN of a Redis that may hold other
    applications' keys; a process whose jobs' key ran out (it ended or died) leaves the index."""
    out: list[dict[str, Any]] = []
    try:
        processes = sorted(p.decode() if isinstance(p, bytes) else str(p) for p in client.smembers(f"{prefix}live"))
        processes = [p for p in processes if p != process]
        raws = client.mget([f"{prefix}live:{p}" for p in processes]) if processes else []
        gone = [p for p, raw in zip(processes, raws) if raw is None]
        if gone:
            client.srem(f"{prefix}live", *gone)
    except Exception as exc:
        log.debug("Segmind: the team's live jobs cannot be read (%s).", exc)
        return []
    n = 0
    for raw in raws:
        try:
            data = json.loads(raw) if raw is not None else None
        except (ValueError, TypeError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
            continue
        machine = data.get("machine") if isinstance(data.get("machine"), str) else None
        # Another graph's node ids mean nothing here; its job keys are only unique in its process.
        out += [{**job, "key": f"{n}:{machine}:{job.get('key')}", "node_id": None, "prompt_id": None,
                 "machine": machine} for job in data["jobs"] if isinstance(job, dict)]
        n += 1
    return sorted(out, key=lambda j: j.get("started") or 0, reverse=True)


def start_publishing(client: Any, prefix: str, machine: str, snapshot: Callable[[], list[dict[str, Any]]],
                     key: str | None = None) -> None:
    """One daemon thread per Redis and account publishing `snapshot()` while the process runs
    (Redis away: the other machines' tabs miss these jobs meanwhile)."""
    keep_doing((id(client), prefix, "board"), "team-board", PUBLISH_EVERY,
               lambda: publish_board(client, prefix, machine, snapshot(), key))


def board_snapshot() -> list[dict[str, Any]]:
    from .runtime import current

    return current().board.snapshot()
