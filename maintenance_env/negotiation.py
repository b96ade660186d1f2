"""Whether a client wants JSON: content negotiation on ``Accept`` (RFC 9110 section 12.5.1).

Django's own ``HttpRequest.accepted_types`` and ``get_preferred_type`` decide; the answer
depends only on two header values, so it is kept per value (a bounded LRU): parsing
``Accept`` cost more than the rest of a maintenance response, and a fleet of browsers
sends a handful of distinct values.
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest
from django.http.request import MediaType

__all__ = ["prefers_json"]

#: Longer ``Accept`` values are negotiated every time, not kept: no client needs one,
#: and the cache holds at most ``_KEPT`` short ones (bytes bounded, whatever is sent).
_LONGEST_KEPT = 512
_KEPT = 256


def _is_json(media: MediaType) -> bool:
    return media.main_type == "application" and (
        media.sub_type == "json" or media.sub_type.endswith("+json")
    )


def _specificity(media: MediaType) -> int:
    return (media.main_type != "*") + (media.sub_type != "*")


def _refuses_json(header: str) -> bool:
    """The ``Accept`` header's most specific range covering ``application/json`` has
    ``q=0`` (RFC 9110 section 12.5.1)."""
    ranges = [MediaType(token) for token in header.split(",") if token.strip()]
    covering = [media for media in ranges if media.match("application/json")]
    if not covering:
        return False
    most = max(_specificity(media) for media in covering)
    return all(media.quality == 0 for media in covering if _specificity(media) == most)


def _negotiate(accept: str, xhr: bool) -> bool:
    if accept:
        probe = HttpRequest()
        probe.META = {"HTTP_ACCEPT": accept}
        accepted = probe.accepted_types  # q > 0 only, the most preferred first
        if accepted:
            if _is_json(accepted[0]):
                return True
            preferred = probe.get_preferred_type(("text/html", "application/json"))
            if preferred == "application/json":
                return True
    if xhr:
        return not _refuses_json(accept)
    return False


_kept = lru_cache(maxsize=_KEPT)(_negotiate)


def prefers_json(request: HttpRequest) -> bool:
    """The client prefers JSON: its most preferred ``Accept`` type is ``application/json``
    or a ``+json`` type, or, of the two, it prefers ``application/json`` to ``text/html``
    (Django's ``HttpRequest.get_preferred_type``); or it is an ``XMLHttpRequest`` that
    does not refuse JSON (``application/json;q=0``).

    ``request``: only its ``Accept`` and ``X-Requested-With`` headers are read. Returns a
    bool; never raises, whatever the headers hold."""
    meta = request.META
    accept = meta.get("HTTP_ACCEPT") or ""
    xhr = meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest"
    if len(accept) > _LONGEST_KEPT:
        return _negotiate(accept, xhr)
    return _kept(accept, xhr)
