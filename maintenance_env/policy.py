"""The per-request policy: one resolved configuration with what requests need precomputed.

A :class:`Policy` is built once per configuration change and then only read by requests:
whether maintenance is active now, the health paths as a set, the redirect target split,
and what is rendered or built once per configuration (the page, the JSON body, the bypass
signer, the exempt-view verdicts), each in its own typed slot.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from maintenance_env.variables import DEFAULT_RETRY_AFTER

if TYPE_CHECKING:
    from django.core.signing import TimestampSigner

    from maintenance_env.config import Resolution

__all__ = ["Policy", "health_key"]


def health_key(path: str) -> str:
    """A path with one trailing slash dropped, so "/healthz" and "/healthz/" match but
    "/healthz//" does not; the root stays "/". Used for the setting and the request alike."""
    return path[:-1] if len(path) > 1 and path[-1] == "/" else path


class Policy:
    """A resolved configuration, precomputed for the request path.

    Immutable in what it decides; its slots for built artefacts fill lazily (a race
    builds one twice, harmlessly) and start empty with every new policy.
    """

    __slots__ = (
        "config",
        "enabled",
        "end_ts",
        "exempt_views",
        "health_paths",
        "json_body",
        "pages",
        "redirect_host",
        "redirect_path",
        "resolution",
        "signer",
        "start_ts",
        "windowed",
    )

    def __init__(self, resolution: Resolution) -> None:
        config = resolution.config
        self.resolution = resolution
        self.config = config
        self.enabled = config.enabled
        self.start_ts = config.starts_at.timestamp() if config.starts_at else None
        self.end_ts = config.ends_at.timestamp() if config.ends_at else None
        self.windowed = self.start_ts is not None or self.end_ts is not None
        self.health_paths = frozenset(health_key(p) for p in config.health_paths)
        # The redirect target must pass, or maintenance would redirect to itself; a full
        # URL counts only on its own host (https://status.example.com/ is not our "/").
        target = urlsplit(config.redirect_url) if config.redirect_url else None
        self.redirect_path = (target.path or "/") if target else None
        self.redirect_host = target.netloc.lower() if target and target.netloc else None
        #: The rendered page, by language code ("" when i18n is off).
        self.pages: dict[str, bytes] = {}
        #: The JSON body, when it does not count down (no ENDS_AT, or RETRY_AFTER set).
        self.json_body: bytes | None = None
        self.signer: TimestampSigner | None = None
        #: Whether the view of (path, urlconf) is exempt, bounded by the middleware.
        self.exempt_views: dict[tuple[str, str | None], bool] = {}

    def is_active(self, now: float | None = None) -> bool:
        """Maintenance is on and ``now`` (``time.time()``) is inside [STARTS_AT, ENDS_AT)."""
        if not self.enabled:
            return False
        if not self.windowed:
            return True
        now = time.time() if now is None else now
        if self.start_ts is not None and now < self.start_ts:
            return False
        return self.end_ts is None or now < self.end_ts

    def retry_after(self, now: float | None = None) -> int | None:
        """Seconds for ``Retry-After``; ``None`` means no header (configured 0)."""
        configured = self.config.retry_after
        if configured is None:
            if self.end_ts is None:
                return DEFAULT_RETRY_AFTER
            now = time.time() if now is None else now
            return max(1, math.ceil(self.end_ts - now))
        return configured or None
