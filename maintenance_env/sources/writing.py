"""Writing the mounted config (``maintenance_mode on --write``, ``unset``): checked,
serialised, atomic.

- Every value is checked first: it must read back exactly as written (see
  :func:`maintenance_env.sources.dotenv.unwritable`), or nothing is written.
- A symlink is followed: the file it points to is replaced (so a link shared by several
  apps keeps pointing at the new content), by a temporary file in that file's directory
  renamed over it, with the old file's owner, group and mode. In the directory form a
  link must stay inside the directory: one planted there that points outside is refused.
- The dotenv form is read, changed and renamed under an advisory lock on a lock file
  beside the target (:mod:`maintenance_env.sources.locking`), so that two writers never
  lose each other's update.
- Only regular files are rewritten, and only UTF-8 text; anything else is refused with an
  error naming the file, before anything is written.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Sequence

from maintenance_env.sources import locking
from maintenance_env.sources.dotenv import (
    KEY_RE,
    dotenv_quote,
    read_dotenv,
    statements,
    unwritable,
)
from maintenance_env.sources.mounted import MAX_FILE_BYTES, NotReadable, read_regular_file
from maintenance_env.variables import VARIABLES

__all__ = [
    "WriteRefused",
    "delete_value",
    "write_value",
    "write_values",
]


class WriteRefused(ValueError):
    """A value or a file the writer will not touch: the message names the variable or the
    file and says why, in one line. Nothing was written."""


def _shown(name: str, value: str) -> str:
    var = VARIABLES.get(name)
    return "'***'" if var is not None and var.secret else repr(value)


def _check(name: str, value: str, *, directory: bool) -> None:
    if not KEY_RE.match(name):
        raise WriteRefused(f"{name!r} is not a variable name")
    reason = unwritable(value)
    if reason is None and directory and value != value.strip():
        reason = "the directory form trims surrounding whitespace when it reads a file"
    if reason is None and directory and len(value.encode("utf-8")) + 1 > MAX_FILE_BYTES:
        reason = f"a file of the mounted config is read only up to {MAX_FILE_BYTES} bytes"
    if reason is not None:
        raise WriteRefused(f"{name}={_shown(name, value)} cannot be written: {reason}")


def _refuse_special(target: str) -> None:
    """Never rename over a device, socket, FIFO or directory (``/dev/null`` as root, say)."""
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


def _replace_atomically(target: str, content: bytes) -> None:
    """Write ``content`` to a temporary file beside ``target`` and rename it over it, keeping
    the old file's owner, group and permission bits (a new file gets 0644).

    Run as root over an app-owned 0600 file, the new file stays app-owned 0600, so the app
    can still read it. Raises :class:`WriteRefused`, writing nothing, when the owner or
    group cannot be kept (another user's file, written by a user that cannot chown)."""
    directory = os.path.dirname(target)
    old: os.stat_result | None = None
    with contextlib.suppress(FileNotFoundError):
        old = os.stat(target)
    mode = stat.S_IMODE(old.st_mode) if old is not None else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".maintenance-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            if old is not None and hasattr(os, "fchown"):
                made = os.fstat(handle.fileno())
                if (made.st_uid, made.st_gid) != (old.st_uid, old.st_gid):
                    try:
                        os.fchown(handle.fileno(), old.st_uid, old.st_gid)
                    except PermissionError:
                        raise WriteRefused(
                            f"{target} belongs to uid {old.st_uid}, gid {old.st_gid}, which "
                            f"this user (uid {made.st_uid}) cannot give a new file: run the "
                            "command as that user or as root; nothing written"
                        ) from None
            os.fchmod(handle.fileno(), mode)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _inside(path: str, name: str) -> str:
    """The real path of ``name`` in the directory ``path``; raises :class:`WriteRefused`
    when a symlink there points outside the directory (the kubelet's ``NAME ->
    ..data/NAME`` links stay inside it)."""
    root = os.path.realpath(path)
    target = os.path.realpath(os.path.join(path, name))
    if os.path.commonpath([root, target]) != root:
        raise WriteRefused(
            f"{os.path.join(path, name)} is a symlink to {target}, outside "
            f"MAINTENANCE_MODE_CONFIG_PATH={path!r}: refusing to write there; remove the link"
        )
    return target


def _current_text(target: str) -> tuple[bytes, str]:
    """The dotenv file's byte order mark (if any) and text; empty when it does not exist."""
    try:
        data = read_regular_file(target)
    except FileNotFoundError:
        return b"", ""
    except NotReadable as exc:
        raise WriteRefused(f"{target} cannot be rewritten: {exc}") from None
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    try:
        return bom, data[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WriteRefused(
            f"{target} is not UTF-8 text (byte {data[len(bom) + exc.start]:#04x} at offset "
            f"{len(bom) + exc.start}): fix or remove it first"
        ) from None


_LEADING_RE = re.compile(r"\A\s*")
_EXPORT_RE = re.compile(r"export[^\S\r\n]+")


def _with_values(text: str, values: dict[str, str | None]) -> str:
    """``text`` with each name's statement replaced in place (the first one; later ones
    dropped, since the last assignment wins), the others kept byte for byte, and new names
    appended. A name whose value is ``None`` has every statement dropped."""
    out: list[str] = []
    done: set[str] = set()
    for binding in statements(text):
        original = binding.original.string
        name = binding.key
        if binding.error or name not in values:
            out.append(original)
            continue
        if name in done:
            continue  # a later duplicate would win on reading: drop it
        done.add(name)
        value = values[name]
        if value is None:
            continue
        body = _LEADING_RE.sub("", original, count=1)
        leading = original[: len(original) - len(body)]
        export = _EXPORT_RE.match(body)
        ending = body[len(body.rstrip("\r\n")) :]
        out.append(f"{leading}{export[0] if export else ''}{name}={dotenv_quote(value)}{ending}")
    content = "".join(out)
    new = [
        f"{name}={dotenv_quote(value)}\n"
        for name, value in values.items()
        if name not in done and value is not None
    ]
    if new and content and not content.endswith(("\n", "\r")):
        content += "\n"
    return content + "".join(new)


def _write_dotenv(path: str, values: dict[str, str]) -> str:
    target = os.path.realpath(path)
    _refuse_special(target)
    with locking.locked(target):
        bom, text = _current_text(target)
        content = _with_values(text, dict(values))
        read_back = read_dotenv(content).values
        for name, value in values.items():
            if read_back.get(name) != value:
                # The rest of the file swallows the new line (an unclosed quote before it).
                raise WriteRefused(
                    f"{name}={_shown(name, value)} would not read back from {target}: "
                    "the file has a statement python-dotenv cannot parse (an unclosed "
                    "quote?); fix it first"
                )
        data = bom + content.encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise WriteRefused(
                f"{target} would be larger than {MAX_FILE_BYTES} bytes, the limit for a config file"
            )
        _replace_atomically(target, data)
    return target


def write_values(path: str, values: Sequence[tuple[str, str]]) -> list[str]:
    """Set each ``(name, value)`` in the mounted config at ``path``, atomically.

    A directory gets (or has replaced) the file ``name`` for each, in the given order; a
    dotenv file has every name's statement replaced in place, every other line kept, or a
    line appended, in one rename. Symlinks are followed: the file they point to is
    replaced. Returns the files written, one per value.

    Raises :class:`WriteRefused` (a ``ValueError``), before anything is written, for a
    value that would not read back exactly or a file that is not UTF-8 text;
    ``TimeoutError`` when another writer holds the lock for :data:`LOCK_TIMEOUT` seconds;
    ``OSError`` when the path cannot be written (not a regular file, read-only, missing).
    """
    directory = os.path.isdir(path)
    for name, value in values:
        _check(name, value, directory=directory)
    if not directory:
        target = _write_dotenv(path, dict(values))
        return [target] * len(values)
    written: list[str] = []
    targets = [_inside(path, name) for name, _value in values]  # all checked first
    for (_name, value), target in zip(values, targets, strict=True):
        _refuse_special(target)
        _replace_atomically(target, (value + "\n").encode("utf-8"))
        written.append(target)
    return written


def write_value(path: str, name: str, value: str) -> str:
    """Set ``name`` to ``value`` in the mounted config at ``path``: :func:`write_values` for
    one value. Returns the file written."""
    return write_values(path, [(name, value)])[0]


def delete_value(path: str, name: str) -> str | None:
    """Remove ``name`` from the mounted config at ``path``, so that lower sources apply.

    A directory has the file ``name`` removed; a dotenv file has every statement assigning
    ``name`` removed, under the writers' lock, other lines kept byte for byte, in one
    rename (a symlink is followed). Returns the file changed, or ``None`` when ``name`` was
    not there. Raises :class:`WriteRefused` for a file that is not UTF-8 text or whose
    statements python-dotenv cannot parse, ``OSError`` when the path cannot be written.
    """
    if os.path.isdir(path):
        target = os.path.join(path, name)
        if not os.path.lexists(target):
            return None
        _refuse_special(target)
        os.unlink(target)
        return target
    target = os.path.realpath(path)
    if not os.path.lexists(target):
        return None
    _refuse_special(target)
    with locking.locked(target):
        bom, text = _current_text(target)
        content = _with_values(text, {name: None})
        if content == text:
            return None
        if name in read_dotenv(content).values:
            raise WriteRefused(
                f"{name} would still be set in {target}: the file has a statement "
                "python-dotenv cannot parse (an unclosed quote?); fix it first"
            )
        _replace_atomically(target, bom + content.encode("utf-8"))
    return target
