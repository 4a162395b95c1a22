"""``Retry-After`` as every outbound client reads it (couriers, storefronts, our webhooks)."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import pytest

from config.http import retry_after_seconds


@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), (" 7 ", 7.0), ("0.5", 0.5), ("-3", 0.0)])
def test_delta_seconds(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_an_http_date_is_the_time_until_it_and_a_past_one_is_zero():
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    assert 85 <= retry_after_seconds(format_datetime(soon, usegmt=True)) <= 90
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "inf", "nan", "1e999", "Wed, 99 Foo 2015"])
def test_absent_unreadable_or_endless_is_none(header):
    assert retry_after_seconds(header) is None


# --- process_session: the environment read once ------------------------------------------------
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def clean_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


URLS = [
    "https://api.ups.example/api/track/v1/details/1Z",
    "http://api.ups.example:8080/x",
    "https://internal.corp/track",
    "https://deep.internal.corp/track",
    "http://10.1.2.3/x",
    "http://192.168.0.5:9000/x",
    "http://localhost:8000/x",
    "https://notinternal.corp/x",
]


@pytest.mark.parametrize(
    "no_proxy", [None, "", "internal.corp,10.0.0.0/8", ".internal.corp, localhost:8000", "192.168.0.5", "*"]
)
def test_proxies_and_no_proxy_as_requests_applies_them(clean_environment, no_proxy):
    import requests

    from config.http import ProcessSession

    clean_environment.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    clean_environment.setenv("HTTP_PROXY", "http://user:pw@proxy.example:3128")
    if no_proxy is not None:
        clean_environment.setenv("NO_PROXY", no_proxy)
    ours, theirs = ProcessSession(), requests.Session()
    for url in URLS:
        expected = theirs.merge_environment_settings(url, {}, None, None, None)
        assert ours.merge_environment_settings(url, {}, None, None, None) == expected, url


def test_the_environment_is_read_when_the_session_is_made_not_per_call(clean_environment):
    import urllib.request

    from config.http import ProcessSession

    clean_environment.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    clean_environment.setenv("NO_PROXY", "internal.corp")
    clean_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    session = ProcessSession()

    def scanned(*args, **kwargs):
        raise AssertionError("the environment was scanned for a call")

    clean_environment.setattr(urllib.request, "getproxies_environment", scanned)
    clean_environment.setattr(urllib.request, "getproxies", scanned)
    clean_environment.setenv("HTTPS_PROXY", "http://other.example:1")  # later changes are not seen
    clean_environment.delenv("REQUESTS_CA_BUNDLE")
    settings = session.merge_environment_settings("https://api.example/x", {}, None, None, None)
    assert settings["proxies"]["https"] == "http://proxy.example:3128"
    assert settings["verify"] == "/etc/ssl/corp.pem"
    assert session.merge_environment_settings("https://internal.corp/x", {}, None, True, None)["proxies"] == {}
    # An explicit verify (False, or a bundle of the caller's) wins over REQUESTS_CA_BUNDLE, as in requests.
    assert session.merge_environment_settings("https://api.example/x", {}, None, False, None)["verify"] is False


def test_a_request_goes_through_the_proxy_read_at_creation(clean_environment, httpserver):
    """A real call: HTTP_PROXY pointing at a local server receives the absolute-form request."""
    from config.http import ProcessSession

    httpserver.expect_request("/via-proxy").respond_with_data("proxied")
    clean_environment.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    session = ProcessSession()
    clean_environment.delenv("HTTP_PROXY")
    answer = session.get("http://courier.invalid/via-proxy", timeout=5)
    assert answer.text == "proxied"


def test_process_session_is_one_per_name_and_process():
    from config.http import ProcessSession, process_session

    first = process_session("test-http-once", user_agent="a/1")
    assert isinstance(first, ProcessSession)
    assert process_session("test-http-once", user_agent="a/1") is first
    assert first.headers["User-Agent"] == "a/1"
