"""make run's demo login for the dashboard: development only."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from config.permissions import user_roles

pytestmark = pytest.mark.django_db


def test_the_demo_login_is_created_with_a_fresh_password_in_debug_only(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("ops_demo_user", stdout=io.StringIO())
    settings.DEBUG = True
    out = io.StringIO()
    call_command("ops_demo_user", stdout=out)
    username, password = out.getvalue().split()
    user = authenticate(username=username, password=password)
    assert user is not None and "operations" in user_roles(user)
    again = io.StringIO()
    call_command("ops_demo_user", stdout=again)
    assert again.getvalue().split()[1] != password  # reset each time: the old one no longer works
    assert authenticate(username=username, password=password) is None
