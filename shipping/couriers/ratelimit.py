"""Courier rate limits shared by every process: a token bucket per courier in Redis.

The bucket holds at most ``burst`` calls and refills at ``rate_per_second``; one Lua script
refills, takes a token and says how long to wait, atomically and on Redis's own clock (so
the hosts' clocks need not agree). A caller that would wait reserves its token (the bucket
goes negative), sleeps and goes: calls leave in order and never faster than
``rate * t + burst`` over any ``t``. A wait longer than ``max_wait_seconds`` reserves
nothing and raises ``RateLimited`` with the wait, so a Celery task retries later instead of
holding a worker.

``block(courier, s)`` (a 429's Retry-After) sets a shared "blocked until" that every
worker's next ``acquire`` obeys; only a later time replaces an earlier one.

Without Redis (the embedded mode, tests) ``MemoryRateLimiter`` does the same for the
threads of one process; ``RedisRateLimiter`` falls back to it when Redis errors.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import redis

from .base import RateLimited

logger = logging.getLogger("shipping.couriers")

DEFAULT_MAX_WAIT_SECONDS = 5.0

# Times are Redis's clock in whole microseconds (exact in a Lua double until the year 2255)
# and are stored with every digit: a millisecond floor, or tostring's 14 digits, would let a
# refill count up to a millisecond that has not passed yet and grant a token early.
# KEYS: bucket, blocked-until. ARGV: rate per second, burst, max wait (us).
# Returns {reserved (1) or not (0), wait in us}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return {0, blocked - now}
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
end
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
if wait > max_wait then
  return {0, wait}
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {1, wait}
"""

# KEYS: blocked-until. ARGV: seconds (us). Keeps the later of the two times.
_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_us > current then
  redis.call('SET', KEYS[1], string.format('%.17g', until_us), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return until_us
"""


class MemoryRateLimiter:
    """``base.RateLimiter`` for the threads of one process (no Redis)."""

    def __init__(self, *, rate_per_second: float, burst: int, max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS):
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be positive and burst at least 1")
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self.max_wait = float(max_wait_seconds)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # courier -> (tokens, at)
        self._blocked: dict[str, float] = {}

    def _take(self, courier: str) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            blocked = self._blocked.get(courier, 0.0)
            if blocked > now:
                return False, blocked - now
            tokens, at = self._buckets.get(courier, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            if wait > self.max_wait:
                return False, wait
            self._buckets[courier] = (tokens - 1, now)
            return True, wait

    def acquire(self, courier: str) -> None:
        _acquire(self._take, courier, self.max_wait)

    def block(self, courier: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._blocked[courier] = max(until, self._blocked.get(courier, 0.0))


class RedisRateLimiter:
    """``base.RateLimiter`` shared by every process through Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        rate_per_second: float,
        burst: int,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
        prefix: str = "courier-rate:",
    ):
        self.client = client
        self.prefix = prefix
        self.fallback = MemoryRateLimiter(
            rate_per_second=rate_per_second, burst=burst, max_wait_seconds=max_wait_seconds
        )
        self.rate, self.burst, self.max_wait = self.fallback.rate, self.fallback.burst, self.fallback.max_wait
        self._acquire_script = client.register_script(_ACQUIRE)
        self._block_script = client.register_script(_BLOCK)

    def keys(self, courier: str) -> tuple[str, str]:
        # "-us": microsecond state; keys of the earlier millisecond script (gone within seconds) are not misread.
        return f"{self.prefix}{courier}:bucket-us", f"{self.prefix}{courier}:blocked-until-us"

    def _take(self, courier: str) -> tuple[bool, float]:
        reserved, wait_us = self._acquire_script(
            keys=list(self.keys(courier)), args=[repr(self.rate), self.burst, int(self.max_wait * 1_000_000)]
        )
        return bool(reserved), int(wait_us) / 1_000_000

    def acquire(self, courier: str) -> None:
        try:
            _acquire(self._take, courier, self.max_wait)
        except redis.RedisError as exc:
            logger.warning("rate limit: Redis unavailable (%s), limiting this process only", exc)
            self.fallback.acquire(courier)

    def block(self, courier: str, seconds: float) -> None:
        self.fallback.block(courier, seconds)
        try:
            self._block_script(keys=[self.keys(courier)[1]], args=[max(1, math.ceil(seconds * 1_000_000))])
        except redis.RedisError as exc:
            logger.warning("rate limit: Redis unavailable (%s), blocking this process only", exc)


def _acquire(take, courier: str, max_wait: float) -> None:
    """Take a token, sleeping for short waits (a block, or a reserved token's turn)."""
    while True:
        reserved, wait = take(courier)
        if reserved:
            if wait > 0:
                time.sleep(wait)
            return
        if wait > max_wait:
            raise RateLimited(
                courier,
                f"rate limit: next call allowed in {wait:.1f} s",
                code="rate_limited",
                retry_after=math.ceil(wait * 10) / 10,
            )
        # Blocked for a short while (a 429's Retry-After): wait it out, then queue for a token.
        time.sleep(wait)
