"""The printers: each value the package prints, in the syntax of the tool that will read it.

Every printer either returns text that reads back as exactly the value given, or raises
:class:`Unprintable` with one line saying why (the command turns it into a
``CommandError`` before anything is printed or written). The rules come from each
reader's own documentation, cited at each printer; ``shlex.quote`` and ``json.dumps``
do the quoting wherever the reader is a POSIX shell or a JSON parser.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
from collections.abc import Sequence

__all__ = [
    "Unprintable",
    "check_text",
    "dotenv_line",
    "env_file_line",
    "gcloud_env_vars",
    "json_text",
    "pairs",
    "shell",
    "systemd_environment",
    "systemd_unit",
    "yaml_string",
]

Values = Sequence[tuple[str, str]]


class Unprintable(ValueError):
    """A value that the target syntax cannot carry exactly; the message is one line."""


def check_text(value: str, where: str) -> None:
    """Refuse what no printed command can carry: NUL (a C string ends there: no shell
    argument holds one) and lone surrogates (not encodable as UTF-8)."""
    if "\x00" in value:
        raise Unprintable(f"{where} cannot hold a NUL character.")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise Unprintable(f"{where} cannot hold an unpaired surrogate (not valid UTF-8).")


def yaml_string(value: str) -> str:
    """A double-quoted YAML scalar: JSON's escapes are YAML's (YAML 1.2, 7.3.1).

    :raises Unprintable: for what JSON leaves raw but a YAML reader or an editor takes as a
        line break (U+0085, U+2028, U+2029) or refuses (other C1 controls, DEL).
    """
    check_text(value, "A YAML value")
    text = json.dumps(value, ensure_ascii=False)
    bad = _line_breaking(text)
    if bad is not None:
        raise Unprintable(f"A YAML value cannot hold the control character {bad!r}.")
    return text


def _refuse_unprintable(
    name: str, value: str, where: str, into: str, reason: str = "it holds"
) -> None:
    """:func:`check_text`, then refuse any control character: ``into`` (a systemd line, a
    raw env file, gcloud's flag) cannot carry one. ``where`` and ``into`` name the target
    in the error, ``reason`` says why before "the control character …"."""
    check_text(value, where)
    bad = _line_breaking(value)
    if bad is not None:
        raise Unprintable(f"{name} cannot go into {into}: {reason} the control character {bad!r}.")


def _line_breaking(value: str) -> str | None:
    """The first character that ends a line for ``str.splitlines`` (or is another control
    character, category Cc), or ``None``. Tab is allowed where the caller says so."""
    for char in value:
        if char in "\u2028\u2029" or unicodedata.category(char) == "Cc":
            return char
    return None


def shell(value: str) -> str:
    """One word for bash, read back exactly, and always on one line.

    ``shlex.quote`` where the value holds no control character; otherwise bash's ANSI-C
    quoting ``$'…'`` (bash(1), QUOTING), with every control character, line separator,
    ``\\`` and ``'`` escaped byte by byte (``\\xHH`` of its UTF-8), so that a newline in a
    value can never end a ``#`` comment line of a printed plan and run the rest.

    :raises Unprintable: for NUL (no shell argument can hold one) or an unpaired surrogate.
    """
    check_text(value, "A shell argument")
    if _line_breaking(value) is None:
        return shlex.quote(value)
    out = []
    for char in value:
        if char in "\\'":
            out.append("\\" + char)
        elif char in "\u2028\u2029" or unicodedata.category(char) == "Cc":
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8"))
        else:
            out.append(char)
    return "$'" + "".join(out) + "'"


def pairs(values: Values) -> str:
    """``NAME=value`` shell words, space-separated (``heroku config:set``, ``kubectl set
    env``, ``export``): each word reads back as ``NAME=value`` and the tools split it at
    the first ``=``."""
    return " ".join(f"{name}={shell(value)}" for name, value in values)


def json_text(data: object) -> str:
    """JSON for an API or a ``-p``/``--cli-input-json`` argument, as one shell word.

    JSON escapes every control character, so any text round-trips.
    """
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return shell(text)


# --- dotenv files ----------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_.:/+@%,-]*\Z")


def dotenv_line(name: str, value: str) -> str:
    """A ``NAME=value`` line of the mounted config's dotenv form, as the package reads it
    (:func:`maintenance_env.sources.parse_dotenv`): bare when plain, else double-quoted
    with ``\\\\``, ``\\"``, ``\\n`` and ``\\t`` escaped.

    :raises Unprintable: for a control character other than newline and tab, or a Unicode
        line separator (the reader splits lines on them).
    """
    check_text(value, f"{name} in a dotenv file")
    if _BARE.match(value):
        return f"{name}={value}"
    bad = _line_breaking(value.replace("\n", "").replace("\t", ""))
    if bad is not None:
        raise Unprintable(
            f"{name} cannot go into a dotenv file: it holds the control character {bad!r}."
        )
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'{name}="{escaped}"'


def env_file_line(name: str, value: str, reader: str) -> str:
    """A raw ``NAME=value`` line for an env file that takes values as they are, without
    quotes or escapes (Docker's ``--env-file``, Amazon ECS ``environmentFiles``).

    :raises Unprintable: for a line break or other control character (such a file has no
        way to carry one), or leading/trailing spaces (trimmed by some readers).
    """
    _refuse_unprintable(
        name, value, f"{name} in {reader}", reader, "its values are raw lines, and this one holds"
    )
    if value != value.strip():
        raise Unprintable(f"{name} cannot go into {reader} with leading or trailing spaces.")
    return f"{name}={value}"


# --- systemd ----------------------------------------------------------------------------------

_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".scope", ".slice")


def systemd_unit(name: str) -> str:
    """The unit name systemd uses: ``web`` is ``web.service`` (``systemctl`` adds the
    suffix, and drop-ins live in ``web.service.d/``, never ``web.d/``: systemd.unit(5),
    "Drop-in files")."""
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def systemd_environment(name: str, value: str) -> str:
    """One ``Environment="NAME=value"`` line of a unit file, per systemd.exec(5) and
    systemd.syntax(7): the assignment is double-quoted (systemd splits on spaces), ``\\``
    and ``"`` are backslash-escaped, ``%`` is doubled (specifier expansion); ``$`` has no
    meaning there.

    :raises Unprintable: for a control character (a newline would end the line and start
        a new directive, e.g. ``ExecStartPre=``).
    """
    _refuse_unprintable(name, value, f"{name} in a systemd unit", "a systemd Environment= line")
    assignment = f"{name}={value}"
    escaped = assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{escaped}"'


# --- gcloud -----------------------------------------------------------------------------------

#: Delimiters tried in turn when a value holds a comma (`gcloud topic escaping`).
GCLOUD_DELIMITERS = "@#|;~!+:%*?&/"


def gcloud_env_vars(values: Values) -> str:
    """``--update-env-vars=NAME=value,...`` as one shell word.

    gcloud splits the list on commas; when a value holds one, ``^X^`` at the start picks
    another delimiter X that no pair holds (`gcloud topic escaping`).

    :raises Unprintable: for a control character, or when every delimiter is taken.
    """
    items = [f"{name}={value}" for name, value in values]
    for name, value in values:
        _refuse_unprintable(name, value, f"{name} for gcloud", "gcloud --update-env-vars")
    if not any("," in item for item in items):
        return "--update-env-vars=" + shell(",".join(items))
    for delimiter in GCLOUD_DELIMITERS:
        if not any(delimiter in item for item in items):
            return "--update-env-vars=" + shell(f"^{delimiter}^" + delimiter.join(items))
    raise Unprintable(
        "The values hold a comma and every delimiter gcloud could use instead "
        f"({' '.join(GCLOUD_DELIMITERS)}): nothing printed."
    )
