"""One URLconf for every configuration: a small sync page and a small async page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

BODY = b"<!doctype html><title>home</title><p>Hello from the benchmark.</p>"


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY)


async def async_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY)


urlpatterns = [
    path("", home),
    path("async/", async_home),
]
