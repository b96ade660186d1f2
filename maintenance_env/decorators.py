"""View decorators: exempt a view from maintenance, or force maintenance on it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from maintenance_env import responses, runtime
from maintenance_env.policy import EXEMPT_ATTR

__all__ = ["force_maintenance_mode_off", "force_maintenance_mode_on", "maintenance_exempt"]

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def maintenance_exempt(view: ViewT) -> ViewT:
    """Let this view through while maintenance is active (a function or a class-based view).

    The view is marked, not wrapped, so an async view stays async and costs nothing more.
    """
    setattr(view, EXEMPT_ATTR, True)
    return view


#: The name django-maintenance-mode users know.
force_maintenance_mode_off = maintenance_exempt


def force_maintenance_mode_on(view: ViewT) -> ViewT:
    """Always answer this view with the maintenance response, whatever the switch says."""

    def respond(request: HttpRequest) -> HttpResponseBase:
        return responses.maintenance_response(request, runtime.get_state())

    if isinstance(view, type):
        # A class-based view: replace dispatch, keeping the class (and its as_view()).
        def dispatch(self: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = respond(request)
            if getattr(self, "view_is_async", False):

                async def finish() -> HttpResponseBase:
                    return response

                return finish()
            return response

        view.dispatch = dispatch  # type: ignore[attr-defined]
        return view

    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return respond(request)

        return async_wrapper  # type: ignore[return-value]

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return respond(request)

    return wrapper  # type: ignore[return-value]
