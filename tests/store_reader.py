"""A process that reads the shared store as a server's worker does, driven over its pipes.

``python -m tests.store_reader`` (with ``DJANGO_SETTINGS_MODULE`` and the variables set)
sets Django up, then answers each line on stdin with one line of JSON on stdout:
``{"active": maintenance_env.is_active(), "status": maintenance_env.status().as_dict()}``.
It reads the store only as the package does (its own runtime and refresher thread), so the
test sees what a worker of the fleet would serve. An empty line or end of input ends it.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    import maintenance_env

    for line in sys.stdin:
        if not line.strip():
            break
        report = {
            "active": maintenance_env.is_active(),
            "status": maintenance_env.status().as_dict(),
        }
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
