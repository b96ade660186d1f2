"""Sphinx configuration: Markdown pages (MyST) with the furo theme; ``make docs`` builds them."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from maintenance_env import __version__  # noqa: E402

project = "django-maintenance-env"
author = "django-maintenance-env contributors"
copyright = "django-maintenance-env contributors"
release = version = __version__

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
# Slugs for the ## and ### headings, so pages link to one variable:
# configuration.md#maintenance_mode_except_ips.
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"django-maintenance-env {version}"
html_theme_options = {
    "source_repository": "https://github.com/django-maintenance-env/django-maintenance-env/",
    "source_branch": "main",
    "source_directory": "docs/",
}
