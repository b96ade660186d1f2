"""The example site as the live-store tests serve it: the same settings and pages, plus one
outermost middleware that names the worker process in the response headers, and ``/pid``,
a page that costs next to nothing.

Started with ``DJANGO_SETTINGS_MODULE=tests.live_site`` (and the repository root on
``PYTHONPATH``) behind the Procfile's unchanged command, so that every response, the 503
page included, says which gunicorn or uvicorn worker answered it. The URLconf is
``tests.live_site_urls`` (the example's pages cannot be imported with the settings).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from demo_site.settings import *  # noqa: F403
from demo_site.settings import MIDDLEWARE as SITE_MIDDLEWARE
from django.http import HttpRequest, HttpResponseBase

#: The response header carrying the answering process's id.
PID_HEADER = "X-Worker-Pid"
#: The worker's wall clock (``time.time()``) when the request entered the middleware chain
#: and when the response left it: the maintenance decision was made in between.
BEGAN_HEADER = "X-Worker-Began"
ENDED_HEADER = "X-Worker-Ended"


class WorkerPidMiddleware:
    """Adds ``X-Worker-Pid: <os.getpid()>`` and the ``X-Worker-Began``/``X-Worker-Ended``
    times to every response (sync and async, no thread hop)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], object]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> object:
        if self.is_async:
            return self.__acall__(request)
        began = time.time()
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return _stamp(response, began)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response  # type: ignore[assignment]
        began = time.time()
        return _stamp(await get_response(request), began)


def _stamp(response: HttpResponseBase, began: float) -> HttpResponseBase:
    response[PID_HEADER] = str(os.getpid())
    response[BEGAN_HEADER] = repr(began)
    response[ENDED_HEADER] = repr(time.time())
    return response


MIDDLEWARE = ["tests.live_site.WorkerPidMiddleware", *SITE_MIDDLEWARE]
ROOT_URLCONF = "tests.live_site_urls"
