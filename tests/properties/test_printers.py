"""Every printer's text reads back as exactly the value given, or is refused with one line.

One property test per printer, over arbitrary text (hypothesis): the printed text is
parsed back the way its reader does (a real ``bash``, ``shlex``, ``json``, PyYAML, the
package's own dotenv reader, or, where no reader can run here, a reference reader
written from the reader's documentation and cited), and compared exactly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from io import StringIO
from unittest import mock

import pytest
import yaml
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintenance_env import platforms
from maintenance_env.platforms import quoting
from maintenance_env.platforms.quoting import Unprintable
from maintenance_env.sources import parse_dotenv
from tests.tools import need_tool

PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: Any text, control characters, separators and astral characters included.
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
#: Any text including NUL and unpaired surrogates, which no printer may let through.
ANY_TEXT = st.text(st.characters(), max_size=40)
#: Text rich in what breaks printers: line breaks, controls, quotes, backslashes, astral.
HOSTILE = st.text(
    st.sampled_from(list("ab =,\n\r\t\x01\x1b\x7f\x85\u2028'\\\"$`%^@é😀")), max_size=20
)
NAME = "MAINTENANCE_MODE_MESSAGE"


def bash_words(text: str) -> list[str]:
    """The words bash makes of ``text`` (printed with NUL separators, so any word shows)."""
    bash = need_tool("bash")
    result = subprocess.run(
        [bash, "-c", f"printf '%s\\0' {text}"],
        capture_output=True,
        check=True,
        env={"LC_ALL": "C.UTF-8"},
    )
    return result.stdout.decode("utf-8").split("\0")[:-1]


def words_of(text: str) -> list[str]:
    """``shlex.split`` where it can read the text; bash itself for ``$'…'`` words."""
    return bash_words(text) if "$'" in text else shlex.split(text)


def one_line(exc: Exception) -> None:
    assert "\n" not in str(exc).strip()


def refused_in_one_line(exc: Unprintable) -> None:
    message = str(exc)
    assert message
    assert "\n" not in message


# --- shell ---------------------------------------------------------------------------------


@PROPERTY
@given(ANY_TEXT | HOSTILE)
def test_shell_word_reads_back(value: str) -> None:
    try:
        word = quoting.shell(value)
    except Unprintable as exc:
        refused_in_one_line(exc)
        assert "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        return
    # Always one line, with no control character: safe even inside a comment line.
    assert quoting._line_breaking(word) is None
    if not word.startswith("$'"):
        assert shlex.split(word) == [value]


@settings(max_examples=80, deadline=None)
@given((TEXT | HOSTILE).filter(lambda v: "\x00" not in v))
def test_shell_word_reads_back_through_bash(value: str) -> None:
    """A real bash runs the printed assignment and prints the value back."""
    bash = need_tool("bash")
    script = f"export {quoting.pairs([(NAME, value)])}; printf '%s' \"${NAME}\""
    result = subprocess.run(
        [bash, "-c", script], capture_output=True, check=False, env={"LC_ALL": "C.UTF-8"}
    )
    assert result.returncode == 0
    assert result.stdout.decode("utf-8") == value


@settings(max_examples=80, deadline=None)
@given(TEXT | HOSTILE)
def test_pairs_read_back_as_name_value_words(value: str) -> None:
    """``heroku config:set``, ``kubectl set env``, ``az … --settings``: each word is split
    at its first ``=`` by the tool."""
    try:
        words = words_of(quoting.pairs([("MAINTENANCE_MODE", "on"), (NAME, value)]))
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    assert [tuple(word.split("=", 1)) for word in words] == [
        ("MAINTENANCE_MODE", "on"),
        (NAME, value),
    ]


@settings(max_examples=80, deadline=None)
@given(TEXT | HOSTILE)
def test_json_reads_back(value: str) -> None:
    try:
        word = quoting.json_text({"data": {NAME: value}})
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    (text,) = words_of(word)
    assert json.loads(text) == {"data": {NAME: value}}


# --- files: dotenv, raw env files, YAML ----------------------------------------------------


@PROPERTY
@given(TEXT)
def test_dotenv_line_reads_back_with_the_packages_reader(value: str) -> None:
    try:
        line = quoting.dotenv_line(NAME, value)
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    # printed through `printf '%s\n' WORD`: the word is the line.
    (word,) = words_of(quoting.shell(line))
    assert parse_dotenv(word + "\n") == {NAME: value}


@PROPERTY
@given(TEXT)
def test_raw_env_file_line_reads_back(value: str) -> None:
    """Docker's ``--env-file`` and ECS ``environmentFiles`` take ``NAME=value`` lines as
    they are (https://docs.docker.com/reference/cli/docker/container/run/#env,
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/use-environment-file.html)."""
    try:
        line = quoting.env_file_line(NAME, value, "an env file")
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    assert line.splitlines() == [line]
    assert line.split("=", 1) == [NAME, value]


@PROPERTY
@given(TEXT)
def test_yaml_string_reads_back(value: str) -> None:
    try:
        scalar = quoting.yaml_string(value)
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    assert "\n" not in scalar
    assert yaml.safe_load(f"{NAME}: {scalar}\n") == {NAME: value}


# --- systemd -------------------------------------------------------------------------------


def systemd_reads(line: str) -> dict[str, str]:
    """A reference reader of one ``Environment=`` line, from systemd.exec(5) and
    systemd.syntax(7): words are double-quoted, ``\\`` escapes the next character (C escapes
    and ``\\\\``, ``\\"``), and ``%%`` is a literal ``%`` (specifiers are expanded first).
    Only the quoted form the printer uses is accepted."""
    match = re.fullmatch(r'Environment="((?:[^"\\]|\\.)*)"', line, re.S)
    assert match, line
    body = re.sub(r"\\(.)", r"\1", match[1], flags=re.S)
    assert "%" not in body.replace("%%", ""), "a lone % would be a specifier"
    name, value = body.replace("%%", "%").split("=", 1)
    return {name: value}


@PROPERTY
@given(TEXT)
def test_systemd_environment_reads_back(value: str) -> None:
    try:
        line = quoting.systemd_environment(NAME, value)
    except Unprintable as exc:
        refused_in_one_line(exc)
        assert quoting._line_breaking(value) is not None
        return
    # One line in the unit file: nothing can start a second directive.
    assert len(line.splitlines()) == 1
    assert systemd_reads(line) == {NAME: value}


def test_systemd_drop_in_through_bash(tmp_path: object) -> None:
    """The printed ``printf … | sudo tee`` pipeline, run by bash into a file, holds one
    ``Environment=`` line per variable and nothing else."""
    bash = need_tool("bash")
    values = [("MAINTENANCE_MODE", "on"), (NAME, 'It\'s 100% "done" \\ $HOME `x`')]
    command = platforms.instructions("systemd", "on", values, app="web").commands[1]
    printf = command.split(" | sudo tee ")[0]
    result = subprocess.run([bash, "-c", printf], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "[Service]"
    assert [systemd_reads(line) for line in lines[1:]] == [dict([pair]) for pair in values]


# --- gcloud --------------------------------------------------------------------------------


def gcloud_reads(flag: str) -> dict[str, str]:
    """A reference reader of ``--update-env-vars`` from `gcloud topic escaping`: the list
    is split on ``,``, or on X when the value starts with ``^X^``; each item is split at
    its first ``=``."""
    assert flag.startswith("--update-env-vars=")
    text = flag.removeprefix("--update-env-vars=")
    delimiter = ","
    match = re.match(r"\^(.)\^", text, re.S)
    if match:
        delimiter, text = match[1], text[match.end() :]
    return dict(item.split("=", 1) for item in text.split(delimiter))


@PROPERTY
@given(TEXT)
def test_gcloud_env_vars_read_back(value: str) -> None:
    values = [("MAINTENANCE_MODE", "on"), (NAME, value)]
    try:
        word = quoting.gcloud_env_vars(values)
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    (flag,) = words_of(word)
    assert gcloud_reads(flag) == dict(values)


# --- every platform, through the command ----------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(platforms.NAMES), TEXT | HOSTILE, st.booleans())
def test_every_platform_prints_or_refuses_in_one_line(name: str, message: str, store: bool) -> None:
    """Through ``call_command``: either a plan that bash accepts, every line a comment or a
    command and no control character anywhere (so no value can end a comment line and run
    the rest), or one CommandError line with nothing printed."""
    bash = need_tool("bash")
    out = StringIO()
    environ = {"MAINTENANCE_MODE_CACHE": "redis://cache:6379/0"} if store else {}
    with mock.patch.dict(os.environ, environ):
        try:
            call_command(
                "maintenance_mode",
                "on",
                "--platform",
                name,
                "--app",
                "shop",
                "--message",
                message or "x",
                stdout=out,
                stderr=StringIO(),
            )
        except CommandError as exc:
            one_line(exc)
            assert out.getvalue() == ""
            return
    text = out.getvalue()
    assert quoting._line_breaking(text.replace("\n", "")) is None
    result = subprocess.run([bash, "-n"], input=text, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_systemd_injection_from_the_issue_is_refused() -> None:
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "maintenance_mode",
            "on",
            "--platform",
            "systemd",
            "--message",
            "x\nExecStartPre=/bin/touch /tmp/p\nX-End=",
            stdout=out,
            stderr=StringIO(),
        )
    assert out.getvalue() == ""
    assert "\n" not in str(info.value)
    assert "systemd Environment=" in str(info.value)


# --- the store's exec routes: what arrives in the app -----------------------------------------

#: The Heroku CLI's buildCommand (packages/cli/src/lib/run/helpers.ts), as a bash function:
#: a lone argument reaches the dyno's shell as it is; several are joined, each one with a
#: space or a double quote wrapped in double quotes (only double quotes escaped).
HEROKU_CLI = r"""
heroku() {
  shift; shift  # run, --app
  shift         # the app
  local cmd
  if [ "$#" -eq 1 ]; then cmd=$1; else
    cmd=""
    for arg in "$@"; do
      case $arg in *' '*|*'"'*) arg="\"${arg//\"/\\\"}\"";; esac
      cmd="$cmd $arg"
    done
  fi
  bash -c "$cmd"  # the dyno's shell
}
python() { printf '%s\0' "$@"; }
export -f python
"""


def message_received(printed: str) -> str:
    """Run ``printed`` (a ``heroku run …`` line) through the CLI's transform and a shell,
    with a ``python`` that prints its arguments: the --message value the command gets."""
    bash = need_tool("bash")
    result = subprocess.run(
        [bash, "-c", HEROKU_CLI + printed],
        capture_output=True,
        check=True,
        env={"LC_ALL": "C.UTF-8", "PATH": os.environ["PATH"]},
    )
    argv = result.stdout.decode("utf-8").split("\0")[:-1]
    assert argv[:5] == ["manage.py", "maintenance_mode", "on", "--write", argv[4]]
    option = argv[4]
    if option.startswith("--message="):
        return option.removeprefix("--message=")
    assert option == "--message"
    return argv[5]


@settings(max_examples=60, deadline=None)
@given(
    (TEXT | HOSTILE).filter(lambda v: "\x00" not in v)
    | st.sampled_from(
        ["Orders over $50 ship free", "Back at `date` UTC", "it's", "-back", "--help"]
    )
)
def test_the_heroku_store_route_delivers_the_message_exactly(value: str) -> None:
    request = platforms.Request(
        action="on", values=(("MAINTENANCE_MODE", "on"), (NAME, value)), app="shop"
    )
    try:
        _where, printed = platforms.store_route(platforms.get("heroku"), request)
    except Unprintable as exc:
        refused_in_one_line(exc)
        return
    assert printed.startswith("heroku run --app shop ")
    assert message_received(printed) == value


@pytest.mark.parametrize("value", ["-back", "--help", "-1", "- dash"])
def test_a_value_that_starts_with_a_dash_is_never_read_as_an_option(value: str) -> None:
    from maintenance_env.management.commands.maintenance_mode import Command

    request = platforms.Request(action="on", values=(("MAINTENANCE_MODE", "on"), (NAME, value)))
    argv = request.write_argv()
    parser = Command().create_parser("manage.py", "maintenance_mode")
    options = parser.parse_args(argv[3:])
    assert options.message == value
    assert options.write is True
