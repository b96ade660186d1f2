"""The URLconf of tests/unit/test_decision_read_only_sessions.py (import only with django.contrib.admin
installed): the views that change only the visitor's session."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from tests.urls import urlpatterns as base_patterns


def sign_in(request: HttpRequest) -> HttpResponse:
    """A function view named by LOGIN_URL (not a LoginView): it passes by its path."""
    return HttpResponse("sign in")


urlpatterns = [
    *base_patterns,
    path("admin/", admin.site.urls),
    path("accounts/logout/", LogoutView.as_view()),
    path("sign-in/", sign_in),
    path("i18n/", include("django.conf.urls.i18n")),
    path("other-login/", LoginView.as_view(template_name="custom_maintenance.html")),
]
