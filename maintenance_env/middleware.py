"""The maintenance middleware: a hybrid sync/async middleware with no ``process_*`` hooks.

While maintenance is not active a request costs one attribute check (and, with a live
source, one ``time.monotonic()`` comparison): no URL resolving, no session or user
access, no file read, no regex work. The decision itself is in
:mod:`maintenance_env.decision`, the responses in :mod:`maintenance_env.responses`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from maintenance_env import live, responses
from maintenance_env.decision import Verdict, client_ip, decide, user_passes

__all__ = ["MaintenanceModeMiddleware", "client_ip"]

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class MaintenanceModeMiddleware:
    """Answer with the maintenance response while maintenance is active.

    Reads the environment and settings when created, raising ``ImproperlyConfigured`` on
    a bad value, so a server never starts half-configured.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        live.load_runtime()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = live.get_state()
        if state.enabled and state.is_active():
            decision = decide(request, state)
            if decision is Verdict.ASK_USER:
                if user_passes(getattr(request, "user", None), state):
                    return self.get_response(request)
                return responses.maintenance_response(request, state)
            if decision is not Verdict.PASS:
                return decision
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = live.get_state()
        if state.enabled and state.is_active():
            decision = decide(request, state)
            if decision is Verdict.ASK_USER:
                auser = getattr(request, "auser", None)
                user = await auser() if auser is not None else None
                if user_passes(user, state):
                    return await cast(AsyncGetResponse, self.get_response)(request)
                return responses.maintenance_response(request, state)
            if decision is not Verdict.PASS:
                return decision
        return await cast(AsyncGetResponse, self.get_response)(request)
