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

import os
import sys
import time
from argparse import ArgumentParser
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maintenance_env import live, platforms, write_checks, writes
from maintenance_env.api import detect_platform
from maintenance_env.management import fleet_actions, fleet_text, live_write, plans, secret, status
from maintenance_env.management import options as arguments
from maintenance_env.management.options import VALUE_OPTIONS
from maintenance_env.status_report import build_status, reason


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
        arguments.add_arguments(parser)

    # --- validation -------------------------------------------------------------------

    def _values(self, action: str, options: dict[str, Any]) -> list[tuple[str, str]]:
        """The variables to set, ``MAINTENANCE_MODE`` first, each checked by its parser."""
        values: list[tuple[str, object]] = [("MAINTENANCE_MODE", action)]
        if options.get("read_only"):
            if action != "on":
                raise CommandError("--read-only goes with on only.")
            values.append(("MAINTENANCE_MODE_READ_ONLY", "true"))
        if options.get("url") is not None and not options.get("with_secret"):
            raise CommandError("--url goes with --with-secret only.")
        if options.get("with_secret"):
            if action != "on" or options.get("bypass_secret") is not None:
                raise CommandError("--with-secret goes with on only, without --bypass-secret.")
            options["bypass_secret"] = secret.new_secret()
            options["bypass_link"] = secret.link(options["bypass_secret"], options.get("url"))
        values += [(name, options[o]) for o, name in VALUE_OPTIONS if options.get(o) is not None]
        labels = {name: "--" + o.replace("_", "-") for o, name in VALUE_OPTIONS}
        try:
            return write_checks.check_values(values, labels=labels)
        except write_checks.WriteError as exc:
            raise CommandError(str(exc)) from None

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
        platform_option = (options.get("platform") or "").strip().lower()
        if options["action"] is None and platform_option == "list":
            plans.render_list(platforms.detect(os.environ, self.detection_root), self.stdout.write)
            return
        if options["action"] is None:
            raise CommandError(
                "Say what to do: on or off (print the switch for this platform, or --write "
                "it), status, is-active or unset NAME ... (see --help)."
            )
        action: str = options["action"]
        arguments.check_combinations(action, options)
        names = options.get("names") or []
        if action in ("status", "is-active", "unset", "history"):
            if action == "unset":
                live_write.unset(self, _runtime(check_template=False), names, reason)
            elif action == "is-active":
                self._is_active()
            elif action == "history":
                fleet_actions.history(
                    self.stdout.write, _runtime(check_template=False), options["json"]
                )
            elif options["fleet"]:
                fleet_actions.fleet(
                    self.stdout.write, _runtime(check_template=False), options["json"]
                )
            else:
                self._status(options["json"])
            return
        if options.get("platform") is not None and options["platform"].strip().lower() == "list":
            plans.render_list(platforms.detect(os.environ, self.detection_root), self.stdout.write)
            return
        self._check_names(options)
        values = self._values(action, options)
        runtime = _runtime(check_template=False)
        if options["wait"]:
            fleet_actions.command_store(runtime, fleet_text.NO_STORE)  # before anything is written
        if options["write"]:
            self._write(runtime, values, options)
            if options.get("bypass_link"):
                self.stdout.write(options["bypass_link"])
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
        if options.get("bypass_link"):
            self.stdout.write(options["bypass_link"])

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

    def _status(self, as_json: bool) -> None:
        runtime = _runtime()
        policy = runtime.state()
        platform = detect_platform(runtime, policy, self.detection_root)
        data = build_status(runtime, policy, platform=platform).as_dict()
        if as_json:
            self.stdout.write(status.dumps(data))
            return
        status.render(data, self.stdout.write, self.style.ERROR)

    def _write(self, runtime: live.Runtime, values: list[tuple[str, str]], options: Any) -> None:
        try:
            written = writes.write(runtime, values, reason=options["reason"], by=options["by"])
        except write_checks.WriteError as exc:
            raise CommandError(str(exc)) from None
        for line in written.lines:
            self.stdout.write(line)
        after = _runtime(check_template=False).state()
        now = time.time()
        live_write.warn_if_inactive(self.stderr.write, values, after, now)
        state = "active" if after.is_active(now) else "not active"
        interval = runtime.base.config.reload_interval
        if written.store:
            if options["wait"]:
                self.stdout.write(f"Maintenance is now {state} ({reason(after, now)}).")
                fleet_actions.wait(
                    self.stdout.write, runtime, after, now, options["timeout"], written.changed_at
                )
                return
            seen = live_write.seen_within(interval)
            self.stdout.write(f"Maintenance is now {state} ({reason(after, now)}); {seen}.")
        else:
            self.stdout.write(
                f"Maintenance is now {state} here ({reason(after, now)}); running servers "
                f"pick it up within {interval:g} s (MAINTENANCE_MODE_RELOAD_INTERVAL)."
            )
