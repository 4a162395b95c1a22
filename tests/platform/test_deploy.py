"""``manage.py check --deploy`` under production settings, each run in a fresh process with its own environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What README's "Configuration" and .env.example tell an operator to set in production.
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "fulfilment.example.com",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_BEHIND_PROXY": "1",
}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # A real key: long and random, as check --deploy wants (security.W009).
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": "sqlite:///:memory:",
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_of(names: str, **env: str) -> str:
    code = f"from django.conf import settings; print([getattr(settings, n, None) for n in {names.split()!r}])"
    result = run_manage("shell", "--no-imports", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_warns_without_hsts_and_ssl_redirect():
    # Set to off explicitly, so a developer's .env cannot switch them on behind the test's back.
    env = {**PRODUCTION, "DJANGO_SECURE_HSTS_SECONDS": "0", "DJANGO_SECURE_SSL_REDIRECT": "0"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout


@pytest.mark.slow
def test_the_proxy_header_is_trusted_only_behind_a_proxy():
    names = "SECURE_PROXY_SSL_HEADER SECURE_HSTS_SECONDS SECURE_SSL_REDIRECT"
    assert settings_of(names, **PRODUCTION) == "[('HTTP_X_FORWARDED_PROTO', 'https'), 31536000, True]"
    # Without a proxy that sets it, a client could claim HTTPS with the header itself.
    direct = {**PRODUCTION, "DJANGO_BEHIND_PROXY": "0"}
    assert settings_of("SECURE_PROXY_SSL_HEADER", **direct) == "[None]"


@pytest.mark.slow
def test_health_checks_are_not_redirected_to_https():
    # A load balancer probes over plain HTTP; a redirect would take every instance out of rotation.
    code = (
        "from django.test import Client; c = Client(HTTP_HOST='fulfilment.example.com');"
        "print(c.get('/healthz').status_code, c.get('/api/orders/').status_code,"
        " c.get('/api/orders/', HTTP_X_FORWARDED_PROTO='https').status_code)"
    )
    result = run_manage("shell", "--no-imports", "-c", code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "301", "401"]
