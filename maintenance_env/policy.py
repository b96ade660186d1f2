"""The per-request policy: one resolved configuration with what requests need precomputed.

A :class:`Policy` is built once per configuration change and then only read by requests:
whether maintenance is active now, the health paths as a set, the redirect target split,
and what is rendered or built once per configuration (the page, the JSON body, the bypass
signer, the exempt-view verdicts), each in its own typed slot.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from enum import Enum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation

from maintenance_env.matching import NetworkSet, PathPatterns
from maintenance_env.plan import Period, Phase, Plan
from maintenance_env.schedule import Occurrence
from maintenance_env.variables import DEFAULT_RETRY_AFTER

if TYPE_CHECKING:
    from django.core.signing import TimestampSigner

    from maintenance_env.config import Resolution

__all__ = ["EXEMPT_ATTR", "NEVER_CACHE", "SAFE_METHODS", "Policy", "Reach", "health_key"]

#: The attribute the middleware looks for on a resolved view (or its ``view_class``), set
#: by :func:`maintenance_env.decorators.maintenance_exempt`.
EXEMPT_ATTR = "maintenance_exempt"
#: The ``Cache-Control`` of every answer that must not be kept by any cache.
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"
#: The methods read-only mode lets through, when they carry no body: RFC 9110 section
#: 9.2.1's safe methods but TRACE, which echoes the request (and a body) back.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Reach(Enum):
    """What a path resolves to, as far as maintenance is concerned."""

    EXEMPT = "exempt"  # a view decorated with maintenance_exempt
    LOGIN = "login"  # a login or logout view: passes while a user-based exemption is on
    #: The login or logout view of an ``AdminSite`` that shows the Maintenance page: always
    #: passes, so that a user holding ``maintenance_env.change_maintenance`` can sign in to
    #: reach it during maintenance, whatever the exemptions (contract section 12).
    ADMIN_LOGIN = "admin-login"
    SESSION = "session"  # Django's set_language: writes only the session and a cookie
    VIEW = "view"  # any other view, or resolving failed
    NONE = "none"  # no view: Django answers 404, or redirects (APPEND_SLASH, i18n_patterns)


def health_key(path: str) -> str:
    """A path with one trailing slash dropped, so "/healthz" and "/healthz/" match but
    "/healthz//" does not; the root stays "/". Used for the setting and the request alike."""
    return path[:-1] if len(path) > 1 and path[-1] == "/" else path


def _default_language() -> str:
    """``LANGUAGE_CODE`` as ``LANGUAGES`` has it (``en-us`` may be served as ``en``)."""
    code = str(settings.LANGUAGE_CODE)
    if not settings.USE_I18N:
        return code
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return code


class Policy:
    """A resolved configuration, precomputed for the request path.

    Immutable in what it decides; its slots for built artefacts fill lazily (a race
    builds one twice, harmlessly) and start empty with every new policy.
    """

    __slots__ = (
        "config",
        "default_language",
        "enabled",
        "end_ts",
        "exempt_views",
        "failures",
        "health_paths",
        "json_body",
        "languages",
        "login_path",
        "negotiated",
        "networks",
        "page_languages",
        "pages",
        "plan",
        "quiet_since",
        "quiet_until",
        "redirect_key",
        "redirect_path",
        "resolution",
        "signer",
        "start_ts",
        "url_patterns",
        "windowed",
    )

    def __init__(self, resolution: Resolution) -> None:
        config = resolution.config
        self.resolution = resolution
        self.config = config
        self.enabled = config.enabled
        self.start_ts = config.starts_at.timestamp() if config.starts_at else None
        self.end_ts = config.ends_at.timestamp() if config.ends_at else None
        #: When maintenance, switched on, is active: the schedule and the one-off window
        #: with their phases (``None``: always).
        self.plan = Plan.build(
            config.schedule,
            config.schedule_time_zone or ZoneInfo(str(settings.TIME_ZONE or "UTC")),
            starts_at=config.starts_at,
            ends_at=config.ends_at,
            read_only_first=config.read_only_first,
            announce=config.announce,
            on_new_window=self._new_window,
        )
        self.windowed = self.plan is not None
        #: From ``quiet_since`` until ``quiet_until`` (Unix time, seconds) maintenance is
        #: certainly not active: the schedule's quiet period that :meth:`is_active` found
        #: last (empty, 0.0 to 0.0, while not known). The middleware compares the clock
        #: with both ends before asking: a clock set back leaves the period too.
        self.quiet_since = 0.0
        self.quiet_until = 0.0
        self.health_paths = frozenset(health_key(p) for p in config.health_paths)
        # The redirect target must pass, or maintenance would redirect to itself. Only a
        # path (below any SCRIPT_NAME prefix) is ours: a full URL names another site, and
        # its path never lets a local path through, whatever Host header a client sends.
        target = urlsplit(config.redirect_url) if config.redirect_url else None
        local = target is not None and not target.scheme and not target.netloc
        #: The target's path when it is a path on this site, else ``None``.
        self.redirect_path = (target.path or "/") if target and local else None
        #: The same, as compared with a request's path: a trailing slash optional.
        self.redirect_key = health_key(self.redirect_path) if self.redirect_path else None
        #: The codes of ``LANGUAGES`` when i18n is on (pages are rendered per language),
        #: ``None`` when it is off (one page, under ``LANGUAGE_CODE``).
        self.languages = (
            frozenset(code for code, _name in settings.LANGUAGES) if settings.USE_I18N else None
        )
        self.default_language = _default_language()
        #: The rendered page, by language code ("" when i18n is off): bounded by
        #: ``LANGUAGES``, since only a code from it (or the default) is ever a key.
        self.pages: dict[str, bytes] = {}
        #: The negotiated language of each (language cookie, Accept-Language) pair seen,
        #: bounded; and the page language of each negotiated code (bounded by
        #: ``LANGUAGES``): a code whose page is not translated gets ``LANGUAGE_CODE``'s.
        self.negotiated: dict[tuple[str | None, str], str] = {}
        self.page_languages: dict[str, str] = {}
        #: The JSON body, when it does not count down (no ENDS_AT, or RETRY_AFTER set).
        self.json_body: bytes | None = None
        self.signer: TimestampSigner | None = None
        #: What the view of (path, urlconf) is (exempt, a login view, another view, none),
        #: bounded by the decision.
        self.exempt_views: dict[tuple[str, str | None], Reach] = {}
        #: ``LOGIN_URL`` as a path of this site ("" when it is not one), once looked up.
        self.login_path: str | None = None
        #: The kinds of failed exemption checks already logged under this configuration.
        self.failures: set[str] = set()
        #: ``EXCEPT_URLS`` as one linear-time alternation, and ``EXCEPT_IPS`` as sets of
        #: integers, built on the first active request that needs them.
        self.url_patterns: PathPatterns | None = None
        self.networks: NetworkSet | None = None

    def _new_window(self) -> None:
        # The page and the JSON body name the window's start and end: built again.
        self.pages = {}
        self.json_body = None

    def is_active(self, now: float | None = None) -> bool:
        """Maintenance is on and ``now`` (``time.time()``) is inside [STARTS_AT, ENDS_AT)
        and inside a window of the schedule, when there is one."""
        if not self.enabled:
            return False
        plan = self.plan
        if plan is None:
            return True
        if now is None:
            now = time.time()
        period = plan.at(now)
        if not period.inside:
            # Emptied first: a request thread reading between two of these stores sees
            # an empty period (and asks), never the old start with the new end.
            self.quiet_until = 0.0
            self.quiet_since = period.since
            self.quiet_until = period.until
        return period.inside

    def is_read_only(self, now: float | None = None) -> bool:
        """While active: ``READ_ONLY`` is on, or ``now`` is in the first ``READ_ONLY_FIRST``
        seconds of a window."""
        if self.config.read_only:
            return True
        plan = self.plan
        return plan is not None and (
            plan.at(time.time() if now is None else now).phase is Phase.READ_ONLY
        )

    def period(self, now: float | None = None) -> Period | None:
        """The schedule's :class:`~maintenance_env.plan.Period` at ``now``, ``None``
        without a schedule or a one-off window."""
        plan = self.plan
        return None if plan is None else plan.at(time.time() if now is None else now)

    def window(self, now: float | None = None) -> Occurrence | None:
        """The window maintenance is active in at ``now``: the schedule's current
        occurrence, or the one-off [STARTS_AT, ENDS_AT); ``None`` outside one."""
        period = self.period(now)
        return None if period is None else period.current

    def window_end(self, now: float | None = None) -> dt.datetime | None:
        """When the current window ends (``None``: no end, or outside a window)."""
        window = self.window(now)
        return None if window is None else window.ends_at

    def retry_after(self, now: float | None = None) -> int | None:
        """Seconds for ``Retry-After``; ``None`` means no header (configured 0)."""
        configured = self.config.retry_after
        if configured is None:
            now = time.time() if now is None else now
            left = None if self.plan is None else self.plan.seconds_left(now)
            if left is None:
                return DEFAULT_RETRY_AFTER
            return max(1, math.ceil(left))
        return configured or None
