"""Family accounts: the signed-in customer links related customers, who then
book for each other. Customers use ``/api/v1/customer/family``; staff who see every
customer read a customer's family under ``/api/admin/customers/{customer_id}/family``.

Inviting, accepting and leaving take an ``Idempotency-Key``. A member books another
member's traveler with ``POST /api/v1/customer/bookings``, naming the traveler id from
``GET /api/v1/customer/family/travelers``. The request and answer models live here,
with the routes they serve.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from bookingcore import (
    AuthenticationError,
    ConflictError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from bookingcore.domain.families import (
    FamilyBooking,
    FamilyInvitation,
    FamilyInvitationId,
    FamilyMember,
    FamilyTraveler,
)
from bookingcore.domain.values import CustomerId
from bookingcore.services import FamilyView, ReceivedInvitation
from examples.api.deps import (
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    StaffPrincipal,
    customer_id_of,
)
from examples.api.errors import problem_responses
from examples.api.schemas import StrictIn

__all__ = ["admin_router", "router"]

router = APIRouter(prefix="/api/v1/customer/family")
admin_router = APIRouter(prefix="/api/admin/customers")

_FAMILY: list[str | Enum] = ["customer family"]
_ADMIN: list[str | Enum] = ["admin families"]
_READ = (AuthenticationError, NotFoundError, PermissionDeniedError)


class InvitationIn(StrictIn):
    """Whom to invite (their phone, as they would sign in with it) and how they relate to you."""

    phone: str = Field(max_length=32, examples=["+91 98765 43210"])
    relation: str = Field(max_length=80, examples=["son"])


class InvitationOut(BaseModel):
    """An invitation into a family, with its status now (``expired`` once its time ran out)."""

    id: UUID
    family_id: UUID
    invited_by: UUID
    customer_id: UUID
    relation: str
    status: str
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None

    @classmethod
    def of(cls, i: FamilyInvitation, now: datetime) -> InvitationOut:
        """The invitation's fields."""
        return cls(
            id=i.id,
            family_id=i.family_id,
            invited_by=i.invited_by,
            customer_id=i.customer_id,
            relation=i.relation,
            status=i.status_at(now).value,
            created_at=i.created_at,
            expires_at=i.expires_at,
            answered_at=i.answered_at,
        )


class ReceivedInvitationOut(BaseModel):
    """An invitation waiting for your answer, and who sent it."""

    invitation: InvitationOut
    invited_by_name: str | None

    @classmethod
    def of(cls, r: ReceivedInvitation, now: datetime) -> ReceivedInvitationOut:
        """The invitation and its sender's name."""
        return cls(
            invitation=InvitationOut.of(r.invitation, now), invited_by_name=r.invited_by_name
        )


class MembershipOut(BaseModel):
    """Your link to a family."""

    family_id: UUID
    customer_id: UUID
    role: str
    relation: str | None
    joined_at: datetime

    @classmethod
    def of(cls, m: FamilyMember) -> MembershipOut:
        """The membership's fields."""
        return cls(
            family_id=m.family_id,
            customer_id=m.customer_id,
            role=m.role.value,
            relation=m.relation,
            joined_at=m.joined_at,
        )


class MemberOut(BaseModel):
    """A member as the family sees them: name and relation only."""

    customer_id: UUID
    name: str | None
    role: str
    relation: str | None
    joined_at: datetime


class FamilyOut(BaseModel):
    """A family: members (the owner first); pending invitations for its owner and staff."""

    family_id: UUID
    owner_id: UUID
    members: list[MemberOut]
    pending_invitations: list[InvitationOut]

    @classmethod
    def of(cls, f: FamilyView, now: datetime) -> FamilyOut:
        """The family's fields."""
        return cls(
            family_id=f.family_id,
            owner_id=f.owner_id,
            members=[
                MemberOut(
                    customer_id=m.customer_id,
                    name=m.name,
                    role=m.role.value,
                    relation=m.relation,
                    joined_at=m.joined_at,
                )
                for m in f.members
            ],
            pending_invitations=[InvitationOut.of(i, now) for i in f.pending_invitations],
        )


class FamilyTravelerOut(BaseModel):
    """A traveler you may book: their name, and whose saved traveler it is."""

    traveler_id: UUID
    name: str
    owner_id: UUID
    is_own: bool

    @classmethod
    def of(cls, t: FamilyTraveler) -> FamilyTravelerOut:
        """The traveler's fields."""
        return cls(traveler_id=t.traveler_id, name=t.name, owner_id=t.owner_id, is_own=t.is_own)


class FamilyBookingOut(BaseModel):
    """An upcoming booking another member made for your travelers (no prices or payments)."""

    booking_id: UUID
    reference: str
    slot_id: UUID
    starts_at: datetime
    status: str
    booked_by: UUID
    travelers: list[FamilyTravelerOut]

    @classmethod
    def of(cls, b: FamilyBooking) -> FamilyBookingOut:
        """The booking's fields."""
        return cls(
            booking_id=b.booking_id,
            reference=b.reference,
            slot_id=b.slot_id,
            starts_at=b.starts_at,
            status=b.status,
            booked_by=b.booked_by,
            travelers=[FamilyTravelerOut.of(t) for t in b.travelers],
        )


# ---------------------------------------------------------------------- the customer


@router.get(
    "",
    tags=_FAMILY,
    operation_id="customer_get_family",
    responses=problem_responses(*_READ),
)
def get_family(core: Core, me: CustomerPrincipal) -> FamilyOut:
    """Your family: its members by name and relation (404 when you are in none)."""
    family = core.families.family(customer_id_of(me), principal=me)
    return FamilyOut.of(family, core.context.now())


@router.post(
    "/invitations",
    tags=_FAMILY,
    operation_id="customer_invite_to_family",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def invite(
    body: InvitationIn, core: Core, me: CustomerPrincipal, idempotency_key: IdempotencyKey = None
) -> InvitationOut:
    """Invite the customer with ``phone`` into your family (you become its owner if you
    have none). They accept or decline within 7 days; only the owner invites."""
    sent = core.families.invite(
        customer_id_of(me),
        body.phone,
        relation=body.relation,
        principal=me,
        idempotency_key=idempotency_key,
    )
    return InvitationOut.of(sent, core.context.now())


@router.get(
    "/invitations/received",
    tags=_FAMILY,
    operation_id="customer_list_family_invitations",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def received(core: Core, me: CustomerPrincipal) -> list[ReceivedInvitationOut]:
    """Invitations waiting for your answer, oldest first."""
    now = core.context.now()
    found = core.families.received_invitations(customer_id_of(me), principal=me)
    return [ReceivedInvitationOut.of(r, now) for r in found]


@router.post(
    "/invitations/{invitation_id}/accept",
    tags=_FAMILY,
    operation_id="customer_accept_family_invitation",
    responses=problem_responses(
        AuthenticationError, NotFoundError, ConflictError, IdempotencyConflictError
    ),
)
def accept(
    invitation_id: UUID, core: Core, me: CustomerPrincipal, idempotency_key: IdempotencyKey = None
) -> MembershipOut:
    """Join the family you were invited to (409 while you are in another one)."""
    member = core.families.accept(
        FamilyInvitationId(invitation_id), principal=me, idempotency_key=idempotency_key
    )
    return MembershipOut.of(member)


@router.post(
    "/invitations/{invitation_id}/decline",
    tags=_FAMILY,
    operation_id="customer_decline_family_invitation",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def decline(invitation_id: UUID, core: Core, me: CustomerPrincipal) -> InvitationOut:
    """Say no to an invitation."""
    answered = core.families.decline(FamilyInvitationId(invitation_id), principal=me)
    return InvitationOut.of(answered, core.context.now())


@router.post(
    "/invitations/{invitation_id}/cancel",
    tags=_FAMILY,
    operation_id="customer_cancel_family_invitation",
    responses=problem_responses(*_READ),
)
def cancel(invitation_id: UUID, core: Core, me: CustomerPrincipal) -> InvitationOut:
    """Withdraw an invitation you sent (the family's owner)."""
    withdrawn = core.families.cancel_invitation(FamilyInvitationId(invitation_id), principal=me)
    return InvitationOut.of(withdrawn, core.context.now())


@router.post(
    "/leave",
    tags=_FAMILY,
    operation_id="customer_leave_family",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AuthenticationError, NotFoundError, IdempotencyConflictError),
)
def leave(core: Core, me: CustomerPrincipal, idempotency_key: IdempotencyKey = None) -> Response:
    """Leave your family; its owner leaving ends it for everyone."""
    core.families.leave(customer_id_of(me), principal=me, idempotency_key=idempotency_key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/members/{customer_id}",
    tags=_FAMILY,
    operation_id="customer_remove_family_member",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*_READ, IdempotencyConflictError),
)
def remove_member(
    customer_id: UUID, core: Core, me: CustomerPrincipal, idempotency_key: IdempotencyKey = None
) -> Response:
    """Remove a member from the family you own."""
    core.families.remove_member(
        CustomerId(customer_id), principal=me, idempotency_key=idempotency_key
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/members",
    tags=_FAMILY,
    operation_id="customer_list_family_members",
    responses=problem_responses(*_READ),
)
def members(core: Core, me: CustomerPrincipal) -> list[MemberOut]:
    """Your family's members, the owner first."""
    family = core.families.family(customer_id_of(me), principal=me)
    return FamilyOut.of(family, core.context.now()).members


@router.get(
    "/travelers",
    tags=_FAMILY,
    operation_id="customer_list_family_travelers",
    responses=problem_responses(*_READ),
)
def travelers(core: Core, me: CustomerPrincipal) -> list[FamilyTravelerOut]:
    """The travelers you may book: yours first, then the other members' (names only)."""
    found = core.families.travelers(customer_id_of(me), principal=me)
    return [FamilyTravelerOut.of(t) for t in found]


@router.get(
    "/bookings",
    tags=_FAMILY,
    operation_id="customer_list_family_bookings",
    responses=problem_responses(*_READ),
)
def bookings(core: Core, me: CustomerPrincipal) -> list[FamilyBookingOut]:
    """Upcoming bookings other members made for your travelers, soonest first."""
    found = core.families.bookings(customer_id_of(me), principal=me)
    return [FamilyBookingOut.of(b) for b in found]


# ---------------------------------------------------------------------- staff


@admin_router.get(
    "/{customer_id}/family",
    tags=_ADMIN,
    operation_id="admin_get_customer_family",
    responses=problem_responses(*_READ),
)
def admin_family(customer_id: UUID, core: Core, staff: StaffPrincipal) -> FamilyOut:
    """A customer's family, with its pending invitations (staff who see every customer)."""
    family = core.families.family(CustomerId(customer_id), principal=staff)
    return FamilyOut.of(family, core.context.now())


@admin_router.get(
    "/{customer_id}/family/travelers",
    tags=_ADMIN,
    operation_id="admin_list_customer_family_travelers",
    responses=problem_responses(*_READ),
)
def admin_family_travelers(
    customer_id: UUID, core: Core, staff: StaffPrincipal
) -> list[FamilyTravelerOut]:
    """The travelers a customer may book through their family."""
    found = core.families.travelers(CustomerId(customer_id), principal=staff)
    return [FamilyTravelerOut.of(t) for t in found]
