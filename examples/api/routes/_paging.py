"""Keyset paging over the library's pages: ``?limit=&cursor=`` in, ``next`` link out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from bookingcore import PageRequest

__all__ = ["Cursor", "Limit", "next_link", "page_request"]

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The next_cursor of the previous page"),
]


def page_request(limit: int, cursor: str | None) -> PageRequest:
    """The library's :class:`~bookingcore.PageRequest`."""
    return PageRequest(limit=limit, cursor=cursor)


def next_link(request: Request, next_cursor: str | None) -> str | None:
    """The URL of the next page: this request's, with ``cursor`` set to ``next_cursor``."""
    if next_cursor is None:
        return None
    return str(request.url.include_query_params(cursor=next_cursor))
