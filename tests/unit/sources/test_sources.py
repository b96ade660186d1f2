"""Raw sources: the environment, settings, the dotenv form, the directory form, the writer."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from maintenance_env import live, sources, variables
from maintenance_env.sources import (
    MountedConfig,
    locking,
    parse_dotenv,
    read_mounted,
    write_value,
)
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


# --- the dotenv dialect (python-dotenv's reading) -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('MAINTENANCE_MODE="on"  # planned\n', "on"),
        ("MAINTENANCE_MODE='on' # planned\n", "on"),
        ("MAINTENANCE_MODE=on # planned\n", "on"),
        ("MAINTENANCE_MODE=on#not-a-comment\n", "on#not-a-comment"),
        ("export MAINTENANCE_MODE=on\n", "on"),
        ("  export\tMAINTENANCE_MODE = on  \n", "on"),
        ("MAINTENANCE_MODE=on\r\n", "on"),
        ("\ufeffMAINTENANCE_MODE=on\n", "on"),
        ("MAINTENANCE_MODE=back at noon today\n", "back at noon today"),
        ("MAINTENANCE_MODE='single # quoted'\n", "single # quoted"),
        ('MAINTENANCE_MODE="two\nlines"\n', "two\nlines"),
        (
            'MAINTENANCE_MODE="escaped\\nnewline \\"quoted\\" \\\\"\n',
            'escaped\nnewline "quoted" \\',
        ),
        ("MAINTENANCE_MODE='it\\'s'\n", "it's"),
        ("MAINTENANCE_MODE=$HOME\n", "$HOME"),  # no interpolation
        ('MAINTENANCE_MODE="${HOME}"\n', "${HOME}"),
        ("MAINTENANCE_MODE= # just a comment\n", ""),
        ("MAINTENANCE_MODE=\n", ""),
    ],
)
def test_dotenv_forms_mean_what_they_mean_to_python_dotenv(text: str, expected: str) -> None:
    from dotenv import dotenv_values

    assert parse_dotenv(text) == {"MAINTENANCE_MODE": expected}
    assert dotenv_values(stream=io.StringIO(text), interpolate=False) == {
        "MAINTENANCE_MODE": expected
    }


def test_a_quoted_switch_with_a_comment_turns_maintenance_on(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text('MAINTENANCE_MODE="on"  # planned\n')
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    assert live.Runtime(check_template=False).state().enabled is True


def test_a_byte_order_mark_does_not_hide_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_bytes(b"\xef\xbb\xbfMAINTENANCE_MODE=on\nMAINTENANCE_MODE_STATUS_CODE=502\n")
    assert dict(read_mounted(str(path)).values) == {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_STATUS_CODE": "502",
    }


def test_skipped_lines_are_reported_once_with_their_numbers(
    tmp_path: Path, env: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text(
        "# switches\n"
        "MAINTENANCE_MODE=on\n"
        "MAINTENANCE_MODE_STATUS_CODE: 502\n"  # line 3: a YAML habit
        "\n"
        "MAINTENANCE_MODE_MESSAGE\n"  # line 5: no '='
        'MAINTENANCE_MODE_EXCEPT_URLS="^/admin/"x\n'  # line 6: junk after the quote
        "MAINTENANCE_MODE_TYPO=1\n"
    )
    snapshot = read_mounted(str(path))
    assert dict(snapshot.values) == {"MAINTENANCE_MODE": "on"}
    assert snapshot.notes == (
        "lines 3, 6 could not be parsed as KEY=VALUE (an unclosed quote?); skipped",
        "MAINTENANCE_MODE_MESSAGE (line 5) has no '=' and so no value; ignored",
        "the key MAINTENANCE_MODE_TYPO is not a known variable; ignored",
    )
    caplog.set_level(logging.INFO, "maintenance_env")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = live.Runtime(check_template=False)
    for _ in range(10):
        assert runtime.state().enabled is True
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # one per note, once
    assert f"the mounted config {path}: lines 3, 6 could not be parsed" in warnings[0]
    assert runtime.source_notes == {variables.Origin.CONFIG: snapshot.notes}
    path.write_text("MAINTENANCE_MODE=on\n")  # repaired: no notes any more
    runtime.state()
    assert runtime.source_notes == {}


def test_an_unclosed_quote_reports_the_lines_it_swallowed() -> None:
    text = 'A=1\nB="unclosed\nMAINTENANCE_MODE=on\nC="x"y\n'
    dotenv = sources.read_dotenv(text)
    assert dotenv.values == {"A": "1"}
    assert dotenv.skipped == ("2-4",)


# --- writing: serialised, through symlinks, only UTF-8 --------------------------------------


def _write_keys(path: str, keys: list[str]) -> None:
    for key in keys:
        write_value(path, key, "1")


@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")
    context = multiprocessing.get_context("fork")
    writers = [
        context.Process(
            target=_write_keys, args=(str(path), [f"MAINTENANCE_MODE_T{w}_{n}" for n in range(40)])
        )
        for w in range(6)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)  # bounded
        assert writer.exitcode == 0
    values = parse_dotenv(path.read_text())
    missing = [
        f"T{w}_{n}"
        for w in range(6)
        for n in range(40)
        if f"MAINTENANCE_MODE_T{w}_{n}" not in values
    ]
    assert missing == [], f"{len(missing)} of 240 updates lost"
    assert values["MAINTENANCE_MODE"] == "off"
    assert sorted(os.listdir(tmp_path)) == ["maintenance.env"]  # no lock or temp file left


def test_a_writer_gives_up_when_the_lock_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    path = tmp_path / "maintenance.env"
    path.write_bytes(b"MAINTENANCE_MODE=off\n")
    monkeypatch.setattr(locking, "LOCK_TIMEOUT", 0.2)
    with open(locking.lock_path(str(path)), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError, match="another writer has held the lock"):
            write_value(str(path), "MAINTENANCE_MODE", "on")
    assert path.read_bytes() == b"MAINTENANCE_MODE=off\n"


def test_a_symlinked_dotenv_file_is_written_through_the_link(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "maintenance.env"
    target.write_text("MAINTENANCE_MODE=off\nDEBUG=1\n")
    app = tmp_path / "app"
    app.mkdir()
    link = app / "maintenance.env"
    link.symlink_to(os.path.relpath(target, app))
    chained = tmp_path / "chained.env"
    chained.symlink_to(link)

    written = write_value(str(chained), "MAINTENANCE_MODE", "on")
    assert written == str(target)
    assert link.is_symlink()  # the links are kept
    assert chained.is_symlink()
    assert target.read_text() == "MAINTENANCE_MODE=on\nDEBUG=1\n"  # the shared target says on
    assert sorted(os.listdir(shared)) == ["maintenance.env"]
    assert sorted(os.listdir(app)) == ["maintenance.env"]


def test_a_dangling_symlink_is_written_as_its_target(tmp_path: Path) -> None:
    link = tmp_path / "maintenance.env"
    link.symlink_to("real.env")
    write_value(str(link), "MAINTENANCE_MODE", "on")
    assert link.is_symlink()
    assert (tmp_path / "real.env").read_text() == "MAINTENANCE_MODE=on\n"


def test_a_symlinked_file_in_the_directory_form_is_written_through_the_link(
    tmp_path: Path,
) -> None:
    # A link inside the directory only: one pointing outside is refused
    # (tests/unit/sources/test_writing.py).
    config = tmp_path / "config"
    (config / "shared").mkdir(parents=True)
    (config / "shared" / "switch").write_text("off\n")
    (config / "MAINTENANCE_MODE").symlink_to(config / "shared" / "switch")
    write_value(str(config), "MAINTENANCE_MODE", "on")
    assert (config / "MAINTENANCE_MODE").is_symlink()
    assert (config / "shared" / "switch").read_text() == "on\n"


def test_a_non_utf8_dotenv_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    original = b"MAINTENANCE_MODE=on\nMAINTENANCE_MODE_MESSAGE=Bient\xf4t\n"
    path.write_bytes(original)
    with pytest.raises(sources.WriteRefused) as raised:
        write_value(str(path), "MAINTENANCE_MODE", "off")
    assert str(raised.value) == (
        f"{path} is not UTF-8 text (byte 0xf4 at offset 50): fix or remove it first"
    )
    assert path.read_bytes() == original


def test_off_write_on_a_non_utf8_file_is_one_clear_line(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    path = tmp_path / "maintenance.env"
    original = b"MAINTENANCE_MODE=on\n\xff\n"
    path.write_bytes(original)
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    with pytest.raises(CommandError) as raised:
        call_command("maintenance_mode", "off", "--write", stdout=io.StringIO())
    message = str(raised.value)
    assert message == (
        f"{path} is not UTF-8 text (byte 0xff at offset 20): fix or remove it first; "
        "nothing written."
    )
    assert path.read_bytes() == original


def test_a_byte_order_mark_and_crlf_endings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_bytes(b"\xef\xbb\xbf# notes\r\nMAINTENANCE_MODE=off\r\nDEBUG=1\r\n")
    write_value(str(path), "MAINTENANCE_MODE", "on")
    assert path.read_bytes() == b"\xef\xbb\xbf# notes\r\nMAINTENANCE_MODE=on\r\nDEBUG=1\r\n"


def test_a_write_that_would_exceed_the_size_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    original = b"# " + b"x" * (sources.MAX_FILE_BYTES - 10) + b"\n"
    path.write_bytes(original)
    with pytest.raises(sources.WriteRefused, match="would be larger than 65536 bytes"):
        write_value(str(path), "MAINTENANCE_MODE_MESSAGE", "a long enough message")
    assert path.read_bytes() == original


@pytest.mark.parametrize("form", ["dotenv", "directory"])
def test_a_name_in_the_wrong_case_is_reported_not_silently_ignored(
    tmp_path: Path, form: str
) -> None:
    if form == "dotenv":
        path = tmp_path / "maintenance.env"
        path.write_text("maintenance_mode=on\nMaintenance_Mode_Message=x\n")
    else:
        path = tmp_path / "config"
        path.mkdir()
        (path / "maintenance_mode").write_text("on\n")
    snapshot = mounted_source.read_mounted(str(path))
    assert dict(snapshot.values) == {}
    assert any("maintenance_mode" in note for note in snapshot.notes), snapshot.notes
