"""Content-Security-Policy: the maintenance page's own, and the request's nonce for the
banner.

The page is self-contained (one inline ``<style>``, an inline SVG, no script, no external
load), so its policy allows exactly that: its styles by hash, ``data:`` images (the empty
favicon) and nothing else. A site's strict policy (django-csp's or Django's own, which
leave a header already set alone) would otherwise leave the page unstyled.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Callable

from django.http import HttpRequest

__all__ = ["HEADER", "nonce_getter", "page_policy", "request_nonce"]

HEADER = "Content-Security-Policy"

_STYLE = re.compile(rb"<style(?:\s[^>]*)?>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def page_policy(page: bytes) -> str:
    """The policy for one rendered page (``bytes``, UTF-8 or the page's charset): each
    inline ``<style>`` allowed by its SHA-256, as CSP level 2 hashes the element's text.
    Computed once per rendered page (the page's bytes are reused, so the lookup is cheap)."""
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
            for body in _STYLE.findall(page)
        }
    )
    style = " ".join(hashes) if hashes else "'none'"
    return (
        f"default-src 'none'; style-src {style}; img-src data:; base-uri 'none'; form-action 'none'"
    )


def request_nonce(request: HttpRequest) -> str:
    """The request's CSP nonce (``str``), or "" when there is none: django-csp's
    ``request.csp_nonce``, else Django's own (``django.middleware.csp.get_nonce``,
    Django >= 6.0). Reading it makes the middleware add it to the policy, so call it only
    when an element will carry it."""
    nonce = getattr(request, "csp_nonce", None)
    if nonce is None:
        try:
            from django.middleware.csp import get_nonce  # type: ignore[import-not-found,unused-ignore]
        except ImportError:  # Django < 6.0
            return ""
        nonce = get_nonce(request)
        if nonce is None:
            return ""
    # Not ``if nonce``: django-csp's lazy nonce is falsy until it is read.
    return str(nonce)


def nonce_getter(request: HttpRequest) -> Callable[[], str]:
    """:func:`request_nonce` for a template: a callable the template calls only when it
    renders ``{{ ...csp_nonce }}``, so pages without the banner never ask for a nonce
    (asking would change their policy: with a nonce, browsers ignore ``'unsafe-inline'``)."""
    return functools.partial(request_nonce, request)
