"""Every variable of the package, declared once: name, type, parser, default, check id.

:class:`Config` is the frozen, typed result of resolving every variable. Each of its fields
is declared with :func:`variable`, which records the variable's name and rules in the
field's metadata; :data:`VARIABLES` is derived from those fields, so adding a variable is
one line here (and its documentation). Nothing here reads a source or decides precedence:
see :mod:`maintenance_env.sources` and :mod:`maintenance_env.config`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_noop

from maintenance_env import parsers, value_rules
from maintenance_env.parsers import Network
from maintenance_env.schedule import Schedule

__all__ = [
    "DEFAULT_ANNOUNCE",
    "DEFAULT_HEALTH_PATHS",
    "DEFAULT_MESSAGE",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_TEMPLATE",
    "LIVE_NAMES",
    "PREFIX",
    "VARIABLES",
    "Config",
    "Origin",
    "Variable",
]

#: Every variable's name starts with this; only such names are read from a live source,
#: which may be shared with other settings of the app (a ConfigMap usually is).
PREFIX = "MAINTENANCE_MODE"

DEFAULT_TEMPLATE = "maintenance_env/maintenance.html"
#: Shown as written when it is the value; the page translates it (marked for gettext).
DEFAULT_MESSAGE = gettext_noop("This site is down for maintenance. Please check back soon.")
DEFAULT_HEALTH_PATHS = ("/healthz", "/readyz", "/livez", "/health", "/up")
DEFAULT_RETRY_AFTER = 3600
#: Seconds before a window from which it is announced (``MAINTENANCE_MODE_ANNOUNCE``).
DEFAULT_ANNOUNCE = 86400
#: The largest delta-seconds HTTP caches must handle (RFC 9111 §1.2.2: 2^31).
MAX_DELTA_SECONDS = 2**31
#: Browsers cap a cookie's Max-Age at 400 days (RFC 6265bis, "The Max-Age Attribute").
MAX_COOKIE_AGE = 400 * 24 * 3600


class Origin(str, Enum):
    """Where a value came from, in order of precedence (highest first)."""

    OVERRIDE = "override"
    CACHE = "cache"
    CONFIG = "config file"
    ENVIRONMENT = "environment"
    SETTINGS = "settings"
    DEFAULT = "default"

    @property
    def live(self) -> bool:
        """A source that changes while the process runs: a bad value there keeps the last
        good one instead of stopping the server."""
        return self in (Origin.CACHE, Origin.CONFIG)


Parser = Callable[[str, object], Any]


@dataclasses.dataclass(frozen=True)
class Variable:
    """One variable: its name, the :class:`Config` attribute, how to parse it, its default.

    ``live`` variables may come from the shared store and the mounted config; the others
    (where to find those sources, and how often to look) only from the environment or
    settings. ``secret`` values are never shown whole: :meth:`show` gives ``***``, or what
    ``conceal`` makes of the text (a cache URL with its password masked), in logs,
    ``status`` and errors.
    """

    name: str
    attr: str
    parse: Parser
    default: Any
    check_id: str
    kind: str
    secret: bool = False
    live: bool = True
    conceal: Callable[[str], str] | None = None

    def show(self, value: object) -> object:
        """``value`` as it may be shown: itself, or for a secret ``***`` (``conceal(value)``
        for text when the variable has one); ``None`` stays ``None``."""
        if not self.secret or value is None:
            return value
        if self.conceal is not None and isinstance(value, str):
            return self.conceal(value)
        return "***"


T = TypeVar("T")
_META = "maintenance_env"


def variable(
    name: str,
    parse: Parser,
    default: T,
    check_id: str,
    kind: str,
    *,
    secret: bool = False,
    live: bool = True,
    conceal: Callable[[str], str] | None = None,
) -> T:
    """A :class:`Config` field for the variable ``name`` (the attribute name is filled in
    from the field). Typed as the default so that the dataclass stays typed."""
    declared = Variable(name, "", parse, default, check_id, kind, secret, live, conceal)
    field: T = dataclasses.field(default=default, metadata={_META: declared})
    return field


@dataclasses.dataclass(frozen=True)
class Config:
    """Every variable, parsed. Immutable: a change builds a new one.

    Fields are in the documented order of the variables; times are aware UTC datetimes,
    durations are seconds.
    """

    enabled: bool = variable("MAINTENANCE_MODE", parsers.parse_bool, False, "E001", "bool")
    config_path: str | None = variable(
        "MAINTENANCE_MODE_CONFIG_PATH",
        value_rules.filesystem_path,
        None,
        "E002",
        "path",
        live=False,
    )
    reload_interval: float = variable(
        "MAINTENANCE_MODE_RELOAD_INTERVAL", parsers.parse_float, 1.0, "E003", "float", live=False
    )
    starts_at: dt.datetime | None = variable(
        "MAINTENANCE_MODE_STARTS_AT", parsers.parse_datetime_utc, None, "E004", "datetime"
    )
    ends_at: dt.datetime | None = variable(
        "MAINTENANCE_MODE_ENDS_AT", parsers.parse_datetime_utc, None, "E005", "datetime"
    )
    status_code: int = variable(
        "MAINTENANCE_MODE_STATUS_CODE", value_rules.status_code, 503, "E007", "int"
    )
    retry_after: int | None = variable(
        "MAINTENANCE_MODE_RETRY_AFTER",
        value_rules.int_between(0, MAX_DELTA_SECONDS),
        None,
        "E008",
        "int",
    )
    template: str = variable(
        "MAINTENANCE_MODE_TEMPLATE", parsers.parse_text, DEFAULT_TEMPLATE, "E009", "template"
    )
    message: str = variable(
        "MAINTENANCE_MODE_MESSAGE", parsers.parse_text, DEFAULT_MESSAGE, "E010", "text"
    )
    redirect_url: str | None = variable(
        "MAINTENANCE_MODE_REDIRECT_URL", value_rules.url_or_path, None, "E011", "url"
    )
    except_urls: tuple[re.Pattern[str], ...] = variable(
        "MAINTENANCE_MODE_EXCEPT_URLS", parsers.parse_regexes, (), "E012", "regex list"
    )
    health_paths: tuple[str, ...] = variable(
        "MAINTENANCE_MODE_HEALTH_PATHS",
        parsers.parse_paths,
        DEFAULT_HEALTH_PATHS,
        "E013",
        "path list",
    )
    except_ips: tuple[Network, ...] = variable(
        "MAINTENANCE_MODE_EXCEPT_IPS", parsers.parse_networks, (), "E014", "network list"
    )
    trusted_proxies: int = variable(
        "MAINTENANCE_MODE_TRUSTED_PROXIES", value_rules.int_between(0), 0, "E015", "int"
    )
    except_staff: bool = variable(
        "MAINTENANCE_MODE_EXCEPT_STAFF", parsers.parse_bool, False, "E016", "bool"
    )
    except_superuser: bool = variable(
        "MAINTENANCE_MODE_EXCEPT_SUPERUSER", parsers.parse_bool, False, "E017", "bool"
    )
    except_authenticated: bool = variable(
        "MAINTENANCE_MODE_EXCEPT_AUTHENTICATED", parsers.parse_bool, False, "E018", "bool"
    )
    bypass_secret: str | None = variable(
        "MAINTENANCE_MODE_BYPASS_SECRET", parsers.parse_text, None, "E019", "text", secret=True
    )
    bypass_cookie_age: int = variable(
        "MAINTENANCE_MODE_BYPASS_COOKIE_AGE",
        value_rules.int_between(1, MAX_COOKIE_AGE),
        43200,
        "E020",
        "int",
    )
    platform: str | None = variable(
        "MAINTENANCE_MODE_PLATFORM", value_rules.platform, None, "E021", "platform"
    )
    cache: str | None = variable(
        "MAINTENANCE_MODE_CACHE",
        value_rules.cache_setting,
        None,
        "E022",
        "cache",
        secret=True,
        live=False,
        conceal=value_rules.masked_url,
    )
    read_only: bool = variable(
        "MAINTENANCE_MODE_READ_ONLY", parsers.parse_bool, False, "E023", "bool"
    )
    refresh: int | None = variable(
        "MAINTENANCE_MODE_REFRESH", value_rules.int_between(1), None, "E024", "int"
    )
    schedule: Schedule | None = variable(
        "MAINTENANCE_MODE_SCHEDULE", value_rules.schedule, None, "E025", "schedule"
    )
    schedule_time_zone: ZoneInfo | None = variable(
        "MAINTENANCE_MODE_SCHEDULE_TIME_ZONE", value_rules.time_zone, None, "E026", "time zone"
    )
    read_only_first: int = variable(
        "MAINTENANCE_MODE_READ_ONLY_FIRST",
        value_rules.int_between(0, MAX_DELTA_SECONDS),
        0,
        "E027",
        "int",
    )
    announce: int = variable(
        "MAINTENANCE_MODE_ANNOUNCE",
        value_rules.int_between(0, MAX_DELTA_SECONDS),
        DEFAULT_ANNOUNCE,
        "E028",
        "int",
    )
    except_permissions: tuple[str, ...] = variable(
        "MAINTENANCE_MODE_EXCEPT_PERMISSIONS",
        value_rules.permissions,
        (),
        "E030",
        "permission list",
    )
    except_groups: tuple[str, ...] = variable(
        "MAINTENANCE_MODE_EXCEPT_GROUPS", parsers.parse_list, (), "E031", "group list"
    )
    webhook_url: str | None = variable(
        "MAINTENANCE_MODE_WEBHOOK_URL",
        value_rules.webhook_url,
        None,
        "E029",
        "webhook url",
        secret=True,
        conceal=value_rules.masked_webhook,
    )

    @property
    def user_exemptions(self) -> bool:
        """Whether any exemption needs ``request.user``."""
        return bool(
            self.except_staff
            or self.except_superuser
            or self.except_authenticated
            or self.except_permissions
            or self.except_groups
        )


def _declared() -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for config_field in dataclasses.fields(Config):
        declared: Variable = config_field.metadata[_META]
        found[declared.name] = dataclasses.replace(declared, attr=config_field.name)
    return found


#: Every variable, by name, in the documented order.
VARIABLES: Mapping[str, Variable] = _declared()
#: The live variables: the only ones read from the shared store and the mounted config.
LIVE_NAMES = tuple(name for name, var in VARIABLES.items() if var.live)

#: Check ids for problems that involve more than one value.
SCHEDULE_ORDER_ID = "E006"
TEMPLATE_MISSING_ID = "E009"
