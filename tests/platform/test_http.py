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


# --- process_session: no per-call environment scan when there is nothing to find --------------
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def clean_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_with_nothing_in_the_environment_the_per_call_scan_is_off_and_calls_work(clean_environment, httpserver):
    import urllib.request

    from config.http import ProcessSession

    clean_environment.setenv("NETRC", "/nonexistent/netrc")
    session = ProcessSession()
    assert session.trust_env is False

    def scanned(*args, **kwargs):
        raise AssertionError("the environment was scanned for a call")

    clean_environment.setattr(urllib.request, "getproxies_environment", scanned)
    clean_environment.setattr(urllib.request, "getproxies", scanned)
    httpserver.expect_request("/x").respond_with_data("direct")
    assert session.get(httpserver.url_for("/x"), timeout=5).text == "direct"


@pytest.mark.parametrize(
    ("name", "value"),
    [("HTTPS_PROXY", "http://proxy.example:3128"), ("http_proxy", "http://p:1"), ("REQUESTS_CA_BUNDLE", "/x.pem")],
)
def test_with_a_proxy_or_a_ca_bundle_requests_own_handling_stays(clean_environment, name, value):
    from config.http import ProcessSession

    clean_environment.setenv("NETRC", "/nonexistent/netrc")
    clean_environment.setenv(name, value)
    assert ProcessSession().trust_env is True


def test_a_request_goes_through_the_proxy_of_the_environment(clean_environment, httpserver):
    """A real call: HTTP_PROXY pointing at a local server receives the absolute-form request."""
    from config.http import ProcessSession

    httpserver.expect_request("/via-proxy").respond_with_data("proxied")
    clean_environment.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    session = ProcessSession()
    answer = session.get("http://courier.invalid/via-proxy", timeout=5)
    assert answer.text == "proxied"


def test_process_session_is_one_per_name_and_process():
    from config.http import ProcessSession, process_session

    first = process_session("test-http-once", user_agent="a/1")
    assert isinstance(first, ProcessSession)
    assert process_session("test-http-once", user_agent="a/1") is first
    assert first.headers["User-Agent"] == "a/1"
