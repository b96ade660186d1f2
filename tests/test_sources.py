"""Raw sources: the environment, settings, the dotenv form, the directory form, the writer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import override_settings

from maintenance_env import sources
from maintenance_env.sources import MountedConfig, parse_dotenv, read_mounted, write_value
from maintenance_env.sources import mounted as mounted_source
from tests.kubelet import ConfigMapVolume


def test_environment_values_are_literal() -> None:
    environ = {"MAINTENANCE_MODE_MESSAGE": "$5 off while we fix things", "OTHER": "x"}
    values = sources.environment_values(["MAINTENANCE_MODE_MESSAGE", "MAINTENANCE_MODE"], environ)
    # django-environ would resolve "$5 off..." as a reference to another variable.
    assert values == {"MAINTENANCE_MODE_MESSAGE": "$5 off while we fix things"}


@override_settings(MAINTENANCE_MODE=True)
def test_settings_values_only_defined_ones() -> None:
    from django.conf import settings

    assert sources.settings_values(["MAINTENANCE_MODE", "MAINTENANCE_MODE_MESSAGE"], settings) == {
        "MAINTENANCE_MODE": True
    }


def test_dotenv_forms() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "MAINTENANCE_MODE=on",
            "export MAINTENANCE_MODE_MESSAGE='Back at 3, promise'",
            'MAINTENANCE_MODE_TEMPLATE="a \\"quoted\\" name"',
            "MAINTENANCE_MODE_EXCEPT_URLS=^/admin/ # trailing comment",
            "  MAINTENANCE_MODE_STATUS_CODE = 503  ",
            "not a line",
            "MAINTENANCE_MODE_HEALTH_PATHS=/a#b",
        ]
    )
    assert parse_dotenv(text) == {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_MESSAGE": "Back at 3, promise",
        "MAINTENANCE_MODE_TEMPLATE": 'a "quoted" name',
        "MAINTENANCE_MODE_EXCEPT_URLS": "^/admin/",
        "MAINTENANCE_MODE_STATUS_CODE": "503",
        "MAINTENANCE_MODE_HEALTH_PATHS": "/a#b",
    }


def test_dotenv_last_assignment_wins() -> None:
    assert parse_dotenv("MAINTENANCE_MODE=on\nMAINTENANCE_MODE=off\n") == {
        "MAINTENANCE_MODE": "off"
    }


def test_read_directory_skips_kubelet_internals_and_foreign_keys(tmp_path: Path) -> None:
    volume = ConfigMapVolume(
        tmp_path / "cm",
        {
            "MAINTENANCE_MODE": "on\n",
            "MAINTENANCE_MODE_MESSAGE": "  Back soon  ",
            "DATABASE_POOL": "5",
        },
    )
    snapshot = read_mounted(str(volume.root))
    assert snapshot.kind == "directory"
    assert snapshot.error is None
    assert snapshot.values == {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "Back soon"}


def test_read_dotenv_file_keeps_only_our_keys(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\nDEBUG=1\n")
    snapshot = read_mounted(str(path))
    assert (snapshot.kind, snapshot.values, snapshot.error) == (
        "file",
        {"MAINTENANCE_MODE": "on"},
        None,
    )


def test_read_missing(tmp_path: Path) -> None:
    snapshot = read_mounted(str(tmp_path / "nope"))
    assert snapshot.error == "does not exist"
    assert snapshot.values == {}


def test_read_undecodable_directory_value_is_kept_as_bytes(tmp_path: Path) -> None:
    (tmp_path / "MAINTENANCE_MODE").write_bytes(b"\xff\xfeon")
    assert read_mounted(str(tmp_path)).values == {"MAINTENANCE_MODE": b"\xff\xfeon"}


def test_read_undecodable_dotenv_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_bytes(b"MAINTENANCE_MODE=\xff")
    snapshot = read_mounted(str(path))
    assert snapshot.error is not None
    assert "UTF-8" in snapshot.error


def test_poll_sees_each_kind_of_change_once(tmp_path: Path) -> None:
    volume = ConfigMapVolume(tmp_path / "cm", {"MAINTENANCE_MODE": "off"})
    mounted = MountedConfig(str(volume.root))
    first = mounted.poll()
    assert first is not None
    assert first.values == {"MAINTENANCE_MODE": "off"}
    assert mounted.poll() is None  # nothing changed: stat only, no read

    volume.update({"MAINTENANCE_MODE": "on"})  # the kubelet's ..data swap
    swapped = mounted.poll()
    assert swapped is not None
    assert swapped.values == {"MAINTENANCE_MODE": "on"}
    assert mounted.poll() is None

    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "hi"})  # a key added
    added = mounted.poll()
    assert added is not None
    assert added.values["MAINTENANCE_MODE_MESSAGE"] == "hi"

    volume.update({"MAINTENANCE_MODE": "on"})  # a key removed
    removed = mounted.poll()
    assert removed is not None
    assert "MAINTENANCE_MODE_MESSAGE" not in removed.values


def test_poll_sees_in_place_edit_and_rename_of_a_plain_directory_file(tmp_path: Path) -> None:
    target = tmp_path / "MAINTENANCE_MODE"
    target.write_text("off")
    mounted = MountedConfig(str(tmp_path))
    assert mounted.poll() is not None
    with open(target, "w") as handle:  # in place: same inode, other size
        handle.write("true")
    edited = mounted.poll()
    assert edited is not None
    assert edited.values == {"MAINTENANCE_MODE": "true"}
    replacement = tmp_path / "new"
    replacement.write_text("no")
    os.replace(replacement, target)  # a rename over it: new inode
    renamed = mounted.poll()
    assert renamed is not None
    assert renamed.values == {"MAINTENANCE_MODE": "no"}


def test_poll_dotenv_file_and_disappearance(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")
    mounted = MountedConfig(str(path))
    assert mounted.poll() is not None
    path.write_text("MAINTENANCE_MODE=on\n# now on\n")
    changed = mounted.poll()
    assert changed is not None
    assert changed.values == {"MAINTENANCE_MODE": "on"}
    path.unlink()
    gone = mounted.poll()
    assert gone is not None
    assert gone.error == "does not exist"
    assert mounted.poll() is None  # reported once, not on every poll


def test_write_value_directory_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "MAINTENANCE_MODE"
    target.write_text("off\n")
    inode = target.stat().st_ino
    written = write_value(str(tmp_path), "MAINTENANCE_MODE", "on")
    assert written == str(target)
    assert target.read_text() == "on\n"
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place
    assert sorted(os.listdir(tmp_path)) == ["MAINTENANCE_MODE"]  # no temporary file left


def test_write_value_dotenv_keeps_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text("# ops notes\nexport MAINTENANCE_MODE=off\nDEBUG=0\nMAINTENANCE_MODE=on\n")
    path.chmod(0o640)
    write_value(str(path), "MAINTENANCE_MODE", "on")
    assert path.read_text() == "# ops notes\nexport MAINTENANCE_MODE=on\nDEBUG=0\n"
    assert path.stat().st_mode & 0o777 == 0o640
    write_value(str(path), "MAINTENANCE_MODE_MESSAGE", 'Back at 3 "sharp"')
    assert parse_dotenv(path.read_text())["MAINTENANCE_MODE_MESSAGE"] == 'Back at 3 "sharp"'


def test_write_value_creates_a_dotenv_file(tmp_path: Path) -> None:
    path = tmp_path / "new.env"
    write_value(str(path), "MAINTENANCE_MODE", "off")
    assert path.read_text() == "MAINTENANCE_MODE=off\n"


def test_write_value_unwritable_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_value(str(tmp_path / "missing-dir" / "file.env"), "MAINTENANCE_MODE", "on")


def test_write_value_refuses_special_files(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="not a regular file"):
        write_value(os.devnull, "MAINTENANCE_MODE", "on")
    (tmp_path / "MAINTENANCE_MODE").mkdir()
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        write_value(str(tmp_path), "MAINTENANCE_MODE", "on")


def test_an_unsettled_read_keeps_the_state_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = ConfigMapVolume(tmp_path / "cm", {"MAINTENANCE_MODE": "off"})
    mounted = MountedConfig(str(volume.root))
    assert mounted.poll() is not None
    volume.update({"MAINTENANCE_MODE": "on"})
    real = mounted_source._read_directory
    monkeypatch.setattr(mounted_source, "_read_directory", lambda path: None)  # swapped every time
    assert read_mounted(str(volume.root)).settled is False
    assert mounted.poll() is None  # nothing usable: the current state stands
    monkeypatch.setattr(mounted_source, "_read_directory", real)
    settled = mounted.poll()  # the same change, read again at the next poll
    assert settled is not None
    assert settled.values == {"MAINTENANCE_MODE": "on"}
