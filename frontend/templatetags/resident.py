from django import template

from reports.models import Report

register = template.Library()

_LABELS = dict(Report.Status.choices)


@register.filter
def status_label(value: str) -> str:
    """The translated name of a report status code ("cleared" -> "beseitigt")."""
    return str(_LABELS.get(value, value))
