"""OAuth access tokens shared by every worker, and the client-credentials flow FedEx and UPS share.

A token lives in the store (Redis in production, ``base.MemoryTokenStore`` without Redis)
until 60 s before the courier's ``expires_in``, so no worker sends a token that expires in
flight. The store key names the courier, its base URL and client id: two accounts, or a
sandbox and production, never share a token.

Refresh is single-flight: a worker that finds no token takes a short lock (Redis ``SET NX``
with an expiry; a thread lock in memory), looks again, and only then asks the courier. Two
workers whose token expired at once thus cost the courier one ``/oauth/token`` call, not
one per worker (the couriers throttle that endpoint separately: FedEx blocks an IP for 10
minutes after a burst). A worker that cannot get the lock within a few seconds (its holder
died) fetches a token itself: at worst one extra token, which is harmless.

A 401 on an API call drops the token (only if the store still holds that same token, so a
fresh one another worker just stored survives), fetches a new one and retries once; a
second 401 is an ``AuthError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator

import redis
import requests

from .base import AuthError, Courier, MemoryTokenStore

logger = logging.getLogger("shipping.couriers")

# A token is dropped this long before the courier says it expires.
EXPIRY_MARGIN_SECONDS = 60.0
# How long one worker may hold the refresh lock, and how long another waits for it.
REFRESH_LOCK_SECONDS = 10.0
REFRESH_WAIT_SECONDS = 5.0

# Deletes the lock only if we still own it (it may have expired and been taken by another worker).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# A token read from Redis is kept in this process for at most LOCAL_SECONDS (never past its expiry
# in Redis), so the thousands of calls of one tracking poll do not each read it again. Redis stays
# the one source: a token refreshed by another worker is seen here within LOCAL_SECONDS, and a 401
# drops the local copy with the shared one (``OAuthCourier.drop_token``).
LOCAL_SECONDS = 30.0
_local: dict[str, tuple[str, float]] = {}
_local_lock = threading.Lock()


def _remember(name: str, token: str, seconds: float) -> None:
    with _local_lock:
        _local[name] = (token, time.monotonic() + seconds)


def forget_local(name: str | None = None) -> None:
    """Drop this process's copy of one token (or of all: tests that empty Redis call it)."""
    with _local_lock:
        if name is None:
            _local.clear()
        else:
            _local.pop(name, None)


class RedisTokenStore:
    """``base.TokenStore`` on Redis: one token per courier account for every process.

    Redis errors fall back to a per-process memory store (a token per process instead of
    one for all: more token calls, never a failed shipment).
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "courier-token:"):
        self.client = client
        self.prefix = prefix
        self.fallback = MemoryTokenStore()
        self._release = client.register_script(_RELEASE)

    def get(self, key: str) -> str | None:
        name, now = self.prefix + key, time.monotonic()
        with _local_lock:
            hit = _local.get(name)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(name)
            pipe.pttl(name)
            value, pttl = pipe.execute()
        except redis.RedisError as exc:
            logger.warning("token store: Redis unavailable (%s), using this process's memory", exc)
            return self.fallback.get(key)
        if value is None:
            forget_local(name)
            return None
        token = value.decode()
        if isinstance(pttl, int) and pttl > 0:
            _remember(name, token, min(LOCAL_SECONDS, pttl / 1000))
        return token

    def set(self, key: str, value: str, ttl_seconds: float) -> None:
        name = self.prefix + key
        try:
            self.client.set(name, value, px=max(1, int(ttl_seconds * 1000)))
        except redis.RedisError as exc:
            logger.warning("token store: Redis unavailable (%s), using this process's memory", exc)
            self.fallback.set(key, value, ttl_seconds)
            return
        _remember(name, value, min(LOCAL_SECONDS, ttl_seconds))

    def delete(self, key: str) -> None:
        forget_local(self.prefix + key)
        try:
            self.client.delete(self.prefix + key)
        except redis.RedisError as exc:
            logger.warning("token store: Redis unavailable (%s)", exc)
        self.fallback.delete(key)

    @contextlib.contextmanager
    def refresh_lock(self, key: str) -> Iterator[bool]:
        """Hold the refresh lock for ``key`` (True), or give up after a short wait (False)."""
        name, owner = f"{self.prefix}{key}:refresh", uuid.uuid4().hex
        deadline = time.monotonic() + REFRESH_WAIT_SECONDS
        acquired = False
        try:
            while True:
                if self.client.set(name, owner, nx=True, px=int(REFRESH_LOCK_SECONDS * 1000)):
                    acquired = True
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
        except redis.RedisError as exc:
            logger.warning("token store: no refresh lock, Redis unavailable (%s)", exc)
        try:
            yield acquired
        finally:
            if acquired:
                with contextlib.suppress(redis.RedisError):
                    self._release(keys=[name], args=[owner])


_memory_locks: dict[str, threading.Lock] = {}
_memory_locks_guard = threading.Lock()


@contextlib.contextmanager
def _thread_lock(key: str) -> Iterator[bool]:
    with _memory_locks_guard:
        lock = _memory_locks.setdefault(key, threading.Lock())
    acquired = lock.acquire(timeout=REFRESH_WAIT_SECONDS)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


def refresh_lock(store, key: str):
    """The store's own cross-process lock where it has one, else a lock across this process's threads."""
    lock = getattr(store, "refresh_lock", None)
    return lock(key) if lock is not None else _thread_lock(key)


def token_ttl(expires_in) -> float:
    """Seconds to keep a token: ``expires_in`` (a number or, at UPS, a string) less the margin."""
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        seconds = 0.0
    if seconds <= 0:
        return 0.0
    return seconds - EXPIRY_MARGIN_SECONDS if seconds > 2 * EXPIRY_MARGIN_SECONDS else seconds / 2


class OAuthCourier(Courier):
    """A courier whose API takes ``Authorization: Bearer`` from a client-credentials token.

    Subclasses implement ``fetch_token`` (one call to the courier's token endpoint, returning
    the token and its ``expires_in``) and send their API calls through ``api``.
    """

    def fetch_token(self) -> tuple[str, float]:
        raise NotImplementedError

    def call_headers(self) -> dict[str, str]:
        """Headers made afresh for every call (UPS wants a new ``transId`` on each)."""
        return {}

    @property
    def token_key(self) -> str:
        digest = hashlib.sha256(f"{self.config.base_url}|{self.config.key}".encode()).hexdigest()[:16]
        return f"{self.code}:{digest}"

    def access_token(self) -> str:
        """The shared token, fetched once for all workers when absent or about to expire."""
        token = self.tokens.get(self.token_key)
        if token:
            return token
        with refresh_lock(self.tokens, self.token_key):
            # Another worker may have refreshed while we waited for the lock.
            token = self.tokens.get(self.token_key)
            if token:
                return token
            token, expires_in = self.fetch_token()
            ttl = token_ttl(expires_in)
            if ttl > 0:
                self.tokens.set(self.token_key, token, ttl)
            return token

    def drop_token(self, token: str) -> None:
        if self.tokens.get(self.token_key) == token:
            self.tokens.delete(self.token_key)

    def api(self, method: str, path: str, *, headers: dict | None = None, **kwargs) -> requests.Response:
        """One API call with the shared token; a 401 refreshes the token once and retries once."""
        for attempt in (1, 2):
            token = self.access_token()
            response = self.http(
                method,
                path,
                headers={**(headers or {}), **self.call_headers(), "Authorization": f"Bearer {token}"},
                **kwargs,
            )
            if response.status_code != 401:
                return response
            self.drop_token(token)
            if attempt == 1:
                logger.info("%s: 401 on %s %s, refreshing the token once", self.code, method, path)
        error = self.permanent_error(response)
        raise AuthError(self.code, error.message, code=error.code, http_status=401)
