"""The request budget's window in the team's Redis, shared by every machine on one account
(core/budget_store.py says what a store keeps). Per account (core/shared_store.key_prefix):

    <prefix>budget:sent      sorted set: one member per request, scored by when it was sent
    <prefix>budget:paused    the time until which nothing is sent (a 429)
    <prefix>budget:waiting   hash: participant -> "jobs:time", jobs waiting for a result

Each change is one Lua script, so an admission is atomic across machines, and every time is
Redis's own (TIME): machines' clocks need not agree."""
from __future__ import annotations

from typing import Any

from .budget_store import Admission, participant_name
from .shared_store import machine_name, shown_url

# Both scripts below begin so: KEYS[3] waiting, ARGV[2] window, ARGV[4] participant, ARGV[5] its
# jobs waiting; notes this participant's count, forgets counts not renewed within the window,
# and leaves `others` (the other participants' jobs), `now` and `keep_ms`.
_WAITING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[2])
local keep_ms = math.ceil(window * 1000) + 1000
local others = 0
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[4] then
    local jobs, at = string.match(all[i + 1], '^(%d+):(.+)$')
    if jobs and tonumber(at) and tonumber(at) > now - window then
      others = others + tonumber(jobs)
    else
      redis.call('HDEL', KEYS[3], all[i])
    end
  end
end
if tonumber(ARGV[5]) > 0 then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5] .. ':' .. string.format('%.6f', now))
else
  redis.call('HDEL', KEYS[3], ARGV[4])
end
redis.call('PEXPIRE', KEYS[3], keep_ms)
"""

# KEYS: sent, paused, waiting. ARGV: room, window, stamp id, participant, jobs waiting here.
_ADMIT = _WAITING + """
local room = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if paused > now then
  return {0, string.format('%.6f', paused - now), others}
end
if redis.call('ZCARD', KEYS[1]) < room then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], keep_ms)
  return {1, '0', others}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, string.format('%.6f', tonumber(oldest[2]) + window - now), others}
"""

# KEYS: sent, paused, waiting. ARGV: (unused), window, (unused), participant, jobs waiting here.
_REPORT = _WAITING + """
return others
"""

# KEYS: sent. ARGV: stamp id.
_ANSWERED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and now > tonumber(at) then
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
end
return 1
"""

# KEYS: paused. ARGV: seconds.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local till = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if till > current then
  redis.call('SET', KEYS[1], string.format('%.6f', till), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""


class RedisBudgetStore:
    """The window of account `prefix` (shared_store.key_prefix) in `client` (redis-py). Its
    methods raise redis-py's errors when Redis is unreachable: RequestBudget carries on with
    its fallback store then (see there)."""

    def __init__(self, client: Any, prefix: str, url: str = "") -> None:
        self.client = client
        self.keys = [f"{prefix}budget:sent", f"{prefix}budget:paused", f"{prefix}budget:waiting"]
        self.url = url
        self.me = f"{machine_name()}:{participant_name()}"
        self._admit = client.register_script(_ADMIT)
        self._report = client.register_script(_REPORT)
        self._answered = client.register_script(_ANSWERED)
        self._pause = client.register_script(_PAUSE)

    def admit(self, room: int, window: float, waiting_here: int) -> Admission:
        import uuid

        stamp = uuid.uuid4().hex
        ok, wait, others = self._admit(keys=self.keys, args=[room, repr(float(window)), stamp, self.me,
                                                             max(0, int(waiting_here))])
        if int(ok):
            return Admission(stamp, 0.0, int(others))
        return Admission(None, float(wait), int(others))

    def report(self, waiting_here: int, window: float) -> int:
        return int(self._report(keys=self.keys, args=[0, repr(float(window)), "", self.me,
                                                      max(0, int(waiting_here))]))

    def answered(self, stamp: Any) -> None:
        if stamp:
            self._answered(keys=self.keys[:1], args=[stamp])

    def pause(self, seconds: float) -> None:
        self._pause(keys=self.keys[1:2], args=[repr(float(max(0.0, seconds)))])

    def describe(self) -> str:
        return f"the team's Redis ({shown_url(self.url)})" if self.url else "the team's Redis"


__all__ = ["RedisBudgetStore"]
