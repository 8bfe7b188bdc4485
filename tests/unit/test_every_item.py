"""``every_item``: every item of a paged list, page after page, read only as needed."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from bookingcore.domain import Cursor, Page, every_item
from bookingcore.domain.queries import MAX_PAGE_SIZE, PageRequest

# The cursor after page n (a real token: requests check it).
CURSORS = [Cursor(datetime(2026, 1, 1, tzinfo=UTC), UUID(int=n)).encode() for n in range(4)]


def _pages(*pages: list[int]) -> tuple[list[PageRequest], object]:
    asked: list[PageRequest] = []

    def fetch(request: PageRequest) -> Page[int]:
        asked.append(request)
        index = 0 if request.cursor is None else CURSORS.index(request.cursor) + 1
        last = index == len(pages) - 1
        return Page(pages[index], None if last else CURSORS[index])

    return asked, fetch


def test_every_item_comes_once_in_the_lists_order_across_pages() -> None:
    asked, fetch = _pages([5, 4], [3, 2], [1])
    assert list(every_item(fetch)) == [5, 4, 3, 2, 1]  # type: ignore[arg-type]
    assert [request.cursor for request in asked] == [None, CURSORS[0], CURSORS[1]]
    assert {request.limit for request in asked} == {MAX_PAGE_SIZE}


def test_the_next_page_is_asked_for_only_when_the_items_before_it_were_taken() -> None:
    asked, fetch = _pages([5, 4], [3])
    items = every_item(fetch)  # type: ignore[arg-type]
    assert asked == []
    assert [next(items), next(items)] == [5, 4]
    assert len(asked) == 1
    assert next(items) == 3
    assert len(asked) == 2


def test_an_empty_list_is_asked_for_once() -> None:
    asked, fetch = _pages([])
    assert list(every_item(fetch)) == []  # type: ignore[arg-type]
    assert len(asked) == 1
