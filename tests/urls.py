from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.urls import path
from django.views import View

from maintenance_env.decorators import (
    force_maintenance_mode_off,
    force_maintenance_mode_on,
    maintenance_exempt,
)


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


async def async_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async home")


@maintenance_exempt
def exempt(request: HttpRequest) -> HttpResponse:
    return HttpResponse("exempt")


@force_maintenance_mode_off
async def async_exempt(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async exempt")


@force_maintenance_mode_on
def forced(request: HttpRequest) -> HttpResponse:
    return HttpResponse("never seen")


@force_maintenance_mode_on
async def async_forced(request: HttpRequest) -> HttpResponse:
    return HttpResponse("never seen")


@maintenance_exempt
class ExemptView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("exempt class")


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def api(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def plain_503(request: HttpRequest) -> HttpResponse:
    return HttpResponse("busy", status=503)


def banner(request: HttpRequest) -> HttpResponse:
    template = engines["django"].from_string(
        "{% if maintenance.active %}active{% elif maintenance.upcoming %}upcoming "
        "{{ maintenance.starts_at|date:'c' }}{% else %}none{% endif %}"
    )
    return HttpResponse(template.render({}, request))


urlpatterns = [
    path("", home),
    path("async/", async_home),
    path("exempt/", exempt),
    path("async-exempt/", async_exempt),
    path("forced/", forced),
    path("async-forced/", async_forced),
    path("exempt-class/", ExemptView.as_view()),
    path("healthz", health),
    path("api/items/", api),
    path("banner/", banner),
    path("plain-503/", plain_503),
    path("status/", home),
    path("maintenance-info/", home),
    path("accounts/login/", LoginView.as_view(template_name="custom_maintenance.html")),
]
