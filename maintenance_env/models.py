"""``Maintenance``: no table, only what the admin needs to list the maintenance page and to
grant ``maintenance_env.change_maintenance`` (its content type and permission rows come
from the migration, as for any model)."""

from __future__ import annotations

from django.db import models


class Maintenance(models.Model):
    """The admin's "Maintenance" entry. Unmanaged and never queried: it has no table."""

    class Meta:
        managed = False
        default_permissions = ("change",)
        verbose_name = "maintenance"
        verbose_name_plural = "maintenance"

    def __str__(self) -> str:
        return "Maintenance"
