from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crews.deadlines import add_working_days, compute_due_at, is_working_day

BERLIN = ZoneInfo("Europe/Berlin")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_friday_plus_one_working_day_is_monday_evening():
    due = compute_due_at(start=at(2026, 11, 20, 10, 0), unit="working_days", amount=1)
    assert due == at(2026, 11, 23, 23, 59, 59)


def test_saturday_report_counts_from_monday():
    due = compute_due_at(start=at(2026, 11, 21, 9, 0), unit="working_days", amount=2)
    assert due == at(2026, 11, 25, 23, 59, 59)


def test_buss_und_bettag_is_skipped_in_saxony():
    # Wednesday 18 November 2026 is a public holiday in Saxony only.
    assert not is_working_day(at(2026, 11, 18).date())
    due = compute_due_at(start=at(2026, 11, 17, 14, 0), unit="working_days", amount=1)
    assert due == at(2026, 11, 19, 23, 59, 59)


def test_buss_und_bettag_is_a_working_day_elsewhere(settings):
    settings.HOLIDAY_SUBDIVISION = "BE"
    from crews import deadlines

    deadlines._holidays.cache_clear()
    try:
        assert is_working_day(at(2026, 11, 18).date())
    finally:
        deadlines._holidays.cache_clear()


def test_christmas_and_new_year_are_skipped():
    # 24 Dec 2026 is a Thursday; 25/26 Dec are holidays, 27 is Sunday, 1 Jan a holiday.
    assert add_working_days(at(2026, 12, 24).date(), 1) == at(2026, 12, 28).date()
    assert add_working_days(at(2026, 12, 31).date(), 1) == at(2027, 1, 4).date()


def test_hours_policy_runs_round_the_clock_and_across_dst():
    # The switch to winter time (25 Oct 2026, 03:00 -> 02:00) does not change clock hours.
    start = at(2026, 10, 24, 20, 0)
    due = compute_due_at(start=start, unit="hours", amount=24)
    assert (due - start).total_seconds() == 24 * 3600


@pytest.mark.parametrize("amount", [0, 1, 5, 10])
def test_deadline_is_never_before_receipt(amount):
    start = at(2026, 11, 27, 18, 0)
    assert compute_due_at(start=start, unit="working_days", amount=amount) >= start
