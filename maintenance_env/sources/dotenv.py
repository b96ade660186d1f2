"""The dotenv form of the mounted config: reading it with python-dotenv's parser, and quoting
a value so that it reads back exactly.

Reading is python-dotenv's (``dotenv.parser.parse_stream``, no interpolation: ``$HOME`` stays
``$HOME``), so a file means here what it means to python-dotenv and to Docker Compose users:
``KEY=VALUE``, ``export KEY=VALUE``, single or double quotes (a quoted value may span lines;
double quotes understand ``\\n``, ``\\r``, ``\\t``, ``\\\\`` and ``\\"``), ``# comments`` after
whitespace, blank lines, a UTF-8 byte order mark. The last assignment of a key wins. A
statement python-dotenv cannot parse is skipped and reported by line number; a key with no
``=`` has no value (python-dotenv's own reading) and is reported when it is one of ours.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dotenv.parser import Binding, parse_stream

__all__ = [
    "KEY_RE",
    "Dotenv",
    "dotenv_quote",
    "parse_dotenv",
    "read_dotenv",
    "statements",
    "summarise",
    "unwritable",
]

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Values written without quotes: nothing in them that a dotenv reader treats specially.
_BARE_RE = re.compile(r"[A-Za-z0-9_.:/+@%,-]*\Z")
#: What a double-quoted value spells with a backslash, so that the file stays one line per
#: key and python-dotenv (which decodes exactly these) reads the value back as it was.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')
#: Control characters no value may hold: NUL cannot be in an environment variable at all,
#: and the others (C0 but tab, newline and carriage return; DEL; C1) are invisible in an
#: editor and mean different things to different dotenv dialects.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: How many items a one-line summary names before "and N more".
SUMMARY_ITEMS = 5


def summarise(items: Sequence[str], limit: int = SUMMARY_ITEMS) -> str:
    """``items`` joined by commas, at most ``limit`` of them, then "and N more".

    >>> summarise(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def statements(text: str) -> list[Binding]:
    """python-dotenv's statements of ``text``, in order; their ``original.string`` joined
    give back ``text`` (without a leading byte order mark)."""
    return list(parse_stream(io.StringIO(text, newline="")))


_NEWLINE_RE = re.compile(r"\r\n|\n|\r")


def _span(binding: Binding) -> tuple[int, int]:
    """The first and last line of a statement's own text (blank lines before it excluded)."""
    text = binding.original.string
    body = text.lstrip()
    first = binding.original.line + len(_NEWLINE_RE.findall(text[: len(text) - len(body)]))
    return first, first + len(_NEWLINE_RE.findall(body.rstrip("\r\n")))


def _lines(binding: Binding) -> str:
    first, last = _span(binding)
    return str(first) if last == first else f"{first}-{last}"


@dataclass(frozen=True)
class Dotenv:
    """What a dotenv text says: its values, and what was skipped (for the logs and ``status``)."""

    values: dict[str, str]
    #: Line numbers (``"3"`` or ``"5-7"``) of statements python-dotenv could not parse.
    skipped: tuple[str, ...] = ()
    #: ``(line, key)`` of keys written without ``=``: python-dotenv gives them no value.
    without_value: tuple[tuple[int, str], ...] = ()

    def notes(self, prefix: str = "") -> tuple[str, ...]:
        """One line per kind of thing skipped, at most :data:`SUMMARY_ITEMS` items each;
        keys without ``=`` only when they start with ``prefix``."""
        notes: list[str] = []
        if self.skipped:
            word = "line" if len(self.skipped) == 1 and "-" not in self.skipped[0] else "lines"
            notes.append(
                f"{word} {summarise(self.skipped)} could not be parsed as KEY=VALUE "
                "(an unclosed quote?); skipped"
            )
        ours = [
            f"{key} (line {line})" for line, key in self.without_value if key.startswith(prefix)
        ]
        if ours:
            notes.append(f"{summarise(ours)} has no '=' and so no value; ignored")
        return tuple(notes)


def read_dotenv(text: str) -> Dotenv:
    """Parse a dotenv text (already decoded) as python-dotenv does, without interpolation.

    Never raises: what cannot be parsed is skipped and listed in the result.
    """
    values: dict[str, str] = {}
    skipped: list[str] = []
    without_value: list[tuple[int, str]] = []
    for binding in statements(text):
        if binding.error:
            skipped.append(_lines(binding))
        elif binding.key is not None and binding.value is None:
            without_value.append((_span(binding)[0], binding.key))
            values.pop(binding.key, None)
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return Dotenv(values, tuple(skipped), tuple(without_value))


def parse_dotenv(text: str) -> dict[str, str]:
    """The values of a dotenv text (see :func:`read_dotenv`); never raises."""
    return read_dotenv(text).values


def unwritable(value: str) -> str | None:
    """Why ``value`` cannot be written into a config file so that it reads back exactly,
    or ``None`` when it can. The same rule holds for both forms of the mounted config."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"it holds {value[exc.start]!r}, which is not encodable as UTF-8 text"
    control = _CONTROL_RE.search(value)
    if control:
        return (
            f"it holds the control character U+{ord(control[0]):04X}, which a config "
            "file cannot carry safely"
        )
    return None


def dotenv_quote(value: str) -> str:
    """``value`` as python-dotenv reads it back exactly: bare when it is plain, else double
    quoted with ``\\``, ``"``, newline, carriage return and tab escaped.

    Check :func:`unwritable` first: the quoting keeps other control characters as they are.
    """
    if _BARE_RE.match(value):
        return value
    return '"' + _ESCAPE_RE.sub(lambda m: _ESCAPES[m[0]], value) + '"'
