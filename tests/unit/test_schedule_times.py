"""Fire times: cron in a time zone across DST changes, `every` without drift, the missed-run
policies, and the checks that reject a bad schedule when it is declared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskora_cli.cron import next_fire
from taskora_cli.errors import UsageError
from taskora_cli.schedule_spec import ScheduleSpec, plan

BERLIN = "Europe/Berlin"
MINUTE = 60_000


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def utc(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%m-%d %H:%M:%S")


def fires(expression: str, start: str, count: int, tz: str = BERLIN) -> list[str]:
    at, out = ms(start), []
    for _ in range(count):
        at = next_fire(expression, tz, at)
        out.append(utc(at))
    return out


def test_a_daily_cron_runs_once_on_the_spring_forward_day_just_after_the_jump() -> None:
    # 2026-03-29: Berlin skips 02:00-03:00 local; 02:30 does not exist that day
    assert fires("30 2 * * *", "2026-03-27T12:00:00+00:00", 3) == [
        "03-28 01:30:00",  # 02:30 CET
        "03-29 01:30:00",  # the missing 02:30 runs at 03:30 CEST, once
        "03-30 00:30:00",  # 02:30 CEST
    ]


def test_a_daily_cron_runs_once_on_the_fall_back_day() -> None:
    # 2026-10-25: Berlin repeats 02:00-03:00 local; 02:30 happens twice but runs once
    assert fires("30 2 * * *", "2026-10-23T12:00:00+00:00", 3) == [
        "10-24 00:30:00",
        "10-25 00:30:00",
        "10-26 01:30:00",
    ]


def test_an_hourly_cron_keeps_its_real_cadence_through_both_changes() -> None:
    assert fires("0 * * * *", "2026-10-24T23:30:00+00:00", 4) == [
        "10-25 00:00:00",  # 02:00 CEST
        "10-25 01:00:00",  # 02:00 CET: the repeated hour is a real hour later
        "10-25 02:00:00",
        "10-25 03:00:00",
    ]
    assert fires("0,30 * * * *", "2026-03-29T00:10:00+00:00", 4) == [
        "03-29 00:30:00",  # 01:30 CET
        "03-29 01:00:00",  # 03:00 CEST: nothing doubled or dropped around the gap
        "03-29 01:30:00",
        "03-29 02:00:00",
    ]


def test_weekday_names_and_a_leading_seconds_field() -> None:
    # 2026-01-01 is a Thursday: Thursday, Friday, then Monday at 09:00 Berlin (08:00 UTC)
    assert fires("0 9 * * MON-FRI", "2026-01-01T00:00:00+00:00", 3) == [
        "01-01 08:00:00",
        "01-02 08:00:00",
        "01-05 08:00:00",
    ]
    assert fires("*/30 * * * * *", "2026-01-01T00:00:10+00:00", 3, "UTC") == [
        "01-01 00:00:30",
        "01-01 00:01:00",
        "01-01 00:01:30",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "61 * * * *"}, "bad minute field '61'"),
        ({"cron": "0 9 * * FUNDAY"}, "bad day of week field 'FUNDAY'"),
        ({"cron": "0 9 * *"}, "expected 5 fields"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"every": "10s", "cron": "* * * * *"}, "exactly one of cron"),
        ({"every": "0.5s"}, "every must be at least 1s"),
        ({"every": "1m", "on_missed": "replay"}, "on_missed must be"),
        ({"every": "1m", "timezone": "Europe/Berlin"}, "timezone applies to cron schedules only"),
    ],
)
def test_a_bad_schedule_fails_when_it_is_declared(options: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ScheduleSpec.build("report", **options)  # type: ignore[arg-type]


def test_every_counts_from_the_previous_fire_time_not_from_the_tick() -> None:
    spec = ScheduleSpec.build("t", every="10s")
    late = plan(spec, next_ms=10_000, now_ms=13_000, grace_ms=30_000)
    assert (late.fires, late.next_ms) == ([10_000], 20_000)


def test_missed_policies_choose_which_fires_run() -> None:
    now, grace = 10 * MINUTE + 5_000, 32_000
    skip = ScheduleSpec.build("t", every="1m")
    limited = ScheduleSpec.build("t", every="1m", on_missed="catch-up-limit:3")
    everything = ScheduleSpec.build("t", every="1m", on_missed="catch-up")
    assert plan(skip, MINUTE, now, grace).fires == [10 * MINUTE]  # on time: it still runs
    assert plan(skip, MINUTE, now + 30_000, grace).fires == []  # 35 s late: missed
    assert plan(limited, MINUTE, now, grace).fires == [8 * MINUTE, 9 * MINUTE, 10 * MINUTE]
    assert plan(everything, MINUTE, now, grace).fires == [m * MINUTE for m in range(1, 11)]
    long = plan(limited, MINUTE, 365 * 24 * 60 * MINUTE, grace)  # a year down: no year-long walk
    assert len(long.fires) == 3 and long.skipped == 365 * 24 * 60 - 3


def test_a_cron_catch_up_after_a_long_outage_takes_the_newest_fires() -> None:
    spec = ScheduleSpec.build("t", cron="*/5 * * * * *", on_missed="catch-up-limit:2")
    start, now = ms("2026-01-01T00:00:00+00:00"), ms("2026-02-01T00:00:40+00:00")
    todo = plan(spec, start, now, 10_000)
    assert [utc(t) for t in todo.fires] == ["02-01 00:00:25", "02-01 00:00:40"]
    assert utc(todo.next_ms) == "02-01 00:00:45"


def test_update_replaces_only_what_it_names() -> None:
    spec = ScheduleSpec.build("t", cron="0 9 * * *", timezone=BERLIN, data=1)
    assert spec.with_changes(data=2) == ScheduleSpec.build(
        "t", cron="0 9 * * *", timezone=BERLIN, data=2
    )
    moved = spec.with_changes(every="1h")
    assert (moved.cron, moved.every_ms, moved.timezone, moved.data) == (None, 3_600_000, "UTC", 1)
    with pytest.raises(UsageError, match="unknown schedule option 'cronn'"):
        spec.with_changes(cronn="* * * * *")


def test_declarations_refuse_a_name_reused_for_another_definition() -> None:
    from taskora_cli.schedule_spec import declare, declare_inline, with_config

    declared: dict[str, ScheduleSpec] = {}
    declare_inline(declared, "health", {"every": "30s"})
    declare(declared, "health", ScheduleSpec.build("health", every="30s"))  # the same: fine
    with pytest.raises(UsageError, match="schedule 'health' is already declared"):
        declare(declared, "health", ScheduleSpec.build("health", every="1m"))
    with pytest.raises(UsageError, match="task 'x' schedule: unknown key 'evry'"):
        declare_inline(declared, "x", {"evry": "1m"})
    with pytest.raises(UsageError, match="declared both in code and in the config"):
        with_config(declared, {"health": {"task": "health", "every": "5m"}})
    with pytest.raises(UsageError, match="schedule name 'a b' must be"):
        declare(declared, "a b", ScheduleSpec.build("t", every="1m"))
