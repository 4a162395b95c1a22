"""Fixtures for fulfilment tests; plain helpers live in tests/fulfilment/helpers.py."""

from __future__ import annotations

import pytest

from tests.fulfilment.helpers import make_world


@pytest.fixture
def world(db):
    return make_world()
