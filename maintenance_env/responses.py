"""The maintenance response (HTML page, JSON or redirect) and the bypass link's cookie.

The page is rendered once per configuration (cached on ``conf.State``) and never needs
the database, the session or the request, so a maintenance response costs less than a
normal page.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.loader import render_to_string
from django.utils.http import http_date

from maintenance_env import logs
from maintenance_env.conf import State

__all__ = [
    "BYPASS_COOKIE",
    "BYPASS_PARAM",
    "bypass_redirect",
    "has_bypass_cookie",
    "maintenance_response",
    "prefers_json",
    "wants_bypass",
]

logger = logging.getLogger("maintenance_env")
request_logger = logging.getLogger("django.request")

BYPASS_PARAM = "maintenance_bypass"
BYPASS_COOKIE = "maintenance_bypass"
_BYPASS_QUERY = BYPASS_PARAM + "="
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"


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


def page_context(state: State) -> dict[str, Any]:
    config = state.config
    return {
        "message": config.message,
        "retry_after": state.retry_after(),
        "starts_at": config.starts_at,
        "ends_at": config.ends_at,
        "status_code": config.status_code,
        "language_code": settings.LANGUAGE_CODE,
    }


def _fallback_page(state: State) -> str:
    message = html.escape(state.config.message)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Down for maintenance</title></head><body><main><h1>Down for maintenance</h1>"
        f"<p>{message}</p></main></body></html>"
    )


def _render_page(state: State) -> bytes:
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


def _json_body(state: State, retry_after: int | None) -> bytes:
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


def maintenance_response(request: HttpRequest, state: State) -> HttpResponse:
    """The response for a request that maintenance stops: JSON, redirect or the page."""
    now = time.time()
    config = state.config
    retry_after = state.retry_after(now)
    response: HttpResponse
    if prefers_json(request):
        if config.retry_after is not None or config.ends_at is None:
            body = state.cached("json", lambda: _json_body(state, retry_after))
        else:
            body = _json_body(state, retry_after)
        response = HttpResponse(body, status=config.status_code, content_type="application/json")
    elif config.redirect_url:
        response = HttpResponseRedirect(config.redirect_url)
    else:
        page = state.cached("page", lambda: _render_page(state))
        response = HttpResponse(
            page,
            status=config.status_code,
            content_type=f"text/html; charset={settings.DEFAULT_CHARSET}",
        )
    return _finish(response, request, retry_after, now)


# --- the bypass link and cookie ---------------------------------------------------------


def _signer(state: State) -> signing.TimestampSigner:
    def build() -> signing.TimestampSigner:
        secret = state.config.bypass_secret or ""
        # The salt depends on the secret, so rotating the secret voids every cookie; the
        # key stays SECRET_KEY, so knowing the bypass secret does not let one forge cookies.
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return signing.TimestampSigner(salt=f"maintenance_env.bypass.{digest}")

    signer: signing.TimestampSigner = state.cached("signer", build)
    return signer


def wants_bypass(request: HttpRequest, state: State) -> bool | None:
    """``True`` for a correct ``?maintenance_bypass=``, ``False`` for a wrong one, else ``None``."""
    secret = state.config.bypass_secret
    if not secret or _BYPASS_QUERY not in request.META.get("QUERY_STRING", ""):
        return None
    given = request.GET.get(BYPASS_PARAM)
    if given is None:
        return None
    return hmac.compare_digest(given.encode(), secret.encode())


def _same_site_path(path: str) -> str:
    """``path`` made safe as a relative ``Location``: never ``//host`` or ``/\\host``."""
    stripped = path.lstrip("/\\")
    return "/" + stripped


def bypass_redirect(request: HttpRequest, state: State) -> HttpResponse:
    """302 to the same URL without the secret, setting the signed bypass cookie."""
    query = request.GET.copy()
    query.pop(BYPASS_PARAM, None)
    location = _same_site_path(request.path)
    if query:
        location += "?" + QueryDict.urlencode(query)
    response = HttpResponseRedirect(location)
    response.headers["Cache-Control"] = NEVER_CACHE
    response.set_cookie(
        BYPASS_COOKIE,
        _signer(state).sign("bypass"),
        max_age=state.config.bypass_cookie_age,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def has_bypass_cookie(request: HttpRequest, state: State) -> bool:
    """The request carries a bypass cookie signed under the current secret and not expired."""
    if not state.config.bypass_secret:
        return False
    value = request.COOKIES.get(BYPASS_COOKIE)
    if not value:
        return False
    try:
        _signer(state).unsign(value, max_age=state.config.bypass_cookie_age)
    except signing.BadSignature:
        return False
    return True
