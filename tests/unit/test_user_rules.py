"""``MAINTENANCE_MODE_EXCEPT_PERMISSIONS`` and ``MAINTENANCE_MODE_EXCEPT_GROUPS``: users
with a permission or in a group pass; checked once per request; an error means "not exempt"."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client, override_settings

from maintenance_env import runtime
from maintenance_env.checks import check_configuration


def user_with(permission: str | None = None, group: str | None = None) -> User:
    user: User = User.objects.create_user("someone", password="pw-someone-123")
    if permission is not None:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    if group is not None:
        user.groups.add(Group.objects.create(name=group))
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_PERMISSIONS="auth.view_user")
def test_a_user_with_the_permission_passes_one_without_does_not() -> None:
    runtime.reset()
    assert logged_in(user_with("auth.view_user")).get("/").status_code == 200
    User.objects.all().delete()
    assert logged_in(user_with("auth.add_user")).get("/").status_code == 503
    assert Client().get("/").status_code == 503


@pytest.mark.django_db
@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_GROUPS="Support, On call")
def test_a_member_of_a_group_passes_with_one_query(django_assert_max_num_queries: Any) -> None:
    runtime.reset()
    client = logged_in(user_with(group="On call"))
    with django_assert_max_num_queries(3):  # session, user, one for the groups
        assert client.get("/").status_code == 200
    User.objects.all().delete()
    Group.objects.all().delete()
    assert logged_in(user_with(group="Sales")).get("/").status_code == 503


@pytest.mark.django_db
@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_EXCEPT_GROUPS="A,B,C,D,E,F",
    MAINTENANCE_MODE_EXCEPT_PERMISSIONS="auth.view_user,auth.add_user,auth.change_user",
)
def test_many_groups_and_permissions_cost_no_more_queries(
    django_assert_max_num_queries: Any,
) -> None:
    runtime.reset()
    client = logged_in(user_with())
    # session, user, user permissions, group permissions, one for the groups
    with django_assert_max_num_queries(5):
        assert client.get("/").status_code == 503


@pytest.mark.django_db
@override_settings(MAINTENANCE_MODE=False, MAINTENANCE_MODE_EXCEPT_GROUPS="Support")
def test_no_query_when_maintenance_is_off(django_assert_num_queries: Any) -> None:
    runtime.reset()
    client = Client()
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 200


@pytest.mark.django_db
@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_EXCEPT_GROUPS="Support")
def test_an_error_while_checking_groups_means_not_exempt(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime.reset()
    client = logged_in(user_with(group="Support"))
    from maintenance_env import user_rules

    def broken(user: Any, groups: Any) -> bool:
        raise RuntimeError("database down")

    monkeypatch.setattr(user_rules, "in_groups", broken)
    assert client.get("/").status_code == 503


@pytest.mark.parametrize("value", ["view_user", "auth.", "auth.view user", "a.b.c"])
def test_a_bad_permission_is_a_check_error(value: str) -> None:
    with override_settings(MAINTENANCE_MODE_EXCEPT_PERMISSIONS=value):
        runtime.reset()
        ids = [message.id for message in check_configuration(None)]
    runtime.reset()
    assert "maintenance_env.E030" in ids
