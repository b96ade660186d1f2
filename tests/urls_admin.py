"""The admin at /admin/ (import only with django.contrib.admin installed), with the
Maintenance page registered on it; and a site of the project's own at /back-office/
without that page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

import maintenance_env.admin  # noqa: F401  (registers the Maintenance page on admin.site)
from tests import urls as base

#: An AdminSite of the project's own, without the Maintenance page.
back_office = admin.AdminSite(name="back_office")

urlpatterns = [
    *base.urlpatterns,
    path("admin/", admin.site.urls),
    path("back-office/", back_office.urls),
]
