"""Small helpers for outbound HTTP shared by every app (couriers, storefronts, our webhooks)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import sys
import threading
import urllib.request
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import requests
from requests.auth import _basic_auth_str
from requests.sessions import merge_setting
from requests.utils import address_in_network, get_auth_from_url, get_netrc_auth, is_ipv4_address, is_valid_cidr

_sessions: dict[tuple[str, int], requests.Session] = {}
_sessions_lock = threading.Lock()


def process_session(name: str, *, user_agent: str) -> requests.Session:
    """One ``requests.Session`` (connection pool) per ``name`` per process: a forked worker (Celery
    prefork, gunicorn) makes its own, since sockets must not be shared across a fork. It reads the
    environment (proxies, ``NO_PROXY``, the CA bundle) once, when it is made (``ProcessSession``)."""
    key = (name, os.getpid())
    with _sessions_lock:
        found = _sessions.get(key)
        if found is None:
            found = _sessions[key] = ProcessSession()
            found.headers["User-Agent"] = user_agent
        return found


class ProcessSession(requests.Session):
    """A ``requests.Session`` that reads the environment once, when made, instead of on every call.

    requests' ``trust_env`` scans ``os.environ`` (every variable, twice: ``getproxies`` and
    ``proxy_bypass``) for each request, about as long as a call to a nearby courier. Here the same
    settings are read at creation and applied per URL as requests would: ``HTTP(S)_PROXY`` /
    ``ALL_PROXY`` (``urllib.request.getproxies``), ``NO_PROXY`` (requests' host, port and CIDR
    matching, then urllib's), ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when ``verify`` is left
    at True, and netrc credentials if a netrc file existed then. Changing these variables later
    needs a new process (or session). Where requests asks the OS rather than the environment
    (macOS, Windows), the plain per-call behaviour is kept.
    """

    def __init__(self):
        super().__init__()
        self.environment: _Environment | None = None
        if sys.platform not in ("darwin", "win32"):
            self.environment = _Environment.read()
            self.trust_env = False  # requests reads nothing per call; the snapshot stands in for it

    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        if self.environment is not None and self.environment.netrc and not request.auth and not self.auth:
            netrc_auth = get_netrc_auth(prepared.url)
            if netrc_auth is not None:
                prepared.prepare_auth(netrc_auth)
        return prepared

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        environment = self.environment
        if environment is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if proxies is not None:
            no_proxy = proxies.get("no_proxy")
            for key, value in environment.proxies_for(url, no_proxy).items():
                proxies.setdefault(key, value)
        if (verify is True or verify is None) and environment.ca_bundle:
            verify = environment.ca_bundle
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }

    def rebuild_proxies(self, prepared_request, proxies):
        """A redirect: requests' ``rebuild_proxies`` with the snapshot for the new URL."""
        environment = self.environment
        if environment is None:
            return super().rebuild_proxies(prepared_request, proxies)
        new_proxies = dict(proxies or {})
        scheme = urlparse(prepared_request.url).scheme
        found = environment.proxies_for(prepared_request.url, new_proxies.get("no_proxy"))
        proxy = found.get(scheme, found.get("all"))
        if proxy:
            new_proxies.setdefault(scheme, proxy)
        headers = prepared_request.headers
        if "Proxy-Authorization" in headers:
            del headers["Proxy-Authorization"]
        try:
            username, password = get_auth_from_url(new_proxies[scheme])
        except KeyError:
            username, password = None, None
        if not scheme.startswith("https") and username and password:
            headers["Proxy-Authorization"] = _basic_auth_str(username, password)
        return new_proxies

    def rebuild_auth(self, prepared_request, response):
        super().rebuild_auth(prepared_request, response)  # strips Authorization on a cross-host redirect
        if self.environment is not None and self.environment.netrc:
            new_auth = get_netrc_auth(prepared_request.url)
            if new_auth is not None:
                prepared_request.prepare_auth(new_auth)


class _Environment:
    """What requests would read from the environment on each call, read once."""

    def __init__(self, proxies: dict[str, str], ca_bundle: str | None, netrc: bool):
        self.proxies = proxies  # scheme (and "no") -> value, as urllib.request.getproxies gives them
        self.no_proxy = proxies.get("no")
        self.ca_bundle = ca_bundle
        self.netrc = netrc

    @classmethod
    def read(cls) -> _Environment:
        netrc_files = [os.environ["NETRC"]] if os.environ.get("NETRC") else ["~/.netrc", "~/_netrc"]
        try:
            netrc = any(os.path.exists(os.path.expanduser(f)) for f in netrc_files)
        except (KeyError, RuntimeError):  # no home directory to expand
            netrc = False
        return cls(
            dict(urllib.request.getproxies()),
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None,
            netrc,
        )

    def proxies_for(self, url: str, no_proxy: str | None = None) -> dict[str, str]:
        """``requests.utils.get_environ_proxies`` with this snapshot: {} when ``url`` bypasses proxies."""
        if not self.proxies:
            return {}
        parsed = urlparse(url)
        no_proxy = no_proxy if no_proxy is not None else self.no_proxy
        if _bypasses_proxy(parsed.hostname, parsed.port, no_proxy or ""):
            return {}
        return dict(self.proxies)


@functools.lru_cache(maxsize=1024)
def _bypasses_proxy(hostname: str | None, port: int | None, no_proxy: str) -> bool:
    """``requests.utils.should_bypass_proxies`` for a host and a given ``NO_PROXY`` value."""
    if hostname is None:
        return True
    if no_proxy:
        hosts = [host for host in no_proxy.replace(" ", "").split(",") if host]
        if is_ipv4_address(hostname):
            for host in hosts:
                if is_valid_cidr(host):
                    if address_in_network(hostname, host):
                        return True
                elif hostname == host:
                    return True
        else:
            with_port = f"{hostname}:{port}" if port else hostname
            for host in hosts:
                host = host.lstrip(".")
                if hostname == host or with_port == host:
                    return True
                if hostname.endswith("." + host) or with_port.endswith("." + host):
                    return True
        try:
            return bool(urllib.request.proxy_bypass_environment(hostname, {"no": no_proxy}))
        except (TypeError, OSError):  # what requests' proxy_bypass swallows
            return False
    return False


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds to wait: delta-seconds or an HTTP date (RFC 9110).

    None when absent or unreadable (also ``inf`` or ``nan``, which would make a wait no clock can
    hold); a date in the past is 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
