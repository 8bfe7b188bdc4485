"""Keyset paging over the library's pages: ``?limit=&cursor=`` in, ``next`` link out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

from bookingcore import PageRequest
from bookingcore.domain import Page

__all__ = ["Cursor", "Limit", "next_link", "page_request", "paged"]

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="The next_cursor of the previous page"),
]

_Out = TypeVar("_Out", bound=BaseModel)


def page_request(limit: int, cursor: str | None) -> PageRequest:
    """The library's :class:`~bookingcore.PageRequest`."""
    return PageRequest(limit=limit, cursor=cursor)


def next_link(request: Request, next_cursor: str | None) -> str | None:
    """The URL of the next page: this request's, with ``cursor`` set to ``next_cursor``."""
    if next_cursor is None:
        return None
    return str(request.url.include_query_params(cursor=next_cursor))


def paged(
    model: type[_Out], request: Request, page: Page[Any], convert: Callable[[Any], BaseModel]
) -> _Out:
    """The page as ``model`` (a :class:`~examples.api.schemas.Paged`): its items through
    ``convert``, its cursor, and the link to the next page."""
    return model(
        items=[convert(item) for item in page.items],
        next_cursor=page.next_cursor,
        next=next_link(request, page.next_cursor),
    )
