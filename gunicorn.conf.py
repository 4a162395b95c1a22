"""gunicorn settings for `make run` and production (gunicorn reads this file from the working directory).

Every value can be changed from the environment; the names are in README "Configuration".
The worker (config/gunicorn_worker.py) reads each request in its event loop and gives a
thread only complete requests, so clients that send slowly, or stall, cost no thread.
"""

import os

from config.gunicorn_worker import DEFAULT_MAX_BUFFERED_BODY, DEFAULT_REQUEST_TIMEOUT, ThreadWorker


def _env(name: str, default):
    value = os.environ.get(name, "")
    return type(default)(value) if value != "" else default


wsgi_app = "config.wsgi:application"
bind = [_env("WEB_BIND", f"{_env('HOST', '127.0.0.1')}:{_env('PORT', 8000)}")]
worker_class = "config.gunicorn_worker.ThreadWorker"
workers = _env("WEB_CONCURRENCY", 2)
# Threads run requests whose bytes have all arrived; size them for the database, not for clients.
threads = _env("WEB_THREADS", 4)
# Open connections per worker (reading, being answered, or kept alive).
worker_connections = _env("WEB_WORKER_CONNECTIONS", 1000)
# A worker whose event loop stops reporting to the master for this long is restarted (a long
# request runs in a thread and does not count).
timeout = _env("WEB_TIMEOUT", 30)
graceful_timeout = _env("WEB_GRACEFUL_TIMEOUT", 30)
keepalive = _env("WEB_KEEPALIVE", 5)
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
# gunicorn 27 opens a control socket for gunicornc at one path per user; several servers on a
# host (tests, other services) would share it. Off unless WEB_CONTROL_SOCKET names a path.
control_socket_disable = not os.environ.get("WEB_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["WEB_CONTROL_SOCKET"]
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")

# A client has this long to send its whole request (head and body), else 408 and closed.
ThreadWorker.request_timeout = _env("WEB_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT)
# Bodies up to this size are read into memory before a thread sees them (Django's own upload limit).
ThreadWorker.max_buffered_body = _env("WEB_MAX_BUFFERED_BODY", DEFAULT_MAX_BUFFERED_BODY)
