from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    """What every page's frame shows: the data attribution required by the Dresden licence."""
    return {"data_attribution": settings.DATA_ATTRIBUTION}
