"""Shared fixtures: API clients per role, and skipping of service-bound tests when a service is absent."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config.auth import token_issue


def pytest_collection_modifyitems(config, items):
    # config.test_settings already failed the run if REQUIRE_SERVICES=1 and a service is absent.
    skip_pg = pytest.mark.skip(reason="PostgreSQL not reachable (set DATABASE_URL, or REQUIRE_SERVICES=1 to fail)")
    skip_redis = pytest.mark.skip(reason="Redis not reachable (set REDIS_URL, or REQUIRE_SERVICES=1 to fail)")
    for item in items:
        if "postgres" in item.keywords and not settings.POSTGRES_AVAILABLE:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_AVAILABLE:
            item.add_marker(skip_redis)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(db):
    """``client_for("warehouse")``: an API client authenticated with a fresh token for that role."""

    def make(role: str, username: str | None = None) -> APIClient:
        token = token_issue(username=username or f"{role}-user", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture(autouse=True)
def _courier_tokens_forgotten():
    """Each test starts without this process's copies of courier tokens (tests empty Redis and the sandbox)."""
    from shipping.couriers.tokens import forget_local

    forget_local()
    yield
    forget_local()
