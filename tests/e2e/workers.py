"""Real Celery workers for end-to-end tests: a Redis server of our own, ``celery -A config worker``
subprocesses on the test database, and the web side (this process) switched from eager tasks to that broker.

- ``RedisServer``: ``redis-server`` on a free port, nothing persisted, so a test can stop it (the broker
  is down) and start it again on the same port (back, and empty).
- ``Worker``: ``celery -A config worker`` (prefork, its own process group so ``kill()`` SIGKILLs the main
  process and its pool at once), ``DJANGO_SETTINGS_MODULE=config.settings`` on the test's own PostgreSQL
  database (``connection.settings_dict``: pytest-django's test database, seen committed through
  ``transactional_db``), that Redis as broker and for the couriers' shared tokens and rate limits, the
  couriers pointed at the courier sandbox, and a short visibility timeout and outbox lease so
  redelivery happens within a test.
- ``broker_switch``: the web side's tasks go to that broker (``settings.CELERY_TASK_ALWAYS_EAGER`` off,
  which ``config.celery`` reads live through ``config_from_object("django.conf:settings")``; the broker
  URL likewise, with the app's cached connection pools dropped so the next publish uses it).

Waiting is polling against a deadline (``wait_until``); nothing relies on a bare sleep.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from labels import fonts

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
QUEUE = "celery"  # the default queue: every task of the project goes there
VISIBILITY_TIMEOUT = 10  # seconds before the broker hands an unacknowledged task out again
LEASE_SECONDS = 4  # seconds an outbox attempt holds its message (OUTBOX_LEASE_SECONDS)
COURIER_NAMES = {"dhl_express": "DHL_EXPRESS", "auspost": "AUSPOST", "fedex": "FEDEX", "ups": "UPS"}
SANDBOX_KEY, SANDBOX_SECRET, SANDBOX_ACCOUNT = "sandbox", "sandbox-secret", "ACC123456"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1, context: Callable[[], str] = str
):
    """Poll ``check`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}\n{context()}")
        time.sleep(every)


class RedisServer:
    """``redis-server`` on a free port with nothing saved: stop it for a broker outage, start it to end one."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.directory), "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        wait_until(self.up, timeout=10, what=f"redis-server on port {self.port} answers PING")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def up(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def flush(self) -> None:
        with self.client() as client:
            client.flushdb()

    def queued(self) -> tuple[int, int]:
        """(tasks waiting in the queue, tasks delivered and not acknowledged)."""
        with self.client() as client:
            return client.llen(QUEUE), client.zcard("unacked_index")

    def oldest_unacked_age(self) -> float | None:
        """Seconds since the oldest unacknowledged task was delivered (kombu's ``unacked_index`` score)."""
        with self.client() as client:
            oldest = client.zrange("unacked_index", 0, 0, withscores=True)
        return time.time() - oldest[0][1] if oldest else None


def database_url(settings_dict: dict) -> str:
    """The URL of the database this test process is connected to (pytest-django's test database)."""
    user = quote(settings_dict.get("USER") or "postgres", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def worker_env(*, database: str, broker: str, sandbox_url: str, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database,
        "REDIS_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "e2e-worker-dummy-secret-key",
        "LABEL_FONT_DIR": str(fonts.font_dir()),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "HTTP_CONNECT_TIMEOUT": "2",
        "HTTP_READ_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
        "PGAPPNAME": "e2e-celery-worker",
    }
    for code, name in COURIER_NAMES.items():
        env[f"COURIER_{name}_BASE_URL"] = f"{sandbox_url.rstrip('/')}/{code}"
        env[f"COURIER_{name}_KEY"] = SANDBOX_KEY
        env[f"COURIER_{name}_SECRET"] = SANDBOX_SECRET
        env[f"COURIER_{name}_ACCOUNT"] = SANDBOX_ACCOUNT
    return env | overrides


class Worker:
    """One ``celery -A config worker`` main process and its prefork pool, in a process group of its own."""

    def __init__(self, env: dict[str, str], log: Path, *, concurrency: int = 1):
        self.log = log
        self.name = f"e2e-{uuid.uuid4().hex[:8]}@%h"
        command = [str(CELERY), "-A", "config", "worker", "--pool", "prefork", "--concurrency", str(concurrency)]
        command += ["-Q", QUEUE, "-n", self.name, "--loglevel", "INFO"]
        command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        with log.open("w") as out:
            self.process = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
            )
        self.pgid = self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, chars: int = 4000) -> str:
        return f"--- worker log {self.log} ---\n{self.output()[-chars:]}"

    def wait_ready(self, timeout: float = 30) -> Worker:
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}\n{self.tail()}")
            return " ready." in self.output()

        wait_until(ready, timeout=timeout, what="the Celery worker is ready", context=self.tail)
        return self

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once: nothing acknowledges, nothing cleans up."""
        if self.process.poll() is None:
            os.killpg(self.pgid, signal.SIGKILL)
            self.process.wait(10)
        self._reap_group()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), SIGKILL of the whole group if it does not end within 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pgid, signal.SIGKILL)
                self.process.wait(10)
        self._reap_group()

    def _reap_group(self) -> None:
        # A pool child outliving its parent is still in the group; the group id is ours alone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)


class Workers:
    """Starts workers for one test and stops every one of them at its end."""

    def __init__(self, *, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.started: list[Worker] = []

    def start(self, *, concurrency: int = 1, **env_overrides: str) -> Worker:
        log = self.log_dir / f"worker-{len(self.started) + 1}.log"
        worker = Worker(self.env | env_overrides, log, concurrency=concurrency)
        self.started.append(worker)
        return worker.wait_ready()

    def logs(self) -> str:
        return "\n".join(w.tail() for w in self.started)

    def stop_all(self) -> None:
        # At the end of a test nothing it checks is still running: SIGKILL saves the warm shutdown's 3 s.
        for worker in self.started:
            worker.kill()


def broker_switch(settings, broker_url: str) -> None:
    """Send this process's tasks to ``broker_url`` from now on (``settings`` is pytest-django's fixture)."""
    from config.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = broker_url
    pools_reset()
    assert app.conf.task_always_eager is False and app.conf.broker_url == broker_url


def pools_reset() -> None:
    """Close the broker connections of this process and drop the app's cached pools (as after a fork)."""
    from kombu import pools

    from config.celery import app

    pools.reset()  # kombu's registry of connection and producer pools, shared by every app
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
