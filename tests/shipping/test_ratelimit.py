"""The shared courier rate limit: a Redis token bucket per courier and a shared 429 block."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from shipping.couriers.base import RateLimited
from shipping.couriers.fedex import FedEx
from shipping.couriers.ratelimit import MemoryRateLimiter
from tests.shipping.courier_fixtures import build, json_response, redis_limiter_factory

TOKEN = {"access_token": "t", "expires_in": 3599}


@pytest.fixture
def make_limiter():
    make, cleanup = redis_limiter_factory()
    yield make
    cleanup()


def hammer(limiter, courier: str, seconds: float, calls: list) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        limiter.acquire(courier)
        calls.append(time.monotonic())


def assert_bucket_holds(calls: list[float], started: float, rate: float, burst: int, slack: float = 0.0) -> None:
    """Never more than rate * t + burst calls within the first t seconds, for every t.

    ``slack`` allows for a clock read after ``acquire`` returned, later than the grant itself.
    """
    calls = sorted(calls)
    for index, at in enumerate(calls, start=1):
        assert index <= rate * (at - started + slack) + burst + 1e-6, (index, at - started)


@pytest.mark.redis
@pytest.mark.slow
def test_two_threads_sharing_redis_never_pass_more_than_rate_t_plus_burst(make_limiter):
    rate, burst, seconds = 40, 5, 1.5
    first, second = make_limiter(rate_per_second=rate, burst=burst), make_limiter(rate_per_second=rate, burst=burst)
    calls: list[float] = []
    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(limiter, "fedex", seconds, calls)) for limiter in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert_bucket_holds(calls, started, rate, burst)
    assert len(calls) <= rate * elapsed + burst
    # And it lets the rate through (half of it at least: a loaded machine schedules the threads late).
    assert len(calls) >= rate * seconds * 0.5


def _process_hammer(prefix: str, redis_url: str, rate: float, burst: int, seconds: float, queue) -> None:
    import redis

    from shipping.couriers.ratelimit import RedisRateLimiter

    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), rate_per_second=rate, burst=burst, prefix=prefix)
    calls: list[float] = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        limiter.acquire("ups")
        calls.append(time.time())
    queue.put(calls)


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_sharing_redis_never_pass_more_than_rate_t_plus_burst(make_limiter, settings):
    rate, burst, seconds = 30, 4, 1.5
    prefix = make_limiter().prefix
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    started = time.time()
    processes = [
        context.Process(target=_process_hammer, args=(prefix, settings.REDIS_URL, rate, burst, seconds, queue))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    calls = queue.get(timeout=60) + queue.get(timeout=60)
    for process in processes:
        process.join(timeout=10)
    # Processes start a moment apart: count from the first call that went through.
    assert_bucket_holds(calls, min(calls), rate, burst, slack=0.05)
    assert len(calls) >= rate * seconds * 0.6
    assert max(calls) - started < seconds + 30


def test_the_memory_bucket_holds_across_threads():
    rate, burst = 50, 3
    limiter = MemoryRateLimiter(rate_per_second=rate, burst=burst)
    calls: list[float] = []
    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(limiter, "ups", 1.0, calls)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_bucket_holds(calls, started, rate, burst)
    assert len(calls) >= rate * 0.8


@pytest.mark.redis
def test_couriers_have_separate_buckets(make_limiter):
    limiter = make_limiter(rate_per_second=1, burst=1, max_wait_seconds=0.1)
    limiter.acquire("fedex")
    limiter.acquire("ups")  # not held up by FedEx's empty bucket
    with pytest.raises(RateLimited):
        limiter.acquire("fedex")


@pytest.mark.redis
def test_a_long_wait_raises_rate_limited_without_taking_a_token(make_limiter):
    limiter = make_limiter(rate_per_second=0.5, burst=1, max_wait_seconds=0.5)
    limiter.acquire("fedex")
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        limiter.acquire("fedex")
    assert time.monotonic() - started < 0.2  # no worker held
    assert 1.5 <= caught.value.retry_after <= 2.0


@pytest.mark.redis
def test_a_short_wait_sleeps_then_goes(make_limiter):
    limiter = make_limiter(rate_per_second=4, burst=1)
    limiter.acquire("fedex")
    started = time.monotonic()
    limiter.acquire("fedex")
    assert 0.2 <= time.monotonic() - started <= 0.5


@pytest.mark.redis
def test_a_block_holds_every_limiter_on_the_same_redis(make_limiter):
    first, second = make_limiter(), make_limiter()
    first.block("ups", 0.6)
    started = time.monotonic()
    second.acquire("ups")
    assert 0.5 <= time.monotonic() - started <= 1.0
    second.block("ups", 30)
    second.block("ups", 0.1)  # a shorter block does not shorten the longer one
    with pytest.raises(RateLimited) as caught:
        first.acquire("ups")
    assert 25 <= caught.value.retry_after <= 30


@pytest.mark.redis
def test_a_429_with_retry_after_holds_the_other_workers_that_long(httpserver, make_limiter):
    """Two adapters (two workers) on one Redis limiter: the 429 one sets the pause, the other obeys it."""
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json(TOKEN)
    answers = iter(
        [json_response({"errors": [{"code": "TOO.MANY.REQUESTS", "message": "Too many"}]}, 429, {"Retry-After": "1"})]
    )
    served: list[float] = []

    def track(request):
        served.append(time.monotonic())
        return next(answers, None) or json_response({"output": {"completeTrackResults": []}})

    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_handler(track)
    first = build(FedEx, httpserver, rate_limiter=make_limiter())
    second = build(FedEx, httpserver, rate_limiter=make_limiter(), tokens=first.tokens)
    with pytest.raises(RateLimited) as caught:
        first.track(["794953535000"])
    assert caught.value.retry_after == 1.0
    second.track(["794953535000"])
    assert len(served) == 2
    assert 0.9 <= served[1] - served[0] <= 1.6


def test_a_bad_configuration_is_refused():
    with pytest.raises(ValueError):
        MemoryRateLimiter(rate_per_second=0, burst=1)
    with pytest.raises(ValueError):
        MemoryRateLimiter(rate_per_second=1, burst=0)


def test_redis_errors_fall_back_to_this_process():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from shipping.couriers.ratelimit import RedisRateLimiter

    limiter = RedisRateLimiter(
        redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)),
        rate_per_second=1,
        burst=1,
        max_wait_seconds=0.1,
    )
    limiter.acquire("fedex")
    with pytest.raises(RateLimited):
        limiter.acquire("fedex")
    limiter.block("fedex", 1)  # does not raise


@pytest.mark.redis
def test_a_fast_bucket_never_grants_a_token_before_its_time(make_limiter):
    """At 2,000 calls a second a token is half a millisecond: a clock read to the millisecond
    (or a timestamp stored with too few digits) would grant tokens early and show here."""
    rate, burst = 2000, 1
    limiter = make_limiter(rate_per_second=rate, burst=burst)
    calls: list[float] = []
    started = time.monotonic()
    hammer(limiter, "dhl_express", 0.4, calls)
    assert_bucket_holds(calls, started, rate, burst)
    assert len(calls) >= rate * 0.4 * 0.5  # and lets the rate through (half: a loaded machine is late)
