"""The Django app: registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class MaintenanceEnvConfig(AppConfig):
    name = "maintenance_env"
    verbose_name = "Maintenance mode (environment)"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from maintenance_env import checks

        checks.register_checks()
