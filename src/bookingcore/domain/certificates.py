"""Certificates earned on completed bookings (for course schools and dive centres).

A :class:`Certificate` records what a person earned on a booking: its kind
(``"PADI Open Water"``), its number (unique per kind), when it was issued and
when it expires. It belongs to the booking's customer and, when the course was
taken by one of their travelers, to that traveler. Renewal reminders go out a
configurable time before expiry, once per certificate and expiry date:
:attr:`Certificate.reminded_for` holds the expiry the last reminder was about,
so renewing (a new expiry) opens a new reminder window.

.. versionadded:: 0.3
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import Problems, aware_bound, check_range, require_text
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    TravelerId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import ValidationError

__all__ = [
    "Certificate",
    "CertificateFilter",
    "CertificateId",
    "CertificateState",
    "reminder_horizon",
]

CertificateId = NewType("CertificateId", UUID)

_MAX_TEXT = 100


class CertificateState(enum.StrEnum):
    """Where a certificate stands at a moment: valid, expiring (within the reminder
    lead time) or expired; ``permanent`` ones never expire.

    .. versionadded:: 0.3
    """

    PERMANENT = "permanent"
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"


def _kind(value: str) -> str:
    return require_text(value, "kind", max_length=_MAX_TEXT)


def _number(value: str) -> str:
    return require_text(value, "number", max_length=_MAX_TEXT)


def reminder_horizon(now: datetime, lead: timedelta) -> datetime:
    """The latest expiry a renewal reminder is due for at ``now`` with reminders
    ``lead`` before expiry: ``now + lead``, itself included.

    The one boundary of "due for a reminder": a certificate expiring after ``now``
    and at or before it is :attr:`CertificateState.EXPIRING` in the compliance
    report, and the reminder run at ``now`` asks the storage for those
    (``list_expiring``).

    .. versionadded:: 0.4
    """
    return now + lead


@attrs.define(slots=False, kw_only=True)
class Certificate(Versioned):
    """A certificate one person earned on one booking.

    .. versionadded:: 0.3
    """

    id: CertificateId
    customer_id: CustomerId
    booking_id: BookingId
    kind: str
    number: str
    issued_at: datetime
    created_at: datetime
    updated_at: datetime
    traveler_id: TravelerId | None = None
    expires_at: datetime | None = None
    reminded_for: datetime | None = None
    version: int = 1

    entity_name = "certificate"

    def __attrs_post_init__(self) -> None:
        self.issued_at = ensure_aware(self.issued_at, "issued_at")
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        if self.expires_at is not None:
            self.expires_at = ensure_aware(self.expires_at, "expires_at")
        if self.reminded_for is not None:
            self.reminded_for = ensure_aware(self.reminded_for, "reminded_for")

    @classmethod
    def issue(
        cls,
        *,
        certificate_id: CertificateId,
        customer_id: CustomerId,
        booking_id: BookingId,
        kind: str,
        number: str,
        issued_at: datetime,
        now: datetime,
        traveler_id: TravelerId | None = None,
        expires_at: datetime | None = None,
    ) -> Certificate:
        """Validate and build a certificate.

        Raises:
            ValidationError: empty or over-long ``kind`` or ``number``, a naive
                ``issued_at`` or ``expires_at``, or an expiry not after the issue
                date (each on its field).
        """
        p = Problems()
        clean_kind = p.capture(lambda: _kind(kind))
        clean_number = p.capture(lambda: _number(number))
        issued = p.capture(lambda: ensure_aware(issued_at, "issued_at"))
        expires = (
            None
            if expires_at is None
            else p.capture(lambda: ensure_aware(expires_at, "expires_at"))
        )
        if expires is not None and issued is not None and expires <= issued:
            p.add("expires_at", "must be after the issue date", "out_of_range")
        p.raise_if_any()
        assert clean_kind is not None
        assert clean_number is not None
        return cls(
            id=certificate_id,
            customer_id=customer_id,
            booking_id=booking_id,
            traveler_id=traveler_id,
            kind=clean_kind,
            number=clean_number,
            issued_at=issued_at,
            expires_at=expires,
            created_at=now,
            updated_at=now,
        )

    def state(self, now: datetime, *, lead: timedelta) -> CertificateState:
        """Where the certificate stands at ``now`` with reminders ``lead`` before expiry."""
        if self.expires_at is None:
            return CertificateState.PERMANENT
        if self.expires_at <= now:
            return CertificateState.EXPIRED
        if self.expires_at <= reminder_horizon(now, lead):
            return CertificateState.EXPIRING
        return CertificateState.VALID

    def needs_reminder(self, now: datetime, *, lead: timedelta) -> bool:
        """True when it expires within ``lead`` of ``now`` (not yet expired) and no
        reminder went out for this expiry date."""
        return (
            self.state(now, lead=lead) is CertificateState.EXPIRING
            and self.reminded_for != self.expires_at
        )

    def mark_reminded(self, *, now: datetime) -> None:
        """Record that the reminder for the current expiry date went out."""
        self.reminded_for = self.expires_at
        self.updated_at = now
        self.version += 1

    def renew(self, expires_at: datetime, *, now: datetime) -> None:
        """Move the expiry (a renewal); a reminder will go out again before the new one.

        Raises:
            ValidationError: on ``expires_at``: naive, or not after the issue date.
        """
        expires_at = ensure_aware(expires_at, "expires_at")
        if expires_at <= self.issued_at:
            msg = "must be after the issue date"
            raise ValidationError.single("expires_at", msg, "out_of_range")
        self.expires_at = expires_at
        self.updated_at = now
        self.version += 1


@attrs.frozen(kw_only=True)
class CertificateFilter:
    """Which certificates to list (the compliance report's question).

    ``expires_from`` / ``expires_before`` bound the expiry (lower inclusive,
    upper exclusive; certificates that never expire fall outside any bound);
    both are timezone-aware (a naive bound is a ``ValidationError`` naming it).

    .. versionadded:: 0.3
    """

    kind: str | None = None
    customer_id: CustomerId | None = None
    expires_from: datetime | None = attrs.field(default=None, validator=aware_bound)
    expires_before: datetime | None = attrs.field(default=None, validator=aware_bound)

    def __attrs_post_init__(self) -> None:
        check_range(self.expires_from, self.expires_before, "expires_from", "expires_before")

    def matches(self, certificate: Certificate) -> bool:
        """The reference semantics every adapter implements."""
        if self.kind is not None and certificate.kind != self.kind:
            return False
        if self.customer_id is not None and certificate.customer_id != self.customer_id:
            return False
        bounded = self.expires_from is not None or self.expires_before is not None
        expires = certificate.expires_at
        if bounded and expires is None:
            return False
        if self.expires_from is not None and expires is not None and expires < self.expires_from:
            return False
        return not (
            self.expires_before is not None
            and expires is not None
            and expires >= self.expires_before
        )
