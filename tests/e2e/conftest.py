"""End-to-end fixtures: the courier sandbox, a Redis server of our own as the broker, real Celery workers."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.e2e.workers import RedisServer, Workers, broker_switch, database_url, pools_reset, worker_env
from tests.shipping.conftest import _sandbox_server, courier_sandbox  # noqa: F401 - the shared sandbox fixtures


@pytest.fixture(scope="session")
def e2e_redis(tmp_path_factory):
    """A redis-server of the e2e tests alone (stopped and started by the broker-outage test)."""
    server = RedisServer(tmp_path_factory.mktemp("e2e-redis")).start()
    yield server
    server.stop()


@pytest.fixture
def broker(e2e_redis):
    """The e2e Redis, up and empty before and after the test (its queue, unacked tasks, tokens, buckets)."""
    if not e2e_redis.up():
        e2e_redis.start()
    e2e_redis.flush()
    yield e2e_redis
    if not e2e_redis.up():
        e2e_redis.start()
    e2e_redis.flush()


@pytest.fixture
def workers(transactional_db, courier_sandbox, broker, settings, tmp_path):  # noqa: F811
    """Starts real Celery workers on this test's database and broker; all are stopped before the database
    is flushed (this fixture is set up after ``transactional_db``, so it is torn down before it)."""
    env = worker_env(
        database=database_url(connection.settings_dict), broker=broker.url, sandbox_url=courier_sandbox.url
    )
    started = Workers(env=env, log_dir=tmp_path)
    yield started
    started.stop_all()
    pools_reset()


@pytest.fixture
def on_broker(settings, broker):
    """Call it to switch this process (the web side) from in-process tasks to the e2e broker."""

    def switch():
        broker_switch(settings, broker.url)

    yield switch
    pools_reset()
