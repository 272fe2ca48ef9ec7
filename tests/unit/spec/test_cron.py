"""The five-field cron validator."""

from __future__ import annotations

import pytest

from floe.spec.cron import cron_problem


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *", "0 6 * * *", "*/15 * * * *", "0 0-23/2 * * *", "0 9 * * mon-fri",
        "0 9 * * MON,WED,FRI", "0 0 1 jan,jul *", "59 23 31 12 7", "0 0 * * 0", "5,10-20/5 * * * *",
        "  0 6 * * *  ", "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
    ],
)
def test_valid(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "expected 5 fields (minute hour day month weekday), found 0"),
        ("0 6 * *", "expected 5 fields (minute hour day month weekday), found 4"),
        ("0 0 6 * * *", "expected 5 fields (minute hour day month weekday), found 6"),
        ("@reboot", "expected 5 fields (minute hour day month weekday), found 1"),
        ("60 * * * *", "minute field '60': 60 is outside 0-59"),
        ("0 25 * * *", "hour field '25': 25 is outside 0-23"),
        ("0 0 0 * *", "day of month field '0': 0 is outside 1-31"),
        ("0 0 * 13 *", "month field '13': 13 is outside 1-12"),
        ("0 0 * * 8", "day of week field '8': 8 is outside 0-7"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a positive number"),
        ("*/x * * * *", "minute field '*/x': step 'x' must be a positive number"),
        ("10-5 * * * *", "minute field '10-5': range 10-5 runs backwards"),
        ("1-2-3 * * * *", "minute field '1-2-3': '1-2-3' is not a value, range or step"),
        ("-5 * * * *", "minute field '-5': '-5' is not a value, range or step"),
        ("1,,2 * * * *", "minute field '1,,2': '' is not a value, range or step"),
        ("0 0 ? * *", "day of month field '?': '?' is not a number"),
        ("0 0 L * *", "day of month field 'L': 'l' is not a number"),
        ("0 0 * * funday", "day of week field 'funday': 'funday' is not a number"),
        ("0 0 * mon * ", "month field 'mon': 'mon' is not a number"),  # weekday names are not months
    ],
)
def test_invalid(expression: str, problem: str) -> None:
    assert cron_problem(expression) == problem


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        # str.isdigit() is true for these, but int() refuses them: they must not crash.
        ("² * * * *", "minute field '²': '²' is not a number"),
        ("*/² * * * *", "minute field '*/²': step '²' must be a positive number"),
        ("0 ① * * *", "hour field '①': '①' is not a number"),
        # int() accepts these, yet a cron expression is ASCII.
        ("٣ * * * *", "minute field '٣': '٣' is not a number"),
    ],
)
def test_non_ascii_digits_are_refused_not_crashing(expression: str, problem: str) -> None:
    assert cron_problem(expression) == problem
