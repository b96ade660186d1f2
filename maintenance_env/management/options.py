"""The arguments of ``manage.py maintenance_mode``: the actions, the options that set a
variable (each checked like it), and their help."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import CommandError

__all__ = ["ACTIONS", "PLAN_OPTIONS", "VALUE_OPTIONS", "add_arguments", "check_combinations"]

ACTIONS = ("on", "off", "status", "is-active", "unset", "history")
#: The options that go with ``on``/``off`` only.
PLAN_OPTIONS = (
    "platform",
    "app",
    "namespace",
    "starts_at",
    "ends_at",
    "message",
    "retry_after",
    "refresh",
    "status_code",
    "redirect_url",
    "reason",
    "by",
    "bypass_secret",
    "url",
)
#: The options that set a variable, checked like it.
VALUE_OPTIONS = (
    ("starts_at", "MAINTENANCE_MODE_STARTS_AT"),
    ("ends_at", "MAINTENANCE_MODE_ENDS_AT"),
    ("message", "MAINTENANCE_MODE_MESSAGE"),
    ("retry_after", "MAINTENANCE_MODE_RETRY_AFTER"),
    ("refresh", "MAINTENANCE_MODE_REFRESH"),
    ("status_code", "MAINTENANCE_MODE_STATUS_CODE"),
    ("redirect_url", "MAINTENANCE_MODE_REDIRECT_URL"),
    ("bypass_secret", "MAINTENANCE_MODE_BYPASS_SECRET"),
)


def add_arguments(parser: ArgumentParser) -> None:
    """Every argument of the command, on ``parser``."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=ACTIONS,
        help="on or off: print (or --write) the switch; status: what is in force; "
        "is-active: exit 0 when maintenance is active, 1 when not, printing nothing; "
        "unset NAME ...: remove variables from the live source; history: the last "
        "changes recorded in the shared store, newest first",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="with unset: the variables to remove from the shared store (or else the "
        "mounted config), so that the environment and settings apply again",
    )
    parser.add_argument(
        "--platform",
        metavar="NAME",
        help="platform to print commands for, instead of the detected one; 'list' lists them",
    )
    parser.add_argument(
        "--app", metavar="NAME", help="app, service, Deployment, container or unit name"
    )
    parser.add_argument("--namespace", metavar="NAME", help="Kubernetes namespace")
    parser.add_argument(
        "--starts-at",
        metavar="DATETIME",
        help="also set MAINTENANCE_MODE_STARTS_AT (ISO 8601; naive = UTC)",
    )
    parser.add_argument(
        "--ends-at",
        metavar="DATETIME",
        help="also set MAINTENANCE_MODE_ENDS_AT (ISO 8601; naive = UTC)",
    )
    parser.add_argument("--message", metavar="TEXT", help="also set MAINTENANCE_MODE_MESSAGE")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="with on: also set MAINTENANCE_MODE_READ_ONLY=true (reads served, writes refused)",
    )
    for option, name in VALUE_OPTIONS[3:-1]:
        parser.add_argument(
            "--" + option.replace("_", "-"), metavar="VALUE", help=f"also set {name}"
        )
    parser.add_argument(
        "--with-secret",
        action="store_true",
        help="with on: generate a bypass secret (MAINTENANCE_MODE_BYPASS_SECRET), write or "
        "print it with the switch, and print the bypass link",
    )
    parser.add_argument(
        "--url", metavar="BASE", help="with --with-secret: the site's URL for the bypass link"
    )
    parser.add_argument(
        "--reason", metavar="TEXT", help="with --write: why, recorded in the shared store"
    )
    parser.add_argument(
        "--by",
        metavar="TEXT",
        help="with --write: who, recorded in the shared store (default: user@host)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="write into the shared store (MAINTENANCE_MODE_CACHE) or else the mounted "
        "config (MAINTENANCE_MODE_CONFIG_PATH) instead of printing commands",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="with --write to the shared store: wait until every live process serves the "
        "new state (exit 1 at --timeout, naming the processes that lag)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=None,
        help="with --wait: how long to wait, in seconds (default 60)",
    )
    parser.add_argument(
        "--fleet",
        action="store_true",
        help="with status: the live processes of the fleet, grouped by what they serve, "
        "and those that have not applied the last change",
    )
    parser.add_argument(
        "--json", action="store_true", help="status or history as JSON (one object, a list)"
    )


def _seconds(text: str) -> float:
    """``--timeout``: a number of seconds, at least 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ArgumentTypeError(f"--timeout={text!r} is not valid: expected seconds, at least 0")
    return seconds


def check_combinations(action: str, options: dict[str, Any]) -> None:
    """Refuse, in one line (:class:`CommandError`), an option that does not go with
    ``action``: ``--json`` with status or history only, ``--write`` with on or off,
    ``--fleet`` with status, ``--wait`` with on or off ``--write``, ``--timeout`` with
    ``--wait``, ``--reason``/``--by`` with ``--write``, names with unset, and the plan's
    options with on or off."""
    if options["json"] and action not in ("status", "history"):
        raise CommandError("--json goes with status or history only.")
    if options["write"] and action in ("status", "is-active", "history"):
        raise CommandError("--write goes with on or off only.")
    if options["fleet"] and action != "status":
        raise CommandError("--fleet goes with status only.")
    if options["wait"] and not (action in ("on", "off") and options["write"]):
        raise CommandError("--wait goes with on or off --write only.")
    if options["timeout"] is not None and not options["wait"]:
        raise CommandError("--timeout goes with --wait only.")
    for note in ("reason", "by"):
        if options.get(note) is not None and action in ("on", "off") and not options["write"]:
            raise CommandError(f"--{note} goes with --write (it is recorded with the write).")
    names = options.get("names") or []
    if names and action != "unset":
        raise CommandError(f"{names[0]!r}: variable names go with unset only.")
    if action in ("status", "is-active", "unset", "history"):
        given = [f"--{o.replace('_', '-')}" for o in PLAN_OPTIONS if options.get(o) is not None]
        if given:
            raise CommandError(f"{given[0]} goes with on or off only.")
