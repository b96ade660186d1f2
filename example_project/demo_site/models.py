"""One table, so that the example has a page that really needs the database."""

from __future__ import annotations

from django.db import models


class Visit(models.Model):
    """A visit to the visits page."""

    at = models.DateTimeField(auto_now_add=True)
    path = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.path} at {self.at:%Y-%m-%d %H:%M:%S}"
