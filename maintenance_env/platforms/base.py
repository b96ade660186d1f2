"""The shapes every platform record shares: what is found, what is asked, what is printed."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from maintenance_env.platforms import quoting

__all__ = [
    "Context",
    "ContextVariables",
    "Detection",
    "Markers",
    "Plan",
    "Platform",
    "Request",
    "Step",
]

SERVICE_ACCOUNT_NAMESPACE = "var/run/secrets/kubernetes.io/serviceaccount/namespace"
DOCKERENV = ".dockerenv"
PROC_CGROUP = "proc/self/cgroup"

#: The ``--write`` options that carry each variable, for the commands run inside the app.
WRITE_OPTIONS = {
    "MAINTENANCE_MODE_STARTS_AT": "--starts-at",
    "MAINTENANCE_MODE_ENDS_AT": "--ends-at",
    "MAINTENANCE_MODE_MESSAGE": "--message",
    "MAINTENANCE_MODE_RETRY_AFTER": "--retry-after",
    "MAINTENANCE_MODE_REFRESH": "--refresh",
    "MAINTENANCE_MODE_STATUS_CODE": "--status-code",
    "MAINTENANCE_MODE_REDIRECT_URL": "--redirect-url",
    "MAINTENANCE_MODE_BYPASS_SECRET": "--bypass-secret",
}
#: Flags without a value: the variable is set to true by the flag alone.
WRITE_FLAGS = {"MAINTENANCE_MODE_READ_ONLY": "--read-only"}


@dataclass(frozen=True)
class Detection:
    """The platform found (``name``), and the markers that gave it away (``reason``)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Context:
    """What the environment tells about the app on its platform (``None`` when unknown)."""

    app: str | None = None
    namespace: str | None = None
    #: Railway's environment, Cloud Run's region, an Azure resource group, an ECS
    #: cluster, an Upsun environment: the one other name a platform's commands need.
    environment: str | None = None


class Markers:
    """The environment and filesystem a platform is recognised from (tests pass fakes).

    ``environ`` maps variable names to values; ``root`` is the filesystem root that
    marker files (``/.dockerenv``, the service-account namespace) are looked for under.
    An empty or blank variable counts as unset.
    """

    def __init__(self, environ: Mapping[str, str], root: str) -> None:
        self.environ = environ
        self.root = root

    def has(self, name: str) -> bool:
        return bool(self.environ.get(name, "").strip())

    def get(self, *names: str) -> str | None:
        """The first of ``names`` that is set, trimmed; ``None`` when none is."""
        for name in names:
            value = self.environ.get(name, "").strip()
            if value:
                return value
        return None

    def first(self, *names: str) -> str | None:
        """The first of ``names`` that is set (its name, for a detection reason)."""
        return next((name for name in names if self.has(name)), None)

    def prefixed(self, prefix: str) -> list[str]:
        return sorted(name for name in self.environ if name.startswith(prefix))

    def exists(self, relative: str) -> bool:
        return os.path.exists(os.path.join(self.root, relative))

    def read(self, relative: str) -> str | None:
        """A marker file's text, trimmed; ``None`` when missing, unreadable or empty."""
        try:
            with open(os.path.join(self.root, relative), encoding="utf-8") as handle:
                return handle.read().strip() or None
        except (OSError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class Request:
    """What one plan is built for: the builders' single argument.

    ``action`` is ``on`` or ``off``; ``values`` the variables to set, ``MAINTENANCE_MODE``
    first; ``app``/``namespace``/``environment`` the names the commands need (a missing one
    is printed as a quoted ``'<label>'`` placeholder and recorded in ``missing``);
    ``config_path`` the mounted config this process knows of; ``store`` whether the shared
    store (``MAINTENANCE_MODE_CACHE``) is configured.
    """

    action: str
    values: tuple[tuple[str, str], ...]
    app: str | None = None
    namespace: str | None = None
    environment: str | None = None
    config_path: str | None = None
    store: bool = False
    missing: list[str] = field(default_factory=list, compare=False)

    def name(self, value: str | None, label: str) -> str:
        """``value`` shell-quoted, or ``'<label>'`` (recorded as missing), which no
        platform accepts as a name."""
        if value:
            return quoting.shell(value)
        self.missing.append(label)
        return quoting.shell(f"<{label}>")

    def raw_name(self, value: str | None, label: str) -> str:
        """``value`` or ``<label>`` unquoted, to be embedded in a longer word."""
        if value:
            return value
        self.missing.append(label)
        return f"<{label}>"

    def write_argv(self) -> list[str]:
        """``python manage.py maintenance_mode on --write`` with the options that carry
        the other values, as argument words. A value that starts with ``-`` is attached
        to its option (``--message=-back``), so that it is never read as an option of its
        own (``--message --help`` would print the help and write nothing)."""
        argv = ["python", "manage.py", "maintenance_mode", self.action, "--write"]
        for name, value in self.values[1:]:
            if name in WRITE_FLAGS:
                argv.append(WRITE_FLAGS[name])
                continue
            option = WRITE_OPTIONS[name]
            argv += [f"{option}={value}"] if value.startswith("-") else [option, value]
        return argv

    def write_command(self) -> str:
        """:meth:`write_argv` as one shell line."""
        return " ".join(quoting.shell(word) for word in self.write_argv())


@dataclass(frozen=True)
class Step:
    """Comment lines, then the commands to paste."""

    comments: tuple[str, ...]
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything printed for one platform and action.

    ``restarts`` is False when the first route printed needs no restart.
    """

    platform: str
    restarts: bool
    steps: tuple[Step, ...]
    placeholders: tuple[str, ...] = field(default=())

    def render(self) -> str:
        """The steps as shell text: ``#`` comment lines, commands, a blank line between."""
        blocks = []
        for step in self.steps:
            lines = [f"# {line}" if line else "#" for line in step.comments]
            lines.extend(step.commands)
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    @property
    def commands(self) -> list[str]:
        return [command for step in self.steps for command in step.commands]


Builder = Callable[[Request], list[Step]]
Detector = Callable[[Markers], "str | None"]
#: For a platform whose names are not all in environment variables (a file, the cgroup).
ContextReader = Callable[[Markers], Context]
#: Where and how ``maintenance_mode … --write`` runs once with the store reachable:
#: (where, in words for a comment; the command), as two templates whose fields
#: (``{app:LABEL}``, ``{write}``, ...) :func:`maintenance_env.platforms.fill` fills.
StoreRoute = tuple[str, str]
#: The same, built by a function: for a route that needs logic of its own.
ExecRoute = Callable[[Request], tuple[str, str]]


@dataclass(frozen=True)
class ContextVariables:
    """The environment variables a platform puts each :class:`Context` name in.

    Each field lists the variables that may carry that name, in order: the first one set
    wins; an empty tuple means the platform tells nothing. The variables are the ones the
    platform's documentation lists, cited at each record.
    """

    app: tuple[str, ...] = ()
    namespace: tuple[str, ...] = ()
    environment: tuple[str, ...] = ()

    def read(self, markers: Markers) -> Context:
        return Context(
            app=markers.get(*self.app),
            namespace=markers.get(*self.namespace),
            environment=markers.get(*self.environment),
        )


def any_set(*names: str) -> Detector:
    """A detector that recognises the platform by the first of ``names`` set in the
    environment (non-empty), giving "NAME is set" as the reason."""

    def detect(markers: Markers) -> str | None:
        found = markers.first(*names)
        return f"{found} is set" if found else None

    return detect


@dataclass(frozen=True)
class Platform:
    """One platform: how it is recognised, its facts, and how its commands are built.

    :meth:`detect` returns the reason (the markers seen) or ``None``: by default the first
    of ``markers`` set, else by ``detector``. ``restarts`` says whether setting an
    environment variable there restarts or redeploys the app, ``restart_note`` what that
    costs; ``live_route`` names the platform's no-restart route without the shared store
    (a mounted volume, a ConfigMap), or ``None``. ``store_route`` is the step that runs
    ``maintenance_mode … --write`` once where the shared store is reachable (the platform's
    exec route): a :data:`StoreRoute`, or a function where the route needs logic.
    ``context`` names the variables the app's names are read from (:class:`ContextVariables`),
    or is a function where they are found elsewhere. ``hints`` says what fills each
    placeholder label other than ``--app``. ``release_step`` names the platform's own step
    that runs a command before (or after) a release, where a deploy can wrap its migrations
    in ``on --write --wait`` / ``off --write --wait``; empty when it has none.
    """

    name: str
    description: str
    markers: tuple[str, ...]
    build: Builder
    store_route: StoreRoute | ExecRoute
    #: Unset: recognised by the first of ``markers`` set (:func:`any_set`).
    detector: Detector | None = None
    restarts: bool = True
    restart_note: str = ""
    live_route: str | None = None
    context: ContextVariables | ContextReader = ContextVariables()
    hints: Mapping[str, str] = field(default_factory=dict)
    release_step: str = ""

    def detect(self, markers: Markers) -> str | None:
        """Why this is the platform (the markers seen), or ``None``."""
        detector = self.detector or any_set(*self.markers)
        return detector(markers)

    def read_context(self, markers: Markers) -> Context:
        """The names the environment (or the filesystem) gives for this platform."""
        if isinstance(self.context, ContextVariables):
            return self.context.read(markers)
        return self.context(markers)
