"""Platforms as a service driven by their own CLI: Heroku, dokku, Fly.io, Render, Railway,
DigitalOcean App Platform, PythonAnywhere and Upsun (Platform.sh)."""

from __future__ import annotations

import json

from maintenance_env.platforms.base import (
    DOCKERENV,
    ContextVariables,
    Markers,
    Platform,
    Request,
    Step,
)
from maintenance_env.platforms.quoting import check_text, json_text, pairs, shell, yaml_string

__all__ = [
    "DIGITALOCEAN",
    "DOKKU",
    "FLY",
    "HEROKU",
    "PYTHONANYWHERE",
    "RAILWAY",
    "RENDER",
    "UPSUN",
]


# --- Heroku and dokku (both set DYNO) -----------------------------------------------------


def _detect_heroku(m: Markers) -> str | None:
    # https://devcenter.heroku.com/articles/dynos#local-environment-variables (DYNO) and
    # https://devcenter.heroku.com/articles/dyno-metadata (HEROKU_APP_NAME, HEROKU_APP_ID).
    if not m.has("DYNO"):
        return None
    which = m.first("HEROKU_APP_NAME", "HEROKU_APP_ID")
    if which:
        return f"DYNO and {which} are set"
    if m.prefixed("DOKKU_") or m.exists(DOCKERENV):
        return None  # dokku copies DYNO and runs apps in Docker
    return "DYNO is set"


def _heroku(r: Request) -> list[Step]:
    name = r.name(r.app, "app")
    steps = [
        Step(
            (
                "Heroku restarts every dyno when a config var changes, after running the release",
                "phase again: a failing release command (a migration) blocks the change.",
            ),
            (f"heroku config:set {pairs(r.values)} --app {name}",),
        ),
        Step(
            (
                "Or Heroku's own switch: the router answers every request with its maintenance",
                "page (503), no restart, no app involved (so /healthz is blocked too):",
            ),
            (f"heroku maintenance:{r.action} --app {name}",),
        ),
    ]
    if not r.store:
        steps.append(
            Step(
                (
                    "No restart-free route through the app: each dyno has its own filesystem, and",
                    "`heroku run` starts a separate one-off dyno.",
                )
            )
        )
    return steps


HEROKU = Platform(
    name="heroku",
    release_step="the release phase (a Procfile release: line)",
    description="Heroku: DYNO with HEROKU_APP_NAME or HEROKU_APP_ID (or DYNO alone, outside a "
    "container)",
    markers=("DYNO", "HEROKU_APP_NAME", "HEROKU_APP_ID"),
    detector=_detect_heroku,
    build=_heroku,
    # One argument: the Heroku CLI hands a lone argument to the dyno's shell as it is,
    # but joins several with its own quoting, under which "$" and "`" still expand
    # (buildCommand in the CLI's lib/run/helpers.ts).
    store_route=("in a one-off dyno", "heroku run --app {app} {write_quoted}"),
    restart_note="a new release, then every dyno restarts: usually under a minute",
    context=ContextVariables(app=("HEROKU_APP_NAME",)),
)


def _detect_dokku(m: Markers) -> str | None:
    # dokku sets DYNO like Heroku (https://dokku.com/docs/configuration/environment-variables/)
    # and DOKKU_* variables of its own; its apps run in Docker.
    if not m.has("DYNO"):
        return None
    dokku = m.prefixed("DOKKU_")
    if dokku:
        return f"DYNO and {dokku[0]} are set"
    if m.exists(DOCKERENV):
        return "DYNO is set inside a Docker container (/.dockerenv)"
    return None


def _dokku(r: Request) -> list[Step]:
    name = r.name(r.app, "app")
    storage = shell(f"/var/lib/dokku/data/storage/{r.app or '<app>'}-maintenance")
    writes = []
    for variable, value in r.values:
        target, temp = f"{storage}/{variable}", f"{storage}/.{variable}.tmp"
        writes.append(f"printf '%s\\n' {shell(value)} > {temp} && mv -f {temp} {target}")
    return [
        Step(
            (
                "dokku restarts the app's containers when a config var changes",
                "(config:set --no-restart defers it to the next restart):",
            ),
            (f"dokku config:set {name} {pairs(r.values)}",),
        ),
        Step(
            ("Or the dokku-maintenance plugin's switch (nginx serves its page, no restart):",),
            (f"dokku maintenance:{'enable' if r.action == 'on' else 'disable'} {name}",),
        ),
        Step(
            (
                "No restart: a storage mount as the config directory. Once:",
                f"dokku storage:mount {name} {storage}:/app/run/maintenance and",
                "MAINTENANCE_MODE_CONFIG_PATH=/app/run/maintenance; then, on the dokku host:",
            ),
            tuple(writes),
        ),
    ]


DOKKU = Platform(
    name="dokku",
    description="Dokku: DYNO with a DOKKU_* variable or /.dockerenv",
    markers=("DYNO", "DOKKU_*", "/.dockerenv"),
    detector=_detect_dokku,
    build=_dokku,
    store_route=("in a one-off container with the app's config", "dokku run {app} {write}"),
    restart_note="the app's containers restart: usually seconds",
    live_route="a storage mount as the config directory",
    context=ContextVariables(app=("DOKKU_APP_NAME", "APP_NAME")),
)


# --- Fly.io, Render, Railway --------------------------------------------------------------


def _fly(r: Request) -> list[Step]:
    name = r.name(r.app, "app")
    return [
        Step(
            (
                "Fly restarts every Machine of the app when a secret changes (a rolling",
                "deploy); Fly has no maintenance switch of its own.",
            ),
            (f"fly secrets set {pairs(r.values)} --app {name}",),
        ),
        Step(
            (
                "No restart: only per Machine, when MAINTENANCE_MODE_CONFIG_PATH points at a",
                "volume: run this on every Machine (fly ssh console --select picks one):",
            ),
            (f"fly ssh console --app {name} -C {shell(r.write_command())}",),
        ),
    ]


FLY = Platform(
    name="fly",
    description="Fly.io: FLY_APP_NAME",
    markers=("FLY_APP_NAME",),
    # https://fly.io/docs/machines/runtime-environment/#environment-variables
    build=_fly,
    store_route=("on any one Machine", "fly ssh console --app {app} -C {write_quoted}"),
    restart_note="a rolling restart of every Machine: usually under a minute",
    live_route="a volume per Machine",
    context=ContextVariables(app=("FLY_APP_NAME",)),
)

RENDER_API = "https://api.render.com/v1/services"
RENDER_AUTH = '-H "Authorization: Bearer $RENDER_API_KEY"'
JSON_HEADER = "-H 'Content-Type: application/json'"


def _render(r: Request) -> list[Step]:
    service = r.name(r.app, "service-id")
    commands = [
        f"curl -fsS -X PUT {RENDER_API}/{service}/env-vars/{name} {RENDER_AUTH} "
        f"{JSON_HEADER} -d {shell(_render_json({'value': value}))}"
        for name, value in r.values
    ]
    commands.append(f"curl -fsS -X POST {RENDER_API}/{service}/deploys {RENDER_AUTH}")
    enabled = "true" if r.action == "on" else "false"
    return [
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


def _render_store_route(r: Request) -> tuple[str, str]:
    # A function: the command goes in a JSON request body (Render's Jobs API, POST
    # /v1/services/{serviceId}/jobs with a startCommand: https://api-docs.render.com/).
    return (
        "as a one-off job of the service (Render's Jobs API)",
        f"curl -fsS -X POST {RENDER_API}/{r.name(r.app, 'service-id')}/jobs {RENDER_AUTH} "
        f"{JSON_HEADER} -d {json_text({'startCommand': r.write_command()})}",
    )


def _render_json(data: dict[str, str]) -> str:
    """Render's request body, as earlier versions printed it (``{"value": "on"}``)."""
    for value in data.values():
        check_text(value, "A Render API value")
    return json.dumps(data, ensure_ascii=False)


RENDER = Platform(
    name="render",
    description="Render: RENDER",
    markers=("RENDER",),
    # https://render.com/docs/environment-variables#all-runtimes (RENDER, RENDER_SERVICE_ID)
    build=_render,
    store_route=_render_store_route,
    restart_note="a new deploy: usually a few minutes",
    context=ContextVariables(app=("RENDER_SERVICE_ID",)),
)


def _railway_options(r: Request) -> str:
    env = f" --environment {shell(r.environment)}" if r.environment else ""
    return f"--service {r.name(r.app, 'service')}{env}"


def _railway_store_route(r: Request) -> tuple[str, str]:
    # A function: its options, an optional environment among them, are the builder's.
    return (
        "with the service's variables (railway run runs it here: the store must be reachable "
        "from this machine)",
        f"railway run {_railway_options(r)} -- {r.write_command()}",
    )


def _railway(r: Request) -> list[Step]:
    sets = " ".join(f"--set {shell(f'{name}={value}')}" for name, value in r.values)
    return [
        Step(
            (
                "Railway redeploys the service when a variable changes; Railway has no",
                "maintenance switch of its own.",
            ),
            (f"railway variables {_railway_options(r)} {sets}",),
        ),
    ]


RAILWAY = Platform(
    name="railway",
    description="Railway: RAILWAY_ENVIRONMENT_NAME",
    markers=("RAILWAY_ENVIRONMENT_NAME",),
    # https://docs.railway.com/reference/variables#railway-provided-variables
    build=_railway,
    store_route=_railway_store_route,
    restart_note="a redeploy: usually a minute or two",
    context=ContextVariables(
        app=("RAILWAY_SERVICE_NAME",), environment=("RAILWAY_ENVIRONMENT_NAME",)
    ),
)


# --- DigitalOcean App Platform ------------------------------------------------------------


def _digitalocean(r: Request) -> list[Step]:
    app = r.name(r.app, "app-id")
    envs = tuple(
        f"  - {{key: {name}, value: {yaml_string(value)}, scope: RUN_TIME}}"
        for name, value in r.values
    )
    return [
        Step(
            (
                "App Platform redeploys the app when its spec changes (new instances, then",
                "traffic moves to them). Fetch the spec, set these under the component's envs:,",
                "and update:",
                *envs,
            ),
            (
                f"doctl apps spec get {app} > spec.yaml",
                f"doctl apps update {app} --spec spec.yaml",
            ),
        ),
    ]


DIGITALOCEAN = Platform(
    name="digitalocean",
    description="DigitalOcean App Platform: DIGITALOCEAN_APP_ID, which the app spec passes in "
    "(envs: DIGITALOCEAN_APP_ID=${APP_ID}; App Platform sets no variable naming itself)",
    markers=("DIGITALOCEAN_APP_ID",),
    # App Platform documents no variable of its own in the running container; its bindable
    # app-wide variable ${APP_ID} is passed in by the app spec:
    # https://docs.digitalocean.com/products/app-platform/how-to/use-environment-variables/
    build=_digitalocean,
    store_route=(
        "in `doctl apps console {app:app-id} <component>` (a shell in the app)",
        "{write}",
    ),
    restart_note="a new deployment: usually a few minutes",
    context=ContextVariables(app=("DIGITALOCEAN_APP_ID",)),
)


# --- PythonAnywhere -----------------------------------------------------------------------


def _pythonanywhere(r: Request) -> list[Step]:
    domain = r.name(r.app, "domain")
    mounted = f" (here {r.config_path})" if r.config_path else ""
    assignments = tuple(f"  os.environ[{name!r}] = {value!r}" for name, value in r.values)
    return [
        Step(
            (
                "No reload: the web app's files are yours. With MAINTENANCE_MODE_CONFIG_PATH",
                f"set to a directory in your home{mounted} (in the WSGI file), run in a Bash",
                "console, from the project; every worker follows within",
                "MAINTENANCE_MODE_RELOAD_INTERVAL:",
            ),
            (r.write_command(),),
        ),
        Step(
            (
                "Or in the environment, which a reload of the web app reads: in the WSGI file,",
                *assignments,
                "then reload (the `pa` command of the pythonanywhere package):",
            ),
            (f"pa webapp reload --domain {domain}",),
        ),
    ]


PYTHONANYWHERE = Platform(
    name="pythonanywhere",
    description="PythonAnywhere: PYTHONANYWHERE_DOMAIN",
    markers=("PYTHONANYWHERE_DOMAIN", "PYTHONANYWHERE_SITE"),
    # PythonAnywhere sets PYTHONANYWHERE_DOMAIN (pythonanywhere.com or
    # eu.pythonanywhere.com) and PYTHONANYWHERE_SITE in consoles and web apps; its help
    # pages (https://help.pythonanywhere.com/pages/environment-variables-for-web-apps/)
    # do not list them, so this marker is the one in common use, not a documented one.
    build=_pythonanywhere,
    store_route=("in a Bash console, from the project", "{write}"),
    restarts=False,
    restart_note="a reload of the web app's workers: usually seconds",
    live_route="the home directory, which the web app reads",
)


# --- Upsun / Platform.sh -----------------------------------------------------------------


def _upsun_options(r: Request) -> str:
    project = f" --project {shell(r.namespace)}" if r.namespace else ""
    return f"{project} --environment {r.name(r.environment, 'environment')}"


def _upsun_ssh(r: Request) -> str:
    # Also the builder's no-restart command; the project (namespace) is optional.
    return f"upsun ssh{_upsun_options(r)} --app {r.name(r.app, 'app')} {shell(r.write_command())}"


def _upsun(r: Request) -> list[Step]:
    commands = tuple(
        f"upsun variable:create --update --level environment{_upsun_options(r)} "
        f"--name env:{name} --value={shell(value)} --no-interaction"
        for name, value in r.values
    )
    return [
        Step(
            (
                "Upsun redeploys the environment when a variable changes (the app restarts,",
                "with a short pause); env: makes it an environment variable:",
            ),
            commands,
        ),
        Step(
            (
                "No restart: with MAINTENANCE_MODE_CONFIG_PATH on a storage mount (shared by",
                "every instance), write into it from inside the app:",
            ),
            (_upsun_ssh(r),),
        ),
    ]


UPSUN = Platform(
    name="upsun",
    description="Upsun (Platform.sh): PLATFORM_APPLICATION_NAME with PLATFORM_PROJECT",
    markers=("PLATFORM_APPLICATION_NAME", "PLATFORM_PROJECT"),
    # https://docs.upsun.com/development/variables/use-variables.html#use-provided-variables
    detector=lambda m: (
        "PLATFORM_APPLICATION_NAME and PLATFORM_PROJECT are set"
        if m.has("PLATFORM_APPLICATION_NAME") and m.has("PLATFORM_PROJECT")
        else None
    ),
    build=_upsun,
    store_route=lambda r: ("in the app's container over SSH", _upsun_ssh(r)),
    restart_note="a redeploy of the environment: usually under a minute",
    live_route="a storage mount",
    context=ContextVariables(
        app=("PLATFORM_APPLICATION_NAME",),
        namespace=("PLATFORM_PROJECT",),
        environment=("PLATFORM_BRANCH",),
    ),
)
