"""Courier adapters: one module per courier behind ``base.Courier``; ``get_courier`` builds one."""

from __future__ import annotations

import importlib
import os
import threading

import requests

from config.http import process_session

from .base import Courier, CourierConfig, MemoryTokenStore, NotConfigured, RateLimiter, TokenStore  # noqa: F401
from .ratelimit import MemoryRateLimiter, RedisRateLimiter
from .tokens import RedisTokenStore

COURIER_CODES = ("dhl_express", "auspost", "fedex", "ups")
_SETTINGS_NAMES = {"dhl_express": "DHL_EXPRESS", "auspost": "AUSPOST", "fedex": "FEDEX", "ups": "UPS"}
_CLASSES = {
    "dhl_express": "shipping.couriers.dhl_express.DhlExpress",
    "auspost": "shipping.couriers.auspost.AusPost",
    "fedex": "shipping.couriers.fedex.FedEx",
    "ups": "shipping.couriers.ups.Ups",
}


def courier_class(code: str):
    module, _, name = _CLASSES[code].rpartition(".")
    return getattr(importlib.import_module(module), name)


def courier_settings(code: str) -> dict:
    """The courier's settings: ``settings.COURIERS[NAME]``, where a flat ``COURIER_<NAME>_<FIELD>``
    changed at run time (``override_settings``, a test's ``settings`` fixture) wins over it.

    Both come from the same environment variables at start-up; the flat names are the ones
    DESIGN.md and ``.env.example`` use.
    """
    from django.conf import settings

    from config.runtime import UNSET, changed_at_run_time

    name = _SETTINGS_NAMES[code]
    values = dict(settings.COURIERS[name])
    for field in list(values):
        current = changed_at_run_time(f"COURIER_{name}_{field}")
        if current is not UNSET:
            values[field] = current
    return values


def courier_config(code: str) -> CourierConfig:
    from django.conf import settings

    values = courier_settings(code)
    return CourierConfig(
        base_url=values["BASE_URL"],
        key=values["KEY"],
        secret=values["SECRET"],
        account=values["ACCOUNT"],
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_READ_TIMEOUT,
        options={k: v for k, v in values.items() if k not in ("BASE_URL", "KEY", "SECRET", "ACCOUNT")},
    )


# --- Building adapters (the only place that reads settings for them) ----------------------
_limiters: dict[tuple[str, int], RateLimiter] = {}
_memory_tokens: dict[int, MemoryTokenStore] = {}
_build_lock = threading.Lock()


def get_courier(code: str) -> Courier:
    """The adapter for ``code`` with this process's Session, the shared token store and rate limit.

    ValueError for an unknown code (callers map it to their own error).
    """
    if code not in COURIER_CODES:
        raise ValueError(f"unknown courier {code!r}")
    config = courier_config(code)
    return courier_class(code)(
        config, session=courier_session(code), tokens=token_store(), rate_limiter=rate_limiter(code)
    )


def courier_session(code: str) -> requests.Session:
    """One Session (connection pool) per courier per process; a forked worker makes its own."""
    return process_session(f"courier:{code}", user_agent="insole-fulfilment/1 (+courier adapter)")


def token_store() -> TokenStore:
    """The Redis token store every worker shares; this process's memory without Redis."""
    from config.redis import redis_client

    client = redis_client()
    if client is not None:
        return RedisTokenStore(client)
    with _build_lock:
        return _memory_tokens.setdefault(os.getpid(), MemoryTokenStore())


def rate_limiter(code: str) -> RateLimiter:
    """The courier's shared token bucket (settings ``RATE_PER_SECOND``, ``BURST``)."""
    from config.redis import redis_client

    values = courier_settings(code)
    rate, burst = float(values.get("RATE_PER_SECOND", 10.0)), int(values.get("BURST", 20))
    client = redis_client()
    key = (code, os.getpid())
    with _build_lock:
        limiter = _limiters.get(key)
        if limiter is None or (limiter.rate, limiter.burst, getattr(limiter, "client", None)) != (rate, burst, client):
            if client is not None:
                limiter = RedisRateLimiter(client, rate_per_second=rate, burst=burst)
            else:
                limiter = MemoryRateLimiter(rate_per_second=rate, burst=burst)
            _limiters[key] = limiter
        return limiter
