"""``MAINTENANCE_MODE_WEBHOOK_URL``: one JSON ``POST`` per fleet change, off the request path.

On each :data:`maintenance_env.signals.fleet_changed` (sent in one process of the fleet per
change), :func:`receiver` starts a daemon thread that posts::

    {"text": "...", "active": true, "read_only": false, "message": "...",
     "ends_at": "2040-06-01T06:00:00Z", "changed_by": "ops@deploy-1", "reason": "..."}

The ``text`` field makes it a Slack, Mattermost, Teams or Discord-compatible incoming webhook.
Each try has a 5 s timeout; 3 tries with a backoff of 1 s, then 2 s; a failure is logged once
(after the last try) with the URL masked to its scheme and host, since an incoming webhook's
path is its secret. The body never carries a secret: only the fields above.

Connect it once (the app's ``ready`` does, when the variable is set)::

    from maintenance_env import webhook
    webhook.connect(lambda: config.webhook_url)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from maintenance_env.history import Change
from maintenance_env.printing import printable

__all__ = ["TIMEOUT", "TRIES", "connect", "mask_url", "payload", "post", "post_in_background"]

logger = logging.getLogger("maintenance_env")

#: Seconds each try may take.
TIMEOUT = 5.0
TRIES = 3
#: Seconds before the second try; doubled before each next one.
BACKOFF = 1.0
DISPATCH_UID = "maintenance_env.webhook"


def mask_url(url: str) -> str:
    """``url`` as logs may show it: scheme and host, the rest ``***``."""
    from maintenance_env.variables import VARIABLES

    shown = VARIABLES["MAINTENANCE_MODE_WEBHOOK_URL"].show(url)
    return str(shown)


def _slack_escape(text: str) -> str:
    # Slack's and Mattermost's message formatting: &, < and > are markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def payload(
    *,
    active: bool,
    read_only: bool,
    message: str | None,
    ends_at: dt.datetime | None,
    change: Change,
) -> dict[str, Any]:
    """The JSON body for one change. ``text`` is one line, its user-given parts escaped
    (control characters, and ``&``, ``<``, ``>`` so that a reason cannot mention
    ``@channel`` or forge a link); the other fields carry the values as data."""
    if not active:
        state = "Maintenance is over: the site is back"
    elif read_only:
        state = "Maintenance (read-only) is on"
    else:
        state = "Maintenance is on"
    parts = [state]
    if active and ends_at is not None:
        parts.append(f"until {_iso(ends_at)}")
    if change.changed_by:
        parts.append(f"by {change.changed_by}")
    text = " ".join(parts)
    if change.reason:
        text += f": {change.reason}"
    return {
        "text": _slack_escape(printable(text)),
        "active": active,
        "read_only": bool(active and read_only),
        "message": message,
        "ends_at": _iso(ends_at),
        "changed_by": change.changed_by,
        "reason": change.reason,
    }


def post(
    url: str,
    body: dict[str, Any],
    *,
    tries: int = TRIES,
    timeout: float = TIMEOUT,
    backoff: float = BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST ``body`` as JSON to ``url``, up to ``tries`` times (a 2xx answer ends it; any
    other answer or a network error tries again after ``backoff`` s, doubling). Returns
    whether it was delivered; a failure is logged once, at ERROR, with the URL masked."""
    data = json.dumps(body).encode("utf-8")
    last = ""
    for attempt in range(max(tries, 1)):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "django-maintenance-env"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(65536)
                if 200 <= response.status < 300:
                    return True
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except Exception as exc:  # URLError, timeouts, connection resets
            reason = getattr(exc, "reason", None) or exc
            last = f"{exc.__class__.__name__}: {printable(reason)}".replace(url, mask_url(url))
    logger.error(
        "maintenance_env: the webhook %s failed %s times (last: %s); this change was not posted",
        mask_url(url),
        max(tries, 1),
        last,
    )
    return False


_queue: queue.SimpleQueue[tuple[str, dict[str, Any], dict[str, Any], threading.Event]]
_queue = queue.SimpleQueue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def _work() -> None:
    while True:
        url, body, options, sent = _queue.get()
        try:
            post(url, body, **options)
        except Exception:  # never let the sender die: the next change still goes out
            logger.exception("maintenance_env: posting to the webhook %s failed", mask_url(url))
        finally:
            sent.set()


def post_in_background(url: str, body: dict[str, Any], **options: Any) -> threading.Event:
    """Queue ``body`` for :func:`post` on this process's sender thread (a daemon, started
    on first use): changes go out one at a time, in the order they happened. Returns an
    event set once this one was delivered or given up (tests wait on it)."""
    global _worker
    sent = threading.Event()
    with _worker_lock:
        _queue.put((url, body, options, sent))
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="maintenance_env webhook", daemon=True)
            _worker.start()
    return sent


def after_fork() -> None:
    """In a forked child (called by the package's one at-fork hook, in
    :mod:`maintenance_env.runtime`): a new queue and lock, no sender thread (the parent's
    is not copied)."""
    global _queue, _worker, _worker_lock
    _queue = queue.SimpleQueue()
    _worker = None
    _worker_lock = threading.Lock()


def connect(get_url: Callable[[], str | None], **options: Any) -> Callable[..., None]:
    """Connect a ``fleet_changed`` receiver that posts each change to ``get_url()`` (read
    at each change; nothing is posted while it gives ``None``). ``options`` go to
    :func:`post`. Connecting again replaces the receiver. Returns the receiver."""
    from maintenance_env.signals import fleet_changed

    def on_fleet_changed(
        sender: object,
        *,
        active: bool,
        change: Change,
        read_only: bool = False,
        message: str | None = None,
        ends_at: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        url = get_url()
        if not url:
            return
        body = payload(
            active=active, read_only=read_only, message=message, ends_at=ends_at, change=change
        )
        post_in_background(url, body, **options)

    fleet_changed.disconnect(dispatch_uid=DISPATCH_UID)
    fleet_changed.connect(on_fleet_changed, weak=False, dispatch_uid=DISPATCH_UID)
    return on_fleet_changed


def disconnect() -> None:
    """Disconnect the receiver of :func:`connect` (tests)."""
    from maintenance_env.signals import fleet_changed

    fleet_changed.disconnect(dispatch_uid=DISPATCH_UID)
