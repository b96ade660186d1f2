"""``manage.py maintenance_mode``: printed commands, ``--write``, ``status``, and bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from maintenance_env import platforms
from maintenance_env.management.commands.maintenance_mode import Command
from maintenance_env.variables import VARIABLES
from tests.kubelet import ConfigMapVolume
from tests.tools import ROOT

Env = Callable[..., None]


@pytest.fixture(autouse=True)
def no_store_of_the_machine(no_platform_markers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nor a shared store set where the tests run."""
    monkeypatch.delenv("MAINTENANCE_MODE_CACHE", raising=False)


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance_mode", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args: str) -> str:
    with pytest.raises(CommandError) as info:
        run(*args)
    message = str(info.value)
    assert "\n" not in message.strip()
    return message


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a new process, tests.settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAINTENANCE_MODE")}
    environ.update(DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(ROOT))
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "django", "maintenance_mode", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        check=False,
        timeout=120,
    )


# --- on / off: the printed commands -----------------------------------------------------


def test_on_prints_the_commands_for_the_detected_platform(
    monkeypatch: pytest.MonkeyPatch, env: Env
) -> None:
    monkeypatch.setenv("DYNO", "web.1")
    monkeypatch.setenv("HEROKU_APP_NAME", "shop")
    out = run("on")
    assert out.startswith(
        "# Platform: heroku (DYNO and HEROKU_APP_NAME are set). To turn maintenance on:\n"
    )
    assert "\nheroku config:set MAINTENANCE_MODE=on --app shop\n" in out
    assert "\nheroku maintenance:on --app shop\n" in out
    assert "Replace" not in out  # the app name came from the environment


def test_off_prints_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLY_APP_NAME", "shop")
    out = run("off")
    assert "\nfly secrets set MAINTENANCE_MODE=off --app shop\n" in out


def test_shell_is_the_fallback() -> None:
    out = run("on")
    assert out.startswith("# Platform: shell (no platform marker found).")
    assert "\nexport MAINTENANCE_MODE=on\n" in out


def test_platform_option_and_setting_override_detection(
    monkeypatch: pytest.MonkeyPatch, env: Env
) -> None:
    monkeypatch.setenv("RENDER", "true")
    assert "Platform: render (RENDER is set)." in run("on")
    env(MAINTENANCE_MODE_PLATFORM="railway")
    assert "Platform: railway (MAINTENANCE_MODE_PLATFORM (from the environment))." in run("on")
    assert "Platform: fly (--platform)." in run("on", "--platform", "FLY")
    with override_settings(MAINTENANCE_MODE_PLATFORM="dokku"):
        monkeypatch.delenv("MAINTENANCE_MODE_PLATFORM")
        assert "Platform: dokku (MAINTENANCE_MODE_PLATFORM (from the settings))." in run("on")


def test_kubernetes_namespace_from_the_service_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "pod"
    ns = root / platforms.SERVICE_ACCOUNT_NAMESPACE
    ns.parent.mkdir(parents=True)
    ns.write_text("shop-prod")
    monkeypatch.setattr(Command, "detection_root", str(root))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    out = run("on", "--app", "demo-site")
    assert (
        "kubectl create configmap demo-site-maintenance --namespace shop-prod "
        "--from-literal=MAINTENANCE_MODE=on --dry-run=client -o yaml "
        "| kubectl apply --namespace shop-prod -f -"
    ) in out
    assert "--namespace other" in run("on", "--app", "demo-site", "--namespace", "other")


@pytest.mark.usefixtures("frozen_clock")
def test_options_add_their_variables() -> None:
    out = run(
        "on",
        "--platform",
        "heroku",
        "--app",
        "shop",
        "--starts-at",
        "2040-06-01 02:00",
        "--ends-at",
        "2040-06-01T05:00:00+01:00",
        "--message",
        "Back at 4",
    )
    assert (
        "heroku config:set MAINTENANCE_MODE=on "
        "MAINTENANCE_MODE_STARTS_AT=2040-06-01T02:00:00Z "
        "MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z "
        "MAINTENANCE_MODE_MESSAGE='Back at 4' --app shop"
    ) in out


def test_missing_names_get_placeholders_and_a_note() -> None:
    out = run("on", "--platform", "cloudrun")
    assert "gcloud run services update '<service>' --region '<region>'" in out
    assert out.rstrip().endswith(
        "# Replace <service> (--app) and <region> (or set CLOUDSDK_RUN_REGION) first."
    )


def test_platform_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAILWAY_ENVIRONMENT_NAME", "production")
    lines = run("on", "--platform", "list").splitlines()
    names = [line[2:].split()[0] for line in lines[:-1]]
    assert names == list(platforms.NAMES)
    assert lines[platforms.NAMES.index("railway")].startswith("* railway ")
    assert sum(line.startswith("*") for line in lines) == 1
    assert lines[-1] == "(* detected here: RAILWAY_ENVIRONMENT_NAME is set)"


# --- bad arguments: one line, non-zero, nothing written ---------------------------------


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("on", "--starts-at", "tomorrow"), "--starts-at='tomorrow' is not valid: expected an ISO"),
        (("on", "--ends-at", "2040-13-01"), "--ends-at='2040-13-01' is not valid"),
        (("on", "--starts-at", "2040-06-02", "--ends-at", "2040-06-01"), "is not before --ends-at"),
        (("on", "--message", "  "), "--message='' is not valid"),
        (("on", "--platform", "mainframe"), "--platform='mainframe' is not valid: expected 'list'"),
        (("on", "--app", "shop; rm -rf /"), "--app='shop; rm -rf /' is not valid"),
        (("on", "--namespace", "Prod_1"), "--namespace='Prod_1' is not valid"),
        (("status", "--write"), "--write goes with on or off only."),
        (("on", "--json"), "--json goes with status or history only."),
        (("status", "--message", "x"), "--message goes with on or off only."),
    ],
)
def test_bad_arguments(args: tuple[str, ...], expected: str) -> None:
    assert expected in fails(*args)


def test_bad_platform_setting_is_one_line(env: Env) -> None:
    env(MAINTENANCE_MODE_PLATFORM="mainframe")
    message = fails("on")
    assert "MAINTENANCE_MODE_PLATFORM='mainframe' is not valid" in message
    # --platform still works, and says which platform it is.
    assert "Platform: shell (--platform)." in run("on", "--platform", "shell")


def test_bad_value_exits_non_zero_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "maintenance"
    config.mkdir()
    result = manage(
        "on", "--write", "--ends-at", "soon", env={"MAINTENANCE_MODE_CONFIG_PATH": str(config)}
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: --ends-at='soon' is not valid: expected an ISO 8601 datetime such as "
        "2040-06-01T02:00:00Z."
    ]
    assert list(config.iterdir()) == []


def test_bad_action_exits_non_zero_with_one_line() -> None:
    result = manage("maybe")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'maybe'" in result.stderr


# --- --write ----------------------------------------------------------------------------


def test_write_into_a_directory(tmp_path: Path, env: Env) -> None:
    config = tmp_path / "maintenance"
    config.mkdir()
    (config / "MAINTENANCE_MODE_EXCEPT_IPS").write_text("10.0.0.0/8\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    out = run("on", "--write", "--message", "Back at 4")
    assert (config / "MAINTENANCE_MODE").read_text() == "on\n"
    assert (config / "MAINTENANCE_MODE_MESSAGE").read_text() == "Back at 4\n"
    assert (config / "MAINTENANCE_MODE_EXCEPT_IPS").read_text() == "10.0.0.0/8\n"
    assert sorted(p.name for p in config.iterdir()) == [
        "MAINTENANCE_MODE",
        "MAINTENANCE_MODE_EXCEPT_IPS",
        "MAINTENANCE_MODE_MESSAGE",
    ]
    lines = out.splitlines()
    # The switch is written last, after its message.
    assert (
        lines[0]
        == f"MAINTENANCE_MODE_MESSAGE=Back at 4 written to {config}/MAINTENANCE_MODE_MESSAGE"
    )
    assert lines[1] == f"MAINTENANCE_MODE=on written to {config}/MAINTENANCE_MODE"
    assert lines[2].startswith(
        "Maintenance is now active here (MAINTENANCE_MODE is on, from "
        "the config file); running servers pick it up within 1 s"
    )
    run("off", "--write")
    assert (config / "MAINTENANCE_MODE").read_text() == "off\n"  # written, not deleted


def test_off_is_written_so_the_environment_cannot_win(tmp_path: Path, env: Env) -> None:
    config = tmp_path / "maintenance"
    config.mkdir()
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_CONFIG_PATH=str(config))
    out = run("off", "--write")
    assert (
        "Maintenance is now not active here (MAINTENANCE_MODE is off, from the config file)" in out
    )
    report = json.loads(run("status", "--json"))
    assert report["active"] is False
    assert report["variables"]["MAINTENANCE_MODE"] == {"value": False, "origin": "config file"}


def test_write_into_a_kubelet_style_directory(volume: ConfigMapVolume, env: Env) -> None:
    volume.update({"MAINTENANCE_MODE": "off", "MAINTENANCE_MODE_MESSAGE": "kept"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    run("on", "--write")
    assert (volume.root / "MAINTENANCE_MODE").read_text() == "on\n"
    assert (volume.root / "MAINTENANCE_MODE_MESSAGE").read_text() == "kept"


@pytest.mark.usefixtures("frozen_clock")
def test_write_into_a_dotenv_file_keeps_other_lines(tmp_path: Path, env: Env) -> None:
    dotenv = tmp_path / "maintenance.env"
    original = (
        "# maintenance switches\n"
        "export MAINTENANCE_MODE=off\n"
        "\n"
        "MAINTENANCE_MODE_EXCEPT_IPS='10.0.0.0/8, 192.168.0.1'\n"
        "OTHER_APP_SETTING=1\n"
    )
    dotenv.write_text(original)
    dotenv.chmod(0o640)
    inode = dotenv.stat().st_ino
    env(MAINTENANCE_MODE_CONFIG_PATH=str(dotenv))
    out = run("on", "--write")
    # Replaced by rename: the new file was made while the old one still existed.
    assert dotenv.stat().st_ino != inode
    out += run("on", "--write", "--ends-at", "2040-06-01T04:00:00Z")
    assert dotenv.read_text() == (
        "# maintenance switches\n"
        "export MAINTENANCE_MODE=on\n"
        "\n"
        "MAINTENANCE_MODE_EXCEPT_IPS='10.0.0.0/8, 192.168.0.1'\n"
        "OTHER_APP_SETTING=1\n"
        "MAINTENANCE_MODE_ENDS_AT=2040-06-01T04:00:00Z\n"
    )
    # The mode is kept, and no temporary file is left behind.
    assert dotenv.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maintenance.env"]
    assert f"MAINTENANCE_MODE=on written to {dotenv}" in out


def test_write_without_a_config_path_fails() -> None:
    message = fails("on", "--write")
    assert message.startswith("Nothing to write to: MAINTENANCE_MODE_CONFIG_PATH is not set")


def test_write_to_a_missing_path_fails_and_creates_nothing(tmp_path: Path, env: Env) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path / "nowhere"))
    assert "does not exist" in fails("on", "--write")
    assert list(tmp_path.iterdir()) == []


def test_write_to_a_device_is_refused(env: Env) -> None:
    """Never a rename over /dev/null, even as root."""
    env(MAINTENANCE_MODE_CONFIG_PATH=os.devnull)
    assert "is neither a directory nor a regular file" in fails("on", "--write")
    assert not Path(os.devnull).is_file()


def test_write_to_an_unwritable_directory_fails(tmp_path: Path, env: Env) -> None:
    if os.geteuid() == 0:
        # root may write anywhere a mode allows nobody to; /proc refuses new files even to root.
        target = Path("/proc/self")
        if not target.is_dir():
            pytest.skip("no /proc on this system, and root ignores file modes")
    else:
        target = tmp_path / "locked"
        target.mkdir()
        target.chmod(0o555)
    env(MAINTENANCE_MODE_CONFIG_PATH=str(target))
    message = fails("on", "--write")
    assert "nothing written" in message
    assert not (target / "MAINTENANCE_MODE").exists()


def test_bad_option_with_write_writes_nothing(tmp_path: Path, env: Env) -> None:
    config = tmp_path / "maintenance"
    config.mkdir()
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    fails("on", "--write", "--message", "ok", "--starts-at", "never")
    assert list(config.iterdir()) == []


# --- status -----------------------------------------------------------------------------


def test_status_defaults() -> None:
    out = run("status")
    assert out.startswith("Maintenance is not active: MAINTENANCE_MODE is off, from the default.\n")
    assert "Mounted config: none (MAINTENANCE_MODE_CONFIG_PATH is not set)" in out
    assert "Platform: shell (no platform marker found)" in out
    assert "  MAINTENANCE_MODE_STATUS_CODE           default      503\n" in out


def test_status_names_every_origin(tmp_path: Path, env: Env) -> None:
    config = tmp_path / "maintenance"
    config.mkdir()
    (config / "MAINTENANCE_MODE").write_text("on\n")
    env(
        MAINTENANCE_MODE_CONFIG_PATH=str(config),
        MAINTENANCE_MODE_STATUS_CODE="502",
        MAINTENANCE_MODE_BYPASS_SECRET="a-very-long-bypass-secret",
    )
    with override_settings(
        MAINTENANCE_MODE_MESSAGE="From settings",
        MAINTENANCE_MODE_EXCEPT_URLS=["^/api/", "^/static/"],
    ):
        report = json.loads(run("status", "--json"))
        text = run("status")
    variables = report["variables"]
    assert list(variables) == list(VARIABLES)
    assert variables["MAINTENANCE_MODE"] == {"value": True, "origin": "config file"}
    assert variables["MAINTENANCE_MODE_STATUS_CODE"] == {"value": 502, "origin": "environment"}
    assert variables["MAINTENANCE_MODE_MESSAGE"] == {"value": "From settings", "origin": "settings"}
    assert variables["MAINTENANCE_MODE_EXCEPT_URLS"]["value"] == ["^/api/", "^/static/"]
    assert variables["MAINTENANCE_MODE_RETRY_AFTER"] == {"value": None, "origin": "default"}
    assert variables["MAINTENANCE_MODE_BYPASS_SECRET"] == {"value": "***", "origin": "environment"}
    assert report["active"] is True
    assert report["reason"] == "MAINTENANCE_MODE is on, from the config file"
    assert report["retry_after"] == 3600
    assert report["window"] is None
    assert report["config_path"] == str(config)
    assert report["config_error"] is None
    assert report["problems"] == []
    for output in (json.dumps(report), text):
        assert "a-very-long-bypass-secret" not in output
    assert text.startswith("Maintenance is ACTIVE: MAINTENANCE_MODE is on, from the config file.\n")
    assert "  MAINTENANCE_MODE_BYPASS_SECRET         environment  ***\n" in text
    assert "  MAINTENANCE_MODE_MESSAGE               settings     From settings\n" in text


def test_status_shows_the_next_window(env: Env) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    starts = now + dt.timedelta(hours=2)
    ends = now + dt.timedelta(hours=4)
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_STARTS_AT=starts.isoformat(),
        MAINTENANCE_MODE_ENDS_AT=ends.isoformat(),
    )
    report = json.loads(run("status", "--json"))
    iso = {m: m.isoformat().replace("+00:00", "Z") for m in (starts, ends)}
    assert report["active"] is False
    assert report["window"] == {"starts_at": iso[starts], "ends_at": iso[ends], "when": "upcoming"}
    assert report["reason"] == (
        f"MAINTENANCE_MODE is on, from the environment, but the window starts at {iso[starts]}"
    )
    assert report["retry_after"] is None
    assert f"Window: {iso[starts]} to {iso[ends]} (upcoming)" in run("status")


def test_status_in_a_current_window(env: Env) -> None:
    ends = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    env(MAINTENANCE_MODE="yes", MAINTENANCE_MODE_ENDS_AT=ends.isoformat())
    report = json.loads(run("status", "--json"))
    assert report["active"] is True
    assert report["window"]["when"] == "current"
    assert report["window"]["starts_at"] is None
    assert 0 < report["retry_after"] <= 3600
    assert report["reason"].startswith("MAINTENANCE_MODE is on, from the environment until ")


def test_status_after_the_window(env: Env) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_ENDS_AT="2020-01-01T00:00:00Z")
    report = json.loads(run("status", "--json"))
    assert report["active"] is False
    assert report["window"]["when"] == "past"
    assert report["reason"].endswith("but the window ended at 2020-01-01T00:00:00Z")


def test_status_reports_problems_instead_of_failing(env: Env, tmp_path: Path) -> None:
    env(
        MAINTENANCE_MODE="maybe",
        MAINTENANCE_MODE_PLATFORM="mainframe",
        MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path / "gone"),
    )
    report = json.loads(run("status", "--json"))
    assert report["active"] is False
    problems = " ".join(report["problems"])
    assert "MAINTENANCE_MODE='maybe' is not valid" in problems
    assert report["platform"]["name"] is None
    assert "MAINTENANCE_MODE_PLATFORM='mainframe'" in report["platform"]["reason"]
    assert report["config_error"] == "does not exist"
    assert "Problem: MAINTENANCE_MODE='maybe' is not valid" in run("status")


def test_status_runs_as_a_process() -> None:
    result = manage("status", "--json", env={"MAINTENANCE_MODE": "on"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["active"] is True


# --- the docs show the command's real output --------------------------------------------

# The pages that show `maintenance_mode ... --platform NAME` with its output, and the README.
EXAMPLE_PAGES = ("docs/command.md", "docs/platforms.md", "README.md")


def docs_examples() -> list[tuple[str, list[str], str]]:
    """(shell line, its words, the output printed under it) for every ``maintenance_mode``
    example in the docs and the README that names its platform."""
    examples = []
    for page in EXAMPLE_PAGES:
        text = (ROOT / page).read_text()
        for block in re.split(r"```(?:console|text)\n", text)[1:]:
            lines = block.split("\n```", 1)[0].splitlines()
            starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
            for n, i in enumerate(starts):
                if "maintenance_mode" not in lines[i] or "--platform" not in lines[i]:
                    continue
                words = shlex.split(lines[i][2:])
                end = starts[n + 1] if n + 1 < len(starts) else len(lines)
                output = "\n".join(lines[i + 1 : end]).strip("\n")
                if "--platform" in words and "list" not in words:
                    examples.append((lines[i], words, output))
    return examples


def test_docs_have_an_example_for_every_platform() -> None:
    shown = {words[words.index("--platform") + 1] for _, words, _ in docs_examples()}
    assert shown == set(platforms.NAMES)


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize(
    ("line", "words", "output"), docs_examples(), ids=[e[0][2:60] for e in docs_examples()]
)
def test_docs_example_output_is_real(line: str, words: list[str], output: str, env: Env) -> None:
    assignments = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        assignments[name] = value
    assert words[:3] == ["python", "manage.py", "maintenance_mode"], line
    env(**assignments)
    assert run(*words[3:]).strip("\n") == output


def test_status_says_what_an_unset_retry_after_means(env: Callable[..., None]) -> None:
    line = next(x for x in run("status").splitlines() if "MAINTENANCE_MODE_RETRY_AFTER" in x)
    assert line.split()[-1] == "(3600)"
    env(MAINTENANCE_MODE_ENDS_AT="2999-01-01T00:00:00Z")
    line = next(x for x in run("status").splitlines() if "MAINTENANCE_MODE_RETRY_AFTER" in x)
    assert line.endswith("(the seconds left until ENDS_AT)")


# --- is-active: the shell check -----------------------------------------------------------


def test_is_active_exits_0_when_active_and_1_when_not(env: Env, tmp_path: Path) -> None:
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("maintenance_mode", "is-active", stdout=out, stderr=err)
    assert info.value.code == 1
    env(MAINTENANCE_MODE="on")
    call_command("maintenance_mode", "is-active", stdout=out, stderr=err)  # returns: exit 0
    # The mounted config counts: an off written there wins over the environment.
    config = tmp_path / "maintenance"
    config.mkdir()
    (config / "MAINTENANCE_MODE").write_text("off\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    with pytest.raises(SystemExit):
        call_command("maintenance_mode", "is-active", stdout=out, stderr=err)
    assert out.getvalue() == err.getvalue() == ""


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_is_active_as_a_process(tmp_path: Path) -> None:
    config = tmp_path / "maintenance"
    config.mkdir()
    (config / "MAINTENANCE_MODE").write_text("on\n")
    active = manage("is-active", env={"MAINTENANCE_MODE_CONFIG_PATH": str(config)})
    assert (active.returncode, active.stdout, active.stderr) == (0, "", "")
    inactive = manage("is-active")
    assert (inactive.returncode, inactive.stdout, inactive.stderr) == (1, "", "")
    past = manage(
        "is-active",
        env={"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_ENDS_AT": "2020-01-01T00:00:00Z"},
    )
    assert past.returncode == 1


def test_is_active_takes_no_plan_options() -> None:
    assert "--message goes with on or off only." in fails("is-active", "--message", "x")
    assert "--write goes with on or off only." in fails("is-active", "--write")


# --- the shared store in the printed plans ------------------------------------------------


def test_plans_lead_with_the_store_when_it_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run("on", "--platform", "heroku", "--app", "shop")
    assert "# No restart with the shared store: set MAINTENANCE_MODE_CACHE" in out
    monkeypatch.setenv("MAINTENANCE_MODE_CACHE", "redis://cache.internal:6379/0")
    out = run("on", "--platform", "heroku", "--app", "shop", "--message", "Back soon")
    lines = out.splitlines()
    assert lines[1].startswith("# No restart, through the shared store (MAINTENANCE_MODE_CACHE)")
    assert (
        "heroku run --app shop 'python manage.py maintenance_mode on --write --message '\"'\"'Back soon'\"'\"''"
        in lines
    )
    assert out.index("heroku run") < out.index("heroku config:set")
    assert "No restart-free route" not in out


def test_store_configured_reads_the_environment_then_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from maintenance_env.management.plans import store_configured

    assert not store_configured({})
    assert store_configured({"MAINTENANCE_MODE_CACHE": "default"})
    assert not store_configured({"MAINTENANCE_MODE_CACHE": "  "})
    with override_settings(MAINTENANCE_MODE_CACHE="redis://cache:6379/0"):
        assert store_configured({})
        assert not store_configured({"MAINTENANCE_MODE_CACHE": ""})  # the environment wins


def test_unprintable_value_is_one_line_and_prints_nothing() -> None:
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "maintenance_mode",
            "on",
            "--platform",
            "ecs",
            "--message",
            "a\rb",
            stdout=out,
            stderr=StringIO(),
        )
    assert out.getvalue() == ""
    assert str(info.value).endswith("Nothing printed for ecs.")


# --- found by trying it as a new user -------------------------------------------------------


def test_a_value_too_large_for_the_directory_form_is_refused_before_writing(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    with pytest.raises(CommandError, match="read only up to 65536 bytes"):
        call_command("maintenance_mode", "on", "--write", "--message", "x" * 70_000)
    assert list(config.iterdir()) == []


def test_an_ends_at_in_the_past_is_refused(tmp_path: Path, env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    with pytest.raises(CommandError, match="is in the past: maintenance would never be active"):
        call_command("maintenance_mode", "on", "--write", "--ends-at", "2020-01-01T00:00:00Z")
    assert list(tmp_path.iterdir()) == []


def test_on_that_leaves_the_site_up_says_why(tmp_path: Path, env: Callable[..., None]) -> None:
    (tmp_path / "MAINTENANCE_MODE_ENDS_AT").write_text("2020-01-01T00:00:00Z\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path))
    err = StringIO()
    call_command("maintenance_mode", "on", "--write", stdout=StringIO(), stderr=err)
    assert "the window ended at 2020-01-01T00:00:00+00:00: maintenance is not active" in (
        err.getvalue()
    )


def test_is_active_cannot_tell_with_a_bad_value(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="treu")
    with pytest.raises(CommandError, match="Cannot tell: MAINTENANCE_MODE='treu'") as raised:
        call_command("maintenance_mode", "is-active")
    assert raised.value.returncode == 2


def test_is_active_cannot_tell_when_the_store_cannot_be_read(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_CACHE="redis://:pw@127.0.0.1:1/0", MAINTENANCE_MODE="off")
    with pytest.raises(CommandError, match="Cannot tell: the shared store") as raised:
        call_command("maintenance_mode", "is-active")
    assert raised.value.returncode == 2
    assert "pw@" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAINTENANCE_MODE_BYPASS_COOKIE_AGE", "999999999999"),
        ("MAINTENANCE_MODE_RETRY_AFTER", "99999999999999999999999"),
        ("MAINTENANCE_MODE_REDIRECT_URL", "//evil.example/"),
        ("MAINTENANCE_MODE_REDIRECT_URL", "/\\evil.example/"),
    ],
)
def test_values_that_would_misbehave_later_are_configuration_errors(
    env: Callable[..., None], name: str, value: str
) -> None:
    env(**{name: value})
    from maintenance_env.checks import check_configuration

    ids = [m.id for m in check_configuration()]
    assert f"maintenance_env.{VARIABLES[name].check_id}" in ids
