"""The advisory lock that serialises writers of one dotenv file (``fcntl.flock`` on a lock
file beside it, ``.<name>.lock``): two writers never lose each other's update, and the
holder removes the lock file when done. Every wait is bounded (:data:`LOCK_TIMEOUT`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

__all__ = ["LOCK_TIMEOUT", "lock_path", "locked"]

#: Seconds a writer waits for another writer's lock before giving up (nothing written).
LOCK_TIMEOUT = 10.0
_LOCK_PAUSE = 0.02


def lock_path(target: str) -> str:
    """The lock file of a dotenv ``target`` (a real path): ``.<name>.lock`` beside it."""
    directory, name = os.path.split(target)
    return os.path.join(directory, f".{name}.lock")


def _lock_once(path: str, deadline: float) -> int | None:
    """Open ``path`` and take its lock; the descriptor, or ``None`` when the file was
    removed or replaced by its previous holder meanwhile (then try again)."""
    import fcntl

    # Read-only is enough for flock; a symlink planted as the lock file is not followed,
    # and a FIFO there cannot block the open.
    flags = os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        11, f"another writer has held the lock {path} for {LOCK_TIMEOUT:g} s"
                    ) from None
                time.sleep(_LOCK_PAUSE)
        try:
            current = os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


@contextlib.contextmanager
def locked(target: str) -> Iterator[None]:
    """Hold the advisory lock of ``target`` (waiting up to :data:`LOCK_TIMEOUT` seconds).

    The lock file is removed by its holder when done, so none is left behind; a writer that
    was waiting on a removed file sees it is gone and takes the new one. Raises
    ``TimeoutError`` when another writer holds the lock that long, ``OSError`` when the lock
    file cannot be created. Without ``fcntl`` (Windows) writes are not serialised.
    """
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = lock_path(target)
    deadline = time.monotonic() + LOCK_TIMEOUT
    fd = None
    while fd is None:
        fd = _lock_once(path, deadline)
    try:
        yield
    finally:
        # Gone already, or not ours to remove (a sticky directory): a lock file left behind
        # is harmless, the next writer takes it.
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)  # releases the lock
