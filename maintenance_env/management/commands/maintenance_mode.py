"""``manage.py maintenance_mode on|off|status|unset``: how to flip maintenance, and what is
in force.

``on``/``off`` print the exact commands for the platform in use (detected, or named by
``--platform`` or ``MAINTENANCE_MODE_PLATFORM``); with ``--write`` they write the value
into the shared store (``MAINTENANCE_MODE_CACHE``) or else the mounted config instead.
``unset NAME ...`` removes variables from that live source. ``status`` says whether
maintenance is active, why, and where each value comes from.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from argparse import ArgumentParser
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maintenance_env import conf, parsers, platforms, sources
from maintenance_env.conf import VARIABLES
from maintenance_env.management import live_write
from maintenance_env.parsers import InvalidValue

ACTIONS = ("on", "off", "status", "unset")
#: What fills each placeholder of the printed commands; any other is a name --app gives.
PLACEHOLDER_SOURCES = {"region": "or set CLOUDSDK_RUN_REGION"}


def _runtime(*, check_template: bool = True) -> conf.Runtime:
    # Live sources read once, the shared store included; no refresher thread.
    return live_write.command_runtime(check_template=check_template)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _json_value(value: object) -> Any:
    """A value of :class:`conf.Config` as JSON: lists stay lists, datetimes become ISO text."""
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, (tuple, list)):
        return [_json_value(item) for item in value]
    if hasattr(value, "pattern"):  # a compiled regular expression
        return value.pattern
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # an IP network


def _text_value(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    return str(value)


class Command(BaseCommand):
    help = (
        "Print the commands that turn maintenance on or off on this platform, write the "
        "switch into the mounted config (--write), or show what is in force (status)."
    )

    # `status` must work, and say why, when the configuration is bad.
    requires_system_checks: list[str] = []
    #: Where platform markers are looked for (tests point it at a fake filesystem root).
    detection_root = "/"

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        command = self

        def error(message: str) -> NoReturn:
            # One line, not argparse's usage block: "A bad argument exits with one clear line".
            if not parser.called_from_command_line:
                raise CommandError(f"Error: {message}")
            command.stderr.write(f"CommandError: {message} (see --help)")
            raise SystemExit(2)

        parser.error = error  # type: ignore[method-assign]
        # `unset --write NAME` as well as `unset NAME --write`: names after an option.
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "action",
            choices=ACTIONS,
            help="on or off: print (or --write) the switch; status: what is in force; "
            "unset NAME ...: remove variables from the live source",
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
            "--write",
            action="store_true",
            help="write into the shared store (MAINTENANCE_MODE_CACHE) or else the mounted "
            "config (MAINTENANCE_MODE_CONFIG_PATH) instead of printing commands",
        )
        parser.add_argument("--json", action="store_true", help="status as one JSON object")

    # --- validation -------------------------------------------------------------------

    def _values(self, action: str, options: dict[str, Any]) -> list[tuple[str, str]]:
        """The variables to set, ``MAINTENANCE_MODE`` first, each checked by conf's parser."""
        values = [("MAINTENANCE_MODE", action)]
        moments: dict[str, dt.datetime] = {}
        for option, name in (
            ("starts_at", "MAINTENANCE_MODE_STARTS_AT"),
            ("ends_at", "MAINTENANCE_MODE_ENDS_AT"),
        ):
            raw = options.get(option)
            if raw is None:
                continue
            try:
                moments[option] = parsers.parse_datetime_utc(name, raw)
            except InvalidValue as exc:
                flag = "--" + option.replace("_", "-")
                raise CommandError(
                    f"{flag}={raw!r} is not valid: expected {exc.expected}."
                ) from None
            values.append((name, _iso(moments[option])))
        if (
            "starts_at" in moments
            and "ends_at" in moments
            and moments["starts_at"] >= moments["ends_at"]
        ):
            raise CommandError(
                f"--starts-at={options['starts_at']!r} is not before "
                f"--ends-at={options['ends_at']!r}: the window would be empty."
            )
        message = options.get("message")
        if message is not None:
            if parsers.is_empty(message):
                raise CommandError("--message='' is not valid: expected some text.")
            values.append(("MAINTENANCE_MODE_MESSAGE", parsers.parse_text("--message", message)))
        return values

    def _check_names(self, options: dict[str, Any]) -> None:
        app, namespace = options.get("app"), options.get("namespace")
        if app is not None and not platforms.APP_RE.match(app):
            raise CommandError(
                f"--app={app!r} is not valid: expected a name of letters, "
                "digits and . _ @ : - (starting with a letter or digit)."
            )
        if namespace is not None and not platforms.NAMESPACE_RE.match(namespace):
            raise CommandError(
                f"--namespace={namespace!r} is not valid: expected a Kubernetes "
                "namespace (lower-case letters, digits and '-', at most 63)."
            )

    def _platform(self, option: str | None, runtime: conf.Runtime) -> platforms.Detection:
        if option is not None:
            name = option.strip().lower()
            if name not in platforms.NAMES:
                raise CommandError(
                    f"--platform={option!r} is not valid: expected 'list' or one "
                    f"of {', '.join(platforms.NAMES)}."
                )
            return platforms.Detection(name, "--platform")
        for problem in runtime.base.problems:
            if problem.name == "MAINTENANCE_MODE_PLATFORM":
                raise CommandError(str(problem))
        resolution = runtime.state().resolution
        configured = resolution.config.platform
        if configured:
            origin = resolution.origins["MAINTENANCE_MODE_PLATFORM"]
            return platforms.Detection(
                configured, f"MAINTENANCE_MODE_PLATFORM (from the {origin.value})"
            )
        return platforms.detect(os.environ, self.detection_root)

    # --- the actions ------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        action: str = options["action"]
        if options["json"] and action != "status":
            raise CommandError("--json goes with status only.")
        if options["write"] and action == "status":
            raise CommandError("--write goes with on or off only.")
        names = options.get("names") or []
        if names and action != "unset":
            raise CommandError(f"{names[0]!r}: variable names go with unset only.")
        if action == "unset":
            given = [
                f"--{o.replace('_', '-')}"
                for o in ("platform", "app", "namespace", "starts_at", "ends_at", "message")
                if options.get(o) is not None
            ]
            if given:
                raise CommandError(f"{given[0]} goes with on or off only.")
            live_write.unset(self, _runtime(check_template=False), names, self._reason)
            return
        if action == "status":
            given = [
                f"--{o.replace('_', '-')}"
                for o in ("platform", "app", "namespace", "starts_at", "ends_at", "message")
                if options.get(o) is not None
            ]
            if given:
                raise CommandError(f"{given[0]} goes with on or off only.")
            self._status(options["json"])
            return
        if options.get("platform") is not None and options["platform"].strip().lower() == "list":
            self._list()
            return
        self._check_names(options)
        values = self._values(action, options)
        runtime = _runtime(check_template=False)
        if options["write"]:
            self._write(runtime, values)
            return
        detection = self._platform(options.get("platform"), runtime)
        hints = platforms.context(detection.name, os.environ, self.detection_root)
        plan = platforms.instructions(
            detection.name,
            action,
            values,
            app=options.get("app") or hints.app,
            namespace=options.get("namespace") or hints.namespace,
            environment=hints.environment,
            config_path=runtime.base.config.config_path,
        )
        self.stdout.write(
            f"# Platform: {detection.name} ({detection.reason}). To turn maintenance {action}:"
        )
        self.stdout.write(plan.render(), ending="")
        if plan.placeholders:
            shown = [f"<{p}> ({PLACEHOLDER_SOURCES.get(p, '--app')})" for p in plan.placeholders]
            self.stdout.write(f"\n# Replace {' and '.join(shown)} first.")
        hint = live_write.no_restart_hint(runtime, action)
        if hint:
            self.stdout.write(hint)

    def _list(self) -> None:
        detected = platforms.detect(os.environ, self.detection_root)
        for name in platforms.NAMES:
            mark = "*" if name == detected.name else " "
            self.stdout.write(f"{mark} {name:<11} {platforms.DESCRIPTIONS[name]}")
        self.stdout.write(f"(* detected here: {detected.reason})")

    def _write(self, runtime: conf.Runtime, values: list[tuple[str, str]]) -> None:
        if live_write.write_store(self, runtime, values, self._reason):
            return
        config = runtime.base.config
        path = config.config_path
        if not path:
            raise CommandError(
                "Nothing to write to: MAINTENANCE_MODE_CONFIG_PATH is not set "
                "(set it to a directory, one file per variable, or a dotenv "
                "file)."
            )
        if os.path.isdir(path):
            directory = path
        elif os.path.isfile(path):
            directory = os.path.dirname(os.path.abspath(path))
        elif not os.path.lexists(path):
            raise CommandError(
                f"MAINTENANCE_MODE_CONFIG_PATH={path!r} does not exist: create "
                "the directory (or the dotenv file) first."
            )
        else:
            raise CommandError(
                f"MAINTENANCE_MODE_CONFIG_PATH={path!r} is neither a directory "
                "nor a regular file: nothing written."
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CommandError(
                f"MAINTENANCE_MODE_CONFIG_PATH={path!r} is not writable here: nothing written."
            )
        # The switch goes last, so that it flips with its window and message in place.
        written: list[str] = []
        for name, value in [*values[1:], values[0]]:
            try:
                target = sources.write_value(path, name, value)
            except OSError as exc:
                hint = (
                    " (a ConfigMap or Secret volume is read-only: change the ConfigMap "
                    "instead, see `maintenance_mode on --platform kubernetes`)"
                    if getattr(exc, "errno", None) == 30
                    else ""
                )
                done = (
                    f"; already written: {', '.join(written)}" if written else "; nothing written"
                )
                raise CommandError(
                    f"Cannot write {name} into {path!r}: {exc.strerror or exc}{hint}{done}."
                ) from None
            written.append(name)
            self.stdout.write(f"{name}={value} written to {target}")
        after = _runtime(check_template=False).state()
        now = time.time()
        state = "active" if after.is_active(now) else "not active"
        self.stdout.write(
            f"Maintenance is now {state} here ({self._reason(after, now)}); running servers "
            f"pick it up within {config.reload_interval:g} s (MAINTENANCE_MODE_RELOAD_INTERVAL)."
        )

    # --- status -----------------------------------------------------------------------

    @staticmethod
    def _reason(state: conf.State, now: float) -> str:
        resolution = state.resolution
        config = state.config
        origin = resolution.origins["MAINTENANCE_MODE"].value
        if not config.enabled:
            return f"MAINTENANCE_MODE is off, from the {origin}"
        if config.starts_at is not None and now < config.starts_at.timestamp():
            return (
                f"MAINTENANCE_MODE is on, from the {origin}, but the window starts at "
                f"{_iso(config.starts_at)}"
            )
        if config.ends_at is not None and now >= config.ends_at.timestamp():
            return (
                f"MAINTENANCE_MODE is on, from the {origin}, but the window ended at "
                f"{_iso(config.ends_at)}"
            )
        until = f" until {_iso(config.ends_at)}" if config.ends_at else ""
        return f"MAINTENANCE_MODE is on, from the {origin}{until}"

    @staticmethod
    def _window(state: conf.State, now: float) -> dict[str, Any] | None:
        """The window in force or still to come; ``None`` when there is none."""
        config = state.config
        if config.starts_at is None and config.ends_at is None:
            return None
        if config.ends_at is not None and now >= config.ends_at.timestamp():
            when = "past"
        elif config.starts_at is not None and now < config.starts_at.timestamp():
            when = "upcoming"
        else:
            when = "current"
        return {
            "starts_at": _iso(config.starts_at) if config.starts_at else None,
            "ends_at": _iso(config.ends_at) if config.ends_at else None,
            "when": when,
        }

    def _report(self) -> dict[str, Any]:
        runtime = _runtime()
        state = runtime.state()
        resolution = state.resolution
        now = time.time()
        active = state.is_active(now)
        variables: dict[str, dict[str, Any]] = {}
        for name, var in VARIABLES.items():
            value = _json_value(resolution.value(name))
            if var.secret and value is not None:
                value = "***"
            variables[name] = {"value": value, "origin": resolution.origins[name].value}
        try:
            platform = self._platform(None, runtime)
            platform_info: dict[str, str | None] = {
                "name": platform.name,
                "reason": platform.reason,
            }
        except CommandError as exc:
            platform_info = {"name": None, "reason": str(exc)}
        problems = [str(p) for p in resolution.problems]
        config_path = resolution.config.config_path
        return {
            "active": active,
            "reason": self._reason(state, now),
            "window": self._window(state, now),
            "retry_after": state.retry_after(now) if active else None,
            "platform": platform_info,
            "config_path": config_path,
            "config_error": resolution.source_error if config_path else None,
            "store": live_write.store_report(runtime),
            "variables": variables,
            "problems": problems,
        }

    def _status(self, as_json: bool) -> None:
        report = self._report()
        if as_json:
            self.stdout.write(json.dumps(report, indent=2))
            return
        write = self.stdout.write
        write(
            f"Maintenance is {'ACTIVE' if report['active'] else 'not active'}: {report['reason']}."
        )
        window = report["window"]
        if window is None:
            write("Window: none (active whenever MAINTENANCE_MODE is on)")
        else:
            write(
                f"Window: {window['starts_at'] or 'open'} to {window['ends_at'] or 'open'} "
                f"({window['when']})"
            )
        if report["retry_after"] is not None:
            write(f"Retry-After: {report['retry_after']} s")
        platform = report["platform"]
        write(f"Platform: {platform['name'] or '?'} ({platform['reason']})")
        if report["config_path"]:
            error = report["config_error"]
            write(f"Mounted config: {report['config_path']}" + (f" ({error})" if error else ""))
        else:
            write("Mounted config: none (MAINTENANCE_MODE_CONFIG_PATH is not set)")
        for line in live_write.store_lines(report["store"]):
            write(line)
        write("")
        width = max(len(name) for name in report["variables"])
        write(f"  {'variable':<{width}}  {'from':<11}  value")
        for name, item in report["variables"].items():
            origin = item["origin"]
            value = _text_value(item["value"])
            if name == "MAINTENANCE_MODE_RETRY_AFTER" and item["value"] is None:
                # Unset means derived, not absent: say what the header will carry.
                value = (
                    "(the seconds left until ENDS_AT)"
                    if report["variables"]["MAINTENANCE_MODE_ENDS_AT"]["value"]
                    else f"({conf.DEFAULT_RETRY_AFTER})"
                )
            write(f"  {name:<{width}}  {origin:<11}  {value}")
        for problem in report["problems"]:
            write(self.style.ERROR(f"Problem: {problem}"))
