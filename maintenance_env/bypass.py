"""The bypass link: ``?maintenance_bypass=<secret>`` sets a signed cookie that lets its
holder through while maintenance is active."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote_plus

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.encoding import escape_uri_path

from maintenance_env.policy import NEVER_CACHE, Policy

__all__ = [
    "BYPASS_COOKIE",
    "BYPASS_PARAM",
    "bypass_redirect",
    "has_bypass_cookie",
    "wants_bypass",
]

BYPASS_PARAM = "maintenance_bypass"
BYPASS_COOKIE = "maintenance_bypass"
_BYPASS_QUERY = BYPASS_PARAM + "="


def _signer(state: Policy) -> signing.TimestampSigner:
    signer = state.signer
    if signer is None:
        secret = state.config.bypass_secret or ""
        # The salt depends on the secret, so rotating the secret voids every cookie; the
        # key stays SECRET_KEY, so knowing the bypass secret does not let one forge cookies.
        digest = hashlib.sha256(secret.encode()).hexdigest()
        signer = state.signer = signing.TimestampSigner(salt=f"maintenance_env.bypass.{digest}")
    return signer


def wants_bypass(request: HttpRequest, state: Policy) -> bool | None:
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


def _query_without_secret(query_string: str) -> str:
    """The raw query string minus every ``maintenance_bypass`` pair, the rest byte for
    byte as sent (order, encoding and empty values kept)."""
    kept = [
        pair
        for pair in query_string.split("&")
        if pair and unquote_plus(pair.split("=", 1)[0]) != BYPASS_PARAM
    ]
    return "&".join(kept)


def bypass_redirect(request: HttpRequest, state: Policy) -> HttpResponse:
    """302 to the same URL without the secret, setting the signed bypass cookie.

    The path is the request's (``SCRIPT_NAME`` included), re-encoded as Django's
    ``get_full_path`` does, so ``%23``, ``%3F`` and ``%25`` stay encoded; the query is
    the one sent, minus the secret. The cookie has the session cookie's ``Domain`` and
    ``Path``, so it holds wherever the session does.
    """
    location = _same_site_path(escape_uri_path(request.path))
    query = _query_without_secret(request.META.get("QUERY_STRING", ""))
    if query:
        location += "?" + query
    response = HttpResponseRedirect(location)
    response.headers["Cache-Control"] = NEVER_CACHE
    response.set_cookie(
        BYPASS_COOKIE,
        _signer(state).sign("bypass"),
        max_age=state.config.bypass_cookie_age,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def has_bypass_cookie(request: HttpRequest, state: Policy) -> bool:
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
