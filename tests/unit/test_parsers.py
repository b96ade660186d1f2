"""The strict parsers: every accepted spelling, and every refusal naming variable and value."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

import pytest

from maintenance_env import parsers
from maintenance_env.parsers import InvalidValue

UTC = dt.timezone.utc


@pytest.mark.parametrize("word", ["on", "ON", " true ", "True", "yes", "YES", "1", True, 1])
def test_bool_true(word: object) -> None:
    assert parsers.parse_bool("MAINTENANCE_MODE", word) is True


@pytest.mark.parametrize("word", ["off", "Off", "false", "FALSE", "no", "0", " 0\n", False, 0])
def test_bool_false(word: object) -> None:
    assert parsers.parse_bool("MAINTENANCE_MODE", word) is False


@pytest.mark.parametrize(
    "word", ["treu", "1.0", "enabled", "y", "ok", "2", "on off", "none", 2, 1.0, []]
)
def test_bool_refuses_unknown_words_instead_of_false(word: object) -> None:
    with pytest.raises(InvalidValue) as info:
        parsers.parse_bool("MAINTENANCE_MODE", word)
    assert "MAINTENANCE_MODE=" in str(info.value)
    assert repr(word) in str(info.value)
    assert "on/off" in str(info.value)


def test_the_incumbents_string_false_is_false() -> None:
    # django-maintenance-mode reads MAINTENANCE_MODE="False" as truthy.
    assert parsers.parse_bool("MAINTENANCE_MODE", "False") is False


@pytest.mark.parametrize(
    ("raw", "expected"), [("503", 503), (" 200 ", 200), ("+599", 599), (418, 418)]
)
def test_int_in_range(raw: object, expected: int) -> None:
    assert parsers.parse_int("X", raw, minimum=200, maximum=599) == expected


@pytest.mark.parametrize(
    "raw", ["199", "600", "5e2", "503.0", "503s", "", "abc", True, 503.0, "0x1f7", "٥٠٣"]
)
def test_int_refused(raw: object) -> None:
    with pytest.raises(InvalidValue, match=r"X=.* expected a whole number from 200 to 599"):
        parsers.parse_int("X", raw, minimum=200, maximum=599)


def test_int_minimum_only_message() -> None:
    with pytest.raises(InvalidValue, match="at least 0"):
        parsers.parse_int("X", "-1", minimum=0)
    with pytest.raises(InvalidValue, match="a whole number"):
        parsers.parse_int("X", "x")


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", 1.0), ("0.5", 0.5), (".25", 0.25), ("0", 0.0), (2, 2.0), (0.1, 0.1)]
)
def test_float(raw: object, expected: float) -> None:
    assert parsers.parse_float("X", raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["1s", "-1", "nan", "inf", "1,5", "", "one", True, float("nan"), -0.5, "١"],  # noqa: RUF001 - a non-ASCII digit, on purpose
)
def test_float_refused(raw: object) -> None:
    # django-environ alone would read "1s" as 1.0 and "1,5" as 1.5.
    with pytest.raises(InvalidValue, match="X="):
        parsers.parse_float("X", raw)


def test_list_from_text_is_split_trimmed_and_empty_items_dropped() -> None:
    assert parsers.parse_list("X", " a, b ,,c , ") == ("a", "b", "c")


def test_list_from_settings() -> None:
    assert parsers.parse_list("X", ["a ", " b", ""]) == ("a", "b")
    assert parsers.parse_list("X", ("a",)) == ("a",)


def test_a_string_is_never_read_character_by_character() -> None:
    assert parsers.parse_list("X", "10.0.0.1") == ("10.0.0.1",)


@pytest.mark.parametrize("raw", [42, {"a": 1}, ["a", 1]])
def test_list_refused(raw: object) -> None:
    with pytest.raises(InvalidValue, match="comma-separated list"):
        parsers.parse_list("X", raw)


def test_regexes_compiled() -> None:
    patterns = parsers.parse_regexes("X", r"^/admin/, ^/api/v\d+/")
    assert [p.pattern for p in patterns] == ["^/admin/", r"^/api/v\d+/"]
    assert all(isinstance(p, re.Pattern) for p in patterns)


def test_bad_regex_names_the_item() -> None:
    with pytest.raises(InvalidValue) as info:
        parsers.parse_regexes("MAINTENANCE_MODE_EXCEPT_URLS", "^/ok/, ^/bad(/")
    assert info.value.name == "MAINTENANCE_MODE_EXCEPT_URLS"
    assert info.value.value == "^/bad(/"
    assert "regular expression" in str(info.value)


def test_paths_must_start_with_slash() -> None:
    assert parsers.parse_paths("X", "/healthz, /up") == ("/healthz", "/up")
    with pytest.raises(InvalidValue, match="'healthz'"):
        parsers.parse_paths("X", "healthz")


def test_networks_v4_v6_and_cidr() -> None:
    nets = parsers.parse_networks("X", "10.0.0.1, 192.168.0.0/16, 2001:db8::/32, ::1")
    assert ipaddress.ip_address("10.0.0.1") in nets[0]
    assert ipaddress.ip_address("10.0.0.123") not in nets[0]
    assert ipaddress.ip_address("192.168.44.3") in nets[1]
    assert ipaddress.ip_address("2001:db8::5") in nets[2]


@pytest.mark.parametrize(
    "raw", ["10.0.0.256", "10.0.0.1/8", "10.0.0.*", "localhost", "10.0.0.0/33"]
)
def test_bad_networks_refused(raw: str) -> None:
    with pytest.raises(InvalidValue, match="IP address or CIDR"):
        parsers.parse_networks("MAINTENANCE_MODE_EXCEPT_IPS", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2040-06-01T02:00:00Z", dt.datetime(2040, 6, 1, 2, tzinfo=UTC)),
        ("2040-06-01T03:00:00+01:00", dt.datetime(2040, 6, 1, 2, tzinfo=UTC)),
        ("2040-06-01 02:00", dt.datetime(2040, 6, 1, 2, tzinfo=UTC)),
        ("2040-06-01", dt.datetime(2040, 6, 1, tzinfo=UTC)),
        (dt.datetime(2040, 6, 1, 2), dt.datetime(2040, 6, 1, 2, tzinfo=UTC)),
        (dt.date(2040, 6, 1), dt.datetime(2040, 6, 1, tzinfo=UTC)),
    ],
)
def test_datetimes_naive_means_utc(raw: object, expected: dt.datetime) -> None:
    parsed = parsers.parse_datetime_utc("X", raw)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "raw", ["tomorrow", "2040-13-01T00:00", "2040-06-01T25:00", "12/01/2026", 1700000000]
)
def test_bad_datetimes(raw: object) -> None:
    with pytest.raises(InvalidValue, match="ISO 8601"):
        parsers.parse_datetime_utc("MAINTENANCE_MODE_ENDS_AT", raw)


@pytest.mark.parametrize("raw", [None, "", "  ", "\n"])
def test_empty_counts_as_unset(raw: object) -> None:
    assert parsers.is_empty(raw)


@pytest.mark.parametrize("raw", ["0", "off", [], 0, False])
def test_falsy_values_are_not_empty(raw: object) -> None:
    assert not parsers.is_empty(raw)


def test_secret_values_are_masked_in_errors() -> None:
    error = InvalidValue("MAINTENANCE_MODE_BYPASS_SECRET", "hunter2hunter2", "text", secret=True)
    assert "hunter2" not in str(error)
    assert "***" in str(error)
