"""``--write`` keeps the owner, group and mode of the file it replaces, and never writes
outside the configured path."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from maintenance_env.sources import WriteRefused, write_value, write_values

Env = Callable[..., None]
APP_UID = APP_GID = 4242  # an "app" user: any id other than root's

as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing owners needs root"
)


def owner(path: Path) -> tuple[int, int, int]:
    found = path.stat()
    return found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)


@as_root
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
@pytest.mark.parametrize("form", ["dotenv", "directory"])
def test_writing_as_root_keeps_an_app_owned_file_app_owned(
    tmp_path: Path, mode: int, form: str
) -> None:
    if form == "dotenv":
        config = target = tmp_path / "maintenance.env"
        target.write_text("OTHER=1\n")
    else:
        config = tmp_path
        target = tmp_path / "MAINTENANCE_MODE"
        target.write_text("off\n")
    os.chown(target, APP_UID, APP_GID)
    os.chmod(target, mode)
    write_value(str(config), "MAINTENANCE_MODE", "on")
    assert owner(target) == (APP_UID, APP_GID, mode)
    assert "on" in target.read_text()


def test_a_new_file_gets_the_writers_owner_and_0644(tmp_path: Path) -> None:
    write_value(str(tmp_path), "MAINTENANCE_MODE", "on")
    assert owner(tmp_path / "MAINTENANCE_MODE") == (os.getuid(), os.getgid(), 0o644)


def test_an_owner_that_cannot_be_kept_is_refused_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "maintenance.env"
    target.write_text("MAINTENANCE_MODE=off\n")
    real_fstat = os.fstat

    def other_owner(fd: int) -> os.stat_result:  # the file "belongs" to someone else
        found = list(real_fstat(fd))
        found[stat.ST_UID] = found[stat.ST_UID] + 1
        return os.stat_result(found)

    def no_chown(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fstat", other_owner)
    monkeypatch.setattr(os, "fchown", no_chown)
    with pytest.raises(WriteRefused) as refused:
        write_value(str(target), "MAINTENANCE_MODE", "on")
    assert "cannot give a new file" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert target.read_text() == "MAINTENANCE_MODE=off\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maintenance.env"]


@pytest.mark.parametrize("link", ["absolute", "relative", "chain"])
def test_a_symlink_planted_in_the_directory_that_points_outside_is_refused(
    tmp_path: Path, link: str, env: Env
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    planted = config / "MAINTENANCE_MODE"
    if link == "absolute":
        planted.symlink_to(outside)
    elif link == "relative":
        planted.symlink_to(Path("..") / "outside.txt")
    else:
        (config / "hop").symlink_to(outside)
        planted.symlink_to("hop")
    with pytest.raises(WriteRefused) as refused:
        write_values(str(config), [("MAINTENANCE_MODE_MESSAGE", "x"), ("MAINTENANCE_MODE", "on")])
    assert "outside" in str(refused.value)
    assert outside.read_text() == "precious\n"
    assert not (config / "MAINTENANCE_MODE_MESSAGE").exists()  # nothing written at all
    env(MAINTENANCE_MODE_CONFIG_PATH=str(config))
    with pytest.raises(CommandError) as failed:
        call_command("maintenance_mode", "on", "--write", stdout=StringIO(), stderr=StringIO())
    assert "outside" in str(failed.value)
    assert "\n" not in str(failed.value).strip()
    assert outside.read_text() == "precious\n"


def test_a_link_that_stays_inside_the_directory_is_followed(tmp_path: Path) -> None:
    data = tmp_path / "..2026_12_02"
    data.mkdir()
    (data / "MAINTENANCE_MODE").write_text("off\n")
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "MAINTENANCE_MODE").symlink_to(Path("..data") / "MAINTENANCE_MODE")
    write_value(str(tmp_path), "MAINTENANCE_MODE", "on")
    assert (data / "MAINTENANCE_MODE").read_text() == "on\n"
    assert (tmp_path / "MAINTENANCE_MODE").is_symlink()
