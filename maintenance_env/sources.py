"""Where raw values come from: the mounted config, the environment, Django settings.

Nothing here parses values (see ``parsers``) or decides precedence (see ``conf``).
The mounted config is read by :class:`MountedConfig`, which notices a change with a few
``os.stat`` calls and reads files only when something changed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PREFIX",
    "MountedConfig",
    "Snapshot",
    "environment_values",
    "parse_dotenv",
    "read_mounted",
    "settings_values",
    "write_value",
]

#: Only names with this prefix are read from a mounted config, which may be shared with
#: other settings of the app (a ConfigMap usually is).
PREFIX = "MAINTENANCE_MODE"

Signature = tuple[Any, ...]


def environment_values(
    names: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The raw text of each variable set in the process environment.

    Values are taken literally: unlike ``environ.Env.get_value``, a value that starts
    with ``$`` is not a reference to another variable (a message may cost "$5").
    """
    source = os.environ if environ is None else environ
    return {name: source[name] for name in names if name in source}


def settings_values(names: Iterable[str], settings: Any) -> dict[str, object]:
    """The value of each Django setting that is defined (it may be any Python object)."""
    missing = object()
    found: dict[str, object] = {}
    for name in names:
        value = getattr(settings, name, missing)
        if value is not missing:
            found[name] = value
    return found


# --- the dotenv form -------------------------------------------------------------------

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LINE_RE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)\Z")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), inner)
        return inner
    # An unquoted value ends where a " #" comment starts, as in shell and docker env files.
    comment = re.search(r"\s#", value)
    return (value[: comment.start()] if comment else value).strip()


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines with ``#`` comments, blank lines, ``export`` and quotes.

    The last assignment of a key wins, as when a shell sources the file.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE_RE.match(line)
        if match:
            values[match[1]] = _unquote(match[2])
    return values


# --- reading the mounted config --------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the mounted config held when read: raw values, or why it could not be read."""

    values: Mapping[str, str | bytes] = field(default_factory=dict)
    error: str | None = None
    kind: str = "missing"  # "directory", "file" or "missing"
    #: False when the kubelet kept swapping ``..data`` during every attempt to read one
    #: whole payload: ``values`` may then mix two versions and must not be used.
    settled: bool = True


def _fingerprint(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _describe(exc: OSError) -> str:
    reason = exc.strerror or exc.__class__.__name__
    return f"cannot be read: {reason}"


def _read_file(path: str) -> str | bytes:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        # Kept as bytes: the parsers reject it as "not text" and name the variable.
        return data


def _directory_entries(path: str) -> list[str]:
    """Names in the directory that hold our variables (the kubelet's ``..data`` skipped)."""
    with os.scandir(path) as entries:
        return sorted(
            e.name for e in entries if e.name.startswith(PREFIX) and _KEY_RE.match(e.name)
        )


#: The kubelet's link to the current payload of a ConfigMap or Secret volume.
_DATA_LINK = "..data"


def _read_directory(path: str) -> dict[str, str | bytes] | None:
    """Every variable's file, all from one payload.

    The kubelet may swap ``..data`` between two files: following each ``KEY -> ..data/KEY``
    link on its own could mix two payloads. So ``..data`` is resolved once, every key that
    links through it is read from that payload, and the read is repeated if ``..data`` was
    swapped meanwhile (the old payload is deleted only after the swap).
    """
    link = os.path.join(path, _DATA_LINK)
    values: dict[str, str | bytes] = {}
    for _attempt in range(5):  # a swap per attempt is already far more than a kubelet does
        try:
            payload: str | None = os.readlink(link)
        except OSError:  # not a kubelet volume: plain files
            payload = None
        values = {}
        try:
            for name in _directory_entries(path):
                full = os.path.join(path, name)
                if (
                    payload is not None
                    and os.path.islink(full)
                    and os.readlink(full) == os.path.join(_DATA_LINK, name)
                ):
                    full = os.path.join(path, payload, name)
                if os.path.isfile(full):
                    values[name] = _read_file(full)
        except FileNotFoundError:
            if payload is None:
                raise
        try:
            if payload is None or os.readlink(link) == payload:
                return values
        except OSError:
            continue  # ..data vanished mid-read: the volume is changing, try again
    return None  # never settled: the caller must not use a possible mix


def read_mounted(path: str) -> Snapshot:
    """Read the mounted config at ``path`` now, whatever its form."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            values = _read_directory(path)
            if values is None:
                return Snapshot({}, None, "directory", settled=False)
            return Snapshot(values, None, "directory")
        raw = _read_file(path)
        if isinstance(raw, bytes):
            return Snapshot({}, "cannot be read: it is not UTF-8 text", "file")
        dotenv = parse_dotenv(raw)
        return Snapshot({k: v for k, v in dotenv.items() if k.startswith(PREFIX)}, None, "file")
    except FileNotFoundError:
        return Snapshot({}, "does not exist", "missing")
    except OSError as exc:
        return Snapshot({}, _describe(exc), "missing")


class MountedConfig:
    """The mounted config at one path, re-read only when ``os.stat`` says it changed.

    A change is seen by stat-ing the path and, for a directory, each of our files in it
    (symlinks followed): the kubelet's ``..data`` swap changes the directory and the inode
    behind every file, a rename changes the inode, an edit in place changes size or mtime.
    Not thread-safe by itself: ``conf.Runtime`` polls it under a lock.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._signature: Signature | None = None
        self._files: tuple[str, ...] = ()

    def _signature_now(self) -> Signature:
        try:
            top = os.stat(self.path)
        except OSError as exc:
            return ("error", exc.__class__.__name__, exc.errno)
        if not stat.S_ISDIR(top.st_mode):
            return ("file", _fingerprint(top))
        previous = self._signature
        if previous is None or previous[0] != "dir" or previous[1] != _fingerprint(top):
            # The directory itself changed (entries added, removed, renamed): list it again.
            try:
                self._files = tuple(_directory_entries(self.path))
            except OSError as exc:
                return ("error", exc.__class__.__name__, exc.errno)
        files = []
        for name in self._files:
            try:
                files.append((name, _fingerprint(os.stat(os.path.join(self.path, name)))))
            except OSError as exc:
                files.append((name, ("error", exc.errno)))
        return ("dir", _fingerprint(top), tuple(files))

    def poll(self) -> Snapshot | None:
        """A new snapshot if the config changed since the last poll, else ``None``."""
        signature = self._signature_now()
        if signature == self._signature:
            return None
        self._signature = signature
        snapshot = read_mounted(self.path)
        if not snapshot.settled:
            self._signature = None  # read it again at the next poll; keep the state meanwhile
            return None
        if snapshot.error is None and snapshot.kind == "directory":
            # A file may have changed again between stat and read: the next poll sees it.
            self._files = tuple(snapshot.values)
        return snapshot


# --- writing the mounted config (``maintenance_mode on --write``) -----------------------


def _replace_atomically(target: str, content: str) -> None:
    """Write ``content`` to a temporary file beside ``target`` and rename it over it."""
    directory = os.path.dirname(os.path.abspath(target))
    mode = 0o644
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".maintenance-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _refuse_special(target: str) -> None:
    """Never rename over a device, socket or directory (``/dev/null`` as root, say)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise (
            IsADirectoryError(21, "not a regular file", target)
            if stat.S_ISDIR(mode)
            else OSError(22, "not a regular file", target)
        )


def _dotenv_quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_.:/+@%,-]*", value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def write_value(path: str, name: str, value: str) -> str:
    """Set ``name`` to ``value`` in the mounted config at ``path``, atomically.

    A directory gets (or has replaced) the file ``name``; a dotenv file has the line for
    ``name`` replaced in place, every other line kept, or a line appended. Returns the file
    written. Raises ``OSError`` when the path cannot be written.
    """
    if os.path.isdir(path):
        target = os.path.join(path, name)
        _refuse_special(target)
        _replace_atomically(target, value + "\n")
        return target
    _refuse_special(path)
    lines: list[str] = []
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    new_line = f"{name}={_dotenv_quote(value)}"
    replaced = False
    kept: list[str] = []
    for line in lines:
        match = _LINE_RE.match(line)
        if match and match[1] == name and not line.lstrip().startswith("#"):
            if not replaced:
                prefix = "export " if line.lstrip().startswith("export") else ""
                kept.append(prefix + new_line)
                replaced = True
            continue  # a later duplicate would win on reading: drop it
        kept.append(line)
    if not replaced:
        kept.append(new_line)
    _replace_atomically(path, "\n".join(kept) + "\n")
    return path
