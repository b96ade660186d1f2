"""The exemptions by permission and by group (``MAINTENANCE_MODE_EXCEPT_PERMISSIONS``,
``MAINTENANCE_MODE_EXCEPT_GROUPS``), checked at most once per user object.

- Permissions go through ``user.has_perm``, so every authentication backend counts; Django's
  ``ModelBackend`` caches them on the user object (two queries the first time, none after).
- Groups are one query (``user.groups.filter(name__in=…).exists()``), its answer kept on the
  user object, so a request asks at most once whatever the number of groups.
- Only an authenticated, active user is looked at; an error is the caller's (it means "not
  exempt", see :func:`maintenance_env.decision.request_user_passes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["has_any_permission", "in_groups", "matches"]

_GROUPS_CACHE = "_maintenance_env_groups"


def has_any_permission(user: Any, permissions: Sequence[str]) -> bool:
    """Whether ``user`` has one of ``permissions`` (``app_label.codename``)."""
    return any(user.has_perm(permission) for permission in permissions)


def in_groups(user: Any, groups: Sequence[str]) -> bool:
    """Whether ``user`` belongs to a group named in ``groups``: one query per user object."""
    key = tuple(groups)
    cached = getattr(user, _GROUPS_CACHE, None)
    if cached is not None and cached[0] == key:
        return bool(cached[1])
    found = bool(user.groups.filter(name__in=key).exists())
    setattr(user, _GROUPS_CACHE, (key, found))
    return found


def matches(user: Any, permissions: Sequence[str], groups: Sequence[str]) -> bool:
    """Whether an authenticated, active ``user`` passes by permission or group. Touches the
    user (and the database) only when one of the two lists is set. May raise."""
    if not permissions and not groups:
        return False
    if not getattr(user, "is_active", True):
        return False
    return bool(
        (permissions and has_any_permission(user, permissions))
        or (groups and hasattr(user, "groups") and in_groups(user, groups))
    )
