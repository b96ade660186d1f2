"""The maintenance middleware: a hybrid sync/async middleware with no ``process_*`` hooks.

While maintenance is not active a request costs one attribute check (and, with a live
source, one ``time.monotonic()`` comparison): no URL resolving, no session or user
access, no file read, no regex work. The decision itself is in
:mod:`maintenance_env.decision`, the responses in :mod:`maintenance_env.responses`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import time as clock
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from maintenance_env import responses, runtime
from maintenance_env.decision import (
    Verdict,
    auser_passes,
    client_ip,
    decide,
    request_user_passes,
)

__all__ = ["MaintenanceModeMiddleware", "client_ip"]

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class MaintenanceModeMiddleware:
    """Answer with the maintenance response while maintenance is active.

    Reads the environment and settings when created, raising ``ImproperlyConfigured`` on
    a bad value, so a server never starts half-configured. A response let through for
    one client only (an address, the bypass cookie, an exempt user) is marked private
    once the view returned it, so no shared cache serves it to other visitors.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        runtime.load_runtime()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = runtime.get_state()
        if (
            state.enabled
            and not (state.quiet_since <= clock() < state.quiet_until)
            and state.is_active()
        ):
            decision = decide(request, state)
            if decision is Verdict.ASK_USER:
                if not request_user_passes(request, state):
                    return responses.maintenance_response(request, state)
                decision = Verdict.PASS_COOKIE  # the session cookie says who it is
            if not isinstance(decision, Verdict):
                return decision
            if decision is not Verdict.PASS:
                response = cast(GetResponse, self.get_response)(request)
                return responses.for_one_client(response, by_cookie=decision is Verdict.PASS_COOKIE)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = runtime.get_state()
        if (
            state.enabled
            and not (state.quiet_since <= clock() < state.quiet_until)
            and state.is_active()
        ):
            decision = decide(request, state)
            if decision is Verdict.ASK_USER:
                if not await auser_passes(request, state):
                    return responses.maintenance_response(request, state)
                decision = Verdict.PASS_COOKIE  # the session cookie says who it is
            if not isinstance(decision, Verdict):
                return decision
            if decision is not Verdict.PASS:
                response = await cast(AsyncGetResponse, self.get_response)(request)
                return responses.for_one_client(response, by_cookie=decision is Verdict.PASS_COOKIE)
        return await cast(AsyncGetResponse, self.get_response)(request)
