"""Contract section 13: the maintenance page under a strict Content-Security-Policy, and
the banner's nonce."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from django.template import engines
from django.test import Client, RequestFactory, override_settings

from maintenance_env import csp

CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
OURS = "maintenance_env.middleware.MaintenanceModeMiddleware"


def page_and_policy(**settings: Any) -> tuple[str, str]:
    with override_settings(MAINTENANCE_MODE=True, **settings):
        response = Client().get("/")
    assert response.status_code == 503
    return response.content.decode(), response[csp.HEADER]


def test_the_page_carries_its_own_policy_allowing_its_style_by_hash() -> None:
    page, policy = page_and_policy()
    styles = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == f"'sha256-{digest}'"
    assert directives["img-src"] == "data:"
    assert "script-src" not in directives  # none needed: default-src 'none' forbids it
    assert "<script" not in page


def test_each_rendered_page_gets_the_hash_of_its_own_style(tmp_path: Any) -> None:
    template = tmp_path / "custom.html"
    template.write_text("<html><head><style>p{color:red}</style></head><p>x</p></html>")
    templates = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(tmp_path)],
            "APP_DIRS": True,
        }
    ]
    _, policy = page_and_policy(TEMPLATES=templates, MAINTENANCE_MODE_TEMPLATE="custom.html")
    digest = base64.b64encode(hashlib.sha256(b"p{color:red}").digest()).decode()
    assert f"style-src 'sha256-{digest}';" in policy


def test_the_page_reads_without_css() -> None:
    page, _ = page_and_policy()
    svg = re.search(r"<svg [^>]*>", page)
    assert svg
    assert 'width="48"' in svg.group(0)
    assert 'height="48"' in svg.group(0)


@override_settings(
    MIDDLEWARE=[CSP_MIDDLEWARE, OURS],
    CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'self'"]}},
)
def test_a_site_policy_from_django_csp_does_not_replace_the_pages() -> None:
    pytest.importorskip("csp")
    _, policy = page_and_policy()
    assert policy.startswith("default-src 'none'; style-src 'sha256-")


def banner_head(request: Any) -> str:
    template = engines["django"].from_string('{% include "maintenance_env/banner_head.html" %}')
    return template.render({}, request).strip()


def test_the_banner_style_takes_the_requests_nonce(env: Any) -> None:
    env(MAINTENANCE_MODE="on")
    request: Any = RequestFactory().get("/")  # given csp_nonce, which the stubs do not declare
    request.csp_nonce = "n0nce-123"  # what django-csp's middleware sets
    assert '<style nonce="n0nce-123">' in banner_head(request)
    plain = RequestFactory().get("/")
    assert banner_head(plain).startswith("<style>")


def test_no_nonce_is_asked_for_when_there_is_no_banner() -> None:
    asked: list[bool] = []

    class Request:
        COOKIES: dict[str, str] = {}

        @property
        def csp_nonce(self) -> str:
            asked.append(True)
            return "x"

    assert banner_head(RequestFactory().get("/")) == ""
    request = RequestFactory().get("/")
    getter = csp.nonce_getter(Request())  # type: ignore[arg-type]
    assert asked == []
    assert getter() == "x"
    assert asked == [True]
    assert request is not None


def test_the_banner_body_has_no_style_element(env: Any) -> None:
    env(MAINTENANCE_MODE="on")
    template = engines["django"].from_string('{% include "maintenance_env/banner.html" %}')
    html = template.render({}, RequestFactory().get("/"))
    assert "maintenance-banner" in html
    assert "<style" not in html


@override_settings(
    MIDDLEWARE=[CSP_MIDDLEWARE, OURS],
    CONTENT_SECURITY_POLICY={
        "DIRECTIVES": {"default-src": ["'self'"], "style-src": ["'self'", "'nonce'"]}
    },
)
def test_django_csps_lazy_nonce_is_read_and_lands_in_its_policy() -> None:
    pytest.importorskip("csp")
    from csp.middleware import CSPMiddleware

    request: Any = RequestFactory().get("/")  # django-csp sets csp_nonce, not in the stubs
    middleware = CSPMiddleware(lambda r: None)  # type: ignore[arg-type]
    middleware.process_request(request)
    nonce = csp.request_nonce(request)
    assert nonce
    assert nonce == str(request.csp_nonce)
