"""Roles are Django groups; each view names the roles that may use it."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

STOREFRONT = "storefront"
WAREHOUSE = "warehouse"
OPERATIONS = "operations"
ADMIN = "admin"
ROLES = (STOREFRONT, WAREHOUSE, OPERATIONS, ADMIN)


def user_roles(user) -> frozenset[str]:
    """The role names a user holds, cached on the user object for the request."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached |= {ADMIN}
        user._role_cache = cached
    return cached


class RolePermission(BasePermission):
    """Allows authenticated users holding one of ``roles`` (admins always)."""

    roles: tuple[str, ...] = ()
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        held = user_roles(request.user)
        return bool(held & {ADMIN, *self.roles})


def roles(*names: str) -> type[RolePermission]:
    """A permission class for the given roles: ``permission_classes = [roles(WAREHOUSE)]``."""
    unknown = set(names) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    return type(f"Roles_{'_'.join(names)}", (RolePermission,), {"roles": names})


class IsAdminRole(RolePermission):
    """The default for any view that forgets to declare its roles: admins only."""
