"""``maintenance_mode on --with-secret [--url BASE]``: a bypass secret made here, written or
printed with the switch, and the bypass link that lets its holder through."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.core.management.base import CommandError

from maintenance_env.bypass import BYPASS_PARAM

__all__ = ["SECRET_BYTES", "link", "new_secret"]

#: Random bytes in a generated secret: ``token_urlsafe`` gives 43 URL-safe characters.
SECRET_BYTES = 32


def new_secret() -> str:
    """A URL-safe bypass secret of at least 32 characters (``secrets.token_urlsafe``)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def link(secret: str, base: str | None) -> str:
    """The line that tells how to pass: ``BASE?maintenance_bypass=…`` for an ``http(s)``
    ``base`` (its own query kept), else the query parameter to append to any page's URL.

    Raises ``CommandError`` naming ``--url`` when ``base`` is not an http(s) URL."""
    param = urlencode({BYPASS_PARAM: secret})
    if base is None:
        return f"Bypass: append ?{param} to any page's URL (the cookie then lets you through)."
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in base for c in "\r\n "):
        raise CommandError(f"--url={base!r} is not valid: expected an http:// or https:// URL.")
    query = f"{parts.query}&{param}" if parts.query else param
    return "Bypass link: " + urlunsplit(parts._replace(query=query, fragment=""))
