"""Shared fixtures: a clean environment, a fresh runtime, and mounted configs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse

from maintenance_env import conf
from tests.kubelet import ConfigMapVolume

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MAINTENANCE_MODE* variable leaks in from the shell or between tests."""
    for name in list(os.environ):
        if name.startswith("MAINTENANCE_MODE"):
            monkeypatch.delenv(name)
    conf.reset()
    yield
    conf.reset()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set environment variables and make the process read them again: ``env(MAINTENANCE_MODE="on")``."""

    def setter(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        conf.reset()

    return setter


@pytest.fixture
def volume(tmp_path: Path) -> ConfigMapVolume:
    """An empty config directory, updated the way the kubelet does it."""
    return ConfigMapVolume(tmp_path / "maintenance", {})


def ok_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


async def async_ok_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
