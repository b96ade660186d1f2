"""Platform detection from real markers, and the exact commands printed for each platform."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from maintenance_env import platforms
from maintenance_env.platforms import NAMES, context, detect, instructions
from tests.tools import need_tool

ON = [("MAINTENANCE_MODE", "on")]
WITH_MESSAGE = [
    *ON,
    ("MAINTENANCE_MODE_ENDS_AT", "2040-06-01T04:00:00Z"),
    ("MAINTENANCE_MODE_MESSAGE", "Back at 4, 100% sure"),
]


def fake_root(tmp_path: Path, *files: str, **contents: str) -> str:
    """A filesystem root holding the given marker files (empty, or with content)."""
    for name in files:
        contents[name] = ""
    for name, text in contents.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


# --- detection --------------------------------------------------------------------------

NAMESPACE_FILE = platforms.SERVICE_ACCOUNT_NAMESPACE


@pytest.mark.parametrize(
    ("environ", "files", "expected"),
    [
        ({}, (), "shell"),
        (
            {
                "K_SERVICE": "shop",
                "K_REVISION": "shop-00001-abc",
                "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            },
            (NAMESPACE_FILE,),
            "cloudrun",
        ),
        ({"DYNO": "web.1", "HEROKU_APP_NAME": "shop"}, (), "heroku"),
        ({"DYNO": "web.1", "HEROKU_APP_ID": "9daa2797-e49b-4624-932f-ec3f9688e3da"}, (), "heroku"),
        ({"DYNO": "web.1"}, (), "heroku"),
        ({"DYNO": "web.1", "HEROKU_APP_NAME": "shop"}, (".dockerenv",), "heroku"),
        ({"DYNO": "web.1", "DOKKU_APP_TYPE": "herokuish"}, (), "dokku"),
        ({"DYNO": "web.1"}, (".dockerenv",), "dokku"),
        (
            {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
            (NAMESPACE_FILE,),
            "kubernetes",
        ),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, (".dockerenv",), "kubernetes"),
        ({}, (NAMESPACE_FILE,), "kubernetes"),
        ({"FLY_APP_NAME": "shop", "FLY_MACHINE_ID": "148ed193b95089"}, (".dockerenv",), "fly"),
        ({"RENDER": "true", "RENDER_SERVICE_ID": "srv-abc"}, (), "render"),
        ({"RAILWAY_ENVIRONMENT_NAME": "production"}, (), "railway"),
        ({"COMPOSE_PROJECT_NAME": "shop"}, (".dockerenv",), "compose"),
        ({"COMPOSE_SERVICE": "web"}, (".dockerenv",), "compose"),
        ({}, (".dockerenv",), "docker"),
        ({"INVOCATION_ID": "0f8e3f0c4b7a4d9e8d3c2b1a09876543"}, (), "systemd"),
        ({"INVOCATION_ID": "0f8e3f0c4b7a4d9e8d3c2b1a09876543"}, (".dockerenv",), "docker"),
        ({"RENDER": "", "FLY_APP_NAME": "  "}, (), "shell"),  # empty markers count as unset
    ],
)
def test_detect(
    tmp_path: Path, environ: dict[str, str], files: tuple[str, ...], expected: str
) -> None:
    found = detect(environ, fake_root(tmp_path, *files))
    assert found.name == expected
    assert found.reason


def test_detect_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLY_APP_NAME", "shop")
    assert detect().name == "fly"


def test_detection_reasons_name_the_markers(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    assert (
        detect({"DYNO": "web.1", "HEROKU_APP_NAME": "x"}, root).reason
        == "DYNO and HEROKU_APP_NAME are set"
    )
    assert (
        detect({"DYNO": "web.1", "DOKKU_APP_TYPE": "dockerfile"}, root).reason
        == "DYNO and DOKKU_APP_TYPE are set"
    )
    assert detect({}, root).reason == "no platform marker found"


def test_every_platform_is_described() -> None:
    assert set(platforms.DESCRIPTIONS) == set(NAMES)


def test_context_reads_names_from_the_platform(tmp_path: Path) -> None:
    root = fake_root(
        tmp_path,
        **{
            NAMESPACE_FILE: "shop-prod\n",
            ".dockerenv": "",
            platforms.PROC_CGROUP: "0::/system.slice/shop-web.service\n",
        },
    )
    assert context("kubernetes", {}, root).namespace == "shop-prod"
    assert context("kubernetes", {"POD_NAMESPACE": "other"}, root).namespace == "other"
    assert context("heroku", {"HEROKU_APP_NAME": "shop"}, root).app == "shop"
    assert context("fly", {"FLY_APP_NAME": "shop"}, root).app == "shop"
    assert context("render", {"RENDER_SERVICE_ID": "srv-c1"}, root).app == "srv-c1"
    railway = context(
        "railway", {"RAILWAY_SERVICE_NAME": "web", "RAILWAY_ENVIRONMENT_NAME": "staging"}, root
    )
    assert (railway.app, railway.environment) == ("web", "staging")
    cloudrun = context(
        "cloudrun", {"K_SERVICE": "shop", "CLOUDSDK_RUN_REGION": "europe-west1"}, root
    )
    assert (cloudrun.app, cloudrun.environment) == ("shop", "europe-west1")
    assert context("docker", {"HOSTNAME": "3f4e2a1b9c8d"}, root).app == "3f4e2a1b9c8d"
    assert context("compose", {"COMPOSE_SERVICE": "web"}, root).app == "web"
    assert context("systemd", {}, root).app == "shop-web.service"
    assert context("shell", {"HOSTNAME": "laptop"}, root) == platforms.Context()


def test_context_without_markers_is_empty(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    for name in NAMES:
        assert context(name, {}, root).app is None
    assert context("kubernetes", {}, root).namespace is None
    assert context("docker", {"HOSTNAME": "laptop"}, root).app is None  # not in a container


# --- the printed commands ---------------------------------------------------------------


def test_heroku_commands() -> None:
    plan = instructions("heroku", "on", WITH_MESSAGE, app="shop")
    assert plan.commands == [
        "heroku config:set MAINTENANCE_MODE=on MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "MAINTENANCE_MODE_MESSAGE='Back at 4, 100% sure' --app shop",
        "heroku maintenance:on --app shop",
    ]
    assert plan.restarts
    text = plan.render()
    assert "release" in text  # the release phase runs again on a config change
    assert instructions("heroku", "off", [("MAINTENANCE_MODE", "off")], app="shop").commands == [
        "heroku config:set MAINTENANCE_MODE=off --app shop",
        "heroku maintenance:off --app shop",
    ]


def test_kubernetes_commands() -> None:
    plan = instructions(
        "kubernetes",
        "on",
        WITH_MESSAGE,
        app="shop",
        namespace="prod",
        config_path="/etc/maintenance",
    )
    assert plan.commands == [
        "kubectl create configmap shop-maintenance --namespace prod "
        "--from-literal=MAINTENANCE_MODE=on "
        "--from-literal=MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "--from-literal=MAINTENANCE_MODE_MESSAGE='Back at 4, 100% sure' "
        "--dry-run=client -o yaml | kubectl apply --namespace prod -f -",
        "kubectl patch configmap shop-maintenance --namespace prod --type merge -p "
        '\'{"data":{"MAINTENANCE_MODE":"on","MAINTENANCE_MODE_ENDS_AT":'
        '"2040-06-01T04:00:00Z","MAINTENANCE_MODE_MESSAGE":"Back at 4, 100% sure"}}\'',
        "kubectl set env deployment/shop --namespace prod MAINTENANCE_MODE=on "
        "MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "MAINTENANCE_MODE_MESSAGE='Back at 4, 100% sure'",
    ]
    assert not plan.restarts  # the ConfigMap volume route comes first
    text = plan.render()
    assert "subPath" in text
    assert "never updated" in text
    assert "/etc/maintenance" in text


def test_kubernetes_without_a_namespace_uses_the_current_context() -> None:
    plan = instructions("kubernetes", "off", [("MAINTENANCE_MODE", "off")], app="shop")
    assert plan.commands[0] == (
        "kubectl create configmap shop-maintenance "
        "--from-literal=MAINTENANCE_MODE=off --dry-run=client -o yaml "
        "| kubectl apply -f -"
    )
    patch = shlex.split(plan.commands[1])[-1]
    assert json.loads(patch) == {"data": {"MAINTENANCE_MODE": "off"}}


def test_other_platforms_commands() -> None:
    def commands(name: str, *, app: str | None = None, environment: str | None = None) -> list[str]:
        return instructions(name, "on", ON, app=app, environment=environment).commands

    assert commands("fly", app="shop") == [
        "fly secrets set MAINTENANCE_MODE=on --app shop",
        "fly ssh console --app shop -C 'python manage.py maintenance_mode on --write'",
    ]
    assert commands("render", app="srv-c1") == [
        "curl -fsS -X PUT https://api.render.com/v1/services/srv-c1/env-vars/MAINTENANCE_MODE "
        "-H \"Authorization: Bearer $RENDER_API_KEY\" -H 'Content-Type: application/json' "
        '-d \'{"value": "on"}\'',
        "curl -fsS -X POST https://api.render.com/v1/services/srv-c1/deploys "
        '-H "Authorization: Bearer $RENDER_API_KEY"',
    ]
    assert commands("railway", app="web", environment="production") == [
        "railway variables --service web --environment production --set MAINTENANCE_MODE=on",
    ]
    assert commands("cloudrun", app="shop", environment="europe-west1") == [
        "gcloud run services update shop --region europe-west1 "
        "--update-env-vars=MAINTENANCE_MODE=on",
        "printf '%s\\n' MAINTENANCE_MODE=on | gcloud secrets versions add maintenance-config "
        "--data-file=-",
    ]
    assert commands("dokku", app="shop") == [
        "dokku config:set shop MAINTENANCE_MODE=on",
        "dokku maintenance:enable shop",
        "printf '%s\\n' on > /var/lib/dokku/data/storage/shop-maintenance/.MAINTENANCE_MODE.tmp"
        " && mv -f /var/lib/dokku/data/storage/shop-maintenance/.MAINTENANCE_MODE.tmp "
        "/var/lib/dokku/data/storage/shop-maintenance/MAINTENANCE_MODE",
    ]
    assert commands("docker", app="3f4e2a1b9c8d") == [
        "docker exec 3f4e2a1b9c8d python manage.py maintenance_mode on --write",
    ]
    assert commands("compose", app="web") == [
        "MAINTENANCE_MODE=on docker compose up -d web",
        "docker compose exec web python manage.py maintenance_mode on --write",
    ]
    assert commands("systemd", app="shop.service") == [
        "sudo mkdir -p /etc/systemd/system/shop.service.d",
        "printf '%s\\n' '[Service]' 'Environment=\"MAINTENANCE_MODE=on\"' "
        "| sudo tee /etc/systemd/system/shop.service.d/maintenance.conf",
        "sudo systemctl daemon-reload && sudo systemctl restart shop.service",
        "python manage.py maintenance_mode on --write",
    ]
    assert commands("shell") == [
        "export MAINTENANCE_MODE=on",
        "python manage.py maintenance_mode on --write",
    ]


def test_native_switches_only_where_the_platform_has_one() -> None:
    # Comment lines wrap: compare the words.
    texts = {
        name: " ".join(instructions(name, "on", ON, app="x").render().replace("#", "").split())
        for name in NAMES
    }
    assert "heroku maintenance:on" in texts["heroku"]
    assert "maintenanceMode" in texts["render"]
    assert "Maintenance Mode" in texts["render"]
    assert "dokku maintenance:enable" in texts["dokku"]
    for name in ("fly", "railway"):
        assert "no maintenance switch of its own" in texts[name]


def test_every_platform_says_whether_it_restarts() -> None:
    for name in NAMES:
        plan = instructions(name, "on", ON, app="x")
        first_comment = " ".join(plan.steps[0].comments).lower()
        assert any(
            word in first_comment
            for word in (
                "restart",
                "redeploy",
                "revision",
                "re-create",
                "no restart",
                "no reload",
                "new version",
                "deploys",
                "replaces",
                "new containers",
                "new tasks",
            )
        ), name
        assert plan.restarts is (name not in ("kubernetes", "pythonanywhere"))


def test_systemd_escapes_spaces_and_percent_signs() -> None:
    plan = instructions("systemd", "on", WITH_MESSAGE, app="shop.service")
    words = shlex.split(plan.commands[1])
    assert 'Environment="MAINTENANCE_MODE_MESSAGE=Back at 4, 100%% sure"' in words


def test_cloudrun_picks_a_delimiter_when_a_value_has_commas() -> None:
    plan = instructions("cloudrun", "on", WITH_MESSAGE, app="shop", environment="us-central1")
    flag = shlex.split(plan.commands[0])[-1]
    assert flag == (
        "--update-env-vars=^@^MAINTENANCE_MODE=on@MAINTENANCE_MODE_ENDS_AT="
        "2040-06-01T04:00:00Z@MAINTENANCE_MODE_MESSAGE=Back at 4, 100% sure"
    )


@pytest.mark.parametrize("name", NAMES)
def test_commands_are_valid_shell(name: str, tmp_path: Path) -> None:
    """``bash -n`` accepts every printed script once the names are filled in."""
    bash = need_tool("bash")
    plan = instructions(
        name,
        "on",
        WITH_MESSAGE,
        app="shop",
        namespace="prod",
        environment="europe-west1",
        config_path="/etc/maintenance",
    )
    assert set(plan.placeholders) <= {"bucket", "task-id", "resource-group", "domain", "store-url"}
    script = tmp_path / "commands.sh"
    script.write_text(plan.render())
    result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    for command in plan.commands:
        assert shlex.split(command)


#: Platforms whose commands need no name: they run where the app's files are.
NAMELESS = ("shell", "appengine", "kamal")


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NAMELESS])
def test_placeholders_are_quoted_literals(name: str, tmp_path: Path) -> None:
    """Without an app name the commands hold ``'<placeholders>'``: quoted, so the shell never
    reads them as redirections, and no platform accepts ``<`` in a name."""
    bash = need_tool("bash")
    plan = instructions(name, "on", ON)
    assert plan.placeholders
    text = plan.render()
    for label in plan.placeholders:
        assert f"<{label}>" in text
    script = tmp_path / "commands.sh"
    script.write_text(text)
    result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    for command in plan.commands:
        # Tokenised as the shell does: an unquoted < would come out as its own token.
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        assert "<" not in tokens, command
        assert "<>" not in tokens, command
        for label in plan.placeholders:
            if f"<{label}>" in command:
                assert any(f"<{label}>" in token and token != "<" for token in tokens)


def test_unknown_platform_or_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        instructions("mainframe", "on", ON)
    with pytest.raises(ValueError, match="unknown action"):
        instructions("shell", "maybe", ON)


def test_store_route_templates_fill_names_and_refuse_unknown_fields() -> None:
    request = platforms.Request("on", tuple(ON), app="shop it", namespace="prod")
    assert platforms.fill(
        "{app}{namespace: -n }|{environment:region}|{placeholder:url}", request
    ) == ("'shop it' -n prod|'<region>'|'<url>'")
    assert request.missing == ["region", "url"]
    with pytest.raises(ValueError, match=r"unknown field \{pod\} in a store route"):
        platforms.fill("kubectl exec {pod}", request)


# --- the registry and the 12 platforms added with it ------------------------------------

ECS_URI = "http://169.254.170.2/v4/5fb8fcd5-1c5d-4f57-b5a5-b3e6b8e1f2c9"
APPRUNNER_ARN = (
    "arn:aws:apprunner:eu-west-1:123456789012:service/shop/8fe1e10304f84fd2b0df550fe98a71fa"
)


@pytest.mark.parametrize(
    ("environ", "files", "expected"),
    [
        (
            {"GAE_APPLICATION": "e~shop", "GAE_SERVICE": "default", "GAE_ENV": "standard"},
            (),
            "appengine",
        ),
        ({"GAE_ENV": "standard"}, (), "appengine"),
        # Container Apps runs on Kubernetes: the more specific marker wins.
        (
            {
                "CONTAINER_APP_NAME": "shop",
                "CONTAINER_APP_REVISION": "shop--x1",
                "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            },
            (NAMESPACE_FILE,),
            "azure-containerapps",
        ),
        (
            {"WEBSITE_SITE_NAME": "shop", "WEBSITE_RESOURCE_GROUP": "shop-rg"},
            (),
            "azure-appservice",
        ),
        # App Runner runs on Fargate, where ECS's markers are set too: App Runner wins.
        (
            {
                "APPRUNNER_SERVICE_ARN": APPRUNNER_ARN,
                "ECS_CONTAINER_METADATA_URI_V4": ECS_URI,
                "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
            },
            (),
            "apprunner",
        ),
        (
            {"ECS_CONTAINER_METADATA_URI_V4": ECS_URI, "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"},
            (),
            "ecs",
        ),
        ({"ECS_CONTAINER_METADATA_URI": ECS_URI}, (".dockerenv",), "ecs"),
        ({"AWS_EXECUTION_ENV": "AWS_ECS_EC2"}, (), "ecs"),
        ({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}, (), "shell"),
        ({}, ("opt/elasticbeanstalk/bin/get-config",), "beanstalk"),
        (
            {
                "PLATFORM_APPLICATION_NAME": "app",
                "PLATFORM_PROJECT": "abcdefgh1234",
                "PLATFORM_BRANCH": "main",
            },
            (),
            "upsun",
        ),
        ({"PLATFORM_PROJECT": "abcdefgh1234"}, (), "shell"),  # one of the two is not enough
        ({"DIGITALOCEAN_APP_ID": "a1b2c3d4-0000-4000-8000-1234567890ab"}, (), "digitalocean"),
        (
            {
                "PYTHONANYWHERE_DOMAIN": "pythonanywhere.com",
                "PYTHONANYWHERE_SITE": "www.pythonanywhere.com",
            },
            (),
            "pythonanywhere",
        ),
        # Nomad's Docker driver, Kamal and Swarm all run Docker containers: they win over Docker.
        (
            {"NOMAD_ALLOC_ID": "5cbf3b0a-0000-4000-8000-000000000001", "NOMAD_JOB_NAME": "shop"},
            (".dockerenv",),
            "nomad",
        ),
        (
            {"KAMAL_CONTAINER_NAME": "shop-web-abc123", "KAMAL_VERSION": "abc123"},
            (".dockerenv",),
            "kamal",
        ),
        ({"KAMAL_VERSION": "abc123"}, (), "kamal"),
        ({"SWARM_SERVICE_NAME": "shop_web"}, (".dockerenv",), "swarm"),
        # Cloud Run (Knative) before Kubernetes, as before.
        ({"K_SERVICE": "shop", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, (), "cloudrun"),
    ],
)
def test_detect_new_platforms(
    tmp_path: Path, environ: dict[str, str], files: tuple[str, ...], expected: str
) -> None:
    found = detect(environ, fake_root(tmp_path, *files))
    assert found.name == expected, found
    assert found.reason


def test_registry_is_the_one_source() -> None:
    assert tuple(p.name for p in platforms.PLATFORMS) == NAMES
    assert len(set(NAMES)) == len(NAMES)
    assert NAMES[-1] == "shell"
    for record in platforms.PLATFORMS:
        assert platforms.DESCRIPTIONS[record.name] == record.description
        assert "\n" not in record.description
        assert record.restart_note, record.name
    # The existing names keep working, as --platform and MAINTENANCE_MODE_PLATFORM values.
    old = {
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
    }
    new = {
        "ecs",
        "apprunner",
        "beanstalk",
        "azure-appservice",
        "azure-containerapps",
        "appengine",
        "digitalocean",
        "kamal",
        "swarm",
        "nomad",
        "pythonanywhere",
        "upsun",
    }
    assert set(NAMES) == old | new


def test_context_of_the_new_platforms(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    appservice = context(
        "azure-appservice", {"WEBSITE_SITE_NAME": "shop", "WEBSITE_RESOURCE_GROUP": "rg"}, root
    )
    assert (appservice.app, appservice.environment) == ("shop", "rg")
    assert context("azure-containerapps", {"CONTAINER_APP_NAME": "shop"}, root).app == "shop"
    assert context("appengine", {"GAE_SERVICE": "default"}, root).app == "default"
    assert context("apprunner", {"APPRUNNER_SERVICE_ARN": APPRUNNER_ARN}, root).app == APPRUNNER_ARN
    upsun = context(
        "upsun",
        {"PLATFORM_APPLICATION_NAME": "app", "PLATFORM_PROJECT": "p1", "PLATFORM_BRANCH": "main"},
        root,
    )
    assert (upsun.app, upsun.namespace, upsun.environment) == ("app", "p1", "main")
    nomad = context("nomad", {"NOMAD_JOB_NAME": "shop", "NOMAD_NAMESPACE": "prod"}, root)
    assert (nomad.app, nomad.namespace) == ("shop", "prod")
    assert context("swarm", {"SWARM_SERVICE_NAME": "shop_web"}, root).app == "shop_web"
    assert context("digitalocean", {"DIGITALOCEAN_APP_ID": "a1"}, root).app == "a1"


OPTION_SETS = [
    [("MAINTENANCE_MODE", "on")],
    [("MAINTENANCE_MODE", "off")],
    WITH_MESSAGE,
    [
        ("MAINTENANCE_MODE", "on"),
        ("MAINTENANCE_MODE_STARTS_AT", "2040-06-01T02:00:00Z"),
        ("MAINTENANCE_MODE_ENDS_AT", "2040-06-01T04:00:00Z"),
        ("MAINTENANCE_MODE_MESSAGE", 'It\'s "down"; $HOME `id` \\ back, 100% @ 4, ^ ~ | # ! + :'),
    ],
]


@pytest.mark.parametrize("name", NAMES)
def test_every_script_passes_bash_n_in_every_combination(name: str, tmp_path: Path) -> None:
    """Every platform, on and off, with and without the options, names, a mounted config and
    the shared store: ``bash -n`` accepts the printed script, and every command splits."""
    bash = need_tool("bash")
    scripts = []
    for values in OPTION_SETS:
        action = values[0][1]
        for names in (
            {},
            {"app": "shop", "namespace": "prod", "environment": "prod-1", "config_path": "/etc/m"},
        ):
            for store in (False, True):
                plan = instructions(name, action, values, store=store, **names)
                assert plan.restarts is (plan.restarts and not store)
                scripts.append(plan.render())
                for command in plan.commands:
                    assert shlex.split(command)
    script = tmp_path / "all.sh"
    script.write_text("\n".join(scripts))
    result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_store_route_leads_when_configured(name: str) -> None:
    with_store = instructions(name, "on", WITH_MESSAGE, app="shop", store=True)
    lead = " ".join(with_store.steps[0].comments)
    assert lead.startswith("No restart, through the shared store (MAINTENANCE_MODE_CACHE)")
    assert "MAINTENANCE_MODE_RELOAD_INTERVAL" in lead
    write = with_store.steps[0].commands[0]
    assert "maintenance_mode on --write" in write
    # The --write route carries the other values as options.
    assert "--ends-at 2040-06-01T04:00:00Z" in write
    assert "--message" in write
    assert not with_store.restarts
    # Where the platform has a release step, how a deploy confirms the flip comes next.
    record = platforms.get(name)
    steps = list(with_store.steps[1:])
    if record.release_step:
        hint = steps.pop(0)
        assert hint.commands == ()
        assert hint.comments == (
            f"In a deploy, from {record.release_step}: maintenance_mode on --write --wait, "
            "then migrate, then maintenance_mode off --write --wait (docs: Deploy with "
            "maintenance).",
        )
    # The restart route follows, as the fallback.
    without = instructions(name, "on", WITH_MESSAGE, app="shop")
    assert without.steps[0] == steps[0]
    hints = [
        s for s in without.steps if s.comments[0].startswith("No restart with the shared store")
    ]
    if record.restarts:
        assert len(hints) == 1
        assert len(hints[0].comments) == 1  # one comment line
        assert "set MAINTENANCE_MODE_CACHE to the app's Redis" in hints[0].comments[0]
    else:
        assert hints == []


def test_store_routes_use_each_platforms_exec() -> None:
    def lead(name: str, **names: str) -> str:
        return instructions(name, "on", ON, store=True, **names).steps[0].commands[0]

    assert (
        lead("heroku", app="shop")
        == "heroku run --app shop 'python manage.py maintenance_mode on --write'"
    )
    assert (
        lead("fly", app="shop")
        == "fly ssh console --app shop -C 'python manage.py maintenance_mode on --write'"
    )
    assert lead("ecs", app="shop", environment="prod") == (
        "aws ecs execute-command --cluster prod --task '<task-id>' --interactive "
        "--command 'python manage.py maintenance_mode on --write'"
    )
    assert lead("azure-containerapps", app="shop", environment="rg") == (
        "az containerapp exec --name shop --resource-group rg "
        "--command 'python manage.py maintenance_mode on --write'"
    )
    assert (
        lead("kamal")
        == "kamal app exec --reuse --primary 'python manage.py maintenance_mode on --write'"
    )
    assert (
        lead("nomad", app="shop")
        == "nomad alloc exec -job shop python manage.py maintenance_mode on --write"
    )
    assert (
        lead("docker", app="web1")
        == "docker exec web1 python manage.py maintenance_mode on --write"
    )
    assert lead("railway", app="web").startswith("railway run --service web -- python manage.py")
    assert lead("render", app="srv-1").startswith(
        "curl -fsS -X POST https://api.render.com/v1/services/srv-1/jobs "
    )
    assert lead("kubernetes", app="shop", namespace="prod") == (
        "kubectl exec deployment/shop --namespace prod -- python manage.py maintenance_mode on --write"
    )


def test_systemd_app_name_gets_its_unit_suffix() -> None:
    """``--app web`` is ``web.service``: its drop-ins live in ``web.service.d``, which
    systemd reads, never in ``web.d``."""
    commands = instructions("systemd", "on", ON, app="web").commands
    assert commands[0] == "sudo mkdir -p /etc/systemd/system/web.service.d"
    assert "/etc/systemd/system/web.service.d/maintenance.conf" in commands[1]
    assert commands[2].endswith("systemctl restart web.service")
    assert "web.d" not in " ".join(commands).replace("web.service.d", "")
    assert (
        "/etc/systemd/system/web@2.service.d"
        in instructions("systemd", "on", ON, app="web@2.service").commands[0]
    )


def test_systemd_refuses_a_message_that_would_add_a_directive() -> None:
    values = [*ON, ("MAINTENANCE_MODE_MESSAGE", "x\nExecStartPre=/bin/touch /tmp/p\nX-End=")]
    with pytest.raises(platforms.Unprintable) as info:
        instructions("systemd", "on", values, app="web")
    assert "\n" not in str(info.value)
    assert "control character" in str(info.value)


def test_new_platform_commands() -> None:
    def commands(name: str, *, app: str | None = None, environment: str | None = None) -> list[str]:
        return instructions(name, "on", WITH_MESSAGE, app=app, environment=environment).commands

    assert commands("swarm", app="shop_web") == [
        "docker service update --env-add MAINTENANCE_MODE=on "
        "--env-add MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "--env-add 'MAINTENANCE_MODE_MESSAGE=Back at 4, 100% sure' shop_web",
    ]
    assert commands("azure-appservice", app="shop", environment="rg") == [
        "az webapp config appsettings set --name shop --resource-group rg --settings "
        "MAINTENANCE_MODE=on MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "MAINTENANCE_MODE_MESSAGE='Back at 4, 100% sure'",
        "python manage.py maintenance_mode on --write --ends-at 2040-06-01T04:00:00Z "
        "--message 'Back at 4, 100% sure'",
    ]
    assert commands("azure-containerapps", app="shop", environment="rg")[0] == (
        "az containerapp update --name shop --resource-group rg --set-env-vars "
        "MAINTENANCE_MODE=on MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "MAINTENANCE_MODE_MESSAGE='Back at 4, 100% sure'"
    )
    assert commands("ecs", app="shop", environment="prod") == [
        "printf '%s\\n' MAINTENANCE_MODE=on MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "'MAINTENANCE_MODE_MESSAGE=Back at 4, 100% sure' | aws s3 cp - "
        "'s3://<bucket>/shop-maintenance.env'",
        "aws ecs update-service --cluster prod --service shop --force-new-deployment",
    ]
    assert commands("nomad", app="shop")[0] == (
        "nomad job run -var maintenance_mode=on -var maintenance_mode_ends_at=2040-06-01T04:00:00Z "
        "-var 'maintenance_mode_message=Back at 4, 100% sure' shop.nomad.hcl"
    )
    assert commands("kamal")[0] == (
        "MAINTENANCE_MODE=on MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "MAINTENANCE_MODE_MESSAGE='Back at 4, 100% sure' kamal app boot"
    )
    assert commands("upsun", app="app", environment="main")[0] == (
        "upsun variable:create --update --level environment --environment main "
        "--name env:MAINTENANCE_MODE --value=on --no-interaction"
    )
    assert commands("pythonanywhere", app="shop.pythonanywhere.com")[-1] == (
        "pa webapp reload --domain shop.pythonanywhere.com"
    )
    assert commands("appengine") == ["gcloud app deploy app.yaml"]
    assert commands("digitalocean", app="a1") == [
        "doctl apps spec get a1 > spec.yaml",
        "doctl apps update a1 --spec spec.yaml",
    ]


def test_containerapps_refuses_a_secretref_value() -> None:
    with pytest.raises(platforms.Unprintable, match="secretref"):
        instructions(
            "azure-containerapps", "on", [*ON, ("MAINTENANCE_MODE_MESSAGE", "secretref:x")]
        )


def test_the_platforms_with_a_release_step_print_the_deploy_recipe() -> None:
    assert {n for n in NAMES if platforms.get(n).release_step} == {"heroku", "kubernetes", "ecs"}
