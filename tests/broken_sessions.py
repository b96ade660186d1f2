"""A session engine whose store is down: every load raises, as a database that is."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.db import OperationalError


class SessionStore(DatabaseStore):
    def load(self) -> dict[str, Any]:
        raise OperationalError("could not connect to server: Connection refused")

    async def aload(self) -> dict[str, Any]:
        raise OperationalError("could not connect to server: Connection refused")
