"""The configuration: every variable, resolved once into a frozen, typed :class:`Config`.

Each variable is resolved on its own, first match wins: mounted config, environment,
Django settings, default. The environment and settings are read when the middleware is
created and when ``setting_changed`` fires; the mounted config is polled by
:class:`Runtime` at most once per reload interval. The request path only reads
attributes of objects built here.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from maintenance_env import parsers, platforms, sources
from maintenance_env.parsers import InvalidValue, Network

__all__ = [
    "DEFAULT_HEALTH_PATHS",
    "DEFAULT_MESSAGE",
    "DEFAULT_TEMPLATE",
    "VARIABLES",
    "Config",
    "Origin",
    "Problem",
    "Resolution",
    "Runtime",
    "State",
    "get_runtime",
    "get_state",
    "health_key",
    "load_runtime",
    "resolve",
]

logger = logging.getLogger("maintenance_env")

DEFAULT_TEMPLATE = "maintenance_env/maintenance.html"
DEFAULT_MESSAGE = "This site is down for scheduled maintenance. Please check back soon."
DEFAULT_HEALTH_PATHS = ("/healthz", "/readyz", "/livez", "/health", "/up")
DEFAULT_RETRY_AFTER = 3600


class Origin(str, Enum):
    """Where a value came from, in order of precedence."""

    CONFIG = "config file"
    ENVIRONMENT = "environment"
    SETTINGS = "settings"
    DEFAULT = "default"


@dataclass(frozen=True)
class Variable:
    """One variable of the contract: its name, how to parse it, its default."""

    name: str
    attr: str
    parse: Callable[[str, object], Any]
    default: Any
    check_id: str
    kind: str
    secret: bool = False
    live: bool = True  # may come from the mounted config


def _int_between(low: int, high: int | None = None) -> Callable[[str, object], int]:
    def parse(name: str, value: object) -> int:
        return parsers.parse_int(name, value, minimum=low, maximum=high)

    return parse


def _platform(name: str, value: object) -> str:
    text = parsers.parse_text(name, value).lower()
    if text not in platforms.NAMES:
        raise InvalidValue(name, value, "one of " + ", ".join(platforms.NAMES))
    return text


def _url(name: str, value: object) -> str:
    text = parsers.parse_text(name, value)
    if not (text.startswith("/") or text.startswith(("http://", "https://"))):
        raise InvalidValue(name, value, "a path starting with '/' or an http(s):// URL")
    return text


def _path(name: str, value: object) -> str:
    import os

    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return parsers.parse_text(name, value)


_VARIABLES = (
    Variable("MAINTENANCE_MODE", "enabled", parsers.parse_bool, False, "E001", "bool"),
    Variable(
        "MAINTENANCE_MODE_CONFIG_PATH", "config_path", _path, None, "E002", "path", live=False
    ),
    Variable(
        "MAINTENANCE_MODE_RELOAD_INTERVAL",
        "reload_interval",
        parsers.parse_float,
        1.0,
        "E003",
        "float",
        live=False,
    ),
    Variable(
        "MAINTENANCE_MODE_STARTS_AT",
        "starts_at",
        parsers.parse_datetime_utc,
        None,
        "E004",
        "datetime",
    ),
    Variable(
        "MAINTENANCE_MODE_ENDS_AT", "ends_at", parsers.parse_datetime_utc, None, "E005", "datetime"
    ),
    Variable(
        "MAINTENANCE_MODE_STATUS_CODE", "status_code", _int_between(200, 599), 503, "E007", "int"
    ),
    Variable("MAINTENANCE_MODE_RETRY_AFTER", "retry_after", _int_between(0), None, "E008", "int"),
    Variable(
        "MAINTENANCE_MODE_TEMPLATE",
        "template",
        parsers.parse_text,
        DEFAULT_TEMPLATE,
        "E009",
        "template",
    ),
    Variable(
        "MAINTENANCE_MODE_MESSAGE", "message", parsers.parse_text, DEFAULT_MESSAGE, "E010", "text"
    ),
    Variable("MAINTENANCE_MODE_REDIRECT_URL", "redirect_url", _url, None, "E011", "url"),
    Variable(
        "MAINTENANCE_MODE_EXCEPT_URLS",
        "except_urls",
        parsers.parse_regexes,
        (),
        "E012",
        "regex list",
    ),
    Variable(
        "MAINTENANCE_MODE_HEALTH_PATHS",
        "health_paths",
        parsers.parse_paths,
        DEFAULT_HEALTH_PATHS,
        "E013",
        "path list",
    ),
    Variable(
        "MAINTENANCE_MODE_EXCEPT_IPS",
        "except_ips",
        parsers.parse_networks,
        (),
        "E014",
        "network list",
    ),
    Variable(
        "MAINTENANCE_MODE_TRUSTED_PROXIES", "trusted_proxies", _int_between(0), 0, "E015", "int"
    ),
    Variable(
        "MAINTENANCE_MODE_EXCEPT_STAFF", "except_staff", parsers.parse_bool, False, "E016", "bool"
    ),
    Variable(
        "MAINTENANCE_MODE_EXCEPT_SUPERUSER",
        "except_superuser",
        parsers.parse_bool,
        False,
        "E017",
        "bool",
    ),
    Variable(
        "MAINTENANCE_MODE_EXCEPT_AUTHENTICATED",
        "except_authenticated",
        parsers.parse_bool,
        False,
        "E018",
        "bool",
    ),
    Variable(
        "MAINTENANCE_MODE_BYPASS_SECRET",
        "bypass_secret",
        parsers.parse_text,
        None,
        "E019",
        "text",
        secret=True,
    ),
    Variable(
        "MAINTENANCE_MODE_BYPASS_COOKIE_AGE",
        "bypass_cookie_age",
        _int_between(1),
        43200,
        "E020",
        "int",
    ),
    Variable("MAINTENANCE_MODE_PLATFORM", "platform", _platform, None, "E021", "platform"),
)

#: Every variable of the contract, by name, in the contract's order.
VARIABLES: Mapping[str, Variable] = {v.name: v for v in _VARIABLES}

#: Check ids for problems that involve more than one value.
SCHEDULE_ORDER_ID = "E006"
TEMPLATE_MISSING_ID = "E009"


@dataclass(frozen=True)
class Config:
    """Every variable, parsed. Immutable: a change builds a new one."""

    enabled: bool = False
    config_path: str | None = None
    reload_interval: float = 1.0
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    status_code: int = 503
    retry_after: int | None = None
    template: str = DEFAULT_TEMPLATE
    message: str = DEFAULT_MESSAGE
    redirect_url: str | None = None
    except_urls: tuple[Any, ...] = ()
    health_paths: tuple[str, ...] = DEFAULT_HEALTH_PATHS
    except_ips: tuple[Network, ...] = ()
    trusted_proxies: int = 0
    except_staff: bool = False
    except_superuser: bool = False
    except_authenticated: bool = False
    bypass_secret: str | None = None
    bypass_cookie_age: int = 43200
    platform: str | None = None

    @property
    def user_exemptions(self) -> bool:
        return self.except_staff or self.except_superuser or self.except_authenticated


@dataclass(frozen=True)
class Problem:
    """A value that was refused: which variable, where it came from, and why."""

    name: str
    origin: Origin
    message: str
    check_id: str
    raw: object = field(default=None, repr=False)  # may be a secret: kept out of logs

    def __str__(self) -> str:
        return f"{self.message} (from the {self.origin.value})"


@dataclass(frozen=True)
class Resolution:
    """A resolved configuration with, for each variable, its origin and raw value."""

    config: Config
    origins: Mapping[str, Origin]
    raw: Mapping[str, object]
    problems: tuple[Problem, ...] = ()
    source_error: str | None = None  # why the mounted config could not be read

    def value(self, name: str) -> Any:
        return getattr(self.config, VARIABLES[name].attr)


Layer = tuple[Origin, Mapping[str, object]]


def _first(var: Variable, layers: list[Layer]) -> tuple[Origin, object, Any] | Problem:
    for origin, mapping in layers:
        raw = mapping.get(var.name)
        if parsers.is_empty(raw):
            continue
        try:
            return origin, raw, var.parse(var.name, raw)
        except InvalidValue as exc:
            if var.secret:  # a malformed secret is still a secret: never show it
                exc = InvalidValue(var.name, raw, exc.expected, secret=True)
            return Problem(var.name, origin, str(exc), var.check_id, raw)
    return Origin.DEFAULT, None, var.default


def _check_template(name: str) -> str | None:
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    try:
        get_template(name)
    except TemplateDoesNotExist:
        return "no such template was found by the template loaders"
    except Exception as exc:  # a syntax error in the user's template, say
        return f"the template cannot be loaded ({exc.__class__.__name__}: {exc})"
    return None


def resolve(
    layers: list[Layer],
    previous: Resolution | None = None,
    *,
    check_template: bool = True,
    source_error: str | None = None,
) -> Resolution:
    """Resolve every variable from ``layers`` (highest precedence first).

    A bad value from the mounted config keeps the value of ``previous`` (the last good
    one), or, with no previous, the next layer's; a bad value from the environment or
    settings is reported and replaced by the default so that every problem is found in
    one pass (the caller refuses to start on those).
    """
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    raw: dict[str, object] = {}
    problems: list[Problem] = []

    def fall_back(var: Variable) -> None:
        if previous is not None:
            values[var.attr] = previous.value(var.name)
            origins[var.name] = previous.origins[var.name]
            raw[var.name] = previous.raw[var.name]
            return
        found = _first(var, [layer for layer in layers if layer[0] is not Origin.CONFIG])
        if isinstance(found, Problem):
            problems.append(found)
            found = (Origin.DEFAULT, None, var.default)
        origins[var.name], raw[var.name], values[var.attr] = found

    for var in _VARIABLES:
        usable = layers if var.live else [la for la in layers if la[0] is not Origin.CONFIG]
        found = _first(var, usable)
        if isinstance(found, Problem):
            problems.append(found)
            if found.origin is Origin.CONFIG:
                fall_back(var)
            else:  # fatal for the caller; the default stands in so every problem is found
                origins[var.name], raw[var.name] = Origin.DEFAULT, None
                values[var.attr] = var.default
            continue
        origins[var.name], raw[var.name], values[var.attr] = found

    starts, ends = values["starts_at"], values["ends_at"]
    if starts is not None and ends is not None and starts >= ends:
        names = ("MAINTENANCE_MODE_STARTS_AT", "MAINTENANCE_MODE_ENDS_AT")
        live = any(origins[n] is Origin.CONFIG for n in names)
        origin = Origin.CONFIG if live else origins[names[0]]
        problems.append(
            Problem(
                names[0],
                origin,
                f"MAINTENANCE_MODE_STARTS_AT={starts.isoformat()!r} is not before "
                f"MAINTENANCE_MODE_ENDS_AT={ends.isoformat()!r}: the window would be empty",
                SCHEDULE_ORDER_ID,
                raw[names[0]],
            )
        )
        if live:
            for name in names:
                fall_back(VARIABLES[name])

    if check_template:
        reason = _check_template(values["template"])
        if reason is not None:
            var = VARIABLES["MAINTENANCE_MODE_TEMPLATE"]
            origin = origins[var.name]
            problems.append(
                Problem(
                    var.name,
                    origin,
                    f"MAINTENANCE_MODE_TEMPLATE={values['template']!r} is not valid: {reason}.",
                    TEMPLATE_MISSING_ID,
                    values["template"],
                )
            )
            if origin is Origin.CONFIG:
                fall_back(var)

    return Resolution(Config(**values), origins, raw, tuple(problems), source_error)


def base_layers(environ: Mapping[str, str] | None = None) -> list[Layer]:
    """The environment and settings layers, read now."""
    return [
        (Origin.ENVIRONMENT, sources.environment_values(VARIABLES, environ)),
        (Origin.SETTINGS, sources.settings_values(VARIABLES, settings)),
    ]


# --- the per-process state the middleware reads ----------------------------------------


def health_key(path: str) -> str:
    """A path with one trailing slash dropped, so "/healthz" and "/healthz/" match but
    "/healthz//" does not; the root stays "/". Used for the setting and the request alike."""
    return path[:-1] if len(path) > 1 and path[-1] == "/" else path


class State:
    """A :class:`Config` with what the request path needs precomputed.

    Built once per configuration change; the rendered page is cached on it.
    """

    __slots__ = (
        "_cache",
        "config",
        "enabled",
        "end_ts",
        "health_paths",
        "redirect_host",
        "redirect_path",
        "resolution",
        "start_ts",
        "windowed",
    )

    def __init__(self, resolution: Resolution) -> None:
        from urllib.parse import urlsplit

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
        self._cache: dict[str, Any] = {}

    def is_active(self, now: float | None = None) -> bool:
        """Maintenance is on and ``now`` is inside [STARTS_AT, ENDS_AT)."""
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

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once for this state; a race builds twice, harmlessly."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = build()
            return value


class Runtime:
    """One process's view of the configuration, with the live mounted config polled in.

    ``state()`` is the hot path: without a mounted config it returns an attribute; with
    one it also compares ``time.monotonic()`` to the next poll time. Polling happens under
    a lock that is only tried, never waited for, so under a threaded server one thread
    polls while the others go on with the current state.
    """

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, check_template: bool = True
    ) -> None:
        self._base = base_layers(environ)
        self._check_template = check_template
        base = resolve(self._base, check_template=check_template)
        self.base = base
        config = base.config
        self.interval = config.reload_interval
        self.mounted = sources.MountedConfig(config.config_path) if config.config_path else None
        self._lock = threading.Lock()
        self._next_poll = 0.0
        self._logged: frozenset[tuple[str, str]] = frozenset()
        self._read_once = False  # the first read at start-up is not a "change"
        self._state = State(base)
        if self.mounted is not None and not base.problems:
            self._poll()

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Problems of the environment and settings (fatal at start-up)."""
        return tuple(p for p in self.base.problems if p.origin is not Origin.CONFIG)

    def state(self) -> State:
        if self.mounted is not None and time.monotonic() >= self._next_poll:
            self._poll()
        return self._state

    def _poll(self) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            assert self.mounted is not None
            self._next_poll = time.monotonic() + self.interval
            snapshot = self.mounted.poll()
            if snapshot is not None:
                self._apply(snapshot)
        except Exception:  # never let the config take the site down
            logger.exception(
                "maintenance_env: reading the mounted config %s failed",
                self.mounted.path if self.mounted else None,
            )
        finally:
            self._lock.release()

    def _apply(self, snapshot: sources.Snapshot) -> None:
        path = self.mounted.path if self.mounted else ""
        logged: set[tuple[str, str]] = set()
        if snapshot.error is not None:
            key = ("source", snapshot.error)
            logged.add(key)
            if key not in self._logged:
                logger.error(
                    "maintenance_env: the mounted config %s %s; ignoring it until "
                    "it is back (MAINTENANCE_MODE_CONFIG_PATH)",
                    path,
                    snapshot.error,
                )
        elif any(k[0] == "source" for k in self._logged):
            logger.warning("maintenance_env: the mounted config %s is readable again", path)
        for name in snapshot.values:
            var = VARIABLES.get(name)
            if var is None or not var.live:
                key = ("name", name)
                logged.add(key)
                if key not in self._logged:
                    why = (
                        "is read only from the environment or settings"
                        if var
                        else "is not a known variable"
                    )
                    logger.warning(
                        "maintenance_env: %s in the mounted config %s %s; ignored", name, path, why
                    )
        layers: list[Layer] = [(Origin.CONFIG, snapshot.values), *self._base]
        previous = self._state.resolution
        resolution = resolve(
            layers, previous, check_template=self._check_template, source_error=snapshot.error
        )
        for problem in resolution.problems:
            if problem.origin is not Origin.CONFIG:
                continue
            key = (problem.name, problem.message)
            logged.add(key)
            if key not in self._logged:
                logger.error(
                    "maintenance_env: %s; keeping %s=%r (mounted config %s)",
                    problem,
                    problem.name,
                    _shown(problem.name, previous),
                    path,
                )
        self._logged = frozenset(logged)
        first, self._read_once = not self._read_once, True
        if resolution.config != previous.config or resolution.origins != previous.origins:
            self._state = State(resolution)
            if first:
                return
            logger.info(
                "maintenance_env: configuration changed from %s: maintenance %s",
                path,
                "on" if resolution.config.enabled else "off",
            )
        elif (resolution.problems, resolution.source_error) != (
            previous.problems,
            previous.source_error,
        ):
            # Same configuration, but what is wrong with the source changed: keep the
            # rendered page, record the news for `status` and the checks.
            self._state.resolution = resolution


def _shown(name: str, resolution: Resolution) -> object:
    value = resolution.value(name)
    if VARIABLES[name].secret and value:
        return "***"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


# --- the process-wide runtime -----------------------------------------------------------

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def load_runtime() -> Runtime:
    """Read the environment and settings again, and make that the process's runtime.

    Raises ``ImproperlyConfigured`` naming every bad variable and value, so that a server
    never starts half-configured (system checks do not run under gunicorn or uvicorn).
    """
    global _runtime
    runtime = Runtime()
    problems = runtime.problems
    if problems:
        raise ImproperlyConfigured(
            "django-maintenance-env is misconfigured:\n" + "\n".join(f"  {p}" for p in problems)
        )
    with _runtime_lock:
        _runtime = runtime
    return runtime


def get_runtime() -> Runtime:
    runtime = _runtime
    if runtime is None:
        runtime = load_runtime()
    return runtime


def get_state() -> State:
    """The current state; the one call the request path makes."""
    runtime = _runtime
    if runtime is None:
        runtime = load_runtime()
    return runtime.state()


def reset() -> None:
    """Forget the runtime: the next request or middleware load reads everything again."""
    global _runtime
    with _runtime_lock:
        _runtime = None


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith(sources.PREFIX) or setting in {
        "TEMPLATES",
        "LANGUAGE_CODE",
        "TIME_ZONE",
        "USE_TZ",
        "SECRET_KEY",
        "ROOT_URLCONF",
    }:
        reset()
