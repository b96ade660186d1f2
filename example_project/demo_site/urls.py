"""URLs of the example site."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.staticfiles.views import serve
from django.urls import path, re_path

from demo_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("visits/", views.visits, name="visits"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The admin's CSS for the demo without a separate static server. A real deployment
    # serves collected static files with whitenoise or a CDN instead.
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
