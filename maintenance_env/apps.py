"""The Django app: registers the system checks, and connects the webhook
(``MAINTENANCE_MODE_WEBHOOK_URL``) to ``fleet_changed``."""

from __future__ import annotations

from django.apps import AppConfig


class MaintenanceEnvConfig(AppConfig):
    name = "maintenance_env"
    verbose_name = "Maintenance mode (environment)"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from maintenance_env import checks, webhook

        checks.register_checks()
        webhook.connect(_webhook_url)


def _webhook_url() -> str | None:
    """The resolved ``MAINTENANCE_MODE_WEBHOOK_URL`` (live, like every option), read at each
    fleet change; ``None`` when unset or when the configuration cannot be read."""
    from maintenance_env import runtime

    try:
        return runtime.get_state().config.webhook_url
    except Exception:  # a bad configuration is the checks' and the servers' to report
        return None
