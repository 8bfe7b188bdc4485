"""Trips and itinerary edits for a travel agency's desk.

Staff group a customer's bookings as a trip (``/api/admin/trips``) and edit a
generated itinerary one date at a time
(``/api/admin/bookings/{booking_id}/itinerary/days/{day}``); a customer reads
their own trips on ``/api/v1/customer/trips``. The rendered itinerary is a
document: ``POST /api/documents/generate`` with ``kind: itinerary`` writes the
next version from the plan as edited.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Request, status

from bookingcore import (
    AuthenticationError,
    BookingId,
    CustomerId,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from bookingcore.domain import TripId
from examples.api.deps import (
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    StaffPrincipal,
    customer_id_of,
)
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import Paged
from examples.api.schemas_travel import ItineraryDayIn, ItineraryOut, TripIn, TripOut

__all__ = ["router"]

router = APIRouter()

_TRIPS: list[str | Enum] = ["travel trips"]
_DESK: list[str | Enum] = ["travel desk"]
_CHANGE = problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError)
_KEYED_CHANGE = problem_responses(
    AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
)


# ---------------------------------------------------------------------- staff


@router.post(
    "/api/admin/trips",
    tags=_TRIPS,
    operation_id="admin_create_trip",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def create_trip(
    body: TripIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> TripOut:
    """Group some of a customer's bookings as a trip with dates (more can be added later).

    With an ``Idempotency-Key`` a retry answers the trip the first call made.
    """
    trip = core.trips.create(
        CustomerId(body.customer_id),
        body.name,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        principal=staff,
        booking_ids=[BookingId(b) for b in body.booking_ids],
        notes=body.notes,
        idempotency_key=idempotency_key,
    )
    return TripOut.of(trip)


@router.get(
    "/api/admin/trips",
    tags=_TRIPS,
    operation_id="admin_list_trips",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def list_trips(
    request: Request,
    customer_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[TripOut]:
    """The customer's trips, newest first, a page at a time (follow ``next``)."""
    page = core.trips.for_customer(
        CustomerId(customer_id), page_request(limit, cursor), principal=staff
    )
    return paged(Paged[TripOut], request, page, TripOut.of)


@router.get(
    "/api/admin/trips/{trip_id}",
    tags=_TRIPS,
    operation_id="admin_get_trip",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_trip(trip_id: UUID, core: Core, staff: StaffPrincipal) -> TripOut:
    """One trip."""
    return TripOut.of(core.trips.get(TripId(trip_id), principal=staff))


@router.put(
    "/api/admin/trips/{trip_id}/bookings/{booking_id}",
    tags=_TRIPS,
    operation_id="admin_add_trip_booking",
    responses=_KEYED_CHANGE,
)
def add_trip_booking(
    trip_id: UUID,
    booking_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> TripOut:
    """Put one more of the customer's bookings on the trip (422 on ``booking_id``:
    another customer's, on another trip, or on this one already).

    With an ``Idempotency-Key`` a retry answers the trip as it is now.
    """
    trip = core.trips.add_booking(
        TripId(trip_id), BookingId(booking_id), principal=staff, idempotency_key=idempotency_key
    )
    return TripOut.of(trip)


@router.delete(
    "/api/admin/trips/{trip_id}/bookings/{booking_id}",
    tags=_TRIPS,
    operation_id="admin_remove_trip_booking",
    responses=_KEYED_CHANGE,
)
def remove_trip_booking(
    trip_id: UUID,
    booking_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> TripOut:
    """Take a booking off the trip (the booking itself stays as it is).

    With an ``Idempotency-Key`` a retry answers the trip as it is now.
    """
    trip = core.trips.remove_booking(
        TripId(trip_id), BookingId(booking_id), principal=staff, idempotency_key=idempotency_key
    )
    return TripOut.of(trip)


@router.put(
    "/api/admin/bookings/{booking_id}/itinerary/days/{day}",
    tags=_DESK,
    operation_id="admin_set_itinerary_day",
    responses=_CHANGE,
)
def set_itinerary_day(
    booking_id: UUID, day: date, body: ItineraryDayIn, core: Core, staff: StaffPrincipal
) -> ItineraryOut:
    """Write the plan of one date of the booking's itinerary (replacing it, or adding the date).

    The booking needs a plan first (``POST /api/admin/bookings/{booking_id}/itinerary``).
    """
    edited = core.itineraries.set_day(BookingId(booking_id), body.to_day(day), principal=staff)
    return ItineraryOut.of(edited)


@router.delete(
    "/api/admin/bookings/{booking_id}/itinerary/days/{day}",
    tags=_DESK,
    operation_id="admin_remove_itinerary_day",
    responses=_CHANGE,
)
def remove_itinerary_day(
    booking_id: UUID, day: date, core: Core, staff: StaffPrincipal
) -> ItineraryOut:
    """Drop the plan of one date from the booking's itinerary."""
    return ItineraryOut.of(core.itineraries.remove_day(BookingId(booking_id), day, principal=staff))


# ---------------------------------------------------------------------- customers


@router.get(
    "/api/v1/customer/trips",
    tags=_TRIPS,
    operation_id="customer_list_trips",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def my_trips(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Paged[TripOut]:
    """My trips, newest first, a page at a time (follow ``next``)."""
    page = core.trips.for_customer(customer_id_of(me), page_request(limit, cursor), principal=me)
    return paged(Paged[TripOut], request, page, TripOut.of)


@router.get(
    "/api/v1/customer/trips/{trip_id}",
    tags=_TRIPS,
    operation_id="customer_get_trip",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def my_trip(trip_id: UUID, core: Core, me: CustomerPrincipal) -> TripOut:
    """One of my trips (anyone else's answers 404)."""
    return TripOut.of(core.trips.get(TripId(trip_id), principal=me))
