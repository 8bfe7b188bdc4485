"""The pydantic models of the HTTP edge, and their conversions to and from the library's types.

Only this package sees pydantic: each ``*In`` model turns into the attrs request
type a service takes (``to_details()``, ``to_request()``), each ``*Out`` model is
built from what a service returns (``of(...)``). The models check shapes and
types only; the library checks the rules (phone numbers, names, ages, who may
book what) and names the field of each problem, so the two never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bookingcore import (
    BookingRequest,
    CustomerDetails,
    Money,
    NewTraveler,
    SavedTraveler,
    SlotId,
    TravelerDetails,
    TravelerId,
)
from bookingcore.domain import (
    Booking,
    BookingTraveler,
    Customer,
    Location,
    Slot,
    StaffMember,
    Traveler,
)
from bookingcore.services import OtpRequested, SignedIn, TokenPair

__all__ = [
    "BookingCreateIn",
    "BookingOut",
    "BookingPage",
    "BookingTravelerIn",
    "BookingTravelerOut",
    "CancelIn",
    "CustomerIn",
    "CustomerOut",
    "CustomerPage",
    "FieldProblem",
    "LocationOut",
    "MoneyOut",
    "OtpRequestIn",
    "OtpRequestedOut",
    "OtpVerifyIn",
    "Paged",
    "PartnerBookingIn",
    "PartnerTokenIn",
    "Problem",
    "ProfileIn",
    "RefreshIn",
    "SignedInOut",
    "SlotOut",
    "StaffBookingOut",
    "StaffLoginIn",
    "StaffOut",
    "TokensOut",
    "TransitionIn",
    "TransitionOut",
    "TravelerIn",
    "TravelerOut",
    "TravelerUpdateIn",
    "ValidationProblem",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------- problems


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, with the library's stable ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["/problems/capacity-exceeded"])
    title: str
    status: int
    detail: str
    instance: str
    code: str = Field(description="The library's stable error code", examples=["not_found"])


class FieldProblem(BaseModel):
    """One bad field: its path (``travelers[1].details.phone``), why, and a stable code."""

    field: str
    message: str
    code: str


class ValidationProblem(Problem):
    """A 422 problem, with one entry per bad field."""

    errors: list[FieldProblem] = Field(default_factory=list)


# ---------------------------------------------------------------------- values


class MoneyOut(BaseModel):
    """An amount as a decimal string (never a float) and its ISO 4217 currency."""

    amount: str = Field(examples=["8500.00"])
    currency: str = Field(examples=["INR"])

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        """The amount of ``money``."""
        return cls(amount=str(money.amount), currency=money.currency)


# ---------------------------------------------------------------------- auth


class OtpRequestIn(_In):
    """Ask for a sign-in code by text message."""

    phone: str = Field(max_length=64, examples=["+919876543210"])


class OtpRequestedOut(BaseModel):
    """A code is on its way; it works until ``expires_at``, another may follow ``resend_after``."""

    phone: str
    expires_at: datetime
    resend_after: datetime

    @classmethod
    def of(cls, sent: OtpRequested) -> OtpRequestedOut:
        """What :meth:`~bookingcore.services.AuthService.request_otp` answered."""
        return cls(
            phone=sent.phone.e164, expires_at=sent.expires_at, resend_after=sent.resend_after
        )


class OtpVerifyIn(_In):
    """The phone and the 6-digit code that was texted to it (seed 000 calls it ``otp``)."""

    phone: str = Field(max_length=64, examples=["+919876543210"])
    otp: str = Field(max_length=16, examples=["123456"])


class RefreshIn(_In):
    """A refresh token, spent by this call."""

    refresh_token: str = Field(max_length=4096)


class TokensOut(BaseModel):
    """Bearer tokens: send ``access_token`` as ``Authorization: Bearer ...``."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    access_expires_at: datetime
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None

    @classmethod
    def of(cls, tokens: TokenPair) -> TokensOut:
        """The tokens of a sign-in or a refresh."""
        return cls(
            access_token=tokens.access_token,
            token_type=tokens.token_type,
            access_expires_at=tokens.access_expires_at,
            refresh_token=tokens.refresh_token,
            refresh_expires_at=tokens.refresh_expires_at,
        )


class StaffLoginIn(_In):
    """A staff member's email and password."""

    email: str = Field(max_length=320, examples=["desk@example.com"])
    password: str = Field(max_length=1024)


class CustomerOut(BaseModel):
    """A customer: phone-first, with the profile they completed."""

    id: UUID
    phone: str
    name: str | None
    email: str | None
    profile_complete: bool
    created_at: datetime
    version: int

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        """The customer's public fields."""
        return cls(
            id=customer.id,
            phone=customer.phone.e164,
            name=customer.name,
            email=None if customer.email is None else customer.email.value,
            profile_complete=customer.is_profile_complete,
            created_at=customer.created_at,
            version=customer.version,
        )


class StaffOut(BaseModel):
    """A staff member (never the password hash)."""

    id: UUID
    email: str
    name: str
    role: str

    @classmethod
    def of(cls, member: StaffMember) -> StaffOut:
        """The member's public fields."""
        return cls(id=member.id, email=member.email.value, name=member.name, role=member.role.value)


class SignedInOut(TokensOut):
    """A sign-in: the tokens and who signed in (``created``: this sign-in registered them)."""

    customer: CustomerOut | None = None
    created: bool = False
    staff: StaffOut | None = None

    @classmethod
    def of_sign_in(cls, signed: SignedIn) -> SignedInOut:
        """What a sign-in answered."""
        return cls(
            **TokensOut.of(signed.tokens).model_dump(),
            customer=None if signed.customer is None else CustomerOut.of(signed.customer),
            created=signed.created,
            staff=None if signed.staff is None else StaffOut.of(signed.staff),
        )


class ProfileIn(_In):
    """The profile fields to set; ``expected_version`` refuses a change over a newer one."""

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    expected_version: int | None = None


# ---------------------------------------------------------------------- travelers


class TravelerIn(_In):
    """A traveler's details as typed; the library checks each field and names the bad ones."""

    name: str = Field(max_length=200, examples=["Asha Verma"])
    age: int | None = None
    birth_date: date | None = None
    gender: str | None = Field(default=None, max_length=32, examples=["female"])
    phone: str | None = Field(default=None, max_length=64)
    emergency_contact_name: str | None = Field(default=None, max_length=200)
    emergency_contact_phone: str | None = Field(default=None, max_length=64)
    special_requirements: str | None = Field(default=None, max_length=2000)

    def to_details(self) -> TravelerDetails:
        """The library's :class:`~bookingcore.TravelerDetails`."""
        return TravelerDetails(**self.model_dump())


class TravelerUpdateIn(TravelerIn):
    """New details for a saved traveler, optionally guarded by the version read."""

    expected_version: int | None = None

    def to_details(self) -> TravelerDetails:
        """The details, without the version."""
        return TravelerDetails(**self.model_dump(exclude={"expected_version"}))


class TravelerOut(BaseModel):
    """A saved traveler."""

    id: UUID
    name: str
    age: int | None
    birth_date: date | None
    gender: str | None
    phone: str | None
    emergency_contact_name: str | None
    emergency_contact_phone: str | None
    special_requirements: str | None
    deleted: bool
    version: int

    @classmethod
    def of(cls, traveler: Traveler) -> TravelerOut:
        """The traveler's fields."""
        return cls(
            id=traveler.id,
            name=traveler.name,
            age=traveler.age,
            birth_date=traveler.birth_date,
            gender=None if traveler.gender is None else traveler.gender.value,
            phone=None if traveler.phone is None else traveler.phone.e164,
            emergency_contact_name=traveler.emergency_contact_name,
            emergency_contact_phone=(
                None
                if traveler.emergency_contact_phone is None
                else traveler.emergency_contact_phone.e164
            ),
            special_requirements=traveler.special_requirements,
            deleted=traveler.deleted_at is not None,
            version=traveler.version,
        )


# ---------------------------------------------------------------------- bookings


class BookingTravelerIn(_In):
    """One traveler of a new booking: a saved one by ``id``, or a new one by their details.

    With ``id`` only ``is_primary`` and ``special_requirements`` may be given;
    without it, ``name`` and the other details describe a new traveler, who is
    saved under the customer too.
    """

    id: UUID | None = Field(default=None, description="A saved traveler's id")
    is_primary: bool = False
    special_requirements: str | None = Field(default=None, max_length=2000)
    name: str | None = Field(default=None, max_length=200)
    age: int | None = None
    birth_date: date | None = None
    gender: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=64)
    emergency_contact_name: str | None = Field(default=None, max_length=200)
    emergency_contact_phone: str | None = Field(default=None, max_length=64)

    def to_choice(self) -> NewTraveler | SavedTraveler:
        """A :class:`~bookingcore.SavedTraveler` or a :class:`~bookingcore.NewTraveler`."""
        if self.id is not None:
            return SavedTraveler(
                TravelerId(self.id),
                is_primary=self.is_primary,
                special_requirements=self.special_requirements,
            )
        details = TravelerDetails(
            self.name or "",
            age=self.age,
            birth_date=self.birth_date,
            gender=self.gender,
            phone=self.phone,
            emergency_contact_name=self.emergency_contact_name,
            emergency_contact_phone=self.emergency_contact_phone,
        )
        return NewTraveler(
            details, is_primary=self.is_primary, special_requirements=self.special_requirements
        )


class BookingCreateIn(_In):
    """A booking of a slot (seed 000's batch) for saved and new travelers."""

    slot_id: UUID = Field(description="The slot (trek batch, course session) to book")
    travelers: list[BookingTravelerIn] = Field(max_length=200)
    referral_source: str | None = Field(default=None, max_length=200)

    def to_request(self) -> BookingRequest:
        """The library's :class:`~bookingcore.BookingRequest`."""
        return BookingRequest(
            SlotId(self.slot_id),
            [t.to_choice() for t in self.travelers],
            referral_source=self.referral_source,
        )


class CancelIn(_In):
    """Why the booking is cancelled; ``expected_version`` refuses a cancel over a newer change."""

    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class TransitionIn(_In):
    """Move a booking to status ``to`` along its lifecycle."""

    to: str = Field(max_length=64, examples=["confirmed"])
    note: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = None


class BookingTravelerOut(BaseModel):
    """A traveler on a booking, with what they pay."""

    traveler_id: UUID
    price: MoneyOut
    is_primary: bool
    special_requirements: str | None

    @classmethod
    def of(cls, traveler: BookingTraveler) -> BookingTravelerOut:
        """The booking traveler's fields."""
        return cls(
            traveler_id=traveler.traveler_id,
            price=MoneyOut.of(traveler.price),
            is_primary=traveler.is_primary,
            special_requirements=traveler.special_requirements,
        )


class BookingOut(BaseModel):
    """A booking as its owner sees it."""

    id: UUID
    reference: str
    status: str
    lifecycle: str
    customer_id: UUID
    slot_id: UUID
    location_id: UUID
    starts_at: datetime
    source: str
    partner_id: UUID | None
    referral_source: str | None
    external_id: str | None
    travelers: list[BookingTravelerOut]
    subtotal: MoneyOut
    discount: MoneyOut
    total: MoneyOut
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    cancellation_reason: str | None
    version: int

    @classmethod
    def of(cls, booking: Booking) -> BookingOut:
        """The booking's fields (not the staff-only ones)."""
        return cls(
            id=booking.id,
            reference=booking.reference,
            status=booking.status,
            lifecycle=booking.lifecycle,
            customer_id=booking.customer_id,
            slot_id=booking.slot_id,
            location_id=booking.location_id,
            starts_at=booking.starts_at,
            source=booking.source.value,
            partner_id=booking.partner_id,
            referral_source=booking.referral_source,
            external_id=booking.external_id,
            travelers=[BookingTravelerOut.of(t) for t in booking.travelers],
            subtotal=MoneyOut.of(booking.subtotal),
            discount=MoneyOut.of(booking.discount),
            total=MoneyOut.of(booking.total),
            created_at=booking.created_at,
            updated_at=booking.updated_at,
            cancelled_at=booking.cancelled_at,
            cancellation_reason=booking.cancellation_reason,
            version=booking.version,
        )


class StaffBookingOut(BookingOut):
    """A booking as staff see it: with the internal notes and the assignee."""

    internal_notes: str | None
    assignee_id: UUID | None

    @classmethod
    def of(cls, booking: Booking) -> StaffBookingOut:
        """Every field staff may read."""
        return cls(
            **BookingOut.of(booking).model_dump(),
            internal_notes=booking.internal_notes,
            assignee_id=booking.assignee_id,
        )


class TransitionOut(BaseModel):
    """A move along the lifecycle: the booking after it, and whether a retry replayed it."""

    booking: StaffBookingOut
    from_status: str | None
    to_status: str
    replayed: bool


_Item = TypeVar("_Item")


class Paged(BaseModel, Generic[_Item]):
    """One page of a list, newest first; follow ``next`` (or pass ``cursor``) for the next."""

    items: list[_Item]
    next_cursor: str | None = None
    next: str | None = Field(default=None, description="The URL of the next page, if any")


BookingPage = Paged[BookingOut]


# ---------------------------------------------------------------------- partners


class PartnerTokenIn(_In):
    """A partner's API key and secret, traded for an hour's bearer token."""

    api_key: str = Field(max_length=256, examples=["pk_..."])
    api_secret: str = Field(max_length=256, examples=["sk_..."])


class CustomerIn(_In):
    """A customer by phone, with the profile fields known."""

    phone: str = Field(max_length=64, examples=["+919876543210"])
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)

    def to_details(self) -> CustomerDetails:
        """The library's :class:`~bookingcore.CustomerDetails`."""
        return CustomerDetails(self.phone, name=self.name, email=self.email)


class CustomerPage(Paged[CustomerOut]):
    """One page of customers."""


class PartnerBookingIn(_In):
    """A booking a partner makes for a customer given by phone (found or created)."""

    slot_id: UUID
    customer: CustomerIn
    travelers: list[BookingTravelerIn] = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=200, description="Your own id")
    referral_source: str | None = Field(default=None, max_length=200)

    def to_request(self) -> BookingRequest:
        """The library's :class:`~bookingcore.BookingRequest`."""
        return BookingRequest(
            SlotId(self.slot_id),
            [t.to_choice() for t in self.travelers],
            customer=self.customer.to_details(),
            external_id=self.external_id,
            referral_source=self.referral_source,
        )


class LocationOut(BaseModel):
    """A place slots are at (a dive centre, base camp, dealer)."""

    id: UUID
    code: str
    name: str
    kind: str
    address: str | None
    active: bool

    @classmethod
    def of(cls, location: Location) -> LocationOut:
        """The location's fields."""
        return cls(
            id=location.id,
            code=location.code,
            name=location.name,
            kind=location.kind,
            address=location.address,
            active=location.is_active,
        )


class SlotOut(BaseModel):
    """A bookable slot and the seats left on it (``None``: unlimited)."""

    id: UUID
    location_id: UUID
    name: str | None
    starts_at: datetime
    ends_at: datetime | None
    price_per_traveler: MoneyOut
    capacity: int | None
    seats_left: int | None

    @classmethod
    def of(cls, slot: Slot) -> SlotOut:
        """The slot's public fields."""
        return cls(
            id=slot.id,
            location_id=slot.location_id,
            name=slot.name,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            price_per_traveler=MoneyOut.of(slot.price_per_traveler),
            capacity=slot.capacity,
            seats_left=slot.seats_left,
        )
