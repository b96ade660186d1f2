"""``path("maintenance/", include("maintenance_env.urls"))``: ``status.json`` for front ends
and uptime monitors.

``status.json`` always passes maintenance and says ``{"active", "read_only", "message",
"starts_at", "ends_at", "retry_after", "next_starts_at", "next_ends_at"}`` (times as ISO
8601 UTC text or ``null``; ``next_*`` is the window while it is still to come), never a
secret nor where a value comes from, with never-cache headers.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from maintenance_env.decorators import maintenance_exempt

__all__ = ["app_name", "status_json", "urlpatterns"]

app_name = "maintenance_env"


def public_status() -> dict[str, Any]:
    """What ``status.json`` says: this process's view, without secrets or origins."""
    from maintenance_env.api import status
    from maintenance_env.status_report import iso

    info = status()
    window = info.window
    upcoming = window if window is not None and window.when == "upcoming" else None
    message = info.variables["MAINTENANCE_MODE_MESSAGE"].value
    return {
        "active": info.active,
        "read_only": info.read_only,
        "message": message if isinstance(message, str) else None,
        "starts_at": iso(window.starts_at) if window else None,
        "ends_at": iso(window.ends_at) if window else None,
        "retry_after": info.retry_after,
        # The next window: the configured one while it is still to come.
        "next_starts_at": iso(upcoming.starts_at) if upcoming else None,
        "next_ends_at": iso(upcoming.ends_at) if upcoming else None,
    }


@maintenance_exempt
@require_safe
def status_json(request: HttpRequest) -> JsonResponse:
    """``GET``/``HEAD`` ``status.json``: :func:`public_status` as JSON, never cached."""
    response = JsonResponse(public_status())
    add_never_cache_headers(response)
    return response


urlpatterns = [path("status.json", status_json, name="status")]
