"""i18n_patterns without a prefix for the default language: /hook/ is English, /de/hook/."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.urls import path

from tests.urls_more import hook, page

urlpatterns = [
    *i18n_patterns(path("hook/", hook), path("page/", page), prefix_default_language=False)
]
