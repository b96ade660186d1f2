"""Masking secrets in cache URLs and in the texts that quote them.

A password in a URL is found by parsing the whole URL (its userinfo ends at the last
``@``), so quotes, spaces, ``<``, ``>``, ``/``, ``#`` or ``?`` in it never end it early;
any other text has each URL in it masked, and error texts are scrubbed of the known
secrets and their pieces. A bottom layer: the standard library only.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe_error", "is_url", "mask", "scrub", "secrets_of"]

_URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)


def is_url(setting: str) -> bool:
    """Whether ``setting`` (``MAINTENANCE_MODE_CACHE``) is a URL rather than an alias."""
    return bool(_URL_RE.match(setting))


#: A URL in a text: the scheme, then everything up to the next whitespace or quote.
_URL_IN_TEXT_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>]*)", re.I)
#: Query parameters that carry a secret (``?password=…``, which redis-py honours).
_SECRET_PARAM_RE = re.compile(
    r"(?P<name>[^?&;=#]*(?:pass|secret|token|auth)[^?&;=#]*)=(?P<value>[^&;#]*)", re.I
)
#: The same, in one whole URL: a value runs to the next parameter (a ``#`` in it is kept).
_SECRET_PARAM_WHOLE_RE = re.compile(
    r"(?P<name>[^?&;=#]*(?:pass|secret|token|auth)[^?&;=#]*)=(?P<value>[^&;]*)", re.I
)


def _split_url(rest: str) -> tuple[str | None, str]:
    """A URL after its scheme, as (userinfo, the rest). The userinfo ends at the *last*
    ``@``: a generated password may hold ``/``, ``#`` or ``?`` unencoded."""
    at = rest.rfind("@")
    if at < 0:
        return None, rest
    return rest[:at], rest[at + 1 :]


def _mask_url(url: str) -> str:
    """One whole URL with its password and secret query values masked. The userinfo
    ends at the last ``@``, so a password holding quotes, spaces, ``<``, ``>``, ``/``,
    ``#`` or ``?`` unencoded is masked whole (a text that merely contains a URL is cut
    by :data:`_URL_IN_TEXT_RE`, which must guess where it ends)."""
    scheme, _, rest = url.partition("://")
    userinfo, rest = _split_url(rest)
    rest = _SECRET_PARAM_WHOLE_RE.sub(lambda m: f"{m['name']}=***", rest)
    if userinfo is None:
        return f"{scheme}://{rest}"
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest}"


def _url_secrets(url: str) -> list[str]:
    """The password and secret query values of one whole URL."""
    _, _, rest = url.partition("://")
    userinfo, rest = _split_url(rest)
    found = [m["value"] for m in _SECRET_PARAM_WHOLE_RE.finditer(rest)]
    if userinfo and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    return found


def mask(setting: str) -> str:
    """``setting`` with its password, and any query parameter that carries a secret,
    replaced by ``***``; a user name is kept. A setting that is one URL is parsed whole;
    any other text has each URL in it masked.

    >>> mask("redis://:hunter2@cache.internal:6379/0")
    'redis://:***@cache.internal:6379/0'
    >>> mask("redis://cache.internal:6379/0?password=hunter2")
    'redis://cache.internal:6379/0?password=***'
    >>> mask('redis://:a "b<c>@cache:6379/0')
    'redis://:***@cache:6379/0'
    """
    if is_url(setting) and not any(c in setting for c in "\n\r"):
        return _mask_url(setting)
    return _URL_IN_TEXT_RE.sub(lambda m: _mask_url(m[0]), setting)


def secrets_of(params: Mapping[str, Any] | str) -> tuple[str, ...]:
    """The secrets a store's setting holds (a URL's password and secret query values, an
    entry's ``OPTIONS`` password), and their pieces (a client library may quote part of a
    URL it could not parse), so that error texts can be scrubbed of them."""
    found: list[str] = []
    if isinstance(params, str):
        urls = [params] if is_url(params) else [m[0] for m in _URL_IN_TEXT_RE.finditer(params)]
    else:
        location = params.get("LOCATION") or ""
        items = location if isinstance(location, (list, tuple)) else [location]
        urls = [u for item in items for u in re.split(r"[;,]", str(item)) if is_url(u)]
        for name, value in dict(params.get("OPTIONS") or {}).items():
            if re.search(r"pass|secret|token|auth", str(name), re.I) and isinstance(value, str):
                found.append(value)
    for url in urls:
        found += _url_secrets(url)
    pieces: set[str] = set()
    for secret in found:
        if not secret:
            continue
        pieces.add(secret)
        pieces.add(urllib.parse.unquote(secret))
        pieces.update(p for p in re.split(r"[/?#@:\s'\"<>]", secret) if len(p) >= 3)
    return tuple(sorted(pieces, key=len, reverse=True))


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` masked (:func:`mask`) and with every one of ``secrets`` replaced by ``***``."""
    text = mask(text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def describe_error(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """One line for a failure of the store, without credentials (masked, and scrubbed of
    ``secrets``): the exception's class and the first line of its message."""
    text = scrub(str(exc), secrets).strip().splitlines()
    detail = text[0] if text else ""
    name = exc.__class__.__name__
    return f"{name}: {detail}" if detail else name
