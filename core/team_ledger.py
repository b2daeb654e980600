"""The team's ledger in Redis: each paid job once (by request id and fingerprint, the later
line wins, as in the local ledger), with the machine that paid it, beside this machine's
ledger.jsonl, which is always written first: the local line is the safety net, so a Redis
that fails mid-write loses nothing (the line is written back when it answers again).

Keys, under shared_store.key_prefix(api_key) (a one-way tag, never the key):
    ledger          hash   "<request id>|<fingerprint>" -> the line as JSON (redacted, as the local one)
    ledger:epoch    string a mark set when the team's ledger is first filled: gone or changed means
                           Redis was emptied (team_stores.restore_if_emptied writes this machine's lines back)
    ledger:times    zset   the same field -> the line's time (spent today, newest jobs)
    flight:<fp>     string the latest line of a request (its request id, model, whether its clip
                           landed): what a waiter on another machine collects by (team_lock.py)

`TeamLedger` is a `Ledger` (the local file) whose totals and lists come from Redis."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

from .errors import Action, SpendRecordsError
from .ledger import Ledger, LedgerLine

log = logging.getLogger(__name__)

FLIGHT_RECORD_SECONDS = 7 * 24 * 3600  # Segmind keeps a job's output file seven days
_SCAN = 500

# One line into the team's ledger, unless a later line of the same job is there already
# (a write-back of an old line never replaces a newer one): HSET + ZADD; and the request's
# flight record, unless it holds a later line (of another job of the same request).
_RECORD = """
local function later(raw)
  if not raw then return false end
  local ok, was = pcall(cjson.decode, raw)
  return ok and type(was) == 'table' and tonumber(was['time']) ~= nil and tonumber(was['time']) > tonumber(ARGV[3])
end
if later(redis.call('HGET', KEYS[1], ARGV[1])) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if KEYS[3] ~= '' and not later(redis.call('GET', KEYS[3])) then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', tonumber(ARGV[4]))
end
return 1
"""


def line_field(line: LedgerLine) -> str:
    """The job a line is about: its request id and fingerprint (a line without an id, a v1
    answer that gave none, is its own job: its process and time)."""
    if line.request_id:
        return f"{line.request_id}|{line.fingerprint or ''}"
    return f"local|{line.session or ''}|{line.time!r}"


def line_json(line: LedgerLine) -> str:
    return json.dumps(line.as_dict(), separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def mirror_line(client: Any, prefix: str, line: LedgerLine, key: str | None = None) -> bool:
    """Write one ledger line (redacted as the local one, and of `key` in any encoding) to the
    team's ledger; True if it was the newest of its job. Raises redis errors (the caller
    decides what a failure means)."""
    from .credentials import redact

    flight = f"{prefix}flight:{line.fingerprint}" if line.request_id and line.fingerprint else ""
    script = client.register_script(_RECORD)
    done = script(keys=[f"{prefix}ledger", f"{prefix}ledger:times", flight],
                  args=[line_field(line), redact(line_json(line), key), repr(float(line.time)), FLIGHT_RECORD_SECONDS])
    return bool(done)


def parse_lines(raws: list[Any]) -> list[LedgerLine]:
    out = []
    for raw in raws:
        if raw is None:
            continue
        try:
            parsed = LedgerLine.parse(json.loads(raw))
        except (ValueError, RecursionError, TypeError):
            parsed = None
        if parsed is not None:
            out.append(parsed)
    return out


class TeamLedger(Ledger):
    """This machine's ledger file plus the team's ledger in Redis (see the module's text)."""

    def __init__(self, user_dir: "str | os.PathLike[str]", client: Any, prefix: str, machine: str,
                 key: str | None = None) -> None:
        super().__init__(user_dir)
        self.client = client
        self._key = key  # only to redact it from what goes to Redis
        self.prefix = prefix
        self.machine = machine

    def record(self, entry: Mapping[str, Any] | LedgerLine) -> bool:
        line = entry if isinstance(entry, LedgerLine) else LedgerLine.from_entry({**entry, "machine": self.machine})
        if isinstance(entry, LedgerLine) and "machine" not in line.extra:
            line.extra["machine"] = self.machine
        local = super().record(line)  # first: the safety net
        try:
            mirror_line(self.client, self.prefix, line, self._key)
        except Exception as exc:  # Redis away: the local line is written back when it returns
            from .team_stores import keep_writing_back, note_outage

            # An outage like any other (even if Redis answers again a moment later, when the
            # reservation is settled there): written back as soon as Redis answers, not at
            # this machine's next job only.
            note_outage(self.user_dir, line.time)
            keep_writing_back(self.user_dir, self.client, self.prefix, self._key)
            log.warning("Segmind: job %s is recorded on this machine but not yet in the team's ledger "
                        "(Redis: %s); it is written there when Redis answers again.", line.request_id,
                        type(exc).__name__)
            return local
        return True

    # -- the team's totals (the per-day limit holds across machines)

    def spent_since(self, t: float) -> float:
        try:
            fields = self.client.zrangebyscore(f"{self.prefix}ledger:times", repr(float(t)), "+inf")
            lines = parse_lines(self.client.hmget(f"{self.prefix}ledger", fields)) if fields else []
        except Exception as exc:
            raise SpendRecordsError(
                f"The team's ledger in Redis cannot be read ({type(exc).__name__}), so today's spend is "
                f"unknown and no paid run is started. Check that Redis is running, then {Action.RETRY}.") from None
        return sum(line.amount for line in lines if line.time >= t)

    # -- the team's jobs (the jobs tab and `jobs` show every machine's)

    def team_entries(self, limit: int) -> list[LedgerLine]:
        """The latest `limit` jobs of every machine, newest first; [] when Redis cannot be read."""
        try:
            fields = self.client.zrevrange(f"{self.prefix}ledger:times", 0, max(0, int(limit)) - 1)
            return parse_lines(self.client.hmget(f"{self.prefix}ledger", fields)) if fields else []
        except Exception as exc:
            log.warning("Segmind: the team's jobs cannot be listed (Redis: %s); this machine's are shown.",
                        type(exc).__name__)
            return []

    def entries(self, limit: int = 200) -> list[LedgerLine]:
        latest: dict[str, LedgerLine] = {}
        for line in [*super().entries(limit), *self.team_entries(limit)]:
            if "machine" not in line.extra:
                line.extra["machine"] = self.machine  # a line of this machine's from before the team
            known = latest.get(line_field(line))
            if known is None or line.time >= known.time:
                latest[line_field(line)] = line
        return sorted(latest.values(), key=lambda e: e.time, reverse=True)[:max(0, int(limit))]

    def find(self, request_id: str) -> LedgerLine | None:
        found = super().find(request_id)
        if found is not None:
            return found
        try:
            hits = [v for _, v in self.client.hscan_iter(f"{self.prefix}ledger", match=f"{_glob(request_id)}|*",
                                                          count=_SCAN)]
        except Exception:
            return None
        lines = sorted(parse_lines(hits), key=lambda e: e.time)
        return lines[-1] if lines else None


def flight_record(client: Any, prefix: str, fingerprint: str) -> LedgerLine | None:
    """The latest team ledger line of a request (fingerprint), or None."""
    raw = client.get(f"{prefix}flight:{fingerprint}")
    lines = parse_lines([raw]) if raw is not None else []
    return lines[0] if lines else None


def write_back(user_dir: Path, client: Any, prefix: str, since: float, key: str | None = None) -> int:
    """This machine's ledger lines since `since` into the team's ledger (idempotent: a job
    already there is kept unless this line is newer). Returns how many lines were read."""
    lines = [line for line in Ledger(user_dir).lines() if line.time >= since]
    for line in lines:
        mirror_line(client, prefix, line, key)
    return len(lines)


def _glob(text: str) -> str:
    """`text` as a literal in a Redis MATCH pattern (a request id is letters, digits, - and _)."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
