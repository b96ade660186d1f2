"""Every value the package writes reads back exactly, or is refused before anything is written.

The writers: the dotenv file and the directory form of the mounted config
(``sources.write_value``, what ``maintenance_mode on --write`` does), and the shared store
(``SharedStore.write``). For each, a property over arbitrary text: either the value reads
back as exactly the same string, or the writer raised and the file is unchanged byte for
byte. Then the inputs of the issue and more of the same kind (line breaks of every sort,
quotes, backslashes, comment marks, control characters).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintenance_env import live, sources
from maintenance_env.cache_build import build_cache
from maintenance_env.sources import WriteRefused, read_mounted, write_value, write_values
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import VARIABLES

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MESSAGE = "MAINTENANCE_MODE_MESSAGE"
#: The issue's input: a carriage return then a line that would exempt every URL.
INJECTION = "Back soon\rMAINTENANCE_MODE_EXCEPT_URLS=.* #"

#: Text with a bias towards what dotenv readers treat specially.
special = st.sampled_from(
    [
        *"\n\r\t\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\ufeff\\\"'#=$` {}",
        *["\r\n", "export ", "MAINTENANCE_MODE=on", " #", "\\n", "\\\\", '\\"'],
    ]
)
values = st.one_of(
    st.text(),
    # Mostly writable: no control characters but tab, newline and carriage return.
    st.text(st.characters(exclude_categories=("Cc", "Cs"), include_characters="\t\n\r")),
    st.lists(st.one_of(special, st.text(max_size=3)), max_size=12).map("".join),
)
#: Other lines already in the file, of every sort (including ones that do not parse).
other_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "# ops notes",
                "",
                "DEBUG=1",
                "export MAINTENANCE_MODE=off",
                f"{MESSAGE}='old message'",
                f'{MESSAGE}="two\nlines"',
                "MAINTENANCE_MODE_STATUS_CODE=503  # planned",
                "WEIRD LINE",
                "KEY_WITHOUT_VALUE",
                "A='unclosed",
            ]
        ),
        st.text(max_size=20),
    ),
    max_size=6,
)


def read_back(path: Path, name: str) -> object:
    snapshot = read_mounted(str(path))
    assert snapshot.error is None, snapshot.error
    return snapshot.values.get(name)


# --- the dotenv file ----------------------------------------------------------------------


@PROPERTY
@given(value=values, lines=other_lines, newline=st.sampled_from(["\n", "\r\n"]))
@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_dotenv_writes_read_back_exactly_or_touch_nothing(
    tmp_path_factory: pytest.TempPathFactory, value: str, lines: list[str], newline: str
) -> None:
    path = tmp_path_factory.mktemp("dotenv") / "maintenance.env"
    try:
        original = newline.join(lines).encode("utf-8")
    except UnicodeEncodeError:
        original = b"DEBUG=1\n"
    path.write_bytes(original)
    try:
        write_value(str(path), MESSAGE, value)
    except WriteRefused as exc:
        refused = str(exc)
    else:
        assert read_back(path, MESSAGE) == value
        assert sorted(os.listdir(path.parent)) == ["maintenance.env"]  # no temp or lock file
        return
    assert path.read_bytes() == original  # nothing written
    assert "\n" not in refused  # one line
    assert MESSAGE in refused or str(path) in refused


@PROPERTY
@given(value=values)
@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_dotenv_writes_into_a_new_file_read_back_exactly(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    path = tmp_path_factory.mktemp("dotenv") / "maintenance.env"
    try:
        write_value(str(path), MESSAGE, value)
    except WriteRefused:
        assert not path.exists()
        assert sources.dotenv.unwritable(value) is not None  # refused only for a reason
        return
    assert read_back(path, MESSAGE) == value


def test_the_issue_input_reads_back_as_one_message(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")
    write_value(str(path), MESSAGE, INJECTION)
    snapshot = read_mounted(str(path))
    assert dict(snapshot.values) == {"MAINTENANCE_MODE": "off", MESSAGE: INJECTION}
    assert "MAINTENANCE_MODE_EXCEPT_URLS" not in snapshot.values


@pytest.mark.parametrize(
    "value",
    [
        INJECTION,
        "Back soon\nMAINTENANCE_MODE_EXCEPT_URLS=.*",
        "Back soon\r\nMAINTENANCE_MODE_EXCEPT_URLS=.*",
        "Back soon\u2028MAINTENANCE_MODE_EXCEPT_URLS=.*",
        "Back soon\u2029MAINTENANCE_MODE_EXCEPT_URLS=.*",
        'Back "soon"\\',
        "it's a \\' test\\",
        "a\\nb",  # a backslash then n, not a newline
        "# not a comment",
        "value # with a hash",
        "$HOME and ${PATH}",
        "  padded  ",
        "tab\there",
        "\ufeffleading BOM",
        "",
    ],
)
def test_line_breaks_quotes_and_comment_marks_read_back_exactly(tmp_path: Path, value: str) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\nDEBUG=1\n")
    write_value(str(path), MESSAGE, value)
    assert read_back(path, MESSAGE) == value
    assert read_back(path, "MAINTENANCE_MODE") == "on"
    assert "MAINTENANCE_MODE_EXCEPT_URLS" not in read_mounted(str(path)).values


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "U+0000"),
        ("a\x0bb", "U+000B"),
        ("a\x0cb", "U+000C"),
        ("a\x1bb", "U+001B"),
        ("a\x7fb", "U+007F"),
        ("a\x9bb", "U+009B"),
        ("Back soon\x85MAINTENANCE_MODE_EXCEPT_URLS=.*", "U+0085"),  # NEL, a C1 line break
        ("a\ud800b", "not encodable as UTF-8"),
    ],
)
def test_values_that_cannot_round_trip_are_refused_in_one_line(
    tmp_path: Path, value: str, reason: str
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_bytes(b"MAINTENANCE_MODE=on\n")
    with pytest.raises(WriteRefused) as raised:
        write_value(str(path), MESSAGE, value)
    message = str(raised.value)
    assert message.startswith(f"{MESSAGE}=")
    assert reason in message
    assert "\n" not in message
    assert path.read_bytes() == b"MAINTENANCE_MODE=on\n"
    directory = tmp_path / "dir"
    directory.mkdir()
    with pytest.raises(WriteRefused):
        write_value(str(directory), MESSAGE, value)
    assert os.listdir(directory) == []


def test_a_refused_secret_is_not_shown(tmp_path: Path) -> None:
    with pytest.raises(WriteRefused) as raised:
        write_value(str(tmp_path / "x.env"), "MAINTENANCE_MODE_BYPASS_SECRET", "s3cret\x00")
    assert "s3cret" not in str(raised.value)
    assert "'***'" in str(raised.value)


def test_several_values_are_all_checked_before_any_is_written(tmp_path: Path) -> None:
    (tmp_path / "MAINTENANCE_MODE").write_text("off\n")
    with pytest.raises(WriteRefused, match=MESSAGE):
        write_values(
            str(tmp_path),
            [("MAINTENANCE_MODE_ENDS_AT", "2099-01-01T00:00:00Z"), (MESSAGE, "bad\x00")],
        )
    assert sorted(os.listdir(tmp_path)) == ["MAINTENANCE_MODE"]


def test_a_line_swallowed_by_an_unclosed_quote_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    original = b'OTHER="unclosed\nMAINTENANCE_MODE=off\n'
    path.write_bytes(original)
    with pytest.raises(WriteRefused, match="would not read back"):
        write_value(str(path), MESSAGE, 'say "hi"')
    assert path.read_bytes() == original


def test_a_statement_spanning_lines_is_not_mistaken_for_ours(tmp_path: Path) -> None:
    # A line inside a quoted value looks like an assignment; the old line-based writer
    # replaced it and broke the value.
    path = tmp_path / "maintenance.env"
    path.write_text(f'{MESSAGE}="first\nMAINTENANCE_MODE=on\nlast"\nMAINTENANCE_MODE=off\n')
    write_value(str(path), "MAINTENANCE_MODE", "on")
    assert dict(read_mounted(str(path)).values) == {
        MESSAGE: "first\nMAINTENANCE_MODE=on\nlast",
        "MAINTENANCE_MODE": "on",
    }


def test_the_command_writes_the_issue_input_and_maintenance_still_holds(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=off\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    call_command("maintenance_mode", "on", "--write", "--message", INJECTION, stdout=io.StringIO())
    state = live.Runtime(check_template=False).state()
    assert state.config.enabled is True
    assert state.config.except_urls == ()
    assert state.config.message == INJECTION


def test_the_command_refuses_a_message_that_cannot_round_trip(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_bytes(b"MAINTENANCE_MODE=off\n")
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    with pytest.raises(CommandError) as raised:
        call_command("maintenance_mode", "on", "--write", "--message", "a\x00b")
    assert "U+0000" in str(raised.value)
    assert str(raised.value).endswith("; nothing written.")
    assert path.read_bytes() == b"MAINTENANCE_MODE=off\n"


@pytest.mark.parametrize("form", ["dotenv", "directory"])
def test_a_refused_value_after_an_accepted_one_writes_nothing(
    tmp_path: Path, env: Callable[..., None], form: str
) -> None:
    # --starts-at is written before --message: a refused message must not leave it behind.
    if form == "dotenv":
        path = tmp_path / "maintenance.env"
        path.write_bytes(b"MAINTENANCE_MODE=off\n")
    else:
        path = tmp_path / "config"
        path.mkdir()
        (path / "MAINTENANCE_MODE").write_text("off\n")
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    with pytest.raises(CommandError, match="nothing written"):
        call_command(
            "maintenance_mode",
            "on",
            "--write",
            "--starts-at",
            "2099-01-01T00:00:00Z",
            "--message",
            "a\x00b",
        )
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


# --- the directory form -------------------------------------------------------------------


@PROPERTY
@given(value=values)
@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_directory_writes_read_back_exactly_or_touch_nothing(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    directory = tmp_path_factory.mktemp("config")
    (directory / MESSAGE).write_bytes(b"old\n")
    try:
        write_value(str(directory), MESSAGE, value)
    except WriteRefused as exc:
        refused = str(exc)
    else:
        assert read_back(directory, MESSAGE) == value
        return
    assert (directory / MESSAGE).read_bytes() == b"old\n"
    assert "\n" not in refused


@pytest.mark.parametrize("value", [" x", "x ", "x\n", "\tx", "x\u2028", "x\x1c", "\u3000x"])
def test_directory_refuses_surrounding_whitespace_it_would_trim(tmp_path: Path, value: str) -> None:
    with pytest.raises(WriteRefused, match=r"trims surrounding whitespace|U\+001C"):
        write_value(str(tmp_path), MESSAGE, value)
    assert os.listdir(tmp_path) == []


# --- the shared store ---------------------------------------------------------------------

STORE_CACHES = {
    "store": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "round-trip",
    }
}
LIVE = tuple(name for name, var in VARIABLES.items() if var.live)


@PROPERTY
@given(
    written=st.dictionaries(
        st.sampled_from(LIVE), st.one_of(st.none(), values), min_size=1, max_size=4
    )
)
@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_what_the_store_writes_is_what_it_reads(written: dict[str, str | None]) -> None:
    store = SharedStore("store", LIVE, 1.0, caches=STORE_CACHES, background=False)
    cache = build_cache("store", STORE_CACHES)
    cache.clear()
    store.write(written, cache=cache)
    assert store.read_once(cache) == {n: v for n, v in written.items() if v is not None}
