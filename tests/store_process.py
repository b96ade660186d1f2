"""A process of the fleet for the store-backend tests, driven over its pipes.

``python -m tests.store_process`` (with ``DJANGO_SETTINGS_MODULE`` and the variables set)
sets Django up, then answers each line on stdin with one line of JSON on stdout:

- ``?``: ``{"active": maintenance_env.is_active(), "status": maintenance_env.status().as_dict()}``,
  what a worker of the fleet sees: its own runtime and refresher thread read the store as
  the package does;
- a JSON list, ``["maintenance_mode", "on", "--write"]``: that management command run with
  ``call_command``, as ``manage.py`` would run it, answered with
  ``{"code": 0 or 1, "out": ..., "err": ...}`` (1 and the message for a ``CommandError``).
  Database connections left unusable are closed first, as a new process would start
  without them.

An empty line or the end of input ends it.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any


def answer(line: str) -> dict[str, Any]:
    import maintenance_env

    if line == "?":
        return {
            "active": maintenance_env.is_active(),
            "status": maintenance_env.status().as_dict(),
        }
    from django.core.management import CommandError, call_command
    from django.db import close_old_connections

    args = json.loads(line)
    close_old_connections()
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        return {"code": 1, "out": out.getvalue(), "err": err.getvalue()}
    return {"code": 0, "out": out.getvalue(), "err": err.getvalue()}


def main() -> None:
    import django

    django.setup()
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            break
        sys.stdout.write(json.dumps(answer(line)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
