"""Sharing a trip with friends, a social feature of the customer app.

A customer (or staff on their behalf) makes a :class:`ShareLink` for one of their
bookings and sends its token to friends; anyone holding the token reads a small,
fixed :class:`SharedTrip` view of the trip without signing in: what, where and
when, the booking's status in customer-facing words and how many travel, and
the travelers' first names only when the customer chose to show them. Never
phones, emails, prices, payments, notes, the booking reference or any id.

The token is a bearer secret: 256 random bits from :mod:`secrets`, handed out
once (:class:`ShareLinkIssued`) and stored only as its hash, the way partner API
secrets are (:func:`~bookingcore.domain.partners.hash_api_secret`, a fast
SHA-256: a random 256-bit value cannot be guessed, so a slow hash would add cost
and no safety), with its last four characters for display
(:meth:`ShareLink.masked_token`). A link works until it expires or is revoked;
a booking has at most :data:`MAX_ACTIVE_SHARE_LINKS` working links at a time.

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
import hmac
import secrets
from datetime import date, datetime
from typing import NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import clean_text
from bookingcore.domain.bookings import Booking
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.partners import hash_api_secret
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore.errors import FieldError, NotFoundError, ValidationError

__all__ = [
    "MAX_ACTIVE_SHARE_LINKS",
    "MAX_SHARE_LABEL_LENGTH",
    "SHARE_TOKEN_PREFIX",
    "ShareExpiryError",
    "ShareLink",
    "ShareLinkId",
    "ShareLinkIssued",
    "ShareLinkLimitError",
    "SharedItineraryDay",
    "SharedTrip",
    "SharedTripNotFoundError",
    "SharedTripStatus",
    "first_name",
    "hash_share_token",
    "new_share_token",
    "shared_booking_status",
    "shared_status",
    "usable_token",
]

ShareLinkId = NewType("ShareLinkId", UUID)

#: How every share token starts, so a leaked one is easy to recognise.
SHARE_TOKEN_PREFIX = "trip_"  # noqa: S105 - a prefix, not a secret

#: The most working (neither expired nor revoked) links one booking may have.
MAX_ACTIVE_SHARE_LINKS = 5

#: The longest label a link may carry ("for the Sharma family").
MAX_SHARE_LABEL_LENGTH = 100

#: Random bytes in each token: 256 bits (the brief's floor is 128).
_TOKEN_BYTES = 32

#: The longest text looked up as a token; anything longer is unknown at once.
_MAX_TOKEN_LENGTH = 128


def new_share_token() -> str:
    """A fresh share token: :data:`SHARE_TOKEN_PREFIX` and 256 random bits, URL-safe.

    .. versionadded:: 0.4
    """
    return SHARE_TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def hash_share_token(token: str) -> str:
    """The stored form of a share token: the same scheme as partner API secrets
    (``sha256$<hex>``, see :func:`~bookingcore.domain.partners.hash_api_secret`).

    .. versionadded:: 0.4
    """
    return hash_api_secret(token)


def usable_token(token: object) -> str | None:
    """``token`` stripped when it could be a share token at all, else ``None``
    (not text, empty, too long): such a value is never hashed or looked up.

    .. versionadded:: 0.4
    """
    if not isinstance(token, str):
        return None
    text = token.strip()
    if not text or len(text) > _MAX_TOKEN_LENGTH:
        return None
    return text


class SharedTripNotFoundError(NotFoundError):
    """No shared trip for this token: unknown, expired, revoked, the booking shared
    no more (cancelled, refunded, a no-show, ended untravelled, archived: see
    :func:`shared_booking_status`) or its customer erased. One error for all, so an
    answer never tells whether a token existed.

    .. versionadded:: 0.4
    """

    def __init__(self) -> None:
        super().__init__("shared trip", "token", "no shared trip for this link")

    def details(self) -> dict[str, str]:
        return {"entity": "shared trip"}


class ShareLinkLimitError(ValidationError):
    """The booking has :data:`MAX_ACTIVE_SHARE_LINKS` working links already: revoke
    one first. On field ``booking_id``, code ``too_many_links``.

    .. versionadded:: 0.4
    """

    def __init__(self, booking_id: BookingId, limit: int = MAX_ACTIVE_SHARE_LINKS) -> None:
        msg = f"booking {booking_id} has {limit} working share links; revoke one first"
        super().__init__(FieldError("booking_id", msg, "too_many_links"), msg)


class ShareExpiryError(ValidationError):
    """A link's ``expires_at`` is not after now, or further away than the longest a
    link may live (``Settings.share_link_max_ttl``). On field ``expires_at``, code
    ``out_of_range``.

    .. versionadded:: 0.4
    """

    def __init__(self, reason: str) -> None:
        super().__init__(FieldError("expires_at", reason, "out_of_range"), f"expires_at: {reason}")


@attrs.define(slots=False, kw_only=True)
class ShareLink:
    """One link to a booking's shared trip view.

    ``token_hash`` is :func:`hash_share_token` of the token handed out once;
    ``token_last4`` its last four characters, for telling links apart. The
    ``show_*`` flags choose what the view holds beyond its fixed part.
    ``customer_id`` is the booking's customer (whose privacy rights cover it).
    ``view_count`` is how many times the link opened the trip and
    ``last_opened_at`` when it last did (``None`` before its first open): shown
    to whoever may list the booking's links, never in the shared view.

    .. versionadded:: 0.4
    .. versionchanged:: 0.4
       ``view_count`` and ``last_opened_at``.
    """

    id: ShareLinkId
    booking_id: BookingId
    customer_id: CustomerId
    token_hash: str = attrs.field(repr=False)
    token_last4: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    show_first_names: bool = False
    show_itinerary: bool = True
    label: str | None = None
    revoked_at: datetime | None = None
    view_count: int = 0
    last_opened_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        *,
        link_id: ShareLinkId,
        booking_id: BookingId,
        customer_id: CustomerId,
        token: str,
        expires_at: datetime,
        now: datetime,
        show_first_names: bool = False,
        show_itinerary: bool = True,
        label: str | None = None,
    ) -> ShareLink:
        """A new working link for ``token`` (kept only as its hash).

        Raises:
            ValidationError: on ``label`` (over 100 characters, control characters),
                ``show_first_names`` or ``show_itinerary`` (not a bool).
            ShareExpiryError: ``expires_at`` is not after ``now``.
        """
        flags = (("show_first_names", show_first_names), ("show_itinerary", show_itinerary))
        for field, flag in flags:
            if not isinstance(flag, bool):
                raise ValidationError.single(field, "must be true or false", "invalid_type")
        text = clean_text(label, "label", max_length=MAX_SHARE_LABEL_LENGTH)
        if expires_at <= now:
            raise ShareExpiryError("must be in the future")
        return cls(
            id=link_id,
            booking_id=booking_id,
            customer_id=customer_id,
            token_hash=hash_share_token(token),
            token_last4=token[-4:],
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            show_first_names=show_first_names,
            show_itinerary=show_itinerary,
            label=text,
        )

    def is_active(self, now: datetime) -> bool:
        """True while the link works: not revoked and not expired at ``now``."""
        return self.revoked_at is None and now < self.expires_at

    def matches(self, token_hash: str) -> bool:
        """True when ``token_hash`` is this link's, compared in constant time."""
        return hmac.compare_digest(self.token_hash, token_hash)

    def revoke(self, *, now: datetime) -> bool:
        """Stop the link working; False (and nothing changes) when it was revoked already."""
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        self.updated_at = now
        return True

    def masked_token(self) -> str:
        """The token as lists and audit entries show it: ``trip_…`` and its last four."""
        return f"{SHARE_TOKEN_PREFIX}…{self.token_last4}"


@attrs.frozen
class ShareLinkIssued:
    """What :meth:`~bookingcore.services.TripSharingService.create_link` made.

    ``token`` is shown here and never again (only its hash is kept); it is
    ``None`` when the call was a retry of an earlier one with the same
    idempotency key, whose answer carried it. It is left out of ``repr()``.

    .. versionadded:: 0.4
    """

    link: ShareLink
    token: str | None = attrs.field(repr=False)


class SharedTripStatus(enum.StrEnum):
    """A shared booking's status in words for the customer's friends.

    .. versionadded:: 0.4
    """

    PENDING = "pending"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    ENDED = "ended"

    @property
    def label(self) -> str:
        """The status as a page shows it ("Awaiting confirmation")."""
        return _LABELS[self]


_LABELS = {
    SharedTripStatus.PENDING: "Awaiting confirmation",
    SharedTripStatus.CONFIRMED: "Confirmed",
    SharedTripStatus.COMPLETED: "Completed",
    SharedTripStatus.ENDED: "Ended",
}

#: The shipped lifecycles' statuses in customer-facing words (by lower-case name).
_WORDS = {
    "pending": SharedTripStatus.PENDING,
    "lead_created": SharedTripStatus.PENDING,
    "quotation_sent": SharedTripStatus.PENDING,
    "quotation_approved": SharedTripStatus.PENDING,
    "booking_created": SharedTripStatus.PENDING,
    "payment_pending": SharedTripStatus.PENDING,
    "waitlisted": SharedTripStatus.PENDING,
    "rescheduled": SharedTripStatus.PENDING,
    "confirmed": SharedTripStatus.CONFIRMED,
    "assigned": SharedTripStatus.CONFIRMED,
    "in_progress": SharedTripStatus.CONFIRMED,
    "payment_confirmed": SharedTripStatus.CONFIRMED,
    "supplier_confirmed": SharedTripStatus.CONFIRMED,
    "documents_generated": SharedTripStatus.CONFIRMED,
    "completed": SharedTripStatus.COMPLETED,
}

#: Statuses whose booking is shared no more (as its cancelled state is): final, or
#: as good as, without the trip travelled (refunded; a no-show did not travel).
_HIDDEN = frozenset({"refunded", "no_show"})


def shared_status(lifecycle: Lifecycle | None, status: str) -> SharedTripStatus | None:
    """``status`` of a booking following ``lifecycle`` in customer-facing words, or
    ``None`` when a booking in it is shared no more: cancelled, refunded, a
    no-show, or a final state it was not travelled in.

    The shipped lifecycles' statuses have their words; a status of your own
    lifecycle is shared no more when terminal without holding seats (an
    ``expired`` or ``lapsed`` booking never travelled), reads ``ended`` when
    terminal and holding seats, ``confirmed`` when it holds seats and is not the
    initial one, ``pending`` otherwise.

    .. versionadded:: 0.4
    .. versionchanged:: 0.4
       A no-show, and a terminal state of your own that holds no seats, are
       shared no more (they read ``ended`` before).
    """
    key = status.lower()
    if (lifecycle is not None and status == lifecycle.cancelled) or key in _HIDDEN:
        return None
    if key == "cancelled":
        return None
    if key in _WORDS:
        return _WORDS[key]
    if lifecycle is None:
        return SharedTripStatus.PENDING
    if status in lifecycle.terminal:
        return SharedTripStatus.ENDED if status in lifecycle.holding else None
    if status in lifecycle.holding and status != lifecycle.initial:
        return SharedTripStatus.CONFIRMED
    return SharedTripStatus.PENDING


def shared_booking_status(lifecycle: Lifecycle | None, booking: Booking) -> SharedTripStatus | None:
    """What a share link of ``booking`` shows as its status, or ``None`` when the
    booking is shared no more and its links open nothing: :func:`shared_status` of
    its status is ``None`` (cancelled, refunded, a no-show, a final state not
    travelled in), it was cancelled (``cancelled_at``), or it is archived.

    Decided from the booking as it is, at every open: whichever path moved it there,
    and back (an archived booking brought back, a no-show appointment rescheduled),
    its links follow without a write of their own.

    .. versionadded:: 0.4
    """
    if booking.cancelled_at is not None or booking.archived_at is not None:
        return None
    return shared_status(lifecycle, booking.status)


def first_name(name: str) -> str | None:
    """The first word of a traveler's name ("Asha" of "Asha Rao"), or ``None`` for an
    erased one ("[erased]") or a blank one.

    .. versionadded:: 0.4
    """
    words = name.split()
    if not words or words[0].startswith("["):
        return None
    return words[0]


@attrs.frozen
class SharedItineraryDay:
    """One day of a shared trip's plan: its date, title and entries (never its notes).

    .. versionadded:: 0.4
    """

    day: date
    title: str
    entries: tuple[str, ...] = ()


@attrs.frozen
class SharedTrip:
    """What a share link shows: a small, fixed view of one booking's trip.

    ``trip_name`` is the slot's name, else its product's, else its location's;
    ``meeting_point`` the location's address; ``ends_at`` the slot's end, when it
    has one. ``first_names`` is ``None`` unless the customer chose to show them;
    ``itinerary`` is empty unless chosen and planned. Nothing else about the
    booking (no contact details, prices, payments, notes, reference or ids).

    .. versionadded:: 0.4
    """

    trip_name: str
    product_name: str | None
    location_name: str
    meeting_point: str | None
    starts_at: datetime
    ends_at: datetime | None
    status: SharedTripStatus
    travelers: int
    first_names: tuple[str, ...] | None
    itinerary: tuple[SharedItineraryDay, ...]
    link_expires_at: datetime
