"""Users, roles and API tokens (knox stores only a hash of each token)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from drf_spectacular import authentication as spectacular_auth
from knox.models import AuthToken
from rest_framework import authentication, exceptions

from config.permissions import ROLES


@transaction.atomic
def token_issue(*, username: str, role: str) -> str:
    """Create the user if needed, add the role, and return a new token (shown once, stored hashed)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    _, token = AuthToken.objects.create(user=user)
    return token


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, with its CSRF refusal carrying the code ``csrf_failed``.

    The same code as ``config.api.csrf_failure`` (Django's own CSRF check), so a client
    branches on one code whichever layer refused it.
    """

    def enforce_csrf(self, request):
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc.detail), code="csrf_failed") from exc


class SessionScheme(spectacular_auth.SessionScheme):
    """Tell the OpenAPI schema that our session authentication is DRF's cookie scheme."""

    target_class = SessionAuthentication
