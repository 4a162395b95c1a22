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


def _two_processes(prefix: str, redis_url: str, rate: float, burst: int, seconds: float) -> list[float]:
    """Two spawned processes hammering one bucket for ``seconds``: every call's time, both together."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_process_hammer, args=(prefix, redis_url, rate, burst, seconds, queue)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    calls = queue.get(timeout=60) + queue.get(timeout=60)
    for process in processes:
        process.join(timeout=10)
    return calls


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_sharing_redis_never_pass_more_than_rate_t_plus_burst(make_limiter, settings):
    rate, burst, seconds = 30, 4, 1.5
    started = time.time()
    calls = _two_processes(make_limiter().prefix, settings.REDIS_URL, rate, burst, seconds)
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


# --- Leases: several tokens per script call, handed out in this process --------------------------
def assert_every_window_holds(calls: list[float], rate: float, burst: int, slack: float = 0.0) -> None:
    """Never more than rate * t + burst calls in any window of t seconds (not only from the start)."""
    calls = sorted(calls)
    for i, first in enumerate(calls):
        for j in range(i, len(calls)):
            assert j - i + 1 <= rate * (calls[j] - first + slack) + burst + 1e-6, (j - i + 1, calls[j] - first)


def count_script_calls(limiter) -> list[int]:
    calls = [0]
    script = limiter._acquire_script

    def counted(*args, **kwargs):
        calls[0] += 1
        return script(*args, **kwargs)

    limiter._acquire_script = counted
    return calls


@pytest.mark.redis
def test_a_busy_process_takes_several_tokens_per_script_call(make_limiter):
    limiter = make_limiter(rate_per_second=10_000, burst=10_000)
    script_calls = count_script_calls(limiter)
    for _ in range(500):
        limiter.acquire("ups")
    assert script_calls[0] <= 500 / 8  # leases grow to LEASE_MAX (16) tokens
    # and Redis counted every token handed out (each lease whole), no more
    tokens = float(limiter.client.hget(limiter.keys("ups")[0], "tokens"))
    assert 10_000 - 500 - 16 - 10_000 * limiter.lease_seconds <= tokens <= 10_000 - 500


@pytest.mark.redis
def test_leased_tokens_used_late_never_pass_rate_t_plus_burst(make_limiter):
    """A process leases tokens and uses them at the end of the lease, while another one takes what the
    bucket refilled meanwhile: the lease was charged at its end, so the two together stay within burst.
    (Leasing from the full bucket would let 15 leased + 12 refilled calls through at once here.)"""
    rate, burst = 40, 20
    first, second = make_limiter(rate_per_second=rate, burst=burst), make_limiter(rate_per_second=rate, burst=burst)
    from shipping.couriers.ratelimit import _Lease

    first._leases["fedex"] = lease = _Lease()
    lease.size = 16
    calls: list[float] = []
    started = time.monotonic()
    first.acquire("fedex")
    calls.append(time.monotonic())
    held = lease.left
    assert 2 <= held + 1 <= burst - rate * first.lease_seconds  # the lease was taken below the margin
    time.sleep(max(0.0, started + 0.2 - time.monotonic()))
    while time.monotonic() < started + 0.22:  # the other process takes all the bucket refilled
        second.acquire("fedex")
        calls.append(time.monotonic())
    script_calls = count_script_calls(first)
    for _ in range(held):  # then this one uses its lease, still within it
        first.acquire("fedex")
        calls.append(time.monotonic())
    assert script_calls[0] == 0 and time.monotonic() - started < first.lease_seconds
    assert_every_window_holds(calls, rate, burst)


@pytest.mark.redis
def test_leased_tokens_expire_and_a_block_drops_them(make_limiter):
    limiter = make_limiter(rate_per_second=1000, burst=1000)
    from shipping.couriers.ratelimit import _Lease

    limiter._leases["ups"] = lease = _Lease()
    lease.size = 8
    limiter.acquire("ups")
    assert lease.left == 7
    script_calls = count_script_calls(limiter)
    time.sleep(limiter.lease_seconds + 0.05)
    limiter.acquire("ups")  # the 7 expired: this one asks Redis, and for what was used (1)
    assert script_calls[0] == 1 and lease.left == 0
    lease.size = 8
    time.sleep(limiter.lease_seconds + 0.05)
    limiter.acquire("ups")
    assert limiter._leases["ups"].left == 7
    limiter.block("ups", 0.3)
    started = time.monotonic()
    limiter.acquire("ups")  # not a leased token: the block holds
    assert 0.25 <= time.monotonic() - started <= 0.8


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_leasing_never_pass_more_than_rate_t_plus_burst(make_limiter, settings):
    """The process test above, with a bucket large enough for leases (the rate is well above what
    one process asks for, so every process leases)."""
    rate, burst, seconds = 400, 150, 1.5
    calls = _two_processes(make_limiter().prefix, settings.REDIS_URL, rate, burst, seconds)
    assert_bucket_holds(calls, min(calls), rate, burst, slack=0.05)
    assert len(calls) >= rate * seconds * 0.6
