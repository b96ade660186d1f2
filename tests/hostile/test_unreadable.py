"""Reading the mounted config never blocks a worker, never fills its memory, and never logs
in proportion to the size of the config.

What counts as "cannot be read": anything but a regular file (a FIFO, a socket, a device
such as ``/dev/zero``, a directory where a file is expected) and a file larger than
``MAX_FILE_BYTES``. Every read here runs under a bound: a reader that blocks fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from maintenance_env import live, variables
from maintenance_env.sources import (
    MAX_FILE_BYTES,
    MountedConfig,
    NotReadable,
    read_mounted,
    read_regular_file,
    write_value,
)
from maintenance_env.sources import mounted as mounted_source
from tests import servers
from tests.kubelet import ConfigMapVolume

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, sockets, devices")

T = TypeVar("T")
#: Seconds a read may take before it counts as blocked (a bound, not a timing assertion).
BOUND = 20.0
LOGGER = "maintenance_env"


def bounded(function: Callable[[], T]) -> T:
    """``function()`` in a daemon thread; fails the test if it has not returned in BOUND s."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(function())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), f"blocked for {BOUND:g} s"
    if errors:
        raise errors[0]
    return result[0]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (a Unix socket's path is limited to ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="me-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the socket file stays


def make_directory(path: Path) -> None:
    path.mkdir()


def make_huge_sparse(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(1536 * 1024 * 1024)  # 1.5 GB, sparse: costs no disk


NOT_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (make_fifo, "it is not a regular file (a FIFO)"),
    "socket": (make_socket, "it is not a regular file (a socket)"),
    "directory": (make_directory, "it is not a regular file (a directory)"),
    "huge": (
        make_huge_sparse,
        f"it is larger than {MAX_FILE_BYTES} bytes (the limit for a config file)",
    ),
}


# --- the one reader -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(NOT_FILES))
def test_read_regular_file_refuses_what_is_not_a_small_regular_file(
    short_dir: Path, kind: str
) -> None:
    make, reason = NOT_FILES[kind]
    path = short_dir / "x"
    make(path)
    with pytest.raises(NotReadable, match=re.escape(reason)):
        bounded(lambda: read_regular_file(str(path)))


@pytest.mark.parametrize(
    ("device", "reason"),
    [("/dev/zero", "a character device"), ("/dev/null", "a character device")],
)
def test_devices_are_never_read(device: str, reason: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    with pytest.raises(NotReadable, match=reason):
        bounded(lambda: read_regular_file(device))


def test_the_size_bound_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"a" * MAX_FILE_BYTES)
    assert len(read_regular_file(str(path))) == MAX_FILE_BYTES
    path.write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    with pytest.raises(NotReadable, match="larger than"):
        read_regular_file(str(path))


def test_a_file_growing_after_fstat_is_read_no_further_than_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"a" * 100)
    real_fstat = os.fstat

    def fstat_then_grow(fd: int) -> os.stat_result:
        result = real_fstat(fd)
        with open(path, "ab") as handle:  # it grows after it was measured
            handle.write(b"b" * 1000)
        return result

    monkeypatch.setattr("maintenance_env.sources.mounted.os.fstat", fstat_then_grow)
    with pytest.raises(NotReadable, match="larger than 500 bytes"):
        read_regular_file(str(path), limit=500)


def test_a_fifo_swapped_in_between_stat_and_open_is_caught_by_fstat(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = short_dir / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\n")
    real_open = os.open

    swapped: list[str] = []

    def swap_then_open(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        # os.open is the one global function: only our file is swapped, once; any other
        # caller (shutil.rmtree on Python 3.13 passes dir_fd) gets the real open.
        if not swapped and os.fspath(name) == str(path):
            swapped.append(str(path))
            os.unlink(name)
            os.mkfifo(name)
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr("maintenance_env.sources.mounted.os.open", swap_then_open)
    with pytest.raises(NotReadable, match="FIFO"):
        bounded(lambda: read_regular_file(str(path)))


# --- the dotenv form ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(NOT_FILES))
def test_a_dotenv_path_that_is_not_a_small_regular_file_cannot_be_read(
    short_dir: Path, kind: str
) -> None:
    make, reason = NOT_FILES[kind]
    path = short_dir / "maintenance.env"
    make(path)
    snapshot = bounded(lambda: read_mounted(str(path)))
    if kind == "directory":  # a directory is the other form of the config, and valid
        assert (snapshot.kind, snapshot.error) == ("directory", None)
        return
    assert snapshot.error == f"cannot be read: {reason}"
    assert snapshot.values == {}


def test_dev_zero_as_the_config_path_cannot_be_read() -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    snapshot = bounded(lambda: read_mounted("/dev/zero"))
    assert snapshot.error == "cannot be read: it is not a regular file (a character device)"


def site_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def test_a_fifo_renamed_over_the_dotenv_file_counts_as_absent_and_recovers(
    short_dir: Path, env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    path = short_dir / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = live.Runtime(check_template=False)
    assert runtime.state().enabled is True

    fifo = short_dir / "fifo"
    os.mkfifo(fifo)
    os.replace(fifo, path)
    before = len(site_logs(caplog))
    seen = bounded(lambda: {runtime.state().enabled for _ in range(50)})
    assert seen == {False}  # absent: the environment (unset: off) decides
    errors = site_logs(caplog)[before:]
    assert [r.levelname for r in errors] == ["ERROR"]  # once, not once per request
    assert "is not a regular file (a FIFO)" in errors[0].getMessage()
    assert runtime.state().resolution.source_error == (
        "cannot be read: it is not a regular file (a FIFO)"
    )

    os.unlink(path)
    path.write_text("MAINTENANCE_MODE=on\n")
    assert bounded(lambda: runtime.state().enabled) is True  # live reload works again


def test_on_write_against_a_fifo_does_not_hang(short_dir: Path) -> None:
    path = short_dir / "maintenance.env"
    os.mkfifo(path)
    with pytest.raises(OSError, match="not a regular file"):
        bounded(lambda: write_value(str(path), "MAINTENANCE_MODE", "on"))


def test_the_command_against_a_fifo_does_not_hang(
    short_dir: Path, env: Callable[..., None]
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = short_dir / "maintenance.env"
    os.mkfifo(path)
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    with pytest.raises(CommandError, match="neither a directory nor a regular file"):
        bounded(lambda: call_command("maintenance_mode", "on", "--write"))


# --- the directory form -------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(NOT_FILES))
def test_a_key_that_is_not_a_small_regular_file_is_skipped_with_a_note(
    short_dir: Path, kind: str
) -> None:
    make, reason = NOT_FILES[kind]
    (short_dir / "MAINTENANCE_MODE").write_text("on\n")
    make(short_dir / "MAINTENANCE_MODE_MESSAGE")
    snapshot = bounded(lambda: read_mounted(str(short_dir)))
    assert snapshot.error is None
    assert dict(snapshot.values) == {"MAINTENANCE_MODE": "on"}  # the switch is unharmed
    assert snapshot.notes == (f"cannot read MAINTENANCE_MODE_MESSAGE ({reason}); ignored",)


def test_a_fifo_behind_a_kubelet_link_is_skipped(volume: ConfigMapVolume) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "hi"})
    target = volume.root / "..data" / "MAINTENANCE_MODE_MESSAGE"
    target.unlink()
    os.mkfifo(target)
    snapshot = bounded(lambda: read_mounted(str(volume.root)))
    assert dict(snapshot.values) == {"MAINTENANCE_MODE": "on"}
    assert "FIFO" in snapshot.notes[0]


MANY = 20_000


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config directory with MANY unknown ``MAINTENANCE_MODE_*`` files besides the switch."""
    root = tmp_path_factory.mktemp("crowded")
    for number in range(MANY):
        (root / f"MAINTENANCE_MODE_X{number:05d}").touch()
    (root / "MAINTENANCE_MODE").write_text("on\n")
    return root


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_many_unknown_files_make_one_note(crowded: Path) -> None:
    snapshot = read_mounted(str(crowded))
    assert dict(snapshot.values) == {"MAINTENANCE_MODE": "on"}
    assert snapshot.notes == (
        f"{MANY} files are not known variables: MAINTENANCE_MODE_X00000, "
        "MAINTENANCE_MODE_X00001, MAINTENANCE_MODE_X00002, MAINTENANCE_MODE_X00003, "
        f"MAINTENANCE_MODE_X00004 and {MANY - 5} more; ignored",
    )


def test_many_unknown_files_cost_no_stat_or_read_per_poll(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounted = MountedConfig(str(crowded))
    assert mounted.poll() is not None
    stats: list[str] = []
    reads: list[str] = []
    real_stat = os.stat
    real_read = mounted_source.read_regular_file

    def counting_stat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    def counting_read(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        reads.append(path)
        return real_read(path, limit)

    monkeypatch.setattr("maintenance_env.sources.mounted.os.stat", counting_stat)
    monkeypatch.setattr(mounted_source, "read_regular_file", counting_read)
    assert mounted.poll() is None
    assert len(stats) <= 2  # the directory and the one known file
    (crowded / "MAINTENANCE_MODE").write_text("off\n")
    changed = mounted.poll()
    assert changed is not None
    assert dict(changed.values) == {"MAINTENANCE_MODE": "off"}
    assert reads == [str(crowded / "MAINTENANCE_MODE")]  # only the known name is read


def test_many_unknown_files_log_one_line_per_change(
    crowded: Path, env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    env(MAINTENANCE_MODE_CONFIG_PATH=str(crowded), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = live.Runtime(check_template=False)
    warnings = site_logs(caplog)
    assert len(warnings) == 1
    assert f"and {MANY - 5} more" in warnings[0].getMessage()
    for _ in range(20):
        runtime.state()
    assert len(site_logs(caplog)) == 1  # not again while nothing changed
    assert runtime.source_notes[variables.Origin.CONFIG] == read_mounted(str(crowded)).notes


def test_many_unknown_keys_and_bad_lines_in_a_dotenv_file_log_a_bounded_number_of_lines(
    tmp_path: Path, env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    lines = ["MAINTENANCE_MODE=on"]
    lines += [f"MAINTENANCE_MODE_X{n}=1" for n in range(1000)]
    lines += [f"bad line {n}" for n in range(1000)]
    lines += [f"MAINTENANCE_MODE_Y{n}" for n in range(500)]  # no '='
    path = tmp_path / "maintenance.env"
    path.write_text("\n".join(lines) + "\n")
    caplog.set_level(logging.INFO, LOGGER)
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = live.Runtime(check_template=False)
    assert runtime.state().enabled is True
    messages = [r.getMessage() for r in site_logs(caplog)]
    assert len(messages) == 3, messages
    assert all(len(m) < 600 for m in messages)
    assert "lines 1002, 1003, 1004, 1005, 1006 and 995 more could not be parsed" in messages[0]
    assert "and 495 more has no '='" in messages[1]
    assert "1000 keys are not known variables" in messages[2]


# --- real servers -------------------------------------------------------------------------


def _statuses(server: servers.Server, path: str, count: int) -> list[int]:
    return [server.get(path)[0] for _ in range(count)]


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_fifo_renamed_over_the_dotenv_file_never_hangs_a_server(
    kind: str, short_dir: Path
) -> None:
    path = short_dir / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")
    extra = {"MAINTENANCE_MODE_CONFIG_PATH": str(path), "MAINTENANCE_MODE_RELOAD_INTERVAL": "0.2"}
    with servers.serve(kind, short_dir, extra, log=short_dir / f"{kind}.log") as server:
        assert set(_statuses(server, "/", 10)) == {200}
        fifo = short_dir / "fifo"
        os.mkfifo(fifo)
        os.replace(fifo, path)
        # Past several reload intervals: every worker has polled the FIFO by now. Each
        # request has the client's 30 s timeout; a hung worker fails the test.
        deadline = time.monotonic() + 2.0
        answered: set[int] = set()
        for _ in range(400):  # bounded
            answered |= {server.get("/")[0], server.get("/healthz")[0]}
            if time.monotonic() > deadline:
                break
        assert answered == {200}  # absent: the environment (unset: off) decides

        os.unlink(path)
        path.write_text("MAINTENANCE_MODE=on\n")
        seen: list[int] = []
        for _ in range(200):  # bounded: live reload must work again
            seen.append(server.get("/")[0])
            if seen[-8:] == [503] * 8:
                break
            time.sleep(0.05)
        assert seen[-8:] == [503] * 8, seen[-20:]
        assert server.get("/healthz")[0] == 200
        log = server.output()
    assert "Traceback" not in log, log
    assert "not a regular file (a FIFO)" in log
