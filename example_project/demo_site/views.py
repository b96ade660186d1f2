"""The example's pages: home, a database page, and a health probe."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from demo_site.models import Visit


def home(request: HttpRequest) -> HttpResponse:
    """Explains how to flip maintenance on and off from another terminal."""
    return render(
        request,
        "demo_site/home.html",
        {
            "config_path": settings.MAINTENANCE_MODE_CONFIG_PATH,
        },
    )


def visits(request: HttpRequest) -> HttpResponse:
    """Writes a row and reads the table: the page a migration would break."""
    Visit.objects.create(path=request.path)
    return render(
        request,
        "demo_site/visits.html",
        {
            "count": Visit.objects.count(),
            "latest": Visit.objects.order_by("-at", "-pk")[:5],
            "vendor": connection.vendor,
        },
    )


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and readiness: answers 200 even in maintenance (a default health path),
    so that probes never restart or unready pods because the site is in maintenance."""
    return JsonResponse({"status": "ok"})
