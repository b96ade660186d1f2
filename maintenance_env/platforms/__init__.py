"""The platforms the management command knows: one record each, in one ordered registry.

:func:`detect` walks :data:`PLATFORMS` in order and names the first whose markers are
present (the order is where specificity lives: App Runner runs on Fargate, so it comes
before ECS; Cloud Run and Container Apps before Kubernetes; Kamal, Swarm and Compose
before plain Docker). :func:`instructions` builds, for one platform, the exact commands
that set ``MAINTENANCE_MODE`` there, with comment lines saying what the platform restarts,
its no-restart route, and the route through the shared store (``MAINTENANCE_MODE_CACHE``).
Both take the environment and the filesystem root as arguments, so that tests need no
real platform. Adding a platform is one :class:`Platform` record in this tuple, and its
tests.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import replace

from maintenance_env.platforms import quoting
from maintenance_env.platforms.base import (
    DOCKERENV,
    PROC_CGROUP,
    SERVICE_ACCOUNT_NAMESPACE,
    Context,
    Detection,
    Markers,
    Plan,
    Platform,
    Request,
    Step,
)
from maintenance_env.platforms.cloud import (
    APPENGINE,
    APPRUNNER,
    AZURE_APPSERVICE,
    AZURE_CONTAINERAPPS,
    BEANSTALK,
    CLOUDRUN,
    ECS,
)
from maintenance_env.platforms.containers import (
    COMPOSE,
    DOCKER,
    KAMAL,
    KUBERNETES,
    NOMAD,
    SHELL,
    SWARM,
    SYSTEMD,
)
from maintenance_env.platforms.paas import (
    DIGITALOCEAN,
    DOKKU,
    FLY,
    HEROKU,
    PYTHONANYWHERE,
    RAILWAY,
    RENDER,
    UPSUN,
)
from maintenance_env.platforms.quoting import Unprintable

__all__ = [
    "APP_RE",
    "DESCRIPTIONS",
    "DOCKERENV",
    "NAMES",
    "NAMESPACE_RE",
    "PLATFORMS",
    "PROC_CGROUP",
    "SERVICE_ACCOUNT_NAMESPACE",
    "Context",
    "Detection",
    "Plan",
    "Platform",
    "Request",
    "Step",
    "Unprintable",
    "context",
    "detect",
    "fill",
    "get",
    "instructions",
]

#: Every platform, in detection order: the first whose markers match wins; ``shell``,
#: which always matches, is last.
PLATFORMS: tuple[Platform, ...] = (
    APPENGINE,  # GAE_* only
    CLOUDRUN,  # K_SERVICE: before Kubernetes (Knative sets it too)
    AZURE_CONTAINERAPPS,  # runs on Kubernetes: before it
    AZURE_APPSERVICE,
    APPRUNNER,  # runs on Fargate: before ECS
    ECS,
    BEANSTALK,
    HEROKU,  # DYNO with Heroku's metadata, or outside a container
    DOKKU,  # DYNO inside Docker, or with DOKKU_*
    UPSUN,
    DIGITALOCEAN,
    PYTHONANYWHERE,
    KUBERNETES,
    FLY,
    RENDER,
    RAILWAY,
    NOMAD,  # its Docker driver makes /.dockerenv: before Docker
    KAMAL,  # a Docker container: before Docker
    SWARM,
    COMPOSE,
    DOCKER,
    SYSTEMD,
    SHELL,
)

#: Every platform name accepted by ``MAINTENANCE_MODE_PLATFORM`` and ``--platform``.
NAMES: tuple[str, ...] = tuple(p.name for p in PLATFORMS)

#: One line per platform, for ``--platform list``: what it is and how it is detected.
DESCRIPTIONS: Mapping[str, str] = {p.name: p.description for p in PLATFORMS}

_BY_NAME: Mapping[str, Platform] = {p.name: p for p in PLATFORMS}

#: What fills each placeholder of the printed commands when it is not ``--app``.
PLACEHOLDER_HINTS: Mapping[str, str] = {
    "store-url": "the MAINTENANCE_MODE_CACHE URL",
    **{label: hint for p in PLATFORMS for label, hint in p.hints.items()},
}

#: Names that are safe as an app, service, unit, container name or ARN in a printed
#: command (all printed quoted; no ``..`` so that no path built from it climbs up).
APP_RE = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}\Z")
#: A Kubernetes namespace (an RFC 1123 label).
NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


def get(name: str) -> Platform:
    """The record of platform ``name``.

    :raises ValueError: for an unknown name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown platform {name!r}") from None


def detect(environ: Mapping[str, str] | None = None, root: str = "/") -> Detection:
    """Name the platform from its environment markers; ``shell`` when none matches.

    ``environ`` defaults to ``os.environ``; ``root`` is where marker files are looked for.
    """
    markers = Markers(os.environ if environ is None else environ, root)
    for platform in PLATFORMS:
        reason = platform.detect(markers)
        if reason is not None:
            return Detection(platform.name, reason)
    raise AssertionError("the shell platform always matches")  # pragma: no cover


def context(name: str, environ: Mapping[str, str] | None = None, root: str = "/") -> Context:
    """The app name (and namespace, environment or region) the platform puts in the env."""
    return get(name).read_context(Markers(os.environ if environ is None else environ, root))


def fill(template: str, request: Request) -> str:
    """``template`` (one half of a store route: where, or the command) with its fields filled.

    Fields are filled left to right, so that missing names are recorded in printed order:

    ``{app:LABEL}``, ``{environment:LABEL}``
        the name, shell-quoted, or ``'<LABEL>'`` recorded as missing (:meth:`Request.name`);
        ``LABEL`` defaults to the field's name.
    ``{placeholder:LABEL}``
        always ``'<LABEL>'``, recorded as missing: a name this process cannot know (the
        store's URL, an ECS task id).
    ``{namespace:PREFIX}``
        ``PREFIX`` then the namespace, shell-quoted; nothing without one, since a
        namespace is optional (the tool's default applies: kubectl's current context).
    ``{write}``, ``{write_quoted}``
        :meth:`Request.write_command` as words of the command; or shell-quoted as one
        argument, for a tool that hands one string to a shell (``--command``, ``-C``).
    """
    parts = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(_field(request, name, spec or ""))
    return "".join(parts)


def _field(r: Request, name: str, spec: str) -> str:
    if name == "write":
        return r.write_command()
    if name == "write_quoted":
        return quoting.shell(r.write_command())
    if name == "namespace":
        return f"{spec}{quoting.shell(r.namespace)}" if r.namespace else ""
    if name in ("app", "environment"):
        return r.name(getattr(r, name), spec or name)
    if name == "placeholder":
        return r.name(None, spec)
    raise ValueError(f"unknown field {{{name}}} in a store route")


def store_route(record: Platform, request: Request) -> tuple[str, str]:
    """``record``'s store route for ``request``: (where, in words; the command)."""
    if callable(record.store_route):
        return record.store_route(request)
    where, template = record.store_route
    return fill(where, request), fill(template, request)


STORE_LEAD = (
    "No restart, through the shared store (MAINTENANCE_MODE_CACHE): every process sees it",
    "within MAINTENANCE_MODE_RELOAD_INTERVAL. Run once, {where}:",
)
STORE_HINT = (
    "No restart with the shared store: set MAINTENANCE_MODE_CACHE to the app's Redis, then "
    "run once, {where}: {command}"
)


#: With the shared store, on a platform with a release step: how a deploy confirms the flip.
RELEASE_HINT = (
    "In a deploy, from {step}: maintenance_mode on --write --wait, then migrate, then "
    "maintenance_mode off --write --wait (docs: Deploy with maintenance)."
)


def instructions(
    platform: str,
    action: str,
    values: Sequence[tuple[str, str]],
    *,
    app: str | None = None,
    namespace: str | None = None,
    environment: str | None = None,
    config_path: str | None = None,
    store: bool = False,
) -> Plan:
    """The commands that set ``values`` (``MAINTENANCE_MODE`` first) on ``platform``.

    ``action`` is ``on`` or ``off``; ``app``/``namespace``/``environment`` fill the
    commands, or clear ``<placeholders>`` are printed; ``config_path`` is the mounted
    config this process knows of; ``store`` says whether ``MAINTENANCE_MODE_CACHE`` is
    configured: the plan then leads with the store route, and the restart route follows
    as the fallback; without it, a comment line says how the store would avoid the restart.

    :raises ValueError: for an unknown platform or action.
    :raises Unprintable: (a ``ValueError``) when a value cannot be printed so that the
        platform's tool reads it back exactly; the message is one line.
    """
    record = get(platform)
    if action not in ("on", "off"):
        raise ValueError(f"unknown action {action!r}")
    request = Request(
        action,
        tuple(values),
        app=app,
        namespace=namespace,
        environment=environment,
        config_path=config_path,
        store=store,
    )
    if store:
        where, command = store_route(record, request)
        lead = Step(tuple(line.format(where=where) for line in STORE_LEAD), (command,))
        steps = [lead, *record.build(request)]
        if record.release_step:
            steps.insert(1, Step((RELEASE_HINT.format(step=record.release_step),)))
    else:
        steps = record.build(request)
        if record.restarts:
            # A scratch request: names missing from the hint are not asked for.
            where, command = store_route(record, replace(request, missing=[]))
            steps.append(Step((STORE_HINT.format(where=where, command=command),)))
    restarts = record.restarts and not store
    return Plan(record.name, restarts, tuple(steps), tuple(dict.fromkeys(request.missing)))
