"""The maintenance response: an HTML page, JSON or a redirect.

The page is rendered once per configuration (kept on the policy) and never needs the
database, the session or the request, so a maintenance response costs less than a normal
page.
"""

from __future__ import annotations

import html
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.http import http_date

from maintenance_env import logs
from maintenance_env.policy import Policy

__all__ = [
    "NEVER_CACHE",
    "SAFE_METHODS",
    "maintenance_response",
    "prefers_json",
]

logger = logging.getLogger("maintenance_env")
request_logger = logging.getLogger("django.request")

NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
#: RFC 9110 section 9.2.1's safe methods: the ones read-only mode lets through.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def prefers_json(request: HttpRequest) -> bool:
    """The first ``Accept`` type is JSON (``application/json``, ``*+json``), or it is an XHR."""
    meta = request.META
    accept = meta.get("HTTP_ACCEPT")
    if accept:
        first = accept.split(",", 1)[0].split(";", 1)[0].strip().lower()
        if first == "application/json" or first.endswith("+json"):
            return True
    return meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest"


# --- the page ---------------------------------------------------------------------------


def page_context(state: Policy) -> dict[str, Any]:
    config = state.config
    return {
        "message": config.message,
        "retry_after": state.retry_after(),
        "starts_at": config.starts_at,
        "ends_at": config.ends_at,
        "status_code": config.status_code,
        "language_code": settings.LANGUAGE_CODE,
    }


def _fallback_page(state: Policy) -> str:
    message = html.escape(state.config.message)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Down for maintenance</title></head><body><main><h1>Down for maintenance</h1>"
        f"<p>{message}</p></main></body></html>"
    )


def _render_page(state: Policy) -> bytes:
    text: str
    try:
        text = render_to_string(state.config.template, page_context(state))
    except Exception:
        # A broken user template must not turn maintenance into a 500.
        logger.exception(
            "maintenance_env: rendering %s failed; serving a plain page instead",
            state.config.template,
        )
        text = _fallback_page(state)
    return text.encode(settings.DEFAULT_CHARSET)


def _json_body(state: Policy, retry_after: int | None) -> bytes:
    ends_at = state.config.ends_at
    return json.dumps(
        {
            "detail": state.config.message,
            "retry_after": retry_after,
            "ends_at": ends_at.isoformat().replace("+00:00", "Z") if ends_at else None,
        }
    ).encode()


_expires_cache: tuple[int, str] = (0, "")


def _expires(now: float) -> str:
    """``http_date(now)``, computed once a second at most."""
    global _expires_cache
    second = int(now)
    cached = _expires_cache
    if cached[0] != second:
        cached = _expires_cache = (second, http_date(second))
    return cached[1]


def _finish(
    response: HttpResponse, request: HttpRequest, retry_after: int | None, now: float
) -> HttpResponse:
    headers = response.headers
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    headers["Cache-Control"] = NEVER_CACHE
    headers["Expires"] = _expires(now)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(response.content))
        response.content = b""
    if logs.is_heard(request_logger, logging.INFO):
        # What logger.info() would log, built directly: info() walks the stack to find the
        # caller, a third of the cost of this line, which every maintenance response pays.
        # When no handler would emit it (Django's default LOGGING with DEBUG off), the
        # record is not built at all: that is as much as the rest of the response.
        request_logger.handle(
            request_logger.makeRecord(
                request_logger.name,
                logging.INFO,
                __file__,
                0,
                "Maintenance mode: %s %s",
                (request.method, request.path),
                None,
                "maintenance_response",
                {"status_code": response.status_code, "request": request},
            )
        )
    # Django's handler would log it again at ERROR (a 5xx), which mails ADMINS.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def maintenance_response(request: HttpRequest, state: Policy) -> HttpResponse:
    """The response for a request that maintenance stops: JSON, redirect or the page."""
    now = time.time()
    config = state.config
    retry_after = state.retry_after(now)
    response: HttpResponse
    if prefers_json(request):
        if config.retry_after is not None or config.ends_at is None:
            body = state.json_body
            if body is None:
                body = state.json_body = _json_body(state, retry_after)
        else:
            body = _json_body(state, retry_after)
        response = HttpResponse(body, status=config.status_code, content_type="application/json")
    elif config.redirect_url and not (config.read_only and request.method not in SAFE_METHODS):
        # In read-only mode a refused write is answered, not redirected: a 302 would turn
        # it into a GET of another page, and the client would not know it failed.
        response = HttpResponseRedirect(config.redirect_url)
    else:
        page = state.pages.get("")
        if page is None:
            page = state.pages[""] = _render_page(state)
        response = HttpResponse(
            page,
            status=config.status_code,
            content_type=f"text/html; charset={settings.DEFAULT_CHARSET}",
        )
        if config.refresh is not None:
            # Reload an open tab after that many seconds (the HTML Living Standard's
            # "refresh" pragma, sent as a header as every browser honours).
            response.headers["Refresh"] = str(config.refresh)
    return _finish(response, request, retry_after, now)


_MOVED_TO_BYPASS = frozenset(
    {"BYPASS_COOKIE", "BYPASS_PARAM", "bypass_redirect", "has_bypass_cookie", "wants_bypass"}
)


def __getattr__(name: str) -> Any:
    """The bypass link's names, which lived here before :mod:`maintenance_env.bypass`."""
    if name in _MOVED_TO_BYPASS:
        from maintenance_env import bypass

        return getattr(bypass, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
