"""The printed commands, checked against the platforms' real CLIs, offline.

AWS: botocore's service models (the ones the ``aws`` CLI is generated from) validate the
parameters of every printed ``aws ecs``, ``aws apprunner`` and ``aws elasticbeanstalk``
call; no network, no credentials. Docker: ``docker service update --help`` of the real
client (Debian's docker.io; no engine needed) lists every flag printed for Swarm. jq runs
the printed App Runner merge. Where no CLI can be had, the test names the documentation
page the syntax follows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from maintenance_env.platforms import instructions
from maintenance_env.platforms.cloud import APPRUNNER_ENV_PATH
from tests.tools import ROOT, need_tool

botocore_session = pytest.importorskip("botocore.session")
from botocore import xform_name  # noqa: E402
from botocore.validate import ParamValidator  # noqa: E402

VALUES = [
    ("MAINTENANCE_MODE", "on"),
    ("MAINTENANCE_MODE_ENDS_AT", "2040-06-01T04:00:00Z"),
    ("MAINTENANCE_MODE_MESSAGE", 'Back at 4, 100% "sure"; it\'s $HOME'),
]
ARN = "arn:aws:apprunner:eu-west-1:123456789012:service/shop/8fe1e10304f84fd2b0df550fe98a71fa"
KUBERNETES_VALUES = [
    ("MAINTENANCE_MODE", "on"),
    ("MAINTENANCE_MODE_ENDS_AT", "2040-06-01T04:00:00Z"),
    ("MAINTENANCE_MODE_MESSAGE", "Back at 4, 100% sure"),
]
#: The aws CLI's own options, not the operation's parameters.
GLOBAL_OPTIONS = {"--query", "--output", "--region", "--profile"}


def aws_params(
    command: str, files: dict[str, Any] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """``aws SERVICE OPERATION --flag value …`` as (service, operation, API parameters),
    mapped the way the aws CLI maps them: ``--kebab-case`` is the member's snake/kebab
    form (``botocore.xform_name(member, '-')``), a boolean flag takes no value, lists and
    structures are JSON, ``file://NAME`` reads ``files[NAME]``."""
    argv = shlex.split(command.split(" > ")[0])
    assert argv[0] == "aws"
    service, operation_cli = argv[1], argv[2]
    model = botocore_session.get_session().get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    operation = model.operation_model(operations[operation_cli])
    members = operation.input_shape.members
    by_flag = {f"--{xform_name(name, '-')}": name for name in members}
    params: dict[str, Any] = {}
    words = argv[3:]
    while words:
        flag = words.pop(0)
        if flag in GLOBAL_OPTIONS:
            words.pop(0)
            continue
        assert flag in by_flag, f"{flag} is not a parameter of {service} {operation_cli}"
        name = by_flag[flag]
        shape = members[name]
        if shape.type_name == "boolean":
            params[name] = True
            continue
        raw = words.pop(0)
        if raw.startswith("file://"):
            params[name] = (files or {})[raw.removeprefix("file://")]
        elif shape.type_name in ("list", "structure", "map"):
            params[name] = json.loads(raw)
        else:
            params[name] = raw
    return service, operation.name, params


def validate(command: str, files: dict[str, Any] | None = None) -> dict[str, Any]:
    service, operation, params = aws_params(command, files)
    model = botocore_session.get_session().get_service_model(service)
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()
    return params


def aws_commands(platform: str, **names: str) -> list[str]:
    commands = []
    for store in (False, True):
        plan = instructions(platform, "on", VALUES, store=store, **names)
        for command in plan.commands:
            for part in command.split(" | "):
                if part.startswith("aws ") and not part.startswith("aws s3 "):
                    commands.append(part)
    return list(dict.fromkeys(commands))


def test_ecs_calls_are_valid_for_botocore() -> None:
    commands = aws_commands("ecs", app="shop", environment="prod")
    assert [c.split()[2] for c in commands] == ["update-service", "execute-command"]
    update = validate(commands[0])
    assert update == {"cluster": "prod", "service": "shop", "forceNewDeployment": True}
    execute = validate(commands[1].replace("'<task-id>'", "0123456789abcdef"))
    assert execute["interactive"] is True
    assert shlex.split(execute["command"]) == [
        "python",
        "manage.py",
        "maintenance_mode",
        "on",
        "--write",
        "--ends-at",
        "2040-06-01T04:00:00Z",
        "--message",
        VALUES[2][1],
    ]


def test_elasticbeanstalk_call_is_valid_for_botocore() -> None:
    (command,) = aws_commands("beanstalk", app="shop-prod")
    params = validate(command)
    assert params["EnvironmentName"] == "shop-prod"
    settings = {s["OptionName"]: s["Value"] for s in params["OptionSettings"]}
    assert settings == dict(VALUES)
    assert {s["Namespace"] for s in params["OptionSettings"]} == {
        "aws:elasticbeanstalk:application:environment"
    }


def test_apprunner_calls_are_valid_for_botocore_and_jq_merges_exactly(tmp_path: Path) -> None:
    """describe-service and update-service validate; the printed jq, run by jq on a
    SourceConfiguration as describe-service returns it, sets exactly these values and
    keeps the others."""
    jq = need_tool("jq")
    bash = need_tool("bash")
    plan = instructions("apprunner", "on", VALUES, app=ARN)
    describe, merge, update = plan.commands
    validate(describe)
    current = {
        "ImageRepository": {
            "ImageIdentifier": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:latest",
            "ImageRepositoryType": "ECR",
            "ImageConfiguration": {
                "Port": "8000",
                "RuntimeEnvironmentVariables": {"DJANGO_SETTINGS_MODULE": "shop.settings"},
            },
        },
        "AutoDeploymentsEnabled": False,
        "AuthenticationConfiguration": {"AccessRoleArn": "arn:aws:iam::123456789012:role/r"},
    }
    (tmp_path / "source.json").write_text(json.dumps(current))
    assert merge.startswith("jq ")
    result = subprocess.run(
        [bash, "-c", merge.replace("jq ", f"{shlex.quote(jq)} ", 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    merged = json.loads((tmp_path / "source.new.json").read_text())
    variables = merged["ImageRepository"]["ImageConfiguration"]["RuntimeEnvironmentVariables"]
    assert variables == {"DJANGO_SETTINGS_MODULE": "shop.settings", **dict(VALUES)}
    assert APPRUNNER_ENV_PATH == ".ImageRepository.ImageConfiguration.RuntimeEnvironmentVariables"
    params = validate(update, files={"source.new.json": merged})
    assert params["ServiceArn"] == ARN


def test_docker_service_update_accepts_the_printed_flags() -> None:
    """Docker's own client lists every flag printed for Swarm (no engine is needed)."""
    docker = need_tool("docker")
    result = subprocess.run(
        [docker, "service", "update", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    documented = set(re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", result.stdout, re.M))
    (command,) = instructions("swarm", "on", VALUES, app="shop_web").commands
    argv = shlex.split(command)
    assert argv[:3] == ["docker", "service", "update"]
    flags = {word for word in argv if word.startswith("--")}
    assert flags == {"--env-add"}
    assert flags <= documented
    # Each --env-add takes one NAME=value word; the service is the last argument.
    pairs = [argv[i + 1] for i, word in enumerate(argv) if word == "--env-add"]
    assert [tuple(p.split("=", 1)) for p in pairs] == VALUES
    assert argv[-1] == "shop_web"


# --- no CLI here: the documentation pages the syntax follows -----------------------------


@pytest.mark.parametrize(
    ("platform", "page", "pattern"),
    [
        # https://learn.microsoft.com/cli/azure/webapp/config/appsettings#az-webapp-config-appsettings-set
        ("azure-appservice", "az webapp config appsettings set", r"--settings( \S+)+"),
        # https://learn.microsoft.com/cli/azure/containerapp#az-containerapp-update
        ("azure-containerapps", "az containerapp update", r"--set-env-vars( \S+)+"),
        # https://cloud.google.com/sdk/gcloud/reference/app/deploy
        ("appengine", "gcloud app deploy", r"app\.yaml"),
        # https://docs.digitalocean.com/reference/doctl/reference/apps/update/
        ("digitalocean", "doctl apps update", r"--spec spec\.yaml"),
        # https://kamal-deploy.org/docs/commands/app/ (kamal app boot, kamal app exec --reuse)
        ("kamal", "kamal app boot", r"kamal app boot"),
        # https://developer.hashicorp.com/nomad/docs/commands/job/run (-var 'name=value')
        ("nomad", "nomad job run", r"(-var \S+ )+"),
        # https://docs.upsun.com/administration/cli/reference.html#variablecreate
        ("upsun", "upsun variable:create", r"--level environment .* --name env:MAINTENANCE_MODE"),
        # https://help.pythonanywhere.com/pages/ (the pythonanywhere package's `pa webapp reload`)
        ("pythonanywhere", "pa webapp reload", r"--domain \S+"),
    ],
)
def test_commands_follow_their_documented_syntax(platform: str, page: str, pattern: str) -> None:
    text = instructions(platform, "on", VALUES, app="shop", environment="rg").render()
    line = next(line for line in text.splitlines() if page in line and not line.startswith("#"))
    assert re.search(pattern, line), line
    assert shlex.split(line)


# --- the ConfigMap command through a real kubectl ---------------------------------------


@pytest.mark.kubectl
def test_configmap_command_runs_in_real_kubectl(tmp_path: Path) -> None:
    """The printed create half, run by kubectl itself (client-side dry run, no cluster).

    The ``| kubectl apply -f -`` half needs an API server even with --dry-run=client
    (kubectl asks the server for the resource mapping), so only the create half runs here.
    """
    kubectl = need_tool("kubectl")
    plan = instructions("kubernetes", "on", KUBERNETES_VALUES, app="shop", namespace="prod")
    create, apply = plan.commands[0].split(" | ")
    assert apply == "kubectl apply --namespace prod -f -"
    argv = shlex.split(create)
    assert argv[0] == "kubectl"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }
    result = subprocess.run(
        [kubectl, *argv[1:]], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    assert manifest["kind"] == "ConfigMap"
    assert manifest["metadata"]["name"] == "shop-maintenance"
    assert manifest["metadata"]["namespace"] == "prod"
    assert manifest["data"] == {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_ENDS_AT": "2040-06-01T04:00:00Z",
        "MAINTENANCE_MODE_MESSAGE": "Back at 4, 100% sure",
    }


@pytest.mark.kubectl
def test_set_env_command_runs_in_real_kubectl(tmp_path: Path) -> None:
    """The printed ``kubectl set env`` arguments, applied locally to the example Deployment."""
    kubectl = need_tool("kubectl")
    plan = instructions("kubernetes", "on", KUBERNETES_VALUES, app="demo-site")
    argv = shlex.split(plan.commands[2])
    assert argv[:4] == ["kubectl", "set", "env", "deployment/demo-site"]
    manifest = ROOT / "example_project" / "kubernetes" / "deployment.yaml"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }
    result = subprocess.run(
        [kubectl, "set", "env", "--local", "-f", str(manifest), "-o", "yaml", *argv[4:]],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    deployment = yaml.safe_load(result.stdout)
    web = deployment["spec"]["template"]["spec"]["containers"][0]
    values = {item["name"]: item.get("value") for item in web["env"]}
    assert values["MAINTENANCE_MODE"] == "on"
    assert values["MAINTENANCE_MODE_MESSAGE"] == "Back at 4, 100% sure"
