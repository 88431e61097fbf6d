"""Clearance deadlines in working days (weekends and public holidays skipped) or clock hours."""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db.models import Q


@lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(
        settings.HOLIDAY_COUNTRY, subdiv=settings.HOLIDAY_SUBDIVISION, years=[year, year + 1]
    )


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (0 = `day` itself, moved to a working day)."""
    while not is_working_day(day):
        day += timedelta(days=1)
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def compute_due_at(*, start: datetime, unit: str, amount: int) -> datetime:
    """Deadline for a report received at `start` under a category's clearance policy.

    Working days: the end (23:59:59 local time) of the `amount`-th working day after the day
    of receipt. Hours: `amount` clock hours after receipt, around the clock.
    """
    tz = ZoneInfo(settings.TIME_ZONE)
    if unit == "hours":
        return start + timedelta(hours=amount)
    local = start.astimezone(tz)
    due_day = add_working_days(local.date(), amount)
    return datetime.combine(due_day, time(23, 59, 59), tzinfo=tz)


# --- late: strictly after the deadline while not closed (DESIGN.md), written once --------------
# At the deadline itself a ticket is still on time. "While not closed" is the caller's filter on
# open reports (`Assignment.objects.late()`, the SQL callers' `status = ANY(open)`).


def is_late(*, due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and now > due_at


def late_q(*, now: datetime, field: str = "due_at") -> Q:
    """The ORM form of the rule, on the deadline column `field`."""
    return Q(**{f"{field}__lt": now})


def late_sql(due_at: str) -> str:
    """The SQL form of the rule on the column expression `due_at`, with the parameter `now`."""
    return f"%(now)s > {due_at}"
