"""The pydantic models of the trip sharing routes: share links and the shared trip view."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from bookingcore.domain import SharedTrip, ShareLink
from examples.api.schemas import StrictIn

__all__ = [
    "ShareLinkCreatedOut",
    "ShareLinkIn",
    "ShareLinkOut",
    "SharedItineraryDayOut",
    "SharedTripOut",
]


class ShareLinkIn(StrictIn):
    """What a new share link shows and how long it works; the library checks each field
    and names the bad ones (``expires_at``, ``label``)."""

    expires_at: datetime | None = Field(
        default=None,
        description="When the link stops working (default: the trip's end, within the "
        "host's longest link life)",
    )
    show_first_names: bool = Field(default=False, description="Show travelers' first names")
    show_itinerary: bool = Field(default=True, description="Show the day-by-day plan, if any")
    label: str | None = Field(default=None, max_length=400, examples=["for the Sharma family"])


class ShareLinkOut(BaseModel):
    """A share link as lists show it: its token masked (``trip_…abcd``), and how many
    times it opened the trip and when it last did."""

    id: UUID
    token_hint: str
    label: str | None
    show_first_names: bool
    show_itinerary: bool
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool = Field(description="The link works: neither revoked nor expired")
    opens: bool = Field(
        description="Its token opens the trip now: the link works and the booking is still "
        "shared (not cancelled, refunded, a no-show, otherwise ended untravelled, or archived)"
    )
    view_count: int = Field(description="How many times the link opened the trip")
    last_opened_at: datetime | None = Field(description="When it last did (null: never)")

    @classmethod
    def of(cls, link: ShareLink, now: datetime, *, booking_shared: bool = True) -> ShareLinkOut:
        """The link's fields, the token masked; ``active`` at ``now``, and ``opens``
        when the booking is still shared too."""
        return cls(
            id=link.id,
            token_hint=link.masked_token(),
            label=link.label,
            show_first_names=link.show_first_names,
            show_itinerary=link.show_itinerary,
            created_at=link.created_at,
            expires_at=link.expires_at,
            revoked_at=link.revoked_at,
            active=link.is_active(now),
            opens=link.is_active(now) and booking_shared,
            view_count=link.view_count,
            last_opened_at=link.last_opened_at,
        )


class ShareLinkCreatedOut(ShareLinkOut):
    """A new share link with its token, shown this once (``null`` on a retry of the same
    request with the same ``Idempotency-Key``), and the path that opens the trip."""

    token: str | None
    path: str | None


class SharedItineraryDayOut(BaseModel):
    """One day of the shared trip's plan."""

    day: date
    title: str
    entries: list[str]


class SharedTripOut(BaseModel):
    """A shared trip: what, where, when, its status in words and how many travel.
    Never contact details, prices, payments, notes, the booking reference or ids."""

    trip_name: str
    product_name: str | None
    location_name: str
    meeting_point: str | None
    starts_at: datetime
    ends_at: datetime | None
    status: str = Field(examples=["confirmed"])
    status_label: str = Field(examples=["Confirmed"])
    travelers: int
    first_names: list[str] | None
    itinerary: list[SharedItineraryDayOut]
    link_expires_at: datetime

    @classmethod
    def of(cls, trip: SharedTrip) -> SharedTripOut:
        """The view's fields."""
        return cls(
            trip_name=trip.trip_name,
            product_name=trip.product_name,
            location_name=trip.location_name,
            meeting_point=trip.meeting_point,
            starts_at=trip.starts_at,
            ends_at=trip.ends_at,
            status=trip.status.value,
            status_label=trip.status.label,
            travelers=trip.travelers,
            first_names=None if trip.first_names is None else list(trip.first_names),
            itinerary=[
                SharedItineraryDayOut(day=d.day, title=d.title, entries=list(d.entries))
                for d in trip.itinerary
            ],
            link_expires_at=trip.link_expires_at,
        )
