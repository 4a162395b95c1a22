"""Courier rate limits shared by every process: a token bucket per courier in Redis.

The bucket holds at most ``burst`` calls and refills at ``rate_per_second``; one Lua script
refills, takes a token and says how long to wait, atomically and on Redis's own clock (so
the hosts' clocks need not agree). A caller that would wait reserves its token (the bucket
goes negative), sleeps and goes: calls leave in order and never faster than
``rate * t + burst`` over any ``t``. A wait longer than ``max_wait_seconds`` reserves
nothing and raises ``RateLimited`` with the wait, so a Celery task retries later instead of
holding a worker.

Leases. A process that calls a courier often (a tracking poll: thousands of calls, one per UPS
number) would pay the script's round trip per call. ``RedisRateLimiter`` therefore takes up to
``LEASE_MAX`` tokens in one script call when the bucket has them to spare, hands the first to
the caller and the rest to this process's next callers for ``LEASE_SECONDS`` (timed from before
the script call, so they end no later than that after the grant); tokens not used in time are
dropped. A lease is charged as if all its calls went out at its end: the script first lowers the
bucket to at most ``burst - rate * LEASE_SECONDS``, then takes the lease, so ``rate * t + burst``
still holds whenever in its window the leased calls go. The lease size follows demand: one token
at first (no lease, as before), doubled when a lease is used up before it expires, down to what
was used when tokens are dropped. A bucket without room for two tokens beyond that margin (a
small burst) only ever hands out single tokens.

``block(courier, s)`` (a 429's Retry-After) sets a shared "blocked until" that every
worker's next ``acquire`` obeys; only a later time replaces an earlier one. It drops this
process's leased tokens; another process may still use its own for at most ``LEASE_SECONDS``
(as a call already in flight elsewhere would still arrive).

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
LEASE_SECONDS = 0.25  # how long a process may hold tokens it took ahead
LEASE_MAX = 16  # tokens one script call may take

# Times are Redis's clock in whole microseconds (exact in a Lua double until the year 2255)
# and are stored with every digit: a millisecond floor, or tostring's 14 digits, would let a
# refill count up to a millisecond that has not passed yet and grant a token early.
# KEYS: bucket, blocked-until. ARGV: rate per second, burst, max wait (us), tokens wanted, lease (us).
# Returns {tokens taken (0: none reserved), wait in us}. More than one token only without a wait,
# and only from what is left after lowering the bucket to burst - rate * lease (module docstring).
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
local taken = 1
local want = tonumber(ARGV[4] or '1')
if want > 1 and wait == 0 then
  local room = math.min(tokens, burst - rate * tonumber(ARGV[5] or '0') / 1000000)
  if room >= 2 then
    taken = math.min(want, math.floor(room))
    tokens = room
  end
end
tokens = tokens - taken
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {taken, wait}
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
        self.lease_seconds, self.lease_max = LEASE_SECONDS, LEASE_MAX
        self._acquire_script = client.register_script(_ACQUIRE)
        self._block_script = client.register_script(_BLOCK)
        self._leases: dict[str, _Lease] = {}
        self._leases_lock = threading.Lock()

    def keys(self, courier: str) -> tuple[str, str]:
        # "-us": microsecond state; keys of the earlier millisecond script (gone within seconds) are not misread.
        return f"{self.prefix}{courier}:bucket-us", f"{self.prefix}{courier}:blocked-until-us"

    def _take(self, courier: str) -> tuple[bool, float]:
        with self._leases_lock:
            lease = self._leases.setdefault(courier, _Lease())
            now = time.monotonic()
            if lease.left > 0 and now < lease.until:
                lease.left -= 1
                return True, 0.0
            want = lease.next_size(now, self.lease_max)
        asked = time.monotonic()  # the lease runs from before the script call: never later than Redis's grant
        taken, wait_us = self._acquire_script(
            keys=list(self.keys(courier)),
            args=[
                repr(self.rate),
                self.burst,
                int(self.max_wait * 1_000_000),
                want,
                int(self.lease_seconds * 1_000_000),
            ],
        )
        taken = int(taken)
        if taken > 1:
            with self._leases_lock:
                lease = self._leases.setdefault(courier, _Lease())
                lease.add(taken - 1, asked + self.lease_seconds, time.monotonic())
        elif taken == 1:
            with self._leases_lock:
                self._leases.setdefault(courier, _Lease()).single(asked + self.lease_seconds)
        return taken > 0, int(wait_us) / 1_000_000

    def acquire(self, courier: str) -> None:
        try:
            _acquire(self._take, courier, self.max_wait)
        except redis.RedisError as exc:
            logger.warning("rate limit: Redis unavailable (%s), limiting this process only", exc)
            self.fallback.acquire(courier)

    def block(self, courier: str, seconds: float) -> None:
        with self._leases_lock:
            self._leases.pop(courier, None)  # this process's leased tokens are not used past the block
        self.fallback.block(courier, seconds)
        try:
            self._block_script(keys=[self.keys(courier)[1]], args=[max(1, math.ceil(seconds * 1_000_000))])
        except redis.RedisError as exc:
            logger.warning("rate limit: Redis unavailable (%s), blocking this process only", exc)


class _Lease:
    """This process's tokens taken ahead for one courier, and how many to ask for next time."""

    def __init__(self):
        self.left = 0  # tokens still to hand out
        self.until = 0.0  # monotonic time after which they are dropped
        self.size = 1  # tokens the next script call asks for
        self.asked_for = 0  # tokens the current lease held when taken

    def next_size(self, now: float, largest: int) -> int:
        """The lease to ask for, the current one being used up or expired."""
        if self.asked_for:
            if self.left == 0 and now < self.until:
                self.size = min(largest, self.size * 2)  # used up in time: demand is there
            elif self.left > 0:
                self.size = max(1, self.asked_for - self.left)  # tokens dropped: ask for what was used
        self.left, self.asked_for = 0, 0
        return self.size

    def add(self, tokens: int, until: float, now: float) -> None:
        """Tokens of a new lease (another thread's may still be valid: the earlier expiry holds for both)."""
        if self.left > 0 and now < self.until:
            self.left, self.until = self.left + tokens, min(self.until, until)
        else:
            self.left, self.until = tokens, until
        self.asked_for = tokens + 1

    def single(self, until: float) -> None:
        """One token, used now: a next call before ``until`` shows demand for a lease."""
        if self.left == 0:
            self.until, self.asked_for = until, 1


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
