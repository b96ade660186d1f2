#!/usr/bin/env python
"""The example site's ``manage.py``; run it from anywhere: ``python example_project/manage.py``."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    # The demo_site package sits next to this file; make it importable from any directory.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
