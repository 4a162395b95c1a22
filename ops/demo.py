"""The dashboard's demo login for ``make run`` (development only)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from config.permissions import OPERATIONS

DEMO_USERNAME = "demo-ops"


@transaction.atomic
def demo_user_ensure() -> tuple[str, str]:
    """Create (or reset) the demo operations user with a fresh password; refused unless DEBUG is on."""
    if not settings.DEBUG:
        raise RuntimeError("the demo login is for development only (DJANGO_DEBUG=1)")
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.is_active = True
    user.save()
    user.groups.add(Group.objects.get_or_create(name=OPERATIONS)[0])
    return DEMO_USERNAME, password
