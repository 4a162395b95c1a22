"""Who may use the dashboard (DESIGN.md: "for logged-in staff"): users with the operations or
warehouse role, Django staff users (``is_staff``) and admins. Integration accounts (the
storefront role) are none of these."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse

from config.permissions import ADMIN, OPERATIONS, WAREHOUSE, user_roles

DASHBOARD_ROLES = frozenset({OPERATIONS, WAREHOUSE, ADMIN})


def may_use_dashboard(user) -> bool:
    return user.is_active and (user.is_staff or bool(user_roles(user) & DASHBOARD_ROLES))


def dashboard_required(view):
    """Anonymous: to the login page (and back); logged in without a dashboard role: 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("ops:login"))
        if not may_use_dashboard(request.user):
            return TemplateResponse(request, "ops/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


class DashboardLoginForm(AuthenticationForm):
    """Django's login form, refusing accounts without a dashboard role (a storefront integration, say)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "no_role": "This account has no operations or warehouse role, so it cannot use the dashboard.",
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not may_use_dashboard(user):
            raise ValidationError(self.error_messages["no_role"], code="no_role")
