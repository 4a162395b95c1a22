"""The shared OAuth token store: Redis for every worker, memory without it."""

from __future__ import annotations

import threading
import time

import pytest

from shipping.couriers import get_courier, token_store
from shipping.couriers.base import MemoryTokenStore
from shipping.couriers.tokens import RedisTokenStore, refresh_lock, token_ttl
from tests.shipping.courier_fixtures import redis_token_store


@pytest.fixture
def store():
    store, cleanup = redis_token_store()
    yield store
    cleanup()


@pytest.mark.redis
def test_redis_store_keeps_a_value_for_its_ttl(store):
    store.set("fedex:abc", "token-1", 0.3)
    assert store.get("fedex:abc") == "token-1"
    time.sleep(0.4)
    assert store.get("fedex:abc") is None
    store.set("fedex:abc", "token-2", 60)
    store.delete("fedex:abc")
    assert store.get("fedex:abc") is None


@pytest.mark.redis
def test_two_stores_on_one_redis_see_each_others_tokens(store):
    other = RedisTokenStore(store.client, prefix=store.prefix)
    store.set("ups:1", "shared", 60)
    assert other.get("ups:1") == "shared"


@pytest.mark.redis
def test_a_token_read_is_kept_in_the_process_briefly_and_a_refresh_elsewhere_is_seen_after(store, monkeypatch):
    from shipping.couriers import tokens

    monkeypatch.setattr(tokens, "LOCAL_SECONDS", 0.3)
    prefixed = store.prefix + "ups:2"
    store.client.set(prefixed, "first", px=60_000)
    assert store.get("ups:2") == "first"
    store.client.set(prefixed, "second", px=60_000)  # another worker refreshed it in Redis
    calls = []
    pipeline = store.client.pipeline
    monkeypatch.setattr(store.client, "pipeline", lambda **kw: calls.append(kw) or pipeline(**kw))
    assert store.get("ups:2") == "first"  # this process's copy: no Redis read
    assert calls == []
    time.sleep(0.35)
    assert store.get("ups:2") == "second"  # within LOCAL_SECONDS the shared token is read again
    assert len(calls) == 1
    store.delete("ups:2")  # a 401 drops the local copy with the shared one
    assert store.get("ups:2") is None
    store.client.set(prefixed, "short", px=100)
    assert store.get("ups:2") == "short"
    time.sleep(0.15)
    assert store.get("ups:2") is None  # never kept past its expiry in Redis


@pytest.mark.redis
def test_the_refresh_lock_lets_one_holder_at_a_time(store):
    order = []

    def hold(name):
        with refresh_lock(store, "fedex:k") as acquired:
            order.append((name, "in", acquired))
            time.sleep(0.2)
            order.append((name, "out", acquired))

    threads = [threading.Thread(target=hold, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [step for _, step, _ in order] == ["in", "out", "in", "out"]
    assert all(acquired for *_, acquired in order)


def test_the_memory_refresh_lock_serialises_threads():
    order = []

    def hold():
        with refresh_lock(MemoryTokenStore(), "k"):
            order.append("in")
            time.sleep(0.1)
            order.append("out")

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order == ["in", "out"] * 3


def test_redis_errors_fall_back_to_memory():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    broken = RedisTokenStore(redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)))
    broken.set("k", "v", 60)
    assert broken.get("k") == "v"
    with refresh_lock(broken, "k") as acquired:
        assert acquired is False  # no lock, but the caller goes on and fetches a token itself


def test_token_ttl_is_expires_in_less_a_minute():
    assert token_ttl(3599) == 3539
    assert token_ttl("14399") == 14339
    assert token_ttl(90) == 45  # too short for the margin: half of it
    assert token_ttl(None) == 0 and token_ttl("x") == 0


@pytest.mark.redis
def test_the_builder_uses_redis_when_configured():
    assert isinstance(token_store(), RedisTokenStore)


def test_the_builder_uses_one_memory_store_per_process_without_redis(settings):
    from config.redis import redis_client

    redis_client.cache_clear()
    settings.REDIS_URL = ""
    try:
        assert token_store() is token_store()
        assert isinstance(token_store(), MemoryTokenStore)
    finally:
        redis_client.cache_clear()


def test_get_courier_builds_adapters_with_one_session_per_courier(settings):
    settings.COURIERS = {
        **settings.COURIERS,
        "FEDEX": {**settings.COURIERS["FEDEX"], "BASE_URL": "http://fedex.test", "KEY": "k", "SECRET": "s"},
        "UPS": {
            **settings.COURIERS["UPS"],
            "BASE_URL": "http://ups.test",
            "KEY": "k",
            "SECRET": "s",
            "VERSION": "v2409",
        },
    }
    fedex, again, ups = get_courier("fedex"), get_courier("fedex"), get_courier("ups")
    assert type(fedex).__name__ == "FedEx" and type(ups).__name__ == "Ups"
    assert fedex is not again and fedex.session is again.session
    assert fedex.session is not ups.session
    assert fedex.rate_limiter is again.rate_limiter
    assert (fedex.rate_limiter.rate, fedex.rate_limiter.burst) == (10.0, 20)
    assert ups.version == "v2409" and fedex.config.base_url == "http://fedex.test"
    with pytest.raises(ValueError):
        get_courier("royal_mail")
