"""The page language of a request while maintenance is active: a code of ``LANGUAGES``
negotiated as ``LocaleMiddleware`` would, never the thread's active language."""

from __future__ import annotations

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest
from django.utils import translation

from maintenance_env.policy import Policy

__all__ = ["NEGOTIATED_SIZE", "request_language"]

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
