"""``maintenance_env.schedule``: the grammar, occurrences across daylight saving and
midnight, month ordinals, a one-off window, phases; and a property against a naive walk.

Every instant is fixed: nothing here reads the real clock (the suite also runs under
``faketime``), and where the module is asked about "now" the clock is frozen.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from maintenance_env.plan import Phase, Plan
from maintenance_env.schedule import (
    UTC,
    WEEKDAYS,
    Occurrence,
    Rule,
    Schedule,
    first_instant,
)

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "300"))
BERLIN = ZoneInfo("Europe/Berlin")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone, fold=fold)  # type: ignore[arg-type,misc]


def span(occurrence: Occurrence | None) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    return None if occurrence is None else (occurrence.starts_at, occurrence.ends_at)


# --- the grammar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weekdays", "ordinal"),
    [
        ("daily 01:00-02:00", set(range(7)), None),
        ("sun 01:00-02:00", {6}, None),
        ("MON 01:00-02:00", {0}, None),
        ("mon-fri 23:30-00:15", {0, 1, 2, 3, 4}, None),
        ("sat-sun 01:00-02:00", {5, 6}, None),
        ("fri-mon 01:00-02:00", {4, 5, 6, 0}, None),  # wraps around the week
        ("1st-sun 02:00-06:00", {6}, 1),
        ("2nd-tue 02:00-06:00", {1}, 2),
        ("3rd-wed 02:00-06:00", {2}, 3),
        ("4th-thu 02:00-06:00", {3}, 4),
        ("last-fri 02:00-06:00", {4}, -1),
        ("  sun   01:00-02:00 ", {6}, None),
    ],
)
def test_every_form_of_days_parses(text: str, weekdays: set[int], ordinal: int | None) -> None:
    rule = Rule.parse(text)
    assert rule.weekdays == weekdays
    assert rule.ordinal == ordinal


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sunday 01:00-02:00", "'sunday' is not a weekday"),
        ("sun 1:00-02:00", "is not a window"),
        ("sun 01:00", "is not a window"),
        ("sun 24:00-01:00", "'24:00' is not a time"),
        ("sun 01:60-02:00", "'01:60' is not a time"),
        ("mon-mon 01:00-02:00", "a range of one day"),
        ("5th-sun 01:00-02:00", "1st to 4th and last"),
        ("first-sun 01:00-02:00", "'first' is not a weekday"),
        ("1st-sunday 01:00-02:00", "'sunday' is not a weekday"),
        ("sun 01:00-02:00 extra", "is not a window"),
    ],
)
def test_a_bad_window_is_an_error_naming_it(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as info:
        Schedule.parse(f"daily 03:00-04:00, {text}")
    assert repr(" ".join(text.split())) in str(info.value)


def test_an_empty_schedule_is_an_error() -> None:
    with pytest.raises(ValueError, match="no window"):
        Schedule.parse(" , ")


def test_a_list_from_settings_and_the_text_it_shows() -> None:
    schedule = Schedule.parse(["sun 01:00-02:00", "mon-fri 23:30-00:15"], BERLIN)
    assert str(schedule) == "sun 01:00-02:00, mon-fri 23:30-00:15"
    assert schedule.zone is BERLIN
    assert Schedule.parse(str(schedule), "Europe/Berlin") == schedule


def test_a_bad_zone_name_is_an_error() -> None:
    with pytest.raises(KeyError):
        Schedule.parse("sun 01:00-02:00", "Europe/Nowhere")


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Schedule.parse("sun 01:00-02:00").window_at(dt.datetime(2026, 12, 6, 1, 30))


# --- occurrences ------------------------------------------------------------------------


def test_a_weekly_window_in_utc() -> None:
    schedule = Schedule.parse("sun 01:00-02:00")
    # 2026-12-06 is a Sunday.
    assert span(schedule.window_at(utc(2026, 12, 6, 1, 0))) == (
        utc(2026, 12, 6, 1),
        utc(2026, 12, 6, 2),
    )
    assert schedule.window_at(utc(2026, 12, 6, 2, 0)) is None  # the end is exclusive
    assert schedule.window_at(utc(2026, 12, 6, 0, 59)) is None
    assert span(schedule.next_window(utc(2026, 12, 2, 13))) == (
        utc(2026, 12, 6, 1),
        utc(2026, 12, 6, 2),
    )
    # Inside a window, the next one is a week later.
    assert span(schedule.next_window(utc(2026, 12, 6, 1, 30))) == (
        utc(2026, 12, 13, 1),
        utc(2026, 12, 13, 2),
    )


def test_a_window_crossing_midnight_starts_on_its_day() -> None:
    schedule = Schedule.parse("fri 23:00-01:00")
    # 2026-12-04 is a Friday: the window runs into Saturday.
    assert span(schedule.window_at(utc(2026, 12, 5, 0, 30))) == (
        utc(2026, 12, 4, 23),
        utc(2026, 12, 5, 1),
    )
    # Friday 00:30 is not in it: the window starts on Friday, not Thursday.
    assert schedule.window_at(utc(2026, 12, 4, 0, 30)) is None


def test_weekday_ranges_crossing_midnight_chain_into_the_next_day() -> None:
    schedule = Schedule.parse("mon-fri 23:30-00:15", BERLIN)
    # Tuesday 2026-12-01 23:30 CET = 22:30 UTC, until Wednesday 00:15 CET.
    assert span(schedule.window_at(utc(2026, 12, 1, 23, 0))) == (
        utc(2026, 12, 1, 22, 30),
        utc(2026, 12, 1, 23, 15),
    )
    # Saturday and Sunday nights have none: Friday's is followed by Monday's.
    assert span(schedule.next_window(utc(2026, 12, 4, 23, 15))) == (
        utc(2026, 12, 7, 22, 30),
        utc(2026, 12, 7, 23, 15),
    )


def test_a_wrapping_range() -> None:
    schedule = Schedule.parse("fri-mon 12:00-13:00")
    starts = []
    moment = utc(2026, 12, 1)  # a Tuesday
    for _ in range(5):
        found = schedule.next_window(moment)
        assert found is not None
        assert found.starts_at is not None
        starts.append(found.starts_at)
        moment = found.starts_at
    assert [s.strftime("%a %d") for s in starts] == [
        "Fri 04",
        "Sat 05",
        "Sun 06",
        "Mon 07",
        "Fri 11",
    ]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("1st-sun", 6),
        ("2nd-tue", 8),
        ("3rd-wed", 16),
        ("4th-thu", 24),
        ("last-fri", 25),
        ("last-thu", 31),
    ],
)
def test_month_ordinals_in_december_2026(text: str, day: int) -> None:
    schedule = Schedule.parse(f"{text} 02:00-06:00")
    found = schedule.next_window(utc(2026, 12, 1))
    assert span(found) == (utc(2026, 12, day, 2), utc(2026, 12, day, 6))


def test_last_of_the_month_in_a_short_month() -> None:
    schedule = Schedule.parse("last-sun 02:00-03:00, 4th-sun 04:00-05:00")
    # February 2027 has four Sundays: the 4th is also the last.
    found = schedule.next_window(utc(2027, 2, 1))
    assert span(found) == (utc(2027, 2, 28, 2), utc(2027, 2, 28, 3))
    assert found is not None
    assert found.ends_at is not None
    assert span(schedule.next_window(found.ends_at)) == (
        utc(2027, 2, 28, 4),
        utc(2027, 2, 28, 5),
    )


def test_overlapping_and_touching_windows_are_one() -> None:
    schedule = Schedule.parse("daily 01:00-03:00, sun 02:00-05:00, sun 05:00-06:00")
    assert span(schedule.window_at(utc(2026, 12, 6, 1, 30))) == (
        utc(2026, 12, 6, 1),
        utc(2026, 12, 6, 6),
    )


def test_always_on_is_one_window_followed_for_a_week() -> None:
    schedule = Schedule.parse("daily 00:00-00:00")
    found = schedule.window_at(utc(2026, 12, 2, 13))
    assert found is not None
    assert found.ends_at is not None
    assert found.starts_at is not None
    assert found.starts_at < utc(2026, 12, 2, 13) < found.ends_at
    assert found.ends_at - utc(2026, 12, 2, 13) >= dt.timedelta(days=7)
    assert schedule.window_at(found.ends_at) is not None  # and on, and on


# --- daylight saving ----------------------------------------------------------------------


def test_berlin_spring_a_start_in_the_skipped_hour_starts_at_the_change() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    schedule = Schedule.parse("sun 02:30-04:00", BERLIN)
    found = schedule.window_at(utc(2026, 3, 29, 1, 0))
    assert span(found) == (utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))
    assert schedule.window_at(utc(2026, 3, 29, 0, 59)) is None
    # The week before and after, it is 02:30 local as usual.
    assert span(schedule.next_window(utc(2026, 3, 21))) == (
        utc(2026, 3, 22, 1, 30),
        utc(2026, 3, 22, 3, 0),
    )
    assert span(schedule.next_window(utc(2026, 3, 30))) == (
        utc(2026, 4, 5, 0, 30),
        utc(2026, 4, 5, 2, 0),
    )


def test_berlin_spring_a_window_inside_the_skipped_hour_is_empty_that_day() -> None:
    schedule = Schedule.parse("sun 02:10-02:50", BERLIN)
    assert schedule.window_at(utc(2026, 3, 29, 1, 0)) is None
    assert span(schedule.next_window(utc(2026, 3, 28))) == (
        utc(2026, 4, 5, 0, 10),
        utc(2026, 4, 5, 0, 50),
    )


def test_berlin_spring_a_window_across_the_change_is_an_hour_shorter() -> None:
    schedule = Schedule.parse("sun 01:00-04:00", BERLIN)
    found = schedule.window_at(utc(2026, 3, 29, 0, 30))
    assert span(found) == (utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 2, 0))


def test_berlin_autumn_an_ambiguous_start_is_its_first_pass() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00-03:00 happens twice.
    schedule = Schedule.parse("sun 02:30-02:45", BERLIN)
    first = local(BERLIN, 2026, 10, 25, 2, 30, fold=0).astimezone(UTC)
    assert first == utc(2026, 10, 25, 0, 30)
    assert span(schedule.window_at(first)) == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 45))
    # The second pass of 02:30 (CET) is not a new window.
    second = local(BERLIN, 2026, 10, 25, 2, 30, fold=1).astimezone(UTC)
    assert second == utc(2026, 10, 25, 1, 30)
    assert schedule.window_at(second) is None


def test_berlin_autumn_a_window_across_the_change_is_an_hour_longer() -> None:
    schedule = Schedule.parse("sun 01:00-04:00", BERLIN)
    assert span(schedule.window_at(utc(2026, 10, 25, 1, 30))) == (
        utc(2026, 10, 24, 23, 0),
        utc(2026, 10, 25, 3, 0),
    )


def test_sao_paulo_a_skipped_midnight() -> None:
    # 2018-11-04: 00:00 -03 became 01:00 -02 (03:00 UTC); Brazil has had no DST since 2019.
    schedule = Schedule.parse("sun 00:00-01:00, sun 00:30-02:00", SAO_PAULO)
    # Both starts were skipped: the windows begin at the change; the first one is empty.
    assert span(schedule.window_at(utc(2018, 11, 4, 3, 0))) == (
        utc(2018, 11, 4, 3, 0),
        utc(2018, 11, 4, 4, 0),
    )
    only = Schedule.parse("sun 00:00-01:00", SAO_PAULO)
    assert only.window_at(utc(2018, 11, 4, 3, 0)) is None
    # The same rule in 2026 is the plain -03 hour.
    assert span(only.next_window(utc(2026, 12, 1))) == (utc(2026, 12, 6, 3), utc(2026, 12, 6, 4))


def test_sao_paulo_a_repeated_hour_before_midnight() -> None:
    # 2018-02-18 00:00 -02 became 2018-02-17 23:00 -03: 23:00-23:59 on the 17th twice.
    schedule = Schedule.parse("sat 23:15-23:45", SAO_PAULO)
    assert span(schedule.window_at(utc(2018, 2, 18, 1, 15))) == (
        utc(2018, 2, 18, 1, 15),
        utc(2018, 2, 18, 1, 45),
    )
    assert schedule.window_at(utc(2018, 2, 18, 2, 15)) is None  # the second pass


def test_first_instant_rules() -> None:
    assert first_instant(dt.datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1)
    assert first_instant(dt.datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert first_instant(dt.datetime(2026, 12, 1, 2, 30), BERLIN) == utc(2026, 12, 1, 1, 30)


# --- the plan: a one-off window and phases ----------------------------------------------


def test_with_a_one_off_window_only_the_intersection_counts() -> None:
    schedule = Schedule.parse("daily 01:00-03:00")
    plan = Plan(schedule, starts_at=utc(2026, 12, 5, 2), ends_at=utc(2026, 12, 7, 2, 30))
    assert plan.window_at(utc(2026, 12, 4, 1, 30)) is None  # before STARTS_AT
    assert plan.window_at(utc(2026, 12, 5, 1, 30)) is None
    assert span(plan.window_at(utc(2026, 12, 5, 2, 30))) == (
        utc(2026, 12, 5, 2),
        utc(2026, 12, 5, 3),
    )
    assert span(plan.next_window(utc(2026, 12, 4))) == (utc(2026, 12, 5, 2), utc(2026, 12, 5, 3))
    assert span(plan.next_window(utc(2026, 12, 5, 2, 30))) == (
        utc(2026, 12, 6, 1),
        utc(2026, 12, 6, 3),
    )
    assert span(plan.window_at(utc(2026, 12, 7, 2))) == (
        utc(2026, 12, 7, 1),
        utc(2026, 12, 7, 2, 30),
    )
    assert plan.window_at(utc(2026, 12, 7, 2, 30)) is None  # ENDS_AT is exclusive
    assert plan.next_window(utc(2026, 12, 7, 2)) is None


def test_a_one_off_window_without_a_schedule() -> None:
    plan = Plan(starts_at=utc(2026, 12, 5), ends_at=utc(2026, 12, 6))
    assert plan.window_at(utc(2026, 12, 4)) is None
    assert span(plan.next_window(utc(2026, 12, 4))) == (utc(2026, 12, 5), utc(2026, 12, 6))
    assert span(plan.window_at(utc(2026, 12, 5, 12))) == (utc(2026, 12, 5), utc(2026, 12, 6))
    assert span(Plan(ends_at=utc(2026, 12, 6)).window_at(utc(2000, 1, 1))) == (
        None,
        utc(2026, 12, 6),
    )


def test_phases_and_their_edges() -> None:
    plan = Plan(Schedule.parse("sun 01:00-02:00"), read_only_first=600, announce=3600)
    sunday = utc(2026, 12, 6)
    at = {
        hm: plan.phase(sunday.replace(hour=hm[0], minute=hm[1]))
        for hm in [(0, 0), (0, 1), (1, 0), (1, 9), (1, 10), (1, 59), (2, 0)]
    }
    assert at[(0, 0)].phase is Phase.UPCOMING  # exactly an hour before
    assert at[(0, 0)].until == utc(2026, 12, 6, 1).timestamp()
    assert at[(1, 0)].phase is Phase.READ_ONLY
    assert at[(1, 0)].until == utc(2026, 12, 6, 1, 10).timestamp()
    assert at[(1, 9)].phase is Phase.READ_ONLY
    assert at[(1, 10)].phase is Phase.ACTIVE
    assert at[(1, 10)].until == utc(2026, 12, 6, 2).timestamp()
    assert at[(1, 59)].phase is Phase.ACTIVE
    assert at[(2, 0)].phase is Phase.OFF
    assert at[(2, 0)].until == utc(2026, 12, 13, 0).timestamp()  # announced next week
    assert span(at[(1, 10)].current) == (utc(2026, 12, 6, 1), utc(2026, 12, 6, 2))
    assert span(at[(1, 10)].next) == (utc(2026, 12, 13, 1), utc(2026, 12, 13, 2))
    earlier = plan.phase(utc(2026, 12, 5, 12))
    assert earlier.phase is Phase.OFF
    assert earlier.until == utc(2026, 12, 6, 0).timestamp()


def test_read_only_first_longer_than_the_window() -> None:
    plan = Plan(Schedule.parse("sun 01:00-02:00"), read_only_first=7200)
    period = plan.phase(utc(2026, 12, 6, 1, 30))
    assert period.phase is Phase.READ_ONLY
    assert period.until == utc(2026, 12, 6, 2).timestamp()


def test_read_only_first_counts_from_starts_at_when_it_cuts_into_a_window() -> None:
    plan = Plan(
        Schedule.parse("daily 01:00-03:00"), starts_at=utc(2026, 12, 5, 2), read_only_first=60
    )
    assert plan.phase(utc(2026, 12, 5, 2, 0, 59)).phase is Phase.READ_ONLY
    assert plan.phase(utc(2026, 12, 5, 2, 1)).phase is Phase.ACTIVE


def test_without_a_start_there_is_no_read_only_part() -> None:
    plan = Plan(ends_at=utc(2026, 12, 6), read_only_first=600)
    assert plan.phase(utc(2026, 12, 5)).phase is Phase.ACTIVE
    assert plan.phase(utc(2026, 12, 6)).phase is Phase.OFF
    assert plan.phase(utc(2026, 12, 6)).until == math.inf


def test_at_computes_once_per_period(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = Plan(Schedule.parse("sun 01:00-02:00"))
    calls: list[dt.datetime] = []
    real = Plan.phase

    def counting(self: Plan, now: dt.datetime) -> object:
        calls.append(now)
        return real(self, now)

    monkeypatch.setattr(Plan, "phase", counting)
    start = utc(2026, 12, 6, 1).timestamp()
    for second in range(0, 3600, 7):
        assert plan.at(start + second).phase is Phase.ACTIVE
    assert len(calls) == 1
    assert plan.at(start + 3600).phase is Phase.OFF
    assert plan.at(start - 1).phase is Phase.OFF  # a clock set back: computed again
    assert len(calls) == 3


def test_at_follows_a_frozen_clock() -> None:
    plan = Plan(Schedule.parse("last-fri 22:00-23:00", BERLIN), announce=86400)
    with time_machine.travel(utc(2026, 12, 24, 12), tick=False):
        assert plan.at(time.time()).phase is Phase.OFF
    with time_machine.travel(utc(2026, 12, 25, 12), tick=False):
        period = plan.at(time.time())
        assert period.phase is Phase.UPCOMING
        assert span(period.next) == (utc(2026, 12, 25, 21), utc(2026, 12, 25, 22))
    with time_machine.travel(local(BERLIN, 2026, 12, 25, 22, 30), tick=False):
        assert plan.at(time.time()).phase is Phase.ACTIVE


# --- the property: the same answers as a naive minute-by-minute walk ---------------------

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
#: Zones with a start a day before a daylight-saving change (the walk covers two days).
BERLIN_SPRING = (BERLIN, utc(2026, 3, 28, 6))
BERLIN_AUTUMN = (BERLIN, utc(2026, 10, 24, 6))
SAO_PAULO_SPRING = (SAO_PAULO, utc(2018, 11, 3, 12))  # a skipped midnight
SAO_PAULO_AUTUMN = (SAO_PAULO, utc(2018, 2, 17, 6))  # 23:00 on the 17th twice
SITUATIONS = [
    BERLIN_SPRING,
    BERLIN_AUTUMN,
    SAO_PAULO_SPRING,
    SAO_PAULO_AUTUMN,
    (LORD_HOWE, utc(2026, 4, 4, 0)),  # half an hour back
    (LORD_HOWE, utc(2026, 10, 3, 0)),  # half an hour forward
    (ZoneInfo("UTC"), utc(2026, 12, 24)),
    (BERLIN, utc(2026, 12, 24)),
]

#: Hours near the changes are drawn more often.
hours = st.one_of(st.sampled_from([0, 1, 2, 3, 22, 23]), st.integers(0, 23))
clock = st.tuples(hours, st.sampled_from([0, 15, 30, 45, 59]))
days = st.one_of(
    st.just("daily"),
    st.sampled_from(WEEKDAYS),
    st.tuples(st.sampled_from(WEEKDAYS), st.sampled_from(WEEKDAYS))
    .filter(lambda pair: pair[0] != pair[1])
    .map("-".join),
    st.tuples(st.sampled_from(["1st", "2nd", "3rd", "4th", "last"]), st.sampled_from(WEEKDAYS)).map(
        "-".join
    ),
)
window = st.tuples(days, clock, clock).map(
    lambda w: f"{w[0]} {w[1][0]:02d}:{w[1][1]:02d}-{w[2][0]:02d}:{w[2][1]:02d}"
)


def _naive_days(text: str, around: dt.date) -> set[dt.date]:
    """The oracle's reading of DAYS, written from the docs: the start dates near the walk."""
    word = text.split()[0]
    found = set()
    first = around - dt.timedelta(days=4)
    for n in range(10):
        day = first + dt.timedelta(days=n)
        name = WEEKDAYS[day.weekday()]
        if word == "daily" or word == name:
            found.add(day)
        elif "-" in word:
            a, b = word.split("-")
            if a in WEEKDAYS:
                i, j, k = WEEKDAYS.index(a), WEEKDAYS.index(b), day.weekday()
                if (i <= j and i <= k <= j) or (i > j and (k >= i or k <= j)):
                    found.add(day)
            elif b == name:
                same = [d for d in range(1, 32) if _weekday_of(day, d) == name]
                nth = same.index(day.day) + 1
                if (a == "last" and nth == len(same)) or a == f"{nth}{_suffix(nth)}":
                    found.add(day)
    return found


def _weekday_of(day: dt.date, number: int) -> str | None:
    try:
        return WEEKDAYS[day.replace(day=number).weekday()]
    except ValueError:
        return None


def _suffix(n: int) -> str:
    return {1: "st", 2: "nd", 3: "rd"}.get(n, "th")


@settings(
    # Each example walks two days minute by minute: at most 100 of them.
    max_examples=min(EXAMPLES, 100),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    windows=st.lists(window, min_size=1, max_size=3),
    zone_origin=st.sampled_from(SITUATIONS),
    one_off=st.one_of(st.none(), st.tuples(st.integers(0, 2000), st.integers(1, 3000))),
    read_only_first=st.sampled_from([0, 60, 1800]),
)
@example(["sun 02:30-02:45"], BERLIN_AUTUMN, None, 0)
@example(["sun 02:30-04:00", "sat 23:00-01:00"], BERLIN_SPRING, None, 1800)
@example(["sat 23:15-23:45"], SAO_PAULO_AUTUMN, None, 0)
@example(["sun 00:00-01:00", "daily 00:30-02:00"], SAO_PAULO_SPRING, (0, 2000), 60)
@pytest.mark.slow  # seconds: out of make test-fast, in make test
def test_active_exactly_when_a_naive_walk_says(
    windows: list[str],
    zone_origin: tuple[ZoneInfo, dt.datetime],
    one_off: tuple[int, int] | None,
    read_only_first: int,
) -> None:
    """Walking minute by minute: the wall clock's running maximum is inside a window's
    [start, end) on the local clock (the docs' "first instant at which the wall clock reads
    its time or later") and inside the one-off window; and the read-only part is the first
    ``read_only_first`` seconds of each such run of minutes."""
    zone, origin = zone_origin
    text = ", ".join(windows)
    starts_at = ends_at = None
    if one_off is not None:
        starts_at = origin + dt.timedelta(minutes=one_off[0])
        ends_at = starts_at + dt.timedelta(minutes=one_off[1])
    plan = Plan(
        Schedule.parse(text, zone),
        starts_at=starts_at,
        ends_at=ends_at,
        read_only_first=read_only_first,
    )
    rules = []
    for item in windows:
        start_text, end_text = item.split()[1].split("-")
        start, end = dt.time.fromisoformat(start_text), dt.time.fromisoformat(end_text)
        rules.append((_naive_days(item, origin.date()), start, end))

    def inside(wall: dt.datetime) -> bool:
        for dates, start, end in rules:
            for back in (0, 1):
                day = wall.date() - dt.timedelta(days=back)
                if day not in dates:
                    continue
                low = dt.datetime.combine(day, start)
                high = dt.datetime.combine(day + dt.timedelta(days=end <= start), end)
                if low <= wall < high:
                    return True
        return False

    # Warm up the running maximum a day before the walk.
    highest = (origin - dt.timedelta(days=1)).astimezone(zone).replace(tzinfo=None)
    moment = origin - dt.timedelta(days=1)
    while moment < origin:
        highest = max(highest, moment.astimezone(zone).replace(tzinfo=None))
        moment += dt.timedelta(minutes=1)
    run_start: dt.datetime | None = None
    was_active: bool | None = None
    for minute in range(0, 2 * 24 * 60):
        moment = origin + dt.timedelta(minutes=minute)
        highest = max(highest, moment.astimezone(zone).replace(tzinfo=None))
        active = inside(highest) and (
            starts_at is None or (starts_at <= moment and ends_at is not None and moment < ends_at)
        )
        if active and was_active is False:
            run_start = moment
        elif not active:
            run_start = None
        was_active = active
        # The kept period (what requests ask) at every minute; a fresh one now and then.
        period = plan.at(moment.timestamp())
        assert period.phase.inside == active, (text, zone.key, moment)
        if minute % 241 == 0:
            assert plan.phase(moment).phase is period.phase
        if active and run_start is not None:
            read_only = moment < run_start + dt.timedelta(seconds=read_only_first)
            assert (period.phase is Phase.READ_ONLY) == read_only, (text, zone.key, moment)
