"""Bookings as answers, with their partner's name read once per answer (never per booking).

Seed 002: "each booking shows ``source`` and ``partner.name``". A route hands the
bookings it answers to :meth:`~bookingcore.services.BookingService.partner_names`
once, which reads their partners in one query, and converts each booking with
the names it got.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel

from bookingcore import BookingCore, PartnerId, Principal
from bookingcore.domain import Booking, Page
from examples.api.routes._paging import paged
from examples.api.schemas import BookingOut, StaffBookingOut

__all__ = ["booking_out", "booking_page", "partner_names", "staff_booking_out", "staff_bookings"]

_Out = TypeVar("_Out", bound=BaseModel)


def partner_names(
    core: BookingCore, principal: Principal, bookings: Iterable[Booking]
) -> Mapping[PartnerId, str]:
    """The names of the partners ``bookings`` came through (one query, none without any)."""
    return core.bookings.partner_names(bookings, principal=principal)


def booking_out(core: BookingCore, principal: Principal, booking: Booking) -> BookingOut:
    """One booking as its owner sees it, with its partner's name."""
    return BookingOut.of(booking, partner_names(core, principal, [booking]))


def staff_booking_out(core: BookingCore, principal: Principal, booking: Booking) -> StaffBookingOut:
    """One booking as staff see it, with its partner's name."""
    return StaffBookingOut.of(booking, partner_names(core, principal, [booking]))


def staff_bookings(
    core: BookingCore, principal: Principal, bookings: Iterable[Booking]
) -> list[StaffBookingOut]:
    """Bookings as staff see them, their partners named from one read."""
    found = list(bookings)
    names = partner_names(core, principal, found)
    return [StaffBookingOut.of(b, names) for b in found]


def booking_page(
    model: type[_Out],
    request: Request,
    page: Page[Booking],
    core: BookingCore,
    principal: Principal,
    convert: Callable[[Booking, Mapping[PartnerId, str]], BaseModel] = BookingOut.of,
) -> _Out:
    """A page of bookings as ``model`` (see :func:`~examples.api.routes._paging.paged`),
    the page's partners read in one call."""
    names = partner_names(core, principal, page.items)
    return paged(model, request, page, lambda booking: convert(booking, names))
