"""The example project deploys as it is: app.json, Procfile (run by honcho), gunicorn config,
Kubernetes manifests, and the live flip that ``make demo`` shows."""

from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from maintenance_env import variables
from tests import servers
from tests.tools import ROOT, need_tool

EXAMPLE = ROOT / "example_project"
KUBERNETES = EXAMPLE / "kubernetes"
BIN = Path(sys.executable).parent

# Heroku's app.json schema (devcenter.heroku.com/articles/app-json-schema), as JSON Schema:
# the documented top-level keys only, so a misspelt key fails here rather than being
# silently ignored by Heroku.
APP_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 30},
        "description": {"type": "string"},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "website": {"type": "string", "pattern": "^https?://"},
        "repository": {"type": "string", "pattern": "^https?://"},
        "logo": {"type": "string", "pattern": "^https?://"},
        "success_url": {"type": "string"},
        "stack": {"type": "string"},
        "image": {"type": "string"},
        "scripts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "postdeploy": {"type": "string"},
                "pr-predestroy": {"type": "string"},
            },
        },
        "env": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["description"],
                        "properties": {
                            "description": {"type": "string", "minLength": 1},
                            "value": {"type": "string"},
                            "required": {"type": "boolean"},
                            "generator": {"enum": ["secret"]},
                            "order": {"type": "integer"},
                        },
                        "not": {"required": ["value", "generator"]},
                    },
                ],
            },
        },
        "formation": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["quantity"],
                "properties": {
                    "quantity": {"type": "integer", "minimum": 0},
                    "size": {
                        "enum": [
                            "eco",
                            "basic",
                            "standard-1x",
                            "standard-2x",
                            "performance-m",
                            "performance-l",
                            "performance-l-ram",
                            "performance-xl",
                            "performance-2xl",
                            "private-s",
                            "private-m",
                            "private-l",
                            "shield-s",
                            "shield-m",
                            "shield-l",
                        ]
                    },
                },
            },
        },
        "addons": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string", "pattern": "^[a-z0-9-]+(:[a-z0-9-]+)?$"},
                    {
                        "type": "object",
                        "required": ["plan"],
                        "properties": {
                            "plan": {"type": "string"},
                            "as": {"type": "string"},
                            "options": {"type": "object"},
                        },
                    },
                ],
            },
        },
        "buildpacks": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["url"],
                "properties": {"url": {"type": "string", "minLength": 1}},
            },
        },
        "environments": {"type": "object"},
    },
}


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


# --- app.json and the Procfile ----------------------------------------------------------


def app_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "app.json").read_text())
    return data


def test_app_json_follows_the_schema() -> None:
    jsonschema.validate(app_json(), APP_JSON_SCHEMA)


def test_the_schema_catches_mistakes() -> None:
    """The schema above is strict enough to fail on the usual slips."""
    good = app_json()
    for broken in (
        {**good, "buildpack": good["buildpacks"]},  # misspelt key
        {**good, "env": {"SECRET_KEY": {"generator": "secret"}}},  # no description
        {**good, "env": {"X": {"description": "x", "generator": "uuid"}}},
        {**good, "formation": {"web": {"quantity": -1}}},
        {**good, "formation": {"web": {"quantity": 1, "size": "huge"}}},
        {**good, "buildpacks": [{"name": "heroku/python"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, APP_JSON_SCHEMA)


def test_app_json_content() -> None:
    data = app_json()
    env = data["env"]
    assert env["SECRET_KEY"]["generator"] == "secret"
    assert env["MAINTENANCE_MODE_BYPASS_SECRET"]["generator"] == "secret"
    assert env["MAINTENANCE_MODE"]["value"] == "off"
    assert env["MAINTENANCE_MODE"]["required"] is False
    # Every maintenance value it sets is valid for the package.
    for name, entry in env.items():
        if name in variables.VARIABLES and "value" in entry:
            variables.VARIABLES[name].parse(name, entry["value"])
    assert {"url": "heroku/python"} in data["buildpacks"]
    assert set(data["formation"]) <= set(procfile())
    assert data["keywords"]
    assert data["repository"].startswith("https://github.com/")
    # The Python buildpack installs from requirements.txt at the root.
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert "." in requirements
    assert any(r.startswith("gunicorn") for r in requirements)


def test_procfile() -> None:
    processes = procfile()
    assert processes["web"] == "gunicorn --config example_project/gunicorn.conf.py demo_site.wsgi"
    assert processes["release"] == "python example_project/manage.py migrate --noinput"


def test_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(EXAMPLE / "gunicorn.conf.py")
    for name in ("HOST", "PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    defaults = runpy.run_path(path)
    assert defaults["bind"] == ["0.0.0.0:8000"]
    assert defaults["workers"] == 2
    assert defaults["threads"] == 4
    assert Path(defaults["chdir"]) == EXAMPLE
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "5123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    configured = runpy.run_path(path)
    assert configured["bind"] == ["127.0.0.1:5123"]
    assert configured["workers"] == 3


def _subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the example project: none of this shell's MAINTENANCE_MODE*,
    settings module, server address, Redis or platform markers; a database in ``tmp_path``."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAINTENANCE_MODE")
        and k not in ("DJANGO_SETTINGS_MODULE", "PORT", "HOST", "REDIS_URL", "DYNO")
    }
    environ["PATH"] = f"{BIN}{os.pathsep}{environ.get('PATH', '')}"
    environ["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    environ["PYTHONUNBUFFERED"] = "1"
    environ.update(extra)
    return environ


def manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``example_project/manage.py *args`` in a new process, in the clean environment of
    :func:`_subprocess_env` with the mounted config in ``tmp_path`` (``extra`` added)."""
    environ = _subprocess_env(tmp_path, MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path), **extra)
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_example_settings_pass_the_checks(tmp_path: Path) -> None:
    for args in (["check", "--fail-level", "WARNING"], ["makemigrations", "--check", "--dry-run"]):
        result = manage(tmp_path, *args)
        assert result.returncode == 0, result.stdout + result.stderr


# --- the Procfile's web process, run by honcho ------------------------------------------


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(url: str, status: int, deadline: float) -> tuple[int, str]:
    """GET until ``status`` comes back; the deadline only bounds the loop (not a timing
    assertion)."""
    last: tuple[int, str] = (0, "")
    while time.monotonic() < deadline:
        try:
            last = get(url)
        except OSError:
            last = (0, "")
        if last[0] == status:
            return last
        time.sleep(0.05)
    return last


@pytest.fixture
def procfile_web(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """The release then the web process of the Procfile, through honcho, on a free port."""
    honcho = BIN / "honcho"
    if not honcho.exists():
        honcho = Path(need_tool("honcho"))
    config = tmp_path / "maintenance"
    config.mkdir()
    env_file = tmp_path / "empty.env"  # not the developer's .env, if any
    env_file.write_text("")
    port = servers.free_port()
    environ = _subprocess_env(
        tmp_path, HOST="127.0.0.1", WEB_CONCURRENCY="2", MAINTENANCE_MODE_CONFIG_PATH=str(config)
    )
    base = [str(honcho), "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "-e", str(env_file)]
    release = subprocess.run(
        [*base[:1], "start", *base[1:], "release"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        check=False,
        timeout=180,
    )
    assert release.returncode == 0, release.stdout + release.stderr
    log = tmp_path / "web.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*base[:1], "start", *base[1:], "-p", str(port), "web"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environ,
            cwd=ROOT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        status, _ = wait_for(url + "/healthz", 200, time.monotonic() + 60)
        assert status == 200, log.read_text()
        yield url, config, environ
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@pytest.mark.server
@pytest.mark.slow
def test_procfile_web_serves_and_flips_live(
    procfile_web: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    url, config, environ = procfile_web
    status, body = get(url + "/")
    assert status == 200
    assert "maintenance_mode on --write" in body
    status, body = get(url + "/visits/")
    assert status == 200
    assert "sqlite" in body  # the page that needs the database, migrated by release:

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), "maintenance_mode", *args],
            capture_output=True,
            text=True,
            env=environ,
            cwd=tmp_path,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    out = manage("on", "--write", "--message", "Back after the upgrade")
    assert f"MAINTENANCE_MODE=on written to {config / 'MAINTENANCE_MODE'}" in out
    status, body = wait_for(url + "/", 503, time.monotonic() + 30)
    assert status == 503
    assert "Back after the upgrade" in body
    assert get(url + "/healthz")[0] == 200  # probes keep passing
    manage("off", "--write")
    assert wait_for(url + "/visits/", 200, time.monotonic() + 30)[0] == 200


# --- the Kubernetes manifests -----------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    """Every document of every manifest, by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert isinstance(document, dict), path
            assert document["apiVersion"]
            assert document["kind"] not in found
            found[document["kind"]] = document
    return found


def pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_kubernetes_manifests() -> None:
    docs = manifests()
    assert set(docs) == {"ConfigMap", "Deployment", "Service"}
    configmap, deployment, service = docs["ConfigMap"], docs["Deployment"], docs["Service"]
    pod = deployment["spec"]["template"]["spec"]

    # The ConfigMap holds valid values, and is mounted as a whole volume.
    for name, value in configmap["data"].items():
        variables.VARIABLES[name].parse(name, value)
    volumes = [
        v
        for v in pod["volumes"]
        if v.get("configMap", {}).get("name") == configmap["metadata"]["name"]
    ]
    assert len(volumes) == 1
    for container in pod_containers(deployment):
        env = {item["name"]: item.get("value") for item in container["env"]}
        mounts = [m for m in container["volumeMounts"] if m["name"] == volumes[0]["name"]]
        assert len(mounts) == 1
        assert "subPath" not in mounts[0]
        assert "subPathExpr" not in mounts[0]
        assert mounts[0]["mountPath"] == env["MAINTENANCE_MODE_CONFIG_PATH"]
        # Not also read as environment variables, which would never update.
        for source in container.get("envFrom", []):
            assert source.get("configMapRef", {}).get("name") != configmap["metadata"]["name"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False

    # Probes on a path that passes during maintenance.
    web = pod["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        path = web[probe]["httpGet"]["path"]
        assert path in variables.DEFAULT_HEALTH_PATHS
        assert web[probe]["httpGet"]["port"] in [p["name"] for p in web["ports"]]
    # The same command as the Procfile's web line.
    assert " ".join(web["command"]) == procfile()["web"]

    # The Service reaches the pods.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in [p["name"] for p in web["ports"]]


def test_kubernetes_command_output_matches_the_manifests() -> None:
    """The name the command derives from --app is the example's ConfigMap."""
    from maintenance_env.platforms import instructions

    docs = manifests()
    app = docs["Deployment"]["metadata"]["name"]
    plan = instructions("kubernetes", "on", [("MAINTENANCE_MODE", "on")], app=app)
    assert f"kubectl create configmap {docs['ConfigMap']['metadata']['name']} " in plan.commands[0]


@pytest.mark.kubectl
def test_kustomization_builds(tmp_path: Path) -> None:
    kubectl = need_tool("kubectl")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(result.stdout))
    assert kinds == ["ConfigMap", "Deployment", "Service"]


def test_dockerfile_runs_the_procfile_command() -> None:
    text = (EXAMPLE / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert cmd is not None
    assert " ".join(json.loads(cmd[1])) == procfile()["web"]
    assert re.search(r"^USER \d+", text, re.MULTILINE)
