"""Resolution: every variable from the first source that has it, with where it came from.

Each variable is resolved on its own, first match wins, from layers in precedence order:
a test override, the shared store, the mounted config, the environment, Django settings,
the default. A bad value from a live source (store, mounted config) keeps that variable's
last good value; a bad value from the environment or settings is a problem the caller
refuses to start on. The result is a frozen :class:`Resolution`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from maintenance_env import parsers
from maintenance_env.parsers import InvalidValue
from maintenance_env.sources.process import environment_values, settings_values
from maintenance_env.variables import (
    SCHEDULE_ORDER_ID,
    TEMPLATE_MISSING_ID,
    VARIABLES,
    Config,
    Origin,
    Variable,
)

__all__ = ["UNSET", "Layer", "Problem", "Resolution", "base_layers", "resolve", "shown"]


class _Unset:
    """The type of :data:`UNSET`."""

    def __repr__(self) -> str:
        return "UNSET"


#: A value in a layer that means "unset here, whatever the layers below say": how a test
#: override (``override(starts_at=None)``) clears a variable. Other layers never hold it.
UNSET = _Unset()


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
    #: Why a live source could not be read, by origin (``Origin.CONFIG``, ``Origin.CACHE``).
    source_errors: Mapping[Origin, str] = field(default_factory=dict)

    @property
    def source_error(self) -> str | None:
        """Why the mounted config could not be read, if it could not."""
        return self.source_errors.get(Origin.CONFIG)

    def value(self, name: str) -> Any:
        return getattr(self.config, VARIABLES[name].attr)


Layer = tuple[Origin, Mapping[str, object]]


def _first(var: Variable, layers: list[Layer]) -> tuple[Origin, object, Any] | Problem:
    for origin, mapping in layers:
        raw = mapping.get(var.name)
        if raw is UNSET:
            return origin, None, var.default
        if parsers.is_empty(raw):
            continue
        try:
            return origin, raw, var.parse(var.name, raw)
        except InvalidValue as exc:
            if var.secret:  # a malformed secret is still a secret: never show it whole
                shown = var.show(raw)
                exc = InvalidValue(var.name, shown, exc.expected, secret=shown == "***")
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
    source_errors: Mapping[Origin, str] | None = None,
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
        found = _first(var, [layer for layer in layers if not layer[0].live])
        if isinstance(found, Problem):
            problems.append(found)
            found = (Origin.DEFAULT, None, var.default)
        origins[var.name], raw[var.name], values[var.attr] = found

    for var in VARIABLES.values():
        usable = layers if var.live else [la for la in layers if not la[0].live]
        found = _first(var, usable)
        if isinstance(found, Problem):
            problems.append(found)
            if found.origin.live:
                fall_back(var)
            else:  # fatal for the caller; the default stands in so every problem is found
                origins[var.name], raw[var.name] = Origin.DEFAULT, None
                values[var.attr] = var.default
            continue
        origins[var.name], raw[var.name], values[var.attr] = found

    starts, ends = values["starts_at"], values["ends_at"]
    if starts is not None and ends is not None and starts >= ends:
        names = ("MAINTENANCE_MODE_STARTS_AT", "MAINTENANCE_MODE_ENDS_AT")
        live_origins = [origins[n] for n in names if origins[n].live]
        live = bool(live_origins)
        origin = live_origins[0] if live else origins[names[0]]
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
            if origin.live:
                fall_back(var)

    return Resolution(Config(**values), origins, raw, tuple(problems), dict(source_errors or {}))


def base_layers(environ: Mapping[str, str] | None = None) -> list[Layer]:
    """The environment and settings layers, read now."""
    return [
        (Origin.ENVIRONMENT, environment_values(VARIABLES, environ)),
        (Origin.SETTINGS, settings_values(VARIABLES, settings)),
    ]


def shown(name: str, resolution: Resolution) -> object:
    """The value of ``name`` as logs may show it: secrets masked, datetimes in ISO form."""
    value = VARIABLES[name].show(resolution.value(name))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value
