"""Limits that keep a hostile iCalendar feed from taking the importer down: how far recurring
events are expanded, how long a feed may take, which properties may appear only once."""

import signal
import threading
from contextlib import contextmanager

import icalendar

# Expansion limits: a feed may hold RRULE:FREQ=SECONDLY without COUNT or UNTIL.
MAX_OCCURRENCES_PER_SERIES = 1000
MAX_OCCURRENCES_PER_FEED = 20000
# dateutil walks every repetition from DTSTART on, also those before the window.
MAX_REPETITIONS_WALKED = 100_000
PARSE_SECONDS = 30
# Properties an event has at most once (RFC 5545 3.6.1); a feed that repeats one keeps the first.
SINGLE_PROPERTIES = (
    "UID",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RECURRENCE-ID",
    "SUMMARY",
    "DESCRIPTION",
    "LOCATION",
    "GEO",
    "STATUS",
    "URL",
    "ORGANIZER",
    "DTSTAMP",
)
FREQUENCY_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}


class TooSlow(Exception):
    """The feed took longer than its time limit to read."""


@contextmanager
def time_limit(seconds: float):
    """A hard limit where the process can have one (the main thread of a command or a worker
    process): dateutil may spend a long time inside a single call."""
    armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not armed:
        yield
        return

    def expire(signum, frame):
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def repetition_seconds(component: icalendar.cal.Component) -> float | None:
    """Roughly how many seconds lie between two repetitions of the event's RRULE (BYxxx lists
    finer than the frequency multiply it), or None without an RRULE."""
    rules = component.get("RRULE")
    if rules is None:
        return None
    rules = rules if isinstance(rules, list) else [rules]
    shortest = None
    for rule in rules:
        try:
            frequency = str(rule.get("FREQ", ["DAILY"])[0]).upper()
            interval = max(int(rule.get("INTERVAL", [1])[0]), 1)
        except (TypeError, ValueError, IndexError):
            continue
        seconds = FREQUENCY_SECONDS.get(frequency, 86400) * interval
        for part, unit in (("BYSECOND", 1), ("BYMINUTE", 60), ("BYHOUR", 3600)):
            values = rule.get(part) or []
            if values and unit < seconds:
                seconds /= len(values)
        shortest = seconds if shortest is None else min(shortest, seconds)
    return shortest


def every_text(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}(s)"
    return f"{seconds:g} second(s)"
