"""``manage.py maintenance_mode on|off|status|is-active|unset``: how to flip maintenance,
and what is in force.

``on``/``off`` print the exact commands for the platform in use (detected, or named by
``--platform`` or ``MAINTENANCE_MODE_PLATFORM``); with ``--write`` they write the value
into the shared store (``MAINTENANCE_MODE_CACHE``) or else the mounted config instead.
``unset NAME ...`` removes variables from that live source. ``status`` says whether
maintenance is active, why, and where each value comes from; ``is-active`` answers with
its exit status alone.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from argparse import ArgumentParser
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maintenance_env import live, parsers, platforms, sources
from maintenance_env.api import detect_platform
from maintenance_env.management import live_write, plans, status
from maintenance_env.parsers import InvalidValue
from maintenance_env.status_report import build_status, reason

ACTIONS = ("on", "off", "status", "is-active", "unset")
#: The options that go with ``on``/``off`` only.
PLAN_OPTIONS = ("platform", "app", "namespace", "starts_at", "ends_at", "message")


def _runtime(*, check_template: bool = True) -> live.Runtime:
    # Live sources read once, the shared store included; no refresher thread.
    return live_write.command_runtime(check_template=check_template)


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
            "is-active: exit 0 when maintenance is active, 1 when not, printing nothing; "
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
            values.append(
                (
                    name,
                    moments[option].astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
                )
            )
        if "ends_at" in moments and moments["ends_at"].timestamp() <= time.time():
            raise CommandError(
                f"--ends-at={options['ends_at']!r} is in the past: maintenance would never "
                "be active."
            )
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
                "digits and . _ @ : / - (starting with a letter or digit; no '..')."
            )
        if namespace is not None and not platforms.NAMESPACE_RE.match(namespace):
            raise CommandError(
                f"--namespace={namespace!r} is not valid: expected a Kubernetes "
                "namespace (lower-case letters, digits and '-', at most 63)."
            )

    def _platform(self, option: str | None, runtime: live.Runtime) -> platforms.Detection:
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
        if options["write"] and action in ("status", "is-active"):
            raise CommandError("--write goes with on or off only.")
        names = options.get("names") or []
        if names and action != "unset":
            raise CommandError(f"{names[0]!r}: variable names go with unset only.")
        if action in ("status", "is-active", "unset"):
            given = [f"--{o.replace('_', '-')}" for o in PLAN_OPTIONS if options.get(o) is not None]
            if given:
                raise CommandError(f"{given[0]} goes with on or off only.")
            if action == "unset":
                live_write.unset(self, _runtime(check_template=False), names, reason)
            elif action == "is-active":
                self._is_active()
            else:
                self._status(options["json"])
            return
        if options.get("platform") is not None and options["platform"].strip().lower() == "list":
            plans.render_list(platforms.detect(os.environ, self.detection_root), self.stdout.write)
            return
        self._check_names(options)
        values = self._values(action, options)
        runtime = _runtime(check_template=False)
        if options["write"]:
            self._write(runtime, values)
            return
        detection = self._platform(options.get("platform"), runtime)
        hints = platforms.context(detection.name, os.environ, self.detection_root)
        try:
            text = plans.render_plan(
                detection,
                action,
                values,
                app=options.get("app") or hints.app,
                namespace=options.get("namespace") or hints.namespace,
                environment=hints.environment,
                config_path=runtime.base.config.config_path,
                store=bool(runtime.base.config.cache),
            )
        except platforms.Unprintable as exc:
            raise CommandError(f"{exc} Nothing printed for {detection.name}.") from None
        self.stdout.write(text, ending="")

    def _is_active(self) -> None:
        """Exit 0 when maintenance is active here, 1 when not; print nothing (as
        ``systemctl is-active --quiet``). The live sources count.

        When it cannot tell, it says so in one line and exits 2, so that
        ``is-active || …`` never mistakes "unknown" for "off": a bad value in the
        environment or settings (the servers would refuse to start), or a shared store
        that cannot be read (running servers keep the last values they read).
        """
        runtime = _runtime(check_template=False)
        if runtime.problems:
            raise CommandError(
                f"Cannot tell: {runtime.problems[0]} (manage.py check lists every problem).",
                returncode=2,
            )
        policy = runtime.state()
        store = runtime.store
        if store is not None and store.snapshot.error is not None:
            raise CommandError(
                f"Cannot tell: {store.label} {store.snapshot.error}; running servers keep "
                "the values they last read from it.",
                returncode=2,
            )
        if not policy.is_active(time.time()):
            sys.exit(1)

    def _warn_if_inactive(self, values: list[tuple[str, str]], after: Any, now: float) -> None:
        """``on`` that leaves the site up (a window from an earlier write has ended, or
        starts later): say so on stderr, naming what to change."""
        if values[0][1] != "on" or after.is_active(now):
            return
        config = after.config
        if config.ends_at is not None and now >= config.ends_at.timestamp():
            self.stderr.write(
                f"Warning: MAINTENANCE_MODE is on, but the window ended at "
                f"{config.ends_at.isoformat()}: maintenance is not active. Give a new "
                "--ends-at, or `maintenance_mode unset MAINTENANCE_MODE_ENDS_AT --write`."
            )
        elif config.starts_at is not None and now < config.starts_at.timestamp():
            self.stderr.write(
                f"Note: MAINTENANCE_MODE is on; the window starts at "
                f"{config.starts_at.isoformat()}."
            )

    def _status(self, as_json: bool) -> None:
        runtime = _runtime()
        policy = runtime.state()
        platform = detect_platform(runtime, policy, self.detection_root)
        data = build_status(runtime, policy, platform=platform).as_dict()
        if as_json:
            self.stdout.write(status.dumps(data))
            return
        status.render(data, self.stdout.write, self.style.ERROR)

    def _write(self, runtime: live.Runtime, values: list[tuple[str, str]]) -> None:
        if live_write.write_store(self, runtime, values, reason):
            self._warn_if_inactive(values, _runtime(check_template=False).state(), time.time())
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
        # The switch goes last, so that it flips with its window and message in place. Every
        # value is checked before any is written; a dotenv file is changed in one rename.
        ordered = [*values[1:], values[0]]
        try:
            targets = sources.write_values(path, ordered)
        except sources.WriteRefused as exc:
            raise CommandError(f"{exc}; nothing written.") from None
        except OSError as exc:
            hint = (
                " (a ConfigMap or Secret volume is read-only: change the ConfigMap "
                "instead, see `maintenance_mode on --platform kubernetes`)"
                if getattr(exc, "errno", None) == 30
                else ""
            )
            raise CommandError(
                f"Cannot write into {path!r}: {exc.strerror or exc}{hint}; "
                "`maintenance_mode status` shows what is in force."
            ) from None
        for (name, value), target in zip(ordered, targets, strict=True):
            self.stdout.write(f"{name}={value} written to {target}")
        after = _runtime(check_template=False).state()
        now = time.time()
        state = "active" if after.is_active(now) else "not active"
        self._warn_if_inactive(values, after, now)
        self.stdout.write(
            f"Maintenance is now {state} here ({reason(after, now)}); running servers "
            f"pick it up within {config.reload_interval:g} s (MAINTENANCE_MODE_RELOAD_INTERVAL)."
        )
