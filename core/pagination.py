"""Pagination whose total comes from elsewhere than `count(*)` over the rows being paged."""

from collections.abc import Callable
from functools import cached_property

from django.core.paginator import Paginator


class CountedPaginator(Paginator):
    """A Django Paginator told how to get its total (e.g. from kept counts): counting millions
    of rows on every page would make a page cost grow with the history kept."""

    def __init__(self, object_list, per_page, *, count: Callable[[], int], **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count()
