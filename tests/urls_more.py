"""A URLconf for the path rules: everything of tests.urls, plus a redirect target, an
exempt area, login views and i18n_patterns (``/<lang>/hook/`` exempt, ``/<lang>/page/`` not)."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from maintenance_env.decorators import maintenance_exempt
from tests import urls as base


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"page {request.path_info}")


@maintenance_exempt
def hook(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hook {request.path_info}")


def signin(request: HttpRequest) -> HttpResponse:
    """A login view of one's own (not a LoginView): passes as LOGIN_URL."""
    return HttpResponse("signin")


def cached(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("cached")
    response["Cache-Control"] = "public, max-age=600"
    return response


async def async_cached(request: HttpRequest) -> HttpResponse:
    return cached(request)


def cached_stream(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(iter([b"str", b"eam"]))
    response["Cache-Control"] = "public, max-age=600"
    response["Vary"] = "Accept-Encoding"
    return response


@maintenance_exempt
def cached_exempt(request: HttpRequest) -> HttpResponse:
    return cached(request)


class MyLoginView(LoginView):
    template_name = "custom_maintenance.html"


urlpatterns = [
    *base.urlpatterns,
    path("maintenance/", page),
    path("page/", page),
    path("zone/", page),
    path("zone/inner/", page),
    path("zoned", page),  # resolves without a slash: never passes by the slash rule
    path("signin/", signin, name="signin"),
    path("cached/", cached),
    path("async-cached/", async_cached),
    path("cached-stream/", cached_stream),
    path("cached-exempt/", cached_exempt),
    path("zone/cached/", cached),
    path("my-login/", MyLoginView.as_view()),
    path("my-logout/", LogoutView.as_view(template_name="custom_maintenance.html")),
    *i18n_patterns(path("hook/", hook), path("page/", page)),
]
