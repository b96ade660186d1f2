"""The example's pages plus ``/pid``, for ``tests.live_site``."""

from __future__ import annotations

from demo_site import urls as site_urls
from django.http import HttpRequest, HttpResponse
from django.urls import path


def pid(request: HttpRequest) -> HttpResponse:
    """A page as cheap as a page gets (the worker is named in the headers): the clients ask
    for it many times a second, so that each worker is sampled every few milliseconds."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("pid", pid), *site_urls.urlpatterns]
