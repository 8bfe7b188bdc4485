"""Query parameters several list routes share, turned into the library's filter values."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from bookingcore import FieldError, ValidationError
from bookingcore.domain.sources import BookingSource

__all__ = ["Sources", "booking_sources"]

Sources = Annotated[
    list[str] | None,
    Query(description=f"Any of these channels ({', '.join(BookingSource)})"),
]


def booking_sources(values: list[str] | None) -> frozenset[BookingSource] | None:
    """The channels named by ``?source=`` (``None``: any).

    Raises:
        ValidationError: naming ``source[<n>]`` for each unknown channel.
    """
    if not values:
        return None
    parsed: list[BookingSource] = []
    errors: list[FieldError] = []
    for index, value in enumerate(values):
        try:
            parsed.append(BookingSource.parse(value, field=f"source[{index}]"))
        except ValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationError(errors)
    return frozenset(parsed)
