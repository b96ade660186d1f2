"""The platforms the management command knows, and how each is recognised.

:func:`detect` looks at real environment markers (and a few files) to name the platform
the command runs on; :func:`instructions` builds, for one platform, the exact commands
that set ``MAINTENANCE_MODE`` there, with comment lines saying what the platform restarts
and the no-restart route where there is one. Both take the environment and the
filesystem root as arguments, so that tests need no real platform.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DESCRIPTIONS",
    "NAMES",
    "SERVICE_ACCOUNT_NAMESPACE",
    "Context",
    "Detection",
    "Plan",
    "Step",
    "context",
    "detect",
    "instructions",
]

#: Every platform name accepted by ``MAINTENANCE_MODE_PLATFORM`` and ``--platform``.
NAMES: tuple[str, ...] = (
    "heroku",
    "kubernetes",
    "fly",
    "render",
    "railway",
    "cloudrun",
    "dokku",
    "docker",
    "compose",
    "systemd",
    "shell",
)

#: One line per platform, for ``--platform list``: what it is and how it is detected.
DESCRIPTIONS: Mapping[str, str] = {
    "heroku": "Heroku: DYNO with HEROKU_APP_NAME or HEROKU_APP_ID (or DYNO alone, outside a "
    "container)",
    "kubernetes": "Kubernetes: KUBERNETES_SERVICE_HOST, or the service-account namespace file",
    "fly": "Fly.io: FLY_APP_NAME",
    "render": "Render: RENDER",
    "railway": "Railway: RAILWAY_ENVIRONMENT_NAME",
    "cloudrun": "Google Cloud Run: K_SERVICE (checked before Kubernetes: Knative sets it too)",
    "dokku": "Dokku: DYNO with a DOKKU_* variable or /.dockerenv",
    "docker": "Docker: /.dockerenv",
    "compose": "Docker Compose: COMPOSE_PROJECT_NAME or COMPOSE_SERVICE, which the compose "
    "file passes in (Compose sets no variable of its own)",
    "systemd": "systemd service: INVOCATION_ID",
    "shell": "anything else (the fallback): a shell or a process manager",
}

SERVICE_ACCOUNT_NAMESPACE = "var/run/secrets/kubernetes.io/serviceaccount/namespace"
DOCKERENV = ".dockerenv"
PROC_CGROUP = "proc/self/cgroup"


@dataclass(frozen=True)
class Detection:
    """The platform found, and the markers that gave it away."""

    name: str
    reason: str


@dataclass(frozen=True)
class Context:
    """What the environment tells about the app on its platform (``None`` when unknown)."""

    app: str | None = None
    namespace: str | None = None
    environment: str | None = None  # Railway's environment, Cloud Run's region


def _read(root: str, relative: str) -> str | None:
    try:
        with open(os.path.join(root, relative), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _exists(root: str, relative: str) -> bool:
    return os.path.exists(os.path.join(root, relative))


def detect(environ: Mapping[str, str] | None = None, root: str = "/") -> Detection:
    """Name the platform from its environment markers; ``shell`` when none matches.

    The order matters where markers overlap: Cloud Run (Knative) runs on Kubernetes and
    sets ``K_SERVICE``; dokku copies Heroku's ``DYNO`` and runs in Docker; a Compose
    service is a Docker container.
    """
    env = os.environ if environ is None else environ

    def has(name: str) -> bool:
        return bool(env.get(name, "").strip())

    if has("K_SERVICE"):
        return Detection("cloudrun", "K_SERVICE is set")
    if has("DYNO"):
        if has("HEROKU_APP_NAME") or has("HEROKU_APP_ID"):
            which = "HEROKU_APP_NAME" if has("HEROKU_APP_NAME") else "HEROKU_APP_ID"
            return Detection("heroku", f"DYNO and {which} are set")
        dokku = sorted(name for name in env if name.startswith("DOKKU_"))
        if dokku:
            return Detection("dokku", f"DYNO and {dokku[0]} are set")
        if _exists(root, DOCKERENV):
            return Detection("dokku", "DYNO is set inside a Docker container (/.dockerenv)")
        return Detection("heroku", "DYNO is set")
    if has("KUBERNETES_SERVICE_HOST"):
        return Detection("kubernetes", "KUBERNETES_SERVICE_HOST is set")
    if _exists(root, SERVICE_ACCOUNT_NAMESPACE):
        return Detection("kubernetes", "the service-account namespace file exists")
    if has("FLY_APP_NAME"):
        return Detection("fly", "FLY_APP_NAME is set")
    if has("RENDER"):
        return Detection("render", "RENDER is set")
    if has("RAILWAY_ENVIRONMENT_NAME"):
        return Detection("railway", "RAILWAY_ENVIRONMENT_NAME is set")
    for name in ("COMPOSE_PROJECT_NAME", "COMPOSE_SERVICE"):
        if has(name):
            return Detection("compose", f"{name} is set")
    if _exists(root, DOCKERENV):
        return Detection("docker", "/.dockerenv exists")
    if has("INVOCATION_ID"):
        return Detection("systemd", "INVOCATION_ID is set")
    return Detection("shell", "no platform marker found")


def _systemd_unit(root: str) -> str | None:
    """The service unit this process runs in, from its cgroup path (``…/app.service``)."""
    text = _read(root, PROC_CGROUP)
    if not text:
        return None
    for line in text.splitlines():
        for part in reversed(line.rsplit(":", 1)[-1].split("/")):
            if part.endswith(".service"):
                return part
    return None


def context(name: str, environ: Mapping[str, str] | None = None, root: str = "/") -> Context:
    """The app name (and namespace, environment or region) the platform puts in the env."""
    env = os.environ if environ is None else environ

    def get(*names: str) -> str | None:
        for key in names:
            value = env.get(key, "").strip()
            if value:
                return value
        return None

    if name == "heroku":
        return Context(app=get("HEROKU_APP_NAME"))
    if name == "kubernetes":
        return Context(namespace=get("POD_NAMESPACE") or _read(root, SERVICE_ACCOUNT_NAMESPACE))
    if name == "fly":
        return Context(app=get("FLY_APP_NAME"))
    if name == "render":
        return Context(app=get("RENDER_SERVICE_ID"))
    if name == "railway":
        return Context(app=get("RAILWAY_SERVICE_NAME"), environment=get("RAILWAY_ENVIRONMENT_NAME"))
    if name == "cloudrun":
        return Context(app=get("K_SERVICE"), environment=get("CLOUDSDK_RUN_REGION"))
    if name == "dokku":
        return Context(app=get("DOKKU_APP_NAME", "APP_NAME"))
    if name == "docker":
        # Docker names the container's host after the container id, which docker exec takes.
        return Context(app=get("HOSTNAME") if _exists(root, DOCKERENV) else None)
    if name == "compose":
        return Context(app=get("COMPOSE_SERVICE"))
    if name == "systemd":
        return Context(app=_systemd_unit(root))
    return Context()


# --- the printed instructions -------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Comment lines, then the commands to paste."""

    comments: tuple[str, ...]
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything printed for one platform and action."""

    platform: str
    restarts: bool
    steps: tuple[Step, ...]
    placeholders: tuple[str, ...] = field(default=())

    def render(self) -> str:
        blocks = []
        for step in self.steps:
            lines = [f"# {line}" if line else "#" for line in step.comments]
            lines.extend(step.commands)
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    @property
    def commands(self) -> list[str]:
        return [command for step in self.steps for command in step.commands]


def _q(value: str) -> str:
    return shlex.quote(value)


def _pairs(values: Sequence[tuple[str, str]]) -> str:
    return " ".join(f"{name}={_q(value)}" for name, value in values)


def _placeholder(value: str | None, label: str, missing: list[str]) -> str:
    """The value, or ``<label>``, which no platform accepts as a name (quote it when used)."""
    if value:
        return value
    missing.append(label)
    return f"<{label}>"


def _write_command(action: str) -> str:
    """The ``--write`` route on this machine or inside the container."""
    return f"python manage.py maintenance_mode {action} --write"


def _host_write(directory: str, values: Sequence[tuple[str, str]]) -> list[str]:
    """Shell lines that replace one file per variable atomically (write, then rename)."""
    lines = []
    for name, value in values:
        target = f"{directory}/{name}"
        temp = f"{directory}/.{name}.tmp"
        lines.append(f"printf '%s\\n' {_q(value)} > {temp} && mv -f {temp} {target}")
    return lines


def _dotenv_value(value: str) -> str:
    """A value as a dotenv line holds it: bare when plain, else double-quoted with escapes."""
    if re.fullmatch(r"[A-Za-z0-9_.:/+@%,-]*", value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _systemd_value(assignment: str) -> str:
    """One ``Environment=`` assignment, quoted: systemd splits on spaces, expands ``%``."""
    escaped = assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def _gcloud_env(values: Sequence[tuple[str, str]]) -> str:
    pairs = [f"{name}={value}" for name, value in values]
    if any("," in value for _, value in values):
        # gcloud splits the list on commas; ^X^ picks another delimiter (gcloud topic escaping).
        delimiter = next((d for d in "@#|;~" if not any(d in pair for pair in pairs)), "\x1f")
        return "--update-env-vars=" + _q(f"^{delimiter}^" + delimiter.join(pairs))
    return "--update-env-vars=" + _q(",".join(pairs))


def instructions(
    platform: str,
    action: str,
    values: Sequence[tuple[str, str]],
    *,
    app: str | None = None,
    namespace: str | None = None,
    environment: str | None = None,
    config_path: str | None = None,
) -> Plan:
    """The commands that set ``values`` (``MAINTENANCE_MODE`` first) on ``platform``.

    ``action`` is ``on`` or ``off``; ``app``/``namespace``/``environment`` fill the
    commands, or clear ``<placeholders>`` are printed; ``config_path`` is the mounted
    config this process knows of, for the no-restart route.
    """
    if platform not in NAMES:
        raise ValueError(f"unknown platform {platform!r}")
    if action not in ("on", "off"):
        raise ValueError(f"unknown action {action!r}")
    missing: list[str] = []
    build = _BUILDERS[platform]
    restarts, steps = build(action, list(values), app, namespace, environment, config_path, missing)
    return Plan(platform, restarts, tuple(steps), tuple(dict.fromkeys(missing)))


Builder = tuple[bool, list[Step]]


def _heroku(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    name = _q(_placeholder(app, "app", missing))
    return True, [
        Step(
            (
                "Heroku restarts every dyno when a config var changes, after running the release",
                "phase again: a failing release command (a migration) blocks the change.",
            ),
            (f"heroku config:set {_pairs(values)} --app {name}",),
        ),
        Step(
            (
                "Or Heroku's own switch: the router answers every request with its maintenance",
                "page (503), no restart, no app involved (so /healthz is blocked too):",
            ),
            (f"heroku maintenance:{action} --app {name}",),
        ),
        Step(
            (
                "No restart-free route through the app: each dyno has its own filesystem, and",
                "`heroku run` starts a separate one-off dyno.",
            )
        ),
    ]


def _kubernetes(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    deployment = _q(_placeholder(app, "deployment", missing))
    configmap = _q(f"{app or '<deployment>'}-maintenance")
    ns = f" --namespace {_q(namespace)}" if namespace else ""
    literals = " ".join(f"--from-literal={name}={_q(value)}" for name, value in values)
    patch = json.dumps({"data": dict(values)}, separators=(",", ":"))
    mounted = f" (here {config_path})" if config_path else ""
    return False, [
        Step(
            (
                "No restart: with the ConfigMap mounted as a volume (not subPath) and",
                f"MAINTENANCE_MODE_CONFIG_PATH pointing at it{mounted}, the kubelet updates",
                "the files within about a minute (its sync period plus its cache TTL) and",
                "every pod follows within MAINTENANCE_MODE_RELOAD_INTERVAL:",
            ),
            (
                f"kubectl create configmap {configmap}{ns} {literals} --dry-run=client -o yaml"
                f" | kubectl apply{ns} -f -",
            ),
        ),
        Step(
            ("Or change only these keys and keep the others in the ConfigMap:",),
            (f"kubectl patch configmap {configmap}{ns} --type merge -p {_q(patch)}",),
        ),
        Step(
            ("Or as environment variables, which restarts every pod (a rolling update):",),
            (f"kubectl set env deployment/{deployment}{ns} {_pairs(values)}",),
        ),
        Step(
            (
                "Warning: a ConfigMap mounted with subPath, or read through env/envFrom, is",
                "never updated in running pods: only the volume route above is live.",
            )
        ),
    ]


def _fly(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    name = _q(_placeholder(app, "app", missing))
    return True, [
        Step(
            (
                "Fly restarts every Machine of the app when a secret changes (a rolling",
                "deploy); Fly has no maintenance switch of its own.",
            ),
            (f"fly secrets set {_pairs(values)} --app {name}",),
        ),
        Step(
            (
                "No restart: only per Machine, when MAINTENANCE_MODE_CONFIG_PATH points at a",
                "volume: run this on every Machine (fly ssh console --select picks one):",
            ),
            (f"fly ssh console --app {name} -C {_q(_write_command(action))}",),
        ),
    ]


def _render(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    service = _q(_placeholder(app, "service-id", missing))
    api = "https://api.render.com/v1/services"
    auth = '-H "Authorization: Bearer $RENDER_API_KEY"'
    commands = [
        f"curl -fsS -X PUT {api}/{service}/env-vars/{name} {auth} "
        f"-H 'Content-Type: application/json' -d {_q(json.dumps({'value': value}))}"
        for name, value in values
    ]
    commands.append(f"curl -fsS -X POST {api}/{service}/deploys {auth}")
    enabled = "true" if action == "on" else "false"
    return True, [
        Step(
            (
                "Render redeploys the service when an environment variable changes (new",
                "instances replace the old ones); through the API the second command deploys:",
            ),
            tuple(commands),
        ),
        Step(
            (
                "Or Render's own maintenance mode (paid web services; a 503 page from Render, no",
                "redeploy): Settings > Maintenance Mode in the Dashboard, or in render.yaml:",
                f"  maintenanceMode: {{enabled: {enabled}}}",
            )
        ),
    ]


def _railway(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    service = _q(_placeholder(app, "service", missing))
    env = f" --environment {_q(environment)}" if environment else ""
    sets = " ".join(f"--set {_q(f'{name}={value}')}" for name, value in values)
    return True, [
        Step(
            (
                "Railway redeploys the service when a variable changes; Railway has no",
                "maintenance switch of its own.",
            ),
            (f"railway variables --service {service}{env} {sets}",),
        ),
    ]


def _cloudrun(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    service = _q(_placeholder(app, "service", missing))
    region = f" --region {_q(_placeholder(environment, 'region', missing))}"
    lines = " ".join(_q(f"{name}={_dotenv_value(value)}") for name, value in values)
    return True, [
        Step(
            (
                "Cloud Run deploys a new revision when an environment variable changes (new",
                "instances, then traffic moves to them):",
            ),
            (f"gcloud run services update {service}{region} {_gcloud_env(values)}",),
        ),
        Step(
            (
                "No restart: a Secret Manager secret mounted as a file, read again on every",
                "access. Once: gcloud run services update ... --update-secrets=",
                "/etc/maintenance/maintenance.env=maintenance-config:latest and",
                "MAINTENANCE_MODE_CONFIG_PATH=/etc/maintenance/maintenance.env; then:",
            ),
            (
                f"printf '%s\\n' {lines} | gcloud secrets versions add maintenance-config "
                "--data-file=-",
            ),
        ),
    ]


def _dokku(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    name = _q(_placeholder(app, "app", missing))
    storage = _q(f"/var/lib/dokku/data/storage/{app or '<app>'}-maintenance")
    return True, [
        Step(
            (
                "dokku restarts the app's containers when a config var changes",
                "(config:set --no-restart defers it to the next restart):",
            ),
            (f"dokku config:set {name} {_pairs(values)}",),
        ),
        Step(
            ("Or the dokku-maintenance plugin's switch (nginx serves its page, no restart):",),
            (f"dokku maintenance:{'enable' if action == 'on' else 'disable'} {name}",),
        ),
        Step(
            (
                "No restart: a storage mount as the config directory. Once:",
                f"dokku storage:mount {name} {storage}:/app/run/maintenance and",
                "MAINTENANCE_MODE_CONFIG_PATH=/app/run/maintenance; then, on the dokku host:",
            ),
            tuple(_host_write(storage, values)),
        ),
    ]


def _docker(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    container = _q(_placeholder(app, "container", missing))
    return True, [
        Step(
            (
                "Docker cannot change a running container's environment: re-create it with",
                f"{_pairs(values)} added as -e options to its docker run (a restart).",
            )
        ),
        Step(
            (
                "No restart: bind-mount a config directory (not a single file: a file replaced",
                "by rename is not seen through a file mount) read-write, set",
                "MAINTENANCE_MODE_CONFIG_PATH to it, and write into it:",
            ),
            (f"docker exec {container} {_write_command(action)}",),
        ),
    ]


def _compose(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    service = _q(_placeholder(app, "service", missing))
    return True, [
        Step(
            (
                "Compose re-creates the container when its environment changes (a restart).",
                "With `MAINTENANCE_MODE: ${MAINTENANCE_MODE:-off}` (and the other variables",
                "likewise) in the service's environment in compose.yaml:",
            ),
            (f"{_pairs(values)} docker compose up -d {service}",),
        ),
        Step(
            ("No restart: a bind-mounted config directory, written from inside the service:",),
            (f"docker compose exec {service} {_write_command(action)}",),
        ),
    ]


def _systemd(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    unit = _q(_placeholder(app, "unit", missing))
    dropin = _q(f"/etc/systemd/system/{app or '<unit>'}.d")
    body = " ".join(
        _q(f"Environment={_systemd_value(f'{name}={value}')}") for name, value in values
    )
    mounted = f" ({config_path})" if config_path else ""
    return True, [
        Step(
            ("systemd reads a service's environment when it starts: a drop-in, then a restart:",),
            (
                f"sudo mkdir -p {dropin}",
                f"printf '%s\\n' '[Service]' {body} | sudo tee {dropin}/maintenance.conf",
                f"sudo systemctl daemon-reload && sudo systemctl restart {unit}",
            ),
        ),
        Step(
            (
                f"No restart: write into MAINTENANCE_MODE_CONFIG_PATH{mounted}, as the service's",
                "user, from the app's directory:",
            ),
            (_write_command(action),),
        ),
    ]


def _shell(
    action: str,
    values: list[tuple[str, str]],
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    missing: list[str],
) -> Builder:
    mounted = f" ({config_path})" if config_path else ""
    return True, [
        Step(
            ("The environment is read when the server starts: export, then restart it:",),
            tuple(f"export {name}={_q(value)}" for name, value in values),
        ),
        Step(
            (
                f"No restart: write into MAINTENANCE_MODE_CONFIG_PATH{mounted}; every server",
                "process sees it within MAINTENANCE_MODE_RELOAD_INTERVAL:",
            ),
            (_write_command(action),),
        ),
    ]


_BUILDERS = {
    "heroku": _heroku,
    "kubernetes": _kubernetes,
    "fly": _fly,
    "render": _render,
    "railway": _railway,
    "cloudrun": _cloudrun,
    "dokku": _dokku,
    "docker": _docker,
    "compose": _compose,
    "systemd": _systemd,
    "shell": _shell,
}

#: Names that are safe as an app, service, unit or container name in a printed command.
APP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,252}\Z")
#: A Kubernetes namespace (an RFC 1123 label).
NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
