"""Template filters for `reports.wording`: codes stored, words shown in the reader's language."""

from django import template

from reports import wording

register = template.Library()

register.filter("status_name", wording.status_name)
register.filter("status_change", wording.status_change)
register.filter("event_note", wording.event_note)
register.filter("duration", wording.duration)
register.filter("as_duration", wording.as_duration)
