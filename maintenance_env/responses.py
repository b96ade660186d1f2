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
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.html import urlize
from django.utils.http import http_date
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from maintenance_env import catalogues, csp, logs, texts
from maintenance_env.policy import Policy

__all__ = [
    "NEVER_CACHE",
    "SAFE_METHODS",
    "for_one_client",
    "maintenance_response",
    "prefers_json",
    "request_language",
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


#: How many (language cookie, Accept-Language) pairs a policy remembers the language of.
NEGOTIATED_SIZE = 256


def request_language(request: HttpRequest, state: Policy) -> str:
    """The language of the page for this request: a code of ``LANGUAGES``, or "" when
    i18n is off (one page, under ``LANGUAGE_CODE``).

    ``request.LANGUAGE_CODE`` when ``LocaleMiddleware`` ran before and chose one of
    ``LANGUAGES``; otherwise what Django's ``get_language_from_request`` negotiates as
    ``LocaleMiddleware`` would (the path's prefix under ``i18n_patterns``, the language
    cookie, ``Accept-Language``), which is always a code of ``LANGUAGES`` or the default.
    Never the thread's active language.
    """
    languages = state.languages
    if languages is None:
        return ""
    code = getattr(request, "LANGUAGE_CODE", None)
    if code in languages:
        return str(code)
    try:
        # The path names a language only under i18n_patterns (LocaleMiddleware asks the
        # same): finding none in a path is a walk over LANGUAGES that Django does not cache.
        urlconf = getattr(request, "urlconf", None) or settings.ROOT_URLCONF
        if is_language_prefix_patterns_used(urlconf)[0]:
            code = translation.get_language_from_path(request.path_info)
            if code in languages:
                return str(code)
        # The rest depends on two values only: negotiated once per pair and configuration
        # (bounded), since it costs as much as a third of the response.
        key = (
            request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME),
            request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
        )
        negotiated = state.negotiated
        code = negotiated.get(key)
        if code is None:
            code = translation.get_language_from_request(request)
            if code not in languages:
                code = state.default_language
            if len(negotiated) >= NEGOTIATED_SIZE:
                negotiated.clear()
            negotiated[key] = code
        return str(code)
    except Exception:  # a malformed header must not cost the visitor the page
        return state.default_language


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


def page_context(state: Policy, language: str = "") -> dict[str, Any]:
    """The page template's context: built without a request, the same for every visitor
    of one language. ``retry_after_configured``: whether someone set ``RETRY_AFTER`` (else
    ``retry_after`` is only the default of the header, not a promise);
    ``retry_after_minutes``: the same rounded to minutes (an int, for plural forms);
    ``message_html``: the message escaped, its URLs as links."""
    config = state.config
    retry_after = state.retry_after()
    message = texts.message(config.message, config.starts_at, config.ends_at)
    return {
        "message": message,
        "message_html": _message_html(message),
        "retry_after": retry_after,
        "retry_after_minutes": round(retry_after / 60) if retry_after else 0,
        "retry_after_configured": config.retry_after is not None,
        "starts_at": config.starts_at,
        "ends_at": config.ends_at,
        "ends_at_html": texts.when_html(config.ends_at) if config.ends_at else "",
        "read_only": config.read_only,
        "status_code": config.status_code,
        "language_code": language or settings.LANGUAGE_CODE,
        "language_bidi": translation.get_language_bidi(),
    }


def _fallback_page(state: Policy, language: str) -> str:
    message = html.escape(state.config.message)
    lang = html.escape(language or settings.LANGUAGE_CODE)
    title = html.escape(gettext("Down for maintenance"))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1>"
        f"<p>{message}</p></main></body></html>"
    )


def _render_page(state: Policy, language: str) -> bytes:
    """The page for one language, rendered under that language and ``TIME_ZONE`` (not
    whatever an earlier middleware or request left active in this thread)."""
    text: str
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        timezone.override(settings.TIME_ZONE),
    ):
        try:
            text = render_to_string(state.config.template, page_context(state, language))
        except Exception:
            # A broken user template must not turn maintenance into a 500.
            logger.exception(
                "maintenance_env: rendering %s failed; serving a plain page instead",
                state.config.template,
            )
            text = _fallback_page(state, language)
    return text.encode(settings.DEFAULT_CHARSET)


def _in_default_language(state: Policy) -> str:
    config = state.config
    with translation.override(settings.LANGUAGE_CODE):
        return texts.message(config.message, config.starts_at, config.ends_at)


def _json_body(state: Policy, retry_after: int | None) -> bytes:
    ends_at = state.config.ends_at
    return json.dumps(
        {
            # One body for every visitor (it is cached): in LANGUAGE_CODE.
            "detail": _in_default_language(state),
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
        response = HttpResponseRedirect(_redirect_location(request, state))
    else:
        language = catalogues.page_language(request_language(request, state))
        page = state.pages.get(language)
        if page is None:
            page = state.pages[language] = _render_page(state, language)
        response = HttpResponse(
            page,
            status=config.status_code,
            content_type=f"text/html; charset={settings.DEFAULT_CHARSET}",
        )
        response.headers[csp.HEADER] = csp.page_policy(page)
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
