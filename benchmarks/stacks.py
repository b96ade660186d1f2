"""Requests and handlers built by hand, shared by the benchmarks and ``tests/project/test_benchmarks``.

No test client: its own overhead (tens of microseconds) would hide what is measured. WSGI
environ dicts and ASGI scopes are written out as a server would pass them.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from asgiref import sync as asgiref_sync
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings

from benchmarks import settings as bench_settings

__all__ = [
    "BASE_MIDDLEWARE",
    "DMM_MIDDLEWARE",
    "OURS_MIDDLEWARE",
    "PassThroughMiddleware",
    "adapted_middleware",
    "asgi_handler",
    "asgi_loop",
    "asgi_scope",
    "call_asgi",
    "call_wsgi",
    "prebuilt_request",
    "thread_hops",
    "trivial_get_response",
    "wsgi_environ",
    "wsgi_handler",
    "wsgi_loop",
]

# One list of middleware for every benchmark: the settings module's.
BASE_MIDDLEWARE = tuple(bench_settings.BASE_MIDDLEWARE)
OURS_MIDDLEWARE = bench_settings.OURS_MIDDLEWARE
DMM_MIDDLEWARE = bench_settings.DMM_MIDDLEWARE

HOST = "127.0.0.1"
PORT = "8000"
# What a browser sends for a page, so that HTML (not JSON) is chosen.
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# --- the middleware alone -----------------------------------------------------------------

_RESPONSE = HttpResponse(b"ok")


def trivial_get_response(request: HttpRequest) -> HttpResponseBase:
    """The next layer, doing nothing: returns one prebuilt response."""
    return _RESPONSE


class PassThroughMiddleware:
    """The cheapest possible middleware: the baseline for "the middleware alone"."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)


def prebuilt_request(path: str = "/") -> HttpRequest:
    """A GET for a page as a browser sends it, built once and reused."""
    return RequestFactory().get(path, HTTP_ACCEPT=ACCEPT, HTTP_HOST=HOST)


# --- WSGI -------------------------------------------------------------------------------------


def wsgi_environ(path: str = "/", **extra: str) -> dict[str, Any]:
    """A WSGI environ as gunicorn builds it for ``GET path`` (``wsgi.input`` added per call)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": PORT,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": f"{HOST}:{PORT}",
        "HTTP_ACCEPT": ACCEPT,
        "HTTP_USER_AGENT": "benchmarks",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    environ.update(extra)
    return environ


def wsgi_handler(middleware: Sequence[str]) -> WSGIHandler:
    """A ``WSGIHandler`` whose middleware chain is ``middleware`` (loaded now); the URLconf
    is ``ROOT_URLCONF``, which needs a sync view at ``/``."""
    with override_settings(MIDDLEWARE=list(middleware)):
        return WSGIHandler()


def call_wsgi(handler: WSGIHandler, environ: dict[str, Any]) -> tuple[int, bytes]:
    """One request as a WSGI server makes it: call, drain the body, close."""
    status: list[str] = []

    def start_response(
        line: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        status.append(line)
        return lambda data: None

    request_environ = dict(environ)
    request_environ["wsgi.input"] = io.BytesIO(b"")
    result = handler(request_environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(status[0].split(" ", 1)[0]), body


def wsgi_loop(handler: WSGIHandler, environ: dict[str, Any], count: int) -> int:
    """``count`` requests; returns the status of the last (they are all the same)."""
    status = 0
    for _ in range(count):
        status = call_wsgi(handler, environ)[0]
    return status


# --- ASGI -------------------------------------------------------------------------------------


def asgi_scope(path: str = "/async/") -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it for ``GET path``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", f"{HOST}:{PORT}".encode()),
            (b"accept", ACCEPT.encode()),
            (b"user-agent", b"benchmarks"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": (HOST, int(PORT)),
    }


def asgi_handler(middleware: Sequence[str]) -> ASGIHandler:
    """An ``ASGIHandler`` whose middleware chain is ``middleware`` (loaded now); the URLconf
    is ``ROOT_URLCONF``, which needs an async view at ``/async/``."""
    with override_settings(MIDDLEWARE=list(middleware)):
        handler = ASGIHandler()
        handler.load_middleware(is_async=True)  # as get_asgi_application() does
        return handler


_REQUEST_MESSAGE = {"type": "http.request", "body": b"", "more_body": False}


async def call_asgi(app: ASGIHandler, scope: dict[str, Any]) -> tuple[int, bytes]:
    """One request as an ASGI server makes it; the client never disconnects."""
    received = False
    messages: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return _REQUEST_MESSAGE
        # Django listens for a disconnect while the view runs; it cancels this when done.
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    async def send(message: Mapping[str, Any]) -> None:
        messages.append(message)

    await app(dict(scope), receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, body


async def asgi_loop(app: ASGIHandler, scope: dict[str, Any], count: int) -> int:
    """``count`` requests on the running loop; returns the status of the last."""
    status = 0
    for _ in range(count):
        status = (await call_asgi(app, scope))[0]
    return status


# --- proving there is no sync/async adaptation ---------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def adapted_middleware() -> Iterator[list[str]]:
    """Collect what Django's handler logs when it wraps a handler in a sync/async adapter.

    ``BaseHandler.adapt_method_mode`` logs "Synchronous handler adapted for middleware X"
    (or "Asynchronous ...") on ``django.request`` at DEBUG each time it adapts, but only
    with ``DEBUG = True``; build the handler inside this block.
    """
    logger = logging.getLogger("django.request")
    collect = _Collect()
    level = logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.DEBUG)
    adapted: list[str] = []
    try:
        with override_settings(DEBUG=True):
            yield adapted
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
        adapted.extend(m for m in collect.messages if "handler adapted for" in m)


@contextmanager
def thread_hops() -> Iterator[dict[str, int]]:
    """Count ``sync_to_async`` and ``async_to_sync`` calls made inside the block."""
    counts = {"sync_to_async": 0, "async_to_sync": 0}
    original_s2a = asgiref_sync.SyncToAsync.__call__
    original_a2s = asgiref_sync.AsyncToSync.__call__

    async def counted_s2a(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["sync_to_async"] += 1
        return await original_s2a(self, *args, **kwargs)

    def counted_a2s(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["async_to_sync"] += 1
        return original_a2s(self, *args, **kwargs)

    asgiref_sync.SyncToAsync.__call__ = counted_s2a  # type: ignore[method-assign]
    asgiref_sync.AsyncToSync.__call__ = counted_a2s  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        asgiref_sync.SyncToAsync.__call__ = original_s2a  # type: ignore[method-assign]
        asgiref_sync.AsyncToSync.__call__ = original_a2s  # type: ignore[method-assign]
