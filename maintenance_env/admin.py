"""The admin's **Maintenance** page (loaded by the admin's autodiscovery, so only with
``django.contrib.admin`` installed): the state, every variable with its value and origin,
the live sources and their health, and a form that writes the live source through the one
writer (:mod:`maintenance_env.writes`), as ``maintenance_mode on|off --write`` does.

It needs ``maintenance_env.change_maintenance``; a user with it reaches the page during
maintenance whatever the exemptions (the view is exempt and checks the permission itself).
A GET changes nothing; a POST needs the CSRF token; each write is an admin ``LogEntry``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.dateparse import parse_datetime

from maintenance_env import runtime as live
from maintenance_env import write_checks, writes
from maintenance_env.cache_url import StoreError
from maintenance_env.decorators import maintenance_exempt
from maintenance_env.history import Change
from maintenance_env.live import Runtime
from maintenance_env.models import Maintenance
from maintenance_env.reports import iter_serving, laggards
from maintenance_env.status_report import build_status

PERMISSION = "maintenance_env.change_maintenance"


class MaintenanceForm(forms.Form):
    """On / read-only / off, a message, an end time and a reason."""

    state = forms.ChoiceField(
        choices=[("on", "On"), ("read-only", "Read-only"), ("off", "Off")],
        widget=forms.RadioSelect,
    )
    message = forms.CharField(required=False, max_length=2000)
    ends_at = forms.DateTimeField(required=False, help_text="UTC, e.g. 2040-06-01 04:00")
    reason = forms.CharField(required=False, max_length=write_checks.MAX_NOTE_LENGTH)

    def values(self) -> list[tuple[str, object]]:
        """The variables to write, ``MAINTENANCE_MODE`` first."""
        data = self.cleaned_data
        state = data["state"]
        values: list[tuple[str, object]] = [("MAINTENANCE_MODE", "off" if state == "off" else "on")]
        if state != "off":
            values.append(("MAINTENANCE_MODE_READ_ONLY", state == "read-only"))
        if data.get("message"):
            values.append(("MAINTENANCE_MODE_MESSAGE", data["message"]))
        ends_at: dt.datetime | None = data.get("ends_at")
        if ends_at is not None:
            values.append(("MAINTENANCE_MODE_ENDS_AT", ends_at))
        return values


@admin.register(Maintenance)
class MaintenanceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One page instead of a list: no rows, no add, no delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(PERMISSION))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(PERMISSION))

    def get_urls(self) -> list[URLPattern]:
        view = maintenance_exempt(self.admin_site.admin_view(self.maintenance_view))
        return [path("", view, name="maintenance_env_maintenance_changelist")]

    def maintenance_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the page. POST: write through the one writer, log it, redirect back."""
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        form = MaintenanceForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                runtime = live.get_runtime()
                writes.write(
                    runtime,
                    form.values(),
                    reason=form.cleaned_data.get("reason") or None,
                    by=request.user.get_username(),
                    source="admin",
                )
            except write_checks.WriteError as exc:
                messages.error(request, str(exc))
            else:
                runtime.refresh()
                LogEntry.objects.create(
                    user_id=request.user.pk,
                    content_type_id=ContentType.objects.get_for_model(Maintenance).pk,
                    object_repr="Maintenance",
                    action_flag=CHANGE,
                    change_message=f"Set to {form.cleaned_data['state']}"
                    + (
                        f": {form.cleaned_data['reason']}"
                        if form.cleaned_data.get("reason")
                        else ""
                    ),
                )
                messages.success(request, f"Maintenance set to {form.cleaned_data['state']}.")
                return HttpResponseRedirect(request.path)
        runtime = live.get_runtime()
        info = build_status(runtime, runtime.state())
        context = {
            **self.admin_site.each_context(request),
            "title": "Maintenance",
            "opts": self.model._meta,
            "status": info,
            "variables": _shown_variables(info.as_dict()["variables"]),
            "form": form,
            **_fleet_context(runtime),
        }
        return TemplateResponse(request, "admin/maintenance_env/maintenance.html", context)


def shown(value: object) -> str:
    """A variable's value as the page shows it, from ``Status.as_dict()``: as ``status``
    prints it (on/off, lists comma-separated, "" when unset), never a Python repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) or "(empty)"
    return str(value)


def _shown_variables(variables: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(name, value shown, origin)`` of every variable, in the documented order."""
    return [(name, shown(item["value"]), str(item["origin"])) for name, item in variables.items()]


def _when(change: Change) -> dt.datetime | str:
    """When ``change`` was made, as an aware datetime for the template's ``date`` filter;
    the stored text itself when it does not parse."""
    return parse_datetime(change.changed_at) or change.changed_at


def _fleet_context(runtime: Runtime) -> dict[str, object]:
    """The fleet (contract section 10) for the page: ``fleet`` (the live processes, grouped
    by what they serve, each with ``lagging``), ``history`` (the last changes, newest
    first) and ``fleet_error`` (why they could not be read); all empty without a store."""
    store = runtime.store
    if store is None:
        return {"fleet": None, "history": [], "fleet_error": None}
    try:
        reports, changes = store.live_reports(), store.history()
    except StoreError as exc:
        return {"fleet": None, "history": [], "fleet_error": str(exc)}
    changed_at = changes[0].changed_at if changes else None
    behind = {r.name for r in laggards(reports, None, changed_at)}
    groups = [
        (serving, [(r, r.name in behind) for r in found])
        for serving, found in iter_serving(reports).items()
        if found
    ]
    history = [(change, _when(change)) for change in changes]
    return {"fleet": groups, "history": history, "fleet_error": None, "processes": len(reports)}
