"""The decorators keep views as they were: sync stays sync, async stays async."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import AsyncRequestFactory, RequestFactory
from django.views import View

from maintenance_env.decorators import (
    force_maintenance_mode_off,
    force_maintenance_mode_on,
    maintenance_exempt,
)


def test_force_off_is_the_same_decorator() -> None:
    assert force_maintenance_mode_off is maintenance_exempt


def test_exempt_marks_without_wrapping() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert maintenance_exempt(view) is view
    assert view.maintenance_exempt is True  # type: ignore[attr-defined]
    assert iscoroutinefunction(maintenance_exempt(async_view))


def test_force_on_keeps_sync_and_async_and_the_name() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("no")

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("no")

    wrapped = force_maintenance_mode_on(view)
    assert not iscoroutinefunction(wrapped)
    assert wrapped.__name__ == "view"
    assert wrapped(RequestFactory().get("/")).status_code == 503
    assert iscoroutinefunction(force_maintenance_mode_on(async_view))


async def test_force_on_async_view_answers_maintenance() -> None:
    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("no")

    response = await force_maintenance_mode_on(async_view)(AsyncRequestFactory().get("/"))
    assert response.status_code == 503


def test_force_on_class_based_views_sync_and_async() -> None:
    @force_maintenance_mode_on
    class Sync(View):
        def get(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse("no")

    assert Sync.as_view()(RequestFactory().get("/")).status_code == 503


async def test_force_on_async_class_based_view() -> None:
    @force_maintenance_mode_on
    class Async(View):
        async def get(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse("no")

    view = Async.as_view()
    assert iscoroutinefunction(view)
    response = await view(AsyncRequestFactory().get("/"))
    assert response.status_code == 503
