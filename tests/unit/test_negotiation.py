"""Content negotiation: whether a client wants JSON, decided by Django's own helpers and
kept per header value."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from maintenance_env import negotiation
from maintenance_env.negotiation import prefers_json


@pytest.mark.parametrize(
    ("accept", "xhr", "expected"),
    [
        ("application/json", None, True),
        ("application/json; charset=utf-8, text/html", None, True),
        ("application/problem+json", None, True),
        ("APPLICATION/JSON", None, True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None, False),
        ("text/html, application/json", None, False),  # the first type decides
        ("*/*", None, False),
        ("", "XMLHttpRequest", True),
        ("text/html", "XMLHttpRequest", True),
        (None, None, False),
        # Negotiated through Django's get_preferred_type: a refusal is a refusal.
        ("application/json;q=0, text/html", None, False),
        ("application/json;q=0.5, text/html;q=0.4", None, True),
        ("application/vnd.api+json, text/html;q=0.9", None, True),
        ("application/*", None, True),
        ("text/*", None, False),
        ("application/json;q=0", "XMLHttpRequest", False),
        ("*/*;q=0, text/html", "XMLHttpRequest", False),
        ("application/json;q=0, */*", "XMLHttpRequest", False),
        ("*/*;q=0, application/json", "XMLHttpRequest", True),
    ],
)
def test_prefers_json(accept: str | None, xhr: str | None, expected: bool) -> None:
    extra: dict[str, Any] = {}  # WSGI environ entries
    if accept is not None:
        extra["HTTP_ACCEPT"] = accept
    if xhr is not None:
        extra["HTTP_X_REQUESTED_WITH"] = xhr
    assert prefers_json(RequestFactory().get("/", **extra)) is expected


def _request(accept: str, xhr: bool) -> WSGIRequest:
    extra: dict[str, Any] = {"HTTP_ACCEPT": accept}  # WSGI environ entries
    if xhr:
        extra["HTTP_X_REQUESTED_WITH"] = "XMLHttpRequest"
    return RequestFactory().get("/", **extra)


def test_the_answer_is_kept_per_header_value() -> None:
    negotiation._kept.cache_clear()
    for _ in range(3):
        assert prefers_json(_request("application/json", False)) is True
        assert prefers_json(_request("text/html", False)) is False
    info = negotiation._kept.cache_info()
    assert (info.misses, info.hits) == (2, 4)


def test_a_long_header_is_negotiated_but_not_kept() -> None:
    negotiation._kept.cache_clear()
    accept = "text/html, " + "x/y;q=0.5, " * 100 + "application/json;q=0.1"
    assert len(accept) > negotiation._LONGEST_KEPT
    assert prefers_json(_request(accept, False)) is False
    assert negotiation._kept.cache_info().currsize == 0


def test_the_cache_is_bounded() -> None:
    negotiation._kept.cache_clear()
    for number in range(negotiation._KEPT * 2):
        prefers_json(_request(f"text/x{number}", False))
    assert negotiation._kept.cache_info().currsize == negotiation._KEPT


tokens = st.sampled_from(
    [
        "application/json",
        "text/html",
        "*/*",
        "application/*",
        "text/*",
        "application/ld+json",
        "image/png",
        "APPLICATION/JSON",
        "",
    ]
)
qualities = st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=0.9", ";charset=utf-8"])
headers = st.lists(st.tuples(tokens, qualities), max_size=4).map(
    lambda parts: ", ".join(token + quality for token, quality in parts)
)


@settings(max_examples=200, deadline=None)
@given(accept=headers, xhr=st.booleans())
def test_a_kept_answer_is_what_django_negotiates_on_the_request_itself(
    accept: str, xhr: bool
) -> None:
    """The kept answer equals one negotiated on the visitor's own request object, asked
    twice (the second from the cache)."""
    request = _request(accept, xhr)
    fresh = negotiation._negotiate(accept, xhr)
    assert prefers_json(request) is fresh
    assert prefers_json(_request(accept, xhr)) is fresh
    accepted = request.accepted_types if accept else []
    if accepted and negotiation._is_json(accepted[0]):
        assert fresh is True
