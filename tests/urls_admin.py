"""The admin at /admin/ (import only with django.contrib.admin installed)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tests import urls as base

urlpatterns = [*base.urlpatterns, path("admin/", admin.site.urls)]
