"""System checks, run through the real check framework (``manage.py check``)."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from maintenance_env.checks import check_configuration
from tests.kubelet import ConfigMapVolume


def run_check() -> str:
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def ids(messages: list) -> list[str]:  # type: ignore[type-arg]
    return [m.id for m in messages]


def test_a_clean_configuration_passes() -> None:
    output = run_check()
    assert "maintenance_env" not in output
    assert check_configuration() == []


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("MAINTENANCE_MODE", "treu", "E001"),
        ("MAINTENANCE_MODE_RELOAD_INTERVAL", "1s", "E003"),
        ("MAINTENANCE_MODE_STARTS_AT", "saturday", "E004"),
        ("MAINTENANCE_MODE_ENDS_AT", "2040-13-01", "E005"),
        ("MAINTENANCE_MODE_STATUS_CODE", "999", "E007"),
        ("MAINTENANCE_MODE_RETRY_AFTER", "-5", "E008"),
        ("MAINTENANCE_MODE_TEMPLATE", "nowhere/to_be_found.html", "E009"),
        ("MAINTENANCE_MODE_REDIRECT_URL", "javascript:alert(1)", "E011"),
        ("MAINTENANCE_MODE_EXCEPT_URLS", "^/admin/(", "E012"),
        ("MAINTENANCE_MODE_HEALTH_PATHS", "healthz", "E013"),
        ("MAINTENANCE_MODE_EXCEPT_IPS", "10.0.0.*", "E014"),
        ("MAINTENANCE_MODE_TRUSTED_PROXIES", "two", "E015"),
        ("MAINTENANCE_MODE_EXCEPT_STAFF", "staff", "E016"),
        ("MAINTENANCE_MODE_EXCEPT_SUPERUSER", "2", "E017"),
        ("MAINTENANCE_MODE_EXCEPT_AUTHENTICATED", "y", "E018"),
        ("MAINTENANCE_MODE_BYPASS_COOKIE_AGE", "0", "E020"),
        ("MAINTENANCE_MODE_PLATFORM", "heroku2", "E021"),
    ],
)
def test_each_bad_value_fails_the_check_naming_variable_and_value(
    name: str, value: str, check_id: str, env: Callable[..., None]
) -> None:
    env(**{name: value})
    with pytest.raises(SystemCheckError) as info:
        run_check()
    text = str(info.value)
    assert f"(maintenance_env.{check_id})" in text
    assert f"{name}={value!r}" in text
    assert "HINT:" in text


def test_bad_settings_value_too() -> None:
    with override_settings(MAINTENANCE_MODE="Flase"), pytest.raises(SystemCheckError, match="E001"):
        run_check()


def test_schedule_in_wrong_order(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE_STARTS_AT="2030-01-02T00:00Z", MAINTENANCE_MODE_ENDS_AT="2030-01-01T00:00Z"
    )
    with pytest.raises(SystemCheckError, match=r"maintenance_env\.E006.*not before"):
        run_check()


def test_user_exemption_before_auth_middleware_warns() -> None:
    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "maintenance_env.middleware.MaintenanceModeMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    with override_settings(MIDDLEWARE=middleware, MAINTENANCE_MODE_EXCEPT_STAFF=True):
        assert ids(check_configuration()) == ["maintenance_env.W001"]
        assert "maintenance_env.W001" in run_check()
    with override_settings(MAINTENANCE_MODE_EXCEPT_STAFF=True):
        assert check_configuration() == []


def test_short_bypass_secret_warns_without_showing_it() -> None:
    with override_settings(MAINTENANCE_MODE_BYPASS_SECRET="letmein"):
        (message,) = check_configuration()
    assert message.id == "maintenance_env.W002"
    assert "letmein" not in message.msg + (message.hint or "")


def test_missing_config_path_warns(env: Callable[..., None], tmp_path: Path) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(tmp_path / "not-mounted"))
    assert ids(check_configuration()) == ["maintenance_env.W003"]


def test_incumbent_settings_point_to_their_names_here(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_IGNORE_STAFF="true")
    with override_settings(
        MAINTENANCE_MODE_IGNORE_IP_ADDRESSES=("10.0.0.1",),
        MAINTENANCE_MODE_STATE_FILE_PATH="/tmp/state.txt",
    ):
        messages = check_configuration()
    assert ids(messages) == ["maintenance_env.W004"] * 3
    hints = " ".join(m.hint or "" for m in messages)
    assert "MAINTENANCE_MODE_EXCEPT_STAFF" in hints
    assert "MAINTENANCE_MODE_EXCEPT_IPS" in hints
    assert "MAINTENANCE_MODE_CONFIG_PATH" in hints


def test_middleware_missing_warns() -> None:
    with override_settings(MIDDLEWARE=[]):
        assert ids(check_configuration()) == ["maintenance_env.W005"]


def test_unknown_names_warn(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_EXEMPT_IPS="10.0.0.1")
    (message,) = check_configuration()
    assert message.id == "maintenance_env.W006"
    assert "MAINTENANCE_MODE_EXEMPT_IPS" in message.msg


def test_bad_mounted_value_is_a_warning_not_an_error(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "perhaps"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    (message,) = check_configuration()
    assert message.id == "maintenance_env.W007"
    assert "MAINTENANCE_MODE='perhaps'" in message.msg
    run_check()  # warnings do not fail the check
