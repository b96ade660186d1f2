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
import warnings
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.html import urlize
from django.utils.http import http_date
from django.utils.log import log_response
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_noop

from maintenance_env import catalogues, csp, logs, texts
from maintenance_env.languages import request_language
from maintenance_env.negotiation import prefers_json
from maintenance_env.policy import NEVER_CACHE, Policy
from maintenance_env.variables import DEFAULT_MESSAGE

__all__ = [
    "READ_ONLY_MESSAGE",
    "for_one_client",
    "maintenance_response",
]

logger = logging.getLogger("maintenance_env")
request_logger = logging.getLogger("django.request")


#: What a refused write is told, in JSON, in ``LANGUAGE_CODE`` (the page says it in the
#: visitor's language): the read-only page's own sentence, so every catalogue has it.
READ_ONLY_MESSAGE = gettext_noop(
    "The site is under maintenance: you can look around, but changes cannot be saved right now."
)


# --- the page ---------------------------------------------------------------------------


def _message_html(message: str) -> SafeString:
    """The message, HTML-escaped, with its URLs and e-mail addresses as links (Django's
    ``urlize``): ``rel="nofollow noopener"`` on each web link."""
    with warnings.catch_warnings():
        # Django 6.x warns on every bare "www." address while URLIZE_ASSUME_HTTPS is unset
        # (its default scheme changes in 2028); the project's setting decides the scheme, and
        # the page is rendered once per configuration, so the warning says nothing here.
        warnings.filterwarnings("ignore", message="The default protocol will be changed")
        linked = urlize(message, nofollow=True, autoescape=True)
    # With autoescape, every quote of the message itself is escaped: this attribute can
    # only be one urlize wrote.
    return mark_safe(linked.replace(' rel="nofollow"', ' rel="nofollow noopener"'))


def page_context(state: Policy, language: str = "", *, read_only: bool = False) -> dict[str, Any]:
    """The page template's context: built without a request, the same for every visitor
    of one language. ``retry_after_configured``: whether someone set ``RETRY_AFTER`` (else
    ``retry_after`` is only the default of the header, not a promise);
    ``retry_after_minutes``: the same rounded to minutes (an int, for plural forms);
    ``message_html``: the message escaped, its URLs as links; ``read_only``: the page
    answers a write refused in read-only mode; ``message_custom``: whether ``MESSAGE`` was
    set (a read-only page shows it under its own text, never the default)."""
    config = state.config
    retry_after = state.retry_after()
    window = state.window()
    starts_at = window.starts_at if window else config.starts_at
    ends_at = window.ends_at if window else config.ends_at
    message = texts.message(config.message, starts_at, ends_at)
    return {
        "message": message,
        "message_html": _message_html(message),
        "retry_after": retry_after,
        "retry_after_minutes": round(retry_after / 60) if retry_after else 0,
        "retry_after_configured": config.retry_after is not None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "ends_at_html": texts.when_html(ends_at) if ends_at else "",
        "status_code": config.status_code,
        "read_only": read_only,
        "message_custom": config.message != DEFAULT_MESSAGE,
        "language_code": language or settings.LANGUAGE_CODE,
        "language_bidi": translation.get_language_bidi(),
    }


def _fallback_page(state: Policy, language: str) -> str:
    message = html.escape(state.config.message)
    lang = html.escape(language or settings.LANGUAGE_CODE)
    charset = html.escape(settings.DEFAULT_CHARSET)
    title = html.escape(gettext("Down for maintenance"))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="{charset}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1>"
        f"<p>{message}</p></main></body></html>"
    )


def _render_page(state: Policy, language: str, read_only: bool = False) -> bytes:
    """The page for one language, rendered under that language and ``TIME_ZONE`` (not
    whatever an earlier middleware or request left active in this thread)."""
    text: str
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        timezone.override(settings.TIME_ZONE),
    ):
        try:
            context = page_context(state, language, read_only=read_only)
            text = render_to_string(state.config.template, context)
        except Exception:
            # A broken user template must not turn maintenance into a 500.
            logger.exception(
                "maintenance_env: rendering %s failed; serving a plain page instead",
                state.config.template,
            )
            text = _fallback_page(state, language)
    # A character DEFAULT_CHARSET cannot carry (an em dash or a coffee cup under
    # iso-8859-1, from any source) becomes an HTML character reference, never a 500.
    return text.encode(settings.DEFAULT_CHARSET, "xmlcharrefreplace")


def _in_default_language(state: Policy, text: str | None = None) -> str:
    """``text`` translated, or else the message, in ``LANGUAGE_CODE``."""
    config = state.config
    window = state.window()
    starts_at = window.starts_at if window else config.starts_at
    ends_at = window.ends_at if window else config.ends_at
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(text) if text else texts.message(config.message, starts_at, ends_at)


def _json_body(state: Policy, retry_after: int | None, read_only: bool = False) -> bytes:
    window = state.window()
    ends_at = window.ends_at if window else state.config.ends_at
    return json.dumps(
        {
            # One body for every visitor (it is cached): in LANGUAGE_CODE.
            "detail": _in_default_language(state, READ_ONLY_MESSAGE if read_only else None),
            "read_only": read_only,
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
        # Through Django's own helper, as its handler logs responses: at INFO (not ERROR
        # for a 503, which would mail ADMINS), the arguments escaped against log forging,
        # and the response marked so that Django's handler does not log it again.
        log_response(
            "Maintenance mode: %s %s",
            request.method,
            request.path,
            response=response,
            request=request,
            logger=request_logger,
            level="info",
        )
    else:
        # Nobody would see the line (Django's default LOGGING with DEBUG off): building
        # the record cost a sixth of a bare request. The mark is the one log_response
        # sets; without it Django's handler would log the 503 at ERROR and mail ADMINS.
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _redirect_location(request: HttpRequest, state: Policy) -> str:
    """``REDIRECT_URL``; a path is below the ``SCRIPT_NAME`` prefix, like every path rule,
    so the prefix the request came under is put in front of it."""
    url = state.config.redirect_url or ""
    if state.redirect_path is None:
        return url
    path, path_info = request.path, request.path_info
    prefix = path[: len(path) - len(path_info)] if path.endswith(path_info) else ""
    return prefix.rstrip("/") + url


def for_one_client(response: HttpResponseBase, *, by_cookie: bool) -> HttpResponseBase:
    """Mark a response that maintenance let through for one client only as private, so no
    shared cache (a CDN, a proxy) serves it to others: ``Cache-Control: private`` (Django's
    ``patch_cache_control``, which drops ``public``), and ``Vary: Cookie`` when a cookie
    (the bypass cookie, the session of an exempt user) let it through (``by_cookie``).
    Streaming responses too: only headers change."""
    patch_cache_control(response, private=True)
    if by_cookie:
        patch_vary_headers(response, ("Cookie",))
    return response


def maintenance_response(request: HttpRequest, state: Policy) -> HttpResponse:
    """The response for a request that maintenance stops: JSON, redirect or the page."""
    now = time.time()
    config = state.config
    retry_after = state.retry_after(now)
    # In read-only mode only writes get here: they are told so, not "down for maintenance".
    read_only = state.is_read_only(now)
    response: HttpResponse
    if prefers_json(request):
        if not read_only and (config.retry_after is not None or state.window_end() is None):
            body = state.json_body
            if body is None:
                body = state.json_body = _json_body(state, retry_after)
        else:
            body = _json_body(state, retry_after, read_only)
        response = HttpResponse(body, status=config.status_code, content_type="application/json")
    elif config.redirect_url and not read_only:
        # In read-only mode a refused write is answered, not redirected: a 302 would turn
        # it into a GET of another page, and the client would not know it failed.
        response = HttpResponseRedirect(_redirect_location(request, state))
    else:
        code = request_language(request, state)
        language = state.page_languages.get(code)
        if language is None:
            language = state.page_languages[code] = catalogues.page_language(code)
        key = f"read-only:{language}" if read_only else language
        page = state.pages.get(key)
        if page is None:
            page = state.pages[key] = _render_page(state, language, read_only)
        response = HttpResponse(
            page,
            status=config.status_code,
            content_type=f"text/html; charset={settings.DEFAULT_CHARSET}",
            # Given, not parsed back out of Content-Type when the page is encoded.
            charset=settings.DEFAULT_CHARSET,
        )
        response.headers[csp.HEADER] = csp.page_policy(page)
        if config.refresh is not None:
            # Reload an open tab after that many seconds (the HTML Living Standard's
            # "refresh" pragma, sent as a header as every browser honours).
            response.headers["Refresh"] = str(config.refresh)
    return _finish(response, request, retry_after, now)
