"""Faults in the mounted config: the site keeps answering, logs once per change, recovers.

Each test serves many requests through the real middleware while the config is broken in
one way, with ``MAINTENANCE_MODE_RELOAD_INTERVAL=0`` so that every request polls. It then
checks three things: every request got the last good state or the documented fallback
(a mounted config that cannot be read counts as absent, so the environment decides), the
number of log records did not grow with the number of requests, and repairing the config
brings the site back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from maintenance_env import live, middleware, policy, responses, runtime, sources, variables
from maintenance_env.middleware import MaintenanceModeMiddleware
from maintenance_env.sources import mounted as mounted_source
from tests.conftest import ok_view
from tests.kubelet import ConfigMapVolume

#: Requests served while each fault is in place: far more than the records allowed.
REQUESTS_PER_FAULT = 60

LOGGER = "maintenance_env"


class Site:
    """The middleware around a plain view, polled on every request."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.factory = RequestFactory()
        self.middleware = MaintenanceModeMiddleware(ok_view)

    def get(self, path: str = "/") -> HttpResponse:
        response: HttpResponse = self.middleware(self.factory.get(path))
        return response

    def statuses(self, count: int = REQUESTS_PER_FAULT) -> set[int]:
        return {self.get().status_code for _ in range(count)}

    def records(self) -> list[logging.LogRecord]:
        return [r for r in self.caplog.records if r.name == LOGGER]

    def serve_while(self, change: Callable[[], object]) -> tuple[set[int], list[logging.LogRecord]]:
        """Apply ``change``, serve many requests, return the statuses and the new records."""
        before = len(self.records())
        change()
        statuses = self.statuses()
        return statuses, self.records()[before:]


@pytest.fixture
def site_at(env: Callable[..., None], caplog: pytest.LogCaptureFixture) -> Callable[..., Site]:
    """``site_at(path, **environment)``: a site reading its mounted config from ``path``."""
    caplog.set_level(logging.INFO, LOGGER)

    def build(path: Path | str, **environment: str) -> Site:
        env(
            MAINTENANCE_MODE_CONFIG_PATH=str(path),
            MAINTENANCE_MODE_RELOAD_INTERVAL="0",
            **environment,
        )
        return Site(caplog)

    return build


def levels(records: list[logging.LogRecord]) -> list[str]:
    return [r.levelname for r in records]


# --- half-written values ----------------------------------------------------------------


def test_truncated_values_in_a_directory_keep_the_last_good_state(
    volume: ConfigMapVolume, site_at: Callable[..., Site]
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_ENDS_AT": "2099-12-01T02:00:00Z"})
    site = site_at(volume.root)
    assert site.statuses() == {503}

    def half_written() -> None:
        # A writer that died mid-way, writing straight into the files (not the kubelet way).
        (volume.root / "..data" / "MAINTENANCE_MODE").write_text("of")
        (volume.root / "..data" / "MAINTENANCE_MODE_ENDS_AT").write_text("2099-12-01T0")

    statuses, records = site.serve_while(half_written)
    assert statuses == {503}  # the last good "on" and window stay
    assert levels(records) == ["ERROR", "ERROR"]  # one per bad variable, not per request
    messages = " ".join(r.getMessage() for r in records)
    assert "MAINTENANCE_MODE='of'" in messages
    assert "MAINTENANCE_MODE_ENDS_AT='2099-12-01T0'" in messages
    state = runtime.get_state()
    assert state.config.ends_at == dt.datetime(2099, 12, 1, 2, tzinfo=dt.timezone.utc)

    statuses, records = site.serve_while(
        lambda: volume.update(
            {"MAINTENANCE_MODE": "off", "MAINTENANCE_MODE_ENDS_AT": "2099-12-01T02:00:00Z"}
        )
    )
    assert statuses == {200}
    assert levels(records) == ["INFO"]  # "configuration changed", once


def test_half_written_dotenv_keeps_the_last_good_state(
    tmp_path: Path, site_at: Callable[..., Site]
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\nMAINTENANCE_MODE_STATUS_CODE=503\n")
    site = site_at(path)
    assert site.statuses() == {503}

    # Cut off in the middle of the second line: "50" is not a status code.
    statuses, records = site.serve_while(
        lambda: path.write_text("MAINTENANCE_MODE=on\nMAINTENANCE_MODE_STATUS_CODE=50")
    )
    assert statuses == {503}
    assert levels(records) == ["ERROR"]
    assert "MAINTENANCE_MODE_STATUS_CODE='50'" in records[0].getMessage()

    # Cut off before the first "=": the key is not there at all, so the environment
    # (MAINTENANCE_MODE unset here: off) decides, as for any key missing from the file.
    statuses, records = site.serve_while(lambda: path.write_text("MAINTENANCE_MO"))
    assert statuses == {200}
    assert levels(records) == ["INFO"]

    statuses, records = site.serve_while(lambda: path.write_text("MAINTENANCE_MODE=yes\n"))
    assert statuses == {503}
    assert levels(records) == ["INFO"]


# --- bad encodings ----------------------------------------------------------------------


def test_non_utf8_value_in_a_directory_keeps_the_last_good_value(
    volume: ConfigMapVolume, site_at: Callable[..., Site]
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "Back soon"})
    site = site_at(volume.root)
    assert site.statuses() == {503}

    statuses, records = site.serve_while(
        lambda: (volume.root / "..data" / "MAINTENANCE_MODE_MESSAGE").write_bytes(
            b"Bient\xf4t de retour"
        )
    )  # Latin-1, not UTF-8
    assert statuses == {503}
    assert levels(records) == ["ERROR"]
    assert "MAINTENANCE_MODE_MESSAGE" in records[0].getMessage()
    assert runtime.get_state().config.message == "Back soon"
    assert b"Back soon" in site.get().content

    statuses, records = site.serve_while(
        lambda: volume.update(
            {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "Bientôt de retour"}
        )
    )
    assert statuses == {503}
    assert "Bientôt de retour" in site.get().content.decode()


def test_non_utf8_dotenv_counts_as_absent_until_repaired(
    tmp_path: Path, site_at: Callable[..., Site]
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")
    site = site_at(path, MAINTENANCE_MODE="on")  # the environment says on, the file off
    assert site.statuses() == {200}

    statuses, records = site.serve_while(
        lambda: path.write_bytes(b"MAINTENANCE_MODE=off\nMAINTENANCE_MODE_MESSAGE=\xff\xfe\n")
    )
    assert statuses == {503}  # the file is ignored as a whole: the environment's "on" decides
    assert [r.levelname for r in records if r.levelno >= logging.WARNING] == ["ERROR"]
    assert "not UTF-8" in records[0].getMessage()

    statuses, records = site.serve_while(lambda: path.write_text("MAINTENANCE_MODE=off\n"))
    assert statuses == {200}
    assert "readable again" in " ".join(r.getMessage() for r in records)
    assert len(records) == 2  # "readable again" and "configuration changed"


# --- permission denied ------------------------------------------------------------------


def _permission_scenario(root: str) -> dict[str, object]:
    """Break and repair read permission on a config directory; report what was seen.

    Runs as an unprivileged user (root reads files whatever their mode), so it collects
    its own log records instead of relying on pytest's capture.
    """
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(logging.INFO)
    logger = logging.getLogger(LOGGER)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        file = os.path.join(root, "MAINTENANCE_MODE")
        environ = {"MAINTENANCE_MODE_CONFIG_PATH": root, "MAINTENANCE_MODE_RELOAD_INTERVAL": "0"}
        runtime = live.Runtime(environ, check_template=False)
        seen: dict[str, object] = {"start": runtime.state().enabled}

        def phase(name: str, change: Callable[[], None]) -> None:
            before = len(records)
            change()
            seen[name] = sorted({runtime.state().enabled for _ in range(REQUESTS_PER_FAULT)})
            seen[name + "_logs"] = [(r.levelname, r.getMessage()) for r in records[before:]]

        phase("file_denied", lambda: os.chmod(file, 0))
        phase("file_repaired", lambda: os.chmod(file, 0o644))
        phase("dir_denied", lambda: os.chmod(root, 0))
        phase("dir_repaired", lambda: os.chmod(root, 0o755))
        return seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _as_nobody(function: Callable[[str], dict[str, object]], root: str) -> dict[str, object]:
    """Run ``function(root)`` in a forked child that has dropped to uid/gid 65534."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            try:
                os.setgid(65534)
                os.setuid(65534)
            except PermissionError as exc:  # root without CAP_SETUID (a rootless container)
                payload = json.dumps({"skip": f"cannot drop root privileges: {exc}"})
            else:
                payload = json.dumps({"ok": function(root)})
        except BaseException:
            payload = json.dumps({"error": traceback.format_exc()})
            code = 1
        with os.fdopen(write_end, "w") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as incoming:
        data = incoming.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result.get("error")
    if "skip" in result:
        pytest.skip("running as root, where chmod 000 does not deny reads, and " + result["skip"])
    ok: dict[str, object] = result["ok"]
    return ok


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permission_denied_counts_as_absent_and_recovers() -> None:
    # Not under pytest's tmp_path: that is private to the user running the tests, and as
    # root the scenario runs as "nobody", who must be able to reach the directory.
    root = tempfile.mkdtemp(prefix="maintenance-perm-")
    try:
        os.chmod(root, 0o755)
        with open(os.path.join(root, "MAINTENANCE_MODE"), "w") as handle:
            handle.write("on\n")
        os.chmod(os.path.join(root, "MAINTENANCE_MODE"), 0o644)
        if os.geteuid() == 0:
            # chmod 000 does not stop root: provoke a real EACCES as an unprivileged user,
            # who owns the config so that it can take its own permissions away.
            for owned in (root, os.path.join(root, "MAINTENANCE_MODE")):
                os.chown(owned, 65534, 65534)
            seen = _as_nobody(_permission_scenario, root)
        else:
            seen = _permission_scenario(root)
    finally:
        os.chmod(root, 0o755)
        shutil.rmtree(root, ignore_errors=True)

    assert seen["start"] is True
    # Unreadable: the source counts as absent, the environment (unset: off) decides.
    assert seen["file_denied"] == [False]
    assert seen["dir_denied"] == [False]
    for phase in ("file_denied", "dir_denied"):
        logs = seen[phase + "_logs"]
        assert isinstance(logs, list)
        errors = [message for level, message in logs if level == "ERROR"]
        assert len(errors) == 1, logs  # once, not once per request
        assert "Permission denied" in errors[0]
    assert seen["file_repaired"] == [True]
    assert seen["dir_repaired"] == [True]
    for phase in ("file_repaired", "dir_repaired"):
        logs = seen[phase + "_logs"]
        assert isinstance(logs, list)
        assert [level for level, _ in logs] == ["WARNING", "INFO"]  # readable again; changed


# --- the directory deleted and recreated, symlink loops, a file replaced by a directory --


def test_directory_deleted_and_recreated(
    volume: ConfigMapVolume, site_at: Callable[..., Site]
) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    site = site_at(volume.root)
    assert site.statuses() == {503}

    statuses, records = site.serve_while(lambda: shutil.rmtree(volume.root))
    assert statuses == {200}  # absent: the environment (unset: off) decides
    errors = [r for r in records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "does not exist" in errors[0].getMessage()

    statuses, records = site.serve_while(
        lambda: ConfigMapVolume(volume.root, {"MAINTENANCE_MODE": "on"})
    )
    assert statuses == {503}
    assert levels(records) == ["WARNING", "INFO"]


def test_deleted_directory_with_environment_on_keeps_maintenance_on(
    volume: ConfigMapVolume, site_at: Callable[..., Site]
) -> None:
    """The environment is the documented fallback: with it on, losing the volume stays safe."""
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "from the volume"})
    site = site_at(volume.root, MAINTENANCE_MODE="on")
    statuses, records = site.serve_while(lambda: shutil.rmtree(volume.root))
    assert statuses == {503}
    assert b"from the volume" not in site.get().content
    assert len([r for r in records if r.levelno == logging.ERROR]) == 1


def test_symlink_loop_as_the_config_path(tmp_path: Path, site_at: Callable[..., Site]) -> None:
    path = tmp_path / "config"
    path.mkdir()
    (path / "MAINTENANCE_MODE").write_text("on")
    site = site_at(path)
    assert site.statuses() == {503}

    def make_loop() -> None:
        shutil.rmtree(path)
        os.symlink(tmp_path / "other", path)
        os.symlink(path, tmp_path / "other")

    statuses, records = site.serve_while(make_loop)
    assert statuses == {200}
    errors = [r for r in records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "symbolic links" in errors[0].getMessage()

    def repair() -> None:
        os.unlink(path)
        path.mkdir()
        (path / "MAINTENANCE_MODE").write_text("on")

    statuses, records = site.serve_while(repair)
    assert statuses == {503}
    assert levels(records) == ["WARNING", "INFO"]


def test_symlink_loop_for_one_key(volume: ConfigMapVolume, site_at: Callable[..., Site]) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_STATUS_CODE": "502"})
    site = site_at(volume.root)
    assert site.statuses() == {502}

    def loop() -> None:
        os.unlink(volume.root / "MAINTENANCE_MODE_STATUS_CODE")
        os.symlink("MAINTENANCE_MODE_STATUS_CODE", volume.root / "MAINTENANCE_MODE_STATUS_CODE")

    statuses, records = site.serve_while(loop)
    # The key cannot be read: it is absent and its default applies; the switch is unharmed.
    assert statuses == {503}
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # said once, not once per request
    assert "MAINTENANCE_MODE_STATUS_CODE (a symbolic link loop)" in warnings[0]
    assert len(records) <= 2  # and "configuration changed"

    def repair() -> None:
        os.unlink(volume.root / "MAINTENANCE_MODE_STATUS_CODE")
        os.symlink(
            "..data/MAINTENANCE_MODE_STATUS_CODE", volume.root / "MAINTENANCE_MODE_STATUS_CODE"
        )

    statuses, records = site.serve_while(repair)
    assert statuses == {502}
    assert levels(records) == ["INFO"]


def test_dotenv_file_replaced_by_a_directory(tmp_path: Path, site_at: Callable[..., Site]) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\n")
    site = site_at(path)
    assert site.statuses() == {503}

    def replace_with_directory() -> None:
        path.unlink()
        path.mkdir()

    # An empty directory is a valid (empty) directory-form config: nothing set there.
    statuses, records = site.serve_while(replace_with_directory)
    assert statuses == {200}
    assert len(records) <= 1

    # ... and a directory holding the key works, since both forms are accepted.
    statuses, _ = site.serve_while(lambda: (path / "MAINTENANCE_MODE").write_text("on"))
    assert statuses == {503}

    def back_to_a_file() -> None:
        shutil.rmtree(path)
        path.write_text("MAINTENANCE_MODE=off\n")

    statuses, records = site.serve_while(back_to_a_file)
    assert statuses == {200}
    assert levels(records) == ["INFO"]


def test_key_file_replaced_by_a_directory(
    volume: ConfigMapVolume, site_at: Callable[..., Site]
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "Back at noon"})
    site = site_at(volume.root)
    assert b"Back at noon" in site.get().content

    def replace() -> None:
        os.unlink(volume.root / "MAINTENANCE_MODE_MESSAGE")
        (volume.root / "MAINTENANCE_MODE_MESSAGE").mkdir()

    statuses, records = site.serve_while(replace)
    assert statuses == {503}
    assert b"Back at noon" not in site.get().content  # absent: the default message
    assert runtime.get_state().config.message == variables.DEFAULT_MESSAGE
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "MAINTENANCE_MODE_MESSAGE (it is not a regular file (a directory))" in warnings[0]
    assert len(records) <= 2  # and "configuration changed"

    def repair() -> None:
        (volume.root / "MAINTENANCE_MODE_MESSAGE").rmdir()
        volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "Back at one"})

    statuses, records = site.serve_while(repair)
    assert statuses == {503}
    assert b"Back at one" in site.get().content


# --- the clock ------------------------------------------------------------------------


class Clock:
    """A wall clock the tests move; ``monotonic`` stays real (poll timing is unaffected)."""

    def __init__(self) -> None:
        self.now = time.time()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = types.SimpleNamespace(time=lambda: self.now, monotonic=time.monotonic)
        for module in (policy, responses):
            monkeypatch.setattr(module, "time", fake)
        monkeypatch.setattr(middleware, "clock", fake.time)


def test_clock_jump_past_ends_at(
    volume: ConfigMapVolume,
    site_at: Callable[..., Site],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    clock.install(monkeypatch)
    start = int(clock.now)
    ends = dt.datetime.fromtimestamp(start + 600, dt.timezone.utc)
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_ENDS_AT": ends.isoformat()})
    site = site_at(volume.root)
    before = len(site.records())

    clock.now = start
    response = site.get()
    assert response.status_code == 503
    assert response["Retry-After"] == "600"
    clock.now = start + 510.5
    assert site.get()["Retry-After"] == "90"  # counts down to ENDS_AT, rounded up

    clock.now = start + 600  # ENDS_AT is exclusive
    assert site.statuses() == {200}
    clock.now = start + 86400 * 365  # a big jump forward (NTP fixing a bad clock)
    assert site.statuses() == {200}
    clock.now = start - 86400  # and backwards: before ENDS_AT again, no STARTS_AT
    assert site.statuses() == {503}
    # Moving the clock is not a configuration change: nothing is logged.
    assert site.records()[before:] == []


def test_clock_jump_across_a_window(
    volume: ConfigMapVolume, site_at: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    clock.install(monkeypatch)
    start = int(clock.now)
    window = {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_STARTS_AT": dt.datetime.fromtimestamp(
            start + 3600, dt.timezone.utc
        ).isoformat(),
        "MAINTENANCE_MODE_ENDS_AT": dt.datetime.fromtimestamp(
            start + 7200, dt.timezone.utc
        ).isoformat(),
    }
    volume.update(window)
    site = site_at(volume.root)
    observed = []
    for offset in (0, 3599, 3600, 5000, 7199, 7200, 10**6, -(10**6), 3600):
        clock.now = start + offset
        observed.append(site.get().status_code)
    assert observed == [200, 200, 503, 503, 503, 200, 200, 200, 503]


# --- a kubelet swap racing a read ------------------------------------------------------

OLD_PAYLOAD = {
    "MAINTENANCE_MODE": "on",
    "MAINTENANCE_MODE_MESSAGE": "old payload",
    "MAINTENANCE_MODE_STATUS_CODE": "503",
}
NEW_PAYLOAD = {
    "MAINTENANCE_MODE": "off",
    "MAINTENANCE_MODE_MESSAGE": "new payload",
    "MAINTENANCE_MODE_STATUS_CODE": "502",
}


def test_a_swap_in_the_middle_of_a_read_never_mixes_two_payloads(
    volume: ConfigMapVolume, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume.update(OLD_PAYLOAD)
    real_read = mounted_source._read_file
    reads: list[str] = []

    def read_then_swap(path: str) -> str | bytes:
        value = real_read(path)
        if not reads:
            # The kubelet swaps ..data (and deletes the old payload) after our first file.
            volume.update(NEW_PAYLOAD)
        reads.append(path)
        return value

    monkeypatch.setattr(mounted_source, "_read_file", read_then_swap)
    snapshot = mounted_source.read_mounted(str(volume.root))
    assert snapshot.error is None
    assert dict(snapshot.values) in (OLD_PAYLOAD, NEW_PAYLOAD)


def test_reads_racing_many_swaps_see_whole_payloads(volume: ConfigMapVolume) -> None:
    volume.update(OLD_PAYLOAD)
    stop = threading.Event()

    def swap() -> None:
        for number in range(100_000):  # bounded; stopped long before
            if stop.is_set():
                return
            volume.update(NEW_PAYLOAD if number % 2 == 0 else OLD_PAYLOAD)

    writer = threading.Thread(target=swap, daemon=True)
    writer.start()
    mixed: list[dict[str, str | bytes]] = []
    errors: list[str] = []
    unsettled = 0
    try:
        for _ in range(3000):
            snapshot = sources.read_mounted(str(volume.root))
            if snapshot.error is not None:
                errors.append(snapshot.error)
            elif not snapshot.settled:
                unsettled += 1  # swapped during every attempt: flagged, never used
            elif dict(snapshot.values) not in (OLD_PAYLOAD, NEW_PAYLOAD):
                mixed.append(dict(snapshot.values))
    finally:
        stop.set()
        writer.join(30)
    assert errors == []
    assert mixed == [], f"{len(mixed)} of 3000 reads mixed two payloads, e.g. {mixed[0]}"
    assert unsettled < 300, f"{unsettled} of 3000 reads never settled"
