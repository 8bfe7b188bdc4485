"""Family accounts: customers who book for each other.

A :class:`Family` links customers who are related: one of them owns it (the
customer who invited the others), every linked customer is a
:class:`FamilyMember` with a relation label ("mother", "partner", "friend"),
and a customer belongs to at most one family. Nobody is linked without saying
yes: the owner sends a :class:`FamilyInvitation` to a phone number, and the
customer with that number accepts or declines it before it expires.

What a link grants is decided in :mod:`bookingcore.domain.policy`: a member may
book the other members' saved travelers (picking them by name; their details
stay with their owner) and sees the upcoming bookings other members made for
their own travelers. Nothing more: no member reads another's profile,
payments, messages or other bookings.

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import require_text
from bookingcore.domain.values import BookingId, CustomerId, SlotId, TravelerId, Versioned
from bookingcore.errors import ValidationError

__all__ = [
    "MAX_FAMILY_MEMBERS",
    "Family",
    "FamilyBooking",
    "FamilyId",
    "FamilyInvitation",
    "FamilyInvitationId",
    "FamilyMember",
    "FamilyMemberId",
    "FamilyRole",
    "FamilyTraveler",
    "InvitationStatus",
    "clean_relation",
    "invitation_message_key",
]

FamilyId = NewType("FamilyId", UUID)
FamilyMemberId = NewType("FamilyMemberId", UUID)
FamilyInvitationId = NewType("FamilyInvitationId", UUID)

#: The most customers one family holds, its owner and pending invitations included.
MAX_FAMILY_MEMBERS = 12

#: The longest relation label ("grandmother", "partner's son").
MAX_RELATION_LENGTH = 40


def clean_relation(value: object, field: str = "relation") -> str:
    """A relation label stripped and checked: 1-40 characters of text.

    Raises:
        ValidationError: on ``field`` when it is missing, blank or too long.

    .. versionadded:: 0.4
    """
    return require_text(value, field, max_length=MAX_RELATION_LENGTH)


def invitation_message_key(invitation_id: FamilyInvitationId) -> str:
    """The dedupe key of the message telling the invited customer about
    ``invitation_id``: ``family-invitation:<invitation id>``, one per invitation
    whoever sends it.

    .. versionadded:: 0.4
    """
    return f"family-invitation:{invitation_id}"


class FamilyRole(enum.StrEnum):
    """A member's part in their family: its ``owner`` invites and removes members.

    .. versionadded:: 0.4
    """

    OWNER = "owner"
    MEMBER = "member"


class InvitationStatus(enum.StrEnum):
    """Where a family invitation stands.

    ``pending`` until the invited customer answers (``accepted``, ``declined``),
    the owner withdraws it (``cancelled``) or its time runs out (``expired``, read
    from ``expires_at``: nothing needs to run for an invitation to expire).

    .. versionadded:: 0.4
    """

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@attrs.define(slots=False)
class Family(Versioned):
    """A family account: the customers linked to ``owner_id``.

    The members themselves are :class:`FamilyMember` records (the owner is one
    too); the family is locked while members join or leave, so its size limit
    holds under concurrent answers.

    .. versionadded:: 0.4
    """

    id: FamilyId
    owner_id: CustomerId
    created_at: datetime
    updated_at: datetime
    version: int = 1

    entity_name = "family"

    def touch(self, now: datetime) -> None:
        """Record a change of the family's membership (its version moves on)."""
        self.updated_at = now
        self.version += 1


@attrs.define(slots=False)
class FamilyMember:
    """One customer's link to their family, with how they relate to its owner.

    ``relation`` is ``None`` for the owner.

    .. versionadded:: 0.4
    """

    id: FamilyMemberId
    family_id: FamilyId
    customer_id: CustomerId
    role: FamilyRole
    joined_at: datetime
    relation: str | None = None

    @property
    def is_owner(self) -> bool:
        """True for the family's owner."""
        return self.role is FamilyRole.OWNER


@attrs.define(slots=False)
class FamilyInvitation(Versioned):
    """An owner's offer to link ``customer_id`` into their family as ``relation``.

    Use :meth:`create`; the invited customer answers with :meth:`accept` or
    :meth:`decline`, the owner may :meth:`cancel` it, and it expires at
    ``expires_at`` (:meth:`status_at`).

    .. versionadded:: 0.4
    """

    id: FamilyInvitationId
    family_id: FamilyId
    invited_by: CustomerId
    customer_id: CustomerId
    relation: str
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    answered_at: datetime | None = None
    version: int = 1

    entity_name = "family invitation"

    @classmethod
    def create(
        cls,
        *,
        invitation_id: FamilyInvitationId,
        family_id: FamilyId,
        invited_by: CustomerId,
        customer_id: CustomerId,
        relation: str,
        now: datetime,
        expires_at: datetime,
    ) -> FamilyInvitation:
        """A pending invitation.

        Raises:
            ValidationError: on ``relation`` (see :func:`clean_relation`); on
                ``phone`` when the owner invites themself; on ``expires_at`` when it
                is not after ``now``.
        """
        label = clean_relation(relation)
        if customer_id == invited_by:
            msg = "you cannot invite yourself into your family"
            raise ValidationError.single("phone", msg, "same_customer")
        if expires_at <= now:
            msg = "an invitation must expire after it is sent"
            raise ValidationError.single("expires_at", msg, "out_of_range")
        return cls(
            id=invitation_id,
            family_id=family_id,
            invited_by=invited_by,
            customer_id=customer_id,
            relation=label,
            status=InvitationStatus.PENDING,
            created_at=now,
            expires_at=expires_at,
            updated_at=now,
        )

    def status_at(self, now: datetime) -> InvitationStatus:
        """The status at ``now``: a pending invitation past ``expires_at`` is expired."""
        if self.status is InvitationStatus.PENDING and now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return self.status

    def is_open_at(self, now: datetime) -> bool:
        """True while the invitation waits for an answer."""
        return self.status_at(now) is InvitationStatus.PENDING

    def accept(self, *, now: datetime) -> None:
        """The invited customer says yes.

        Raises:
            ValidationError: on ``invitation_id`` when it is no longer pending
                (code ``expired`` once its time ran out, ``not_pending`` otherwise).
        """
        self._answer(InvitationStatus.ACCEPTED, now)

    def decline(self, *, now: datetime) -> None:
        """The invited customer says no.

        Raises:
            ValidationError: as :meth:`accept`.
        """
        self._answer(InvitationStatus.DECLINED, now)

    def cancel(self, *, now: datetime) -> None:
        """The owner withdraws it (or the family it was for ended).

        Raises:
            ValidationError: as :meth:`accept`.
        """
        self._answer(InvitationStatus.CANCELLED, now)

    def _answer(self, status: InvitationStatus, now: datetime) -> None:
        current = self.status_at(now)
        if current is InvitationStatus.EXPIRED:
            msg = f"the invitation expired at {self.expires_at.isoformat()}"
            raise ValidationError.single("invitation_id", msg, "expired")
        if current is not InvitationStatus.PENDING:
            msg = f"the invitation was {current.value} already"
            raise ValidationError.single("invitation_id", msg, "not_pending")
        self.status = status
        self.answered_at = now
        self.updated_at = now
        self.version += 1


@attrs.frozen
class FamilyTraveler:
    """A traveler a family member may book: who, and whose saved traveler it is.

    Only the name: the traveler's other details (age, phone, requirements)
    stay with the customer who saved them.

    .. versionadded:: 0.4
    """

    traveler_id: TravelerId
    name: str
    owner_id: CustomerId
    is_own: bool


@attrs.frozen
class FamilyBooking:
    """An upcoming booking another family member made for some of your travelers.

    What the trip needs and nothing of the booker's: no prices, payments or notes.

    .. versionadded:: 0.4
    """

    booking_id: BookingId
    reference: str
    slot_id: SlotId
    starts_at: datetime
    status: str
    booked_by: CustomerId
    travelers: tuple[FamilyTraveler, ...]
