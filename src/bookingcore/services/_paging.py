"""Walking every page of a keyset list, for services that need all matching rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from bookingcore.domain.queries import MAX_PAGE_SIZE, Page, PageRequest

__all__ = ["every"]

T = TypeVar("T")


def every(fetch: Callable[[PageRequest], Page[T]]) -> Iterator[T]:
    """Every item ``fetch`` lists, page after page (newest first)."""
    request = PageRequest(limit=MAX_PAGE_SIZE)
    while True:
        page = fetch(request)
        yield from page.items
        if page.next_cursor is None:
            return
        request = PageRequest(limit=MAX_PAGE_SIZE, cursor=page.next_cursor)
