"""Which languages the page can really be shown in.

A language of ``LANGUAGES`` that neither this package nor the project translates the
page into would give a page whose ``lang`` and ``dir`` say one language while its text
is English: such a language falls back to ``LANGUAGE_CODE``.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from django.conf import settings
from django.utils import translation

__all__ = ["LOCALE_DIR", "has_catalogue", "page_language"]

#: This package's catalogues.
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_known: dict[tuple[str, tuple[str, ...]], bool] = {}


def has_catalogue(code: str) -> bool:
    """Whether the page's text exists in language ``code`` (a language code): English,
    or a compiled ``django`` catalogue for it (or its base language) in this package or
    on ``LOCALE_PATHS``. Not ``gettext`` itself: Django falls back to ``LANGUAGE_CODE``'s
    catalogue, which would hide a missing one. Cached per code and ``LOCALE_PATHS``."""
    key = (code, tuple(str(path) for path in settings.LOCALE_PATHS))
    known = _known.get(key)
    if known is None:
        if code == "en" or code.startswith("en-"):
            known = True
        else:
            names = [translation.to_locale(code)]
            places = [LOCALE_DIR, *key[1]]
            known = any(gettext.find("django", str(place), names) for place in places)
        if len(_known) >= 512:
            _known.clear()
        _known[key] = known
    return known


def page_language(code: str) -> str:
    """``code`` (a negotiated language, or "" when i18n is off) when the page exists in
    it, else ``LANGUAGE_CODE``."""
    if not code or has_catalogue(code):
        return code
    return str(settings.LANGUAGE_CODE)
