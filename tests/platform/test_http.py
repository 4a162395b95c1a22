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
