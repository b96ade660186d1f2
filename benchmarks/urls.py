"""One URLconf for every configuration: a small sync page and a small async page, and the
same answering 503 (the control for what Django itself adds to any error response)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

BODY = b"<!doctype html><title>home</title><p>Hello from the benchmark.</p>"


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY)


async def async_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY)


def _unavailable() -> HttpResponse:
    response = HttpResponse(BODY, status=503)
    # Marked as logged, as a view that logs its own 503 would: Django's log_response then
    # logs nothing (no ERROR, no mail_admins), and what remains is the handler's own cost
    # of an error response; under ASGI, one thread hop to call log_response.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def unavailable(request: HttpRequest) -> HttpResponse:
    return _unavailable()


async def async_unavailable(request: HttpRequest) -> HttpResponse:
    return _unavailable()


urlpatterns = [
    path("", home),
    path("async/", async_home),
    path("unavailable/", unavailable),
    path("async/unavailable/", async_unavailable),
]
