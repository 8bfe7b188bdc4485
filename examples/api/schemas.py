"""The pydantic models of the HTTP edge, and their conversions to and from the library's types.

Only this package sees pydantic: each ``*In`` model turns into the attrs request
type a service takes (``to_details()``, ``to_request()``), each ``*Out`` model is
built from what a service returns (``of(...)``). The models check shapes and
types only; the library checks the rules (phone numbers, names, ages, who may
book what) and names the field of each problem, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bookingcore import (
    BookingGroupId,
    BookingRequest,
    CustomerDetails,
    Money,
    NewTraveler,
    PartnerId,
    SavedTraveler,
    SlotId,
    TravelerDetails,
    TravelerId,
)
from bookingcore.domain import (
    Actor,
    AttentionItem,
    AttentionReason,
    AuditEntry,
    Booking,
    BookingTraveler,
    CancellationTerms,
    CellProblem,
    Communication,
    Customer,
    ImportJob,
    ImportRowError,
    Invoice,
    LifecycleEvent,
    Location,
    Partner,
    Payment,
    Refund,
    Slot,
    StaffMember,
    Traveler,
    WebhookReceipt,
)
from bookingcore.domain.partner_webhooks import redact_url_password
from bookingcore.services import (
    ImportPlan,
    ImportPreview,
    OtpRequested,
    PartnerRegistration,
    PaymentAttention,
    PaymentIntent,
    ReconciliationReport,
    SignedIn,
    TokenPair,
    Transition,
)

__all__ = [
    "ActiveIn",
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
    "PartnerCredentialsOut",
    "PartnerIn",
    "PartnerLocationsIn",
    "PartnerOut",
    "PartnerSettingsIn",
    "PartnerTokenIn",
    "PartnerWebhookSecretOut",
    "Problem",
    "ProfileIn",
    "RefreshIn",
    "SignedInOut",
    "SlotOut",
    "StaffBookingOut",
    "StaffLoginIn",
    "StaffOut",
    "StrictIn",
    "TokensOut",
    "TransitionIn",
    "TransitionOut",
    "TravelerIn",
    "TravelerOut",
    "TravelerUpdateIn",
    "ValidationProblem",
]


class StrictIn(BaseModel):
    """The base of every request body: a field the model does not name is refused (422)."""

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
    """One bad field: its path in the request (``travelers[1].phone``), why, and a stable code."""

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


class OtpRequestIn(StrictIn):
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


class OtpVerifyIn(StrictIn):
    """The phone and the 6-digit code that was texted to it (older apps call it ``otp``)."""

    phone: str = Field(max_length=64, examples=["+919876543210"])
    otp: str = Field(max_length=16, examples=["123456"])


class RefreshIn(StrictIn):
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


class StaffLoginIn(StrictIn):
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
    source: str
    partner_id: UUID | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        """The customer's public fields, with the channel and partner they came through."""
        return cls(
            id=customer.id,
            phone=customer.phone.e164,
            name=customer.name,
            email=None if customer.email is None else customer.email.value,
            profile_complete=customer.is_profile_complete,
            source=customer.source.value,
            partner_id=customer.partner_id,
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


class ProfileIn(StrictIn):
    """The profile fields to set; ``expected_version`` refuses a change over a newer one."""

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    expected_version: int | None = None


# ---------------------------------------------------------------------- travelers


class TravelerIn(StrictIn):
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


class BookingTravelerIn(StrictIn):
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


class BookingCreateIn(StrictIn):
    """A booking of a slot (what a trek operator calls a batch) for saved and new travelers."""

    slot_id: UUID = Field(description="The slot (trek batch, course session) to book")
    travelers: list[BookingTravelerIn] = Field(max_length=200)
    referral_source: str | None = Field(default=None, max_length=100)
    voucher_code: str | None = Field(
        default=None, max_length=64, description="A promo code (any case)", examples=["SUMMER10"]
    )

    def to_request(self) -> BookingRequest:
        """The library's :class:`~bookingcore.BookingRequest`."""
        return BookingRequest(
            SlotId(self.slot_id),
            [t.to_choice() for t in self.travelers],
            referral_source=self.referral_source,
            voucher_code=self.voucher_code,
        )


class CancelIn(StrictIn):
    """Why the booking is cancelled; ``expected_version`` refuses a cancel over a newer change."""

    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class TransitionIn(StrictIn):
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
    voucher_code: str | None = Field(default=None, description="The promo code used, if any")
    voucher_discount: MoneyOut | None = Field(
        default=None, description="What the promo code took off (part of discount)"
    )
    partner_name: str | None = Field(
        default=None,
        description="The name of the partner it came through, if any",
        examples=["Summit Trails"],
    )
    loyalty_tier: str | None = Field(
        default=None, description="The customer's loyalty tier whose discount the booking got"
    )
    loyalty_discount: MoneyOut | None = Field(
        default=None, description="What the loyalty tier took off (part of discount)"
    )

    @classmethod
    def of(
        cls, booking: Booking, partner_names: Mapping[PartnerId, str] | None = None
    ) -> BookingOut:
        """The booking's fields (not the staff-only ones); its partner's name from
        ``partner_names`` (``core.bookings.partner_names``, read once for a page)."""
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
            voucher_code=booking.voucher_code,
            voucher_discount=(
                None if booking.voucher_discount is None else MoneyOut.of(booking.voucher_discount)
            ),
            partner_name=(
                None
                if booking.partner_id is None or partner_names is None
                else partner_names.get(booking.partner_id)
            ),
            loyalty_tier=booking.loyalty_tier,
            loyalty_discount=(
                None if booking.loyalty_discount is None else MoneyOut.of(booking.loyalty_discount)
            ),
        )


class StaffBookingOut(BookingOut):
    """A booking as staff see it: with the internal notes and the assignee."""

    internal_notes: str | None
    assignee_id: UUID | None
    archived_at: datetime | None = Field(
        default=None, description="When it left the operational lists (None: live)"
    )

    @classmethod
    def of(
        cls, booking: Booking, partner_names: Mapping[PartnerId, str] | None = None
    ) -> StaffBookingOut:
        """Every field staff may read."""
        return cls(
            **BookingOut.of(booking, partner_names).model_dump(),
            internal_notes=booking.internal_notes,
            assignee_id=booking.assignee_id,
            archived_at=booking.archived_at,
        )


class TransitionOut(BaseModel):
    """A move along the lifecycle: the booking after it, and whether a retry replayed it."""

    booking: StaffBookingOut
    from_status: str | None
    to_status: str
    replayed: bool

    @classmethod
    def of(
        cls, moved: Transition, partner_names: Mapping[PartnerId, str] | None = None
    ) -> TransitionOut:
        """The move as staff and advisors see it."""
        return cls(
            booking=StaffBookingOut.of(moved.booking, partner_names),
            from_status=moved.event.from_status,
            to_status=moved.event.to_status,
            replayed=moved.replayed,
        )


class RefundTierOut(BaseModel):
    """A refund tier: ``refund_percent`` back with at least ``notice_seconds`` left."""

    notice_seconds: int = Field(examples=[604800])
    refund_percent: str = Field(examples=["100"])


class CancellationTermsOut(BaseModel):
    """What cancelling the booking now would give, under the business's cancellation policy.

    ``self_service`` says whether its customer or partner may still cancel it online
    (before ``self_service_until``); ``refund_percent`` of ``paid`` (what its payments
    hold) is ``refundable`` now, until ``refund_until`` ("free cancellation until ...");
    ``refunds_stated`` is false when the business states no refund terms (refunds are
    then up to staff). Refunds are made by staff unless the business refunds on cancel.
    """

    booking_id: UUID
    as_of: datetime
    starts_at: datetime
    self_service: bool
    self_service_until: datetime
    refunds_stated: bool
    tier: RefundTierOut | None
    refund_percent: str = Field(examples=["50"])
    paid: list[MoneyOut]
    refundable: list[MoneyOut]
    refund_until: datetime | None

    @classmethod
    def of(cls, booking_id: UUID, terms: CancellationTerms) -> CancellationTermsOut:
        """The terms as the API shows them."""
        tier = terms.tier
        return cls(
            booking_id=booking_id,
            as_of=terms.as_of,
            starts_at=terms.starts_at,
            self_service=terms.self_service,
            self_service_until=terms.self_service_until,
            refunds_stated=terms.refunds_stated,
            tier=None
            if tier is None
            else RefundTierOut(
                notice_seconds=int(tier.notice.total_seconds()),
                refund_percent=f"{tier.refund_percent:f}",
            ),
            refund_percent=f"{terms.refund_percent:f}",
            paid=[MoneyOut.of(m) for m in terms.paid],
            refundable=[MoneyOut.of(m) for m in terms.refundable],
            refund_until=terms.refund_until,
        )


_Item = TypeVar("_Item")


class Paged(BaseModel, Generic[_Item]):
    """One page of a list, newest first; follow ``next`` (or pass ``cursor``) for the next."""

    items: list[_Item]
    next_cursor: str | None = None
    next: str | None = Field(default=None, description="The URL of the next page, if any")


BookingPage = Paged[BookingOut]


# ---------------------------------------------------------------------- partners


class ActiveIn(StrictIn):
    """Whether a partner, supplier or product is active (``false``: deactivated)."""

    active: bool


class PartnerIn(StrictIn):
    """A partner to register: who they are, where they may book, what they earn."""

    name: str = Field(min_length=1, max_length=100)
    company_name: str = Field(min_length=1, max_length=200)
    contact_email: str = Field(max_length=320)
    contact_phone: str | None = Field(default=None, max_length=64)
    allowed_location_ids: list[UUID] = Field(default_factory=list, max_length=500)
    commission_rate: Decimal | None = Field(default=None, description="Percent, 0 to 100")
    webhook_url: str | None = Field(default=None, max_length=2000)


class PartnerChangeIn(StrictIn):
    """New details for a partner: only the fields given change; ``null`` clears the
    phone, the commission rate or the webhook URL."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    company_name: str | None = Field(default=None, min_length=1, max_length=200)
    contact_email: str | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=64)
    commission_rate: Decimal | None = Field(default=None, description="Percent, 0 to 100")
    webhook_url: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the body sets, as ``core.partners.update`` takes them."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if name != "expected_version"
        }


class PartnerLocationsIn(StrictIn):
    """Every location the partner may book (replacing the ones it had)."""

    location_ids: list[UUID] = Field(max_length=500)


class PartnerOut(BaseModel):
    """A partner as staff and the partner itself see it (never its secrets, nor the
    password of its webhook URL)."""

    id: UUID
    name: str
    company_name: str
    contact_email: str
    contact_phone: str | None
    api_key: str
    webhook_url: str | None = Field(
        description="Where its webhooks go; a password in it shows as `***` (it is write-only)"
    )
    commission_rate: Decimal | None
    allowed_location_ids: list[UUID]
    is_active: bool
    settings: dict[str, str] = Field(
        description="Its own rate_limit, allowed_ips, webhook options and the host's keys"
    )
    webhook_disabled_at: datetime | None = Field(
        description=(
            "Since when its webhook endpoint gets no webhooks (it answered 410 Gone); "
            "null while enabled"
        )
    )
    webhook_disabled_reason: str | None = Field(description="Why it was disabled")
    created_at: datetime
    version: int

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        """The fields of ``partner`` but its secrets."""
        return cls(
            id=partner.id,
            name=partner.name,
            company_name=partner.company_name,
            contact_email=partner.contact_email.value,
            contact_phone=None if partner.contact_phone is None else partner.contact_phone.e164,
            api_key=partner.api_key,
            webhook_url=None
            if partner.webhook_url is None
            else redact_url_password(partner.webhook_url),
            commission_rate=partner.commission_rate,
            allowed_location_ids=sorted(partner.allowed_location_ids),
            is_active=partner.is_active,
            settings=dict(partner.settings),
            webhook_disabled_at=partner.webhook_disabled_at,
            webhook_disabled_reason=None
            if partner.webhook_disabled_reason is None
            else redact_url_password(partner.webhook_disabled_reason),
            created_at=partner.created_at,
            version=partner.version,
        )


class PartnerCredentialsOut(BaseModel):
    """A partner with the API secret and webhook signing secret in clear: shown once."""

    partner: PartnerOut
    api_key: str
    api_secret: str
    webhook_secret: str | None

    @classmethod
    def of(cls, registration: PartnerRegistration) -> PartnerCredentialsOut:
        """The fields of ``registration``."""
        return cls(
            partner=PartnerOut.of(registration.partner),
            api_key=registration.api_key,
            api_secret=registration.api_secret,
            webhook_secret=registration.partner.webhook_secret,
        )


class PartnerWebhookSecretOut(BaseModel):
    """A partner with its new webhook signing secret in clear: shown once."""

    partner: PartnerOut
    webhook_secret: str

    @classmethod
    def of(cls, partner: Partner) -> PartnerWebhookSecretOut:
        """The partner and its webhook secret."""
        assert partner.webhook_secret is not None  # a rotation always sets one
        return cls(partner=PartnerOut.of(partner), webhook_secret=partner.webhook_secret)


_SettingKey = Annotated[str, Field(max_length=100)]
_SettingValue = Annotated[str, Field(max_length=2000)]


class PartnerSettingsIn(StrictIn):
    """The partner's settings, replacing the old ones (keep secrets out: they are audited)."""

    settings: dict[_SettingKey, _SettingValue] = Field(
        max_length=50, examples=[{"rate_limit": "100/60", "allowed_ips": "203.0.113.0/24"}]
    )


class PartnerTokenIn(StrictIn):
    """A partner's API key and secret, traded for an hour's bearer token."""

    api_key: str = Field(max_length=256, examples=["pk_..."])
    api_secret: str = Field(max_length=256, examples=["sk_..."])


class PartnerRotateIn(StrictIn):
    """A partner's current API secret, asked again before it changes its own secrets."""

    current_secret: str = Field(max_length=256, examples=["sk_..."])


class CustomerIn(StrictIn):
    """A customer by phone, with the profile fields known."""

    phone: str = Field(max_length=64, examples=["+919876543210"])
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)

    def to_details(self) -> CustomerDetails:
        """The library's :class:`~bookingcore.CustomerDetails`."""
        return CustomerDetails(self.phone, name=self.name, email=self.email)


class CustomerPage(Paged[CustomerOut]):
    """One page of customers."""


class PartnerBookingIn(StrictIn):
    """A booking a partner makes for a customer given by phone (found or created)."""

    slot_id: UUID
    customer: CustomerIn
    travelers: list[BookingTravelerIn] = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=255, description="Your own id")
    referral_source: str | None = Field(default=None, max_length=100)
    voucher_code: str | None = Field(
        default=None, max_length=64, description="A promo code (any case)", examples=["SUMMER10"]
    )

    def to_request(self) -> BookingRequest:
        """The library's :class:`~bookingcore.BookingRequest`."""
        return BookingRequest(
            SlotId(self.slot_id),
            [t.to_choice() for t in self.travelers],
            customer=self.customer.to_details(),
            external_id=self.external_id,
            referral_source=self.referral_source,
            voucher_code=self.voucher_code,
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


# ---------------------------------------------------------------------- desk


class ActorOut(BaseModel):
    """Who acted: a kind (customer, staff, partner, system, webhook) and their id."""

    kind: str
    id: str | None

    @classmethod
    def of(cls, actor: Actor) -> ActorOut:
        """The actor's fields."""
        return cls(kind=actor.kind.value, id=actor.id)


class CommunicationOut(BaseModel):
    """A message sent (or tried) to a customer about a booking, and how far it got."""

    id: UUID
    booking_id: UUID | None
    customer_id: UUID
    type: str
    channel: str
    recipient: str
    status: str
    subject: str | None
    content: str
    template_used: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    failed_at: datetime | None
    failed_reason: str | None
    attempts: int = Field(description="times the message was handed to its channel")
    retryable: bool | None = Field(
        description="whether the last failure may work later (null: unknown or not failed)"
    )

    @classmethod
    def of(cls, message: Communication) -> CommunicationOut:
        """The message's fields."""
        return cls(
            id=message.id,
            booking_id=message.booking_id,
            customer_id=message.customer_id,
            type=message.type.value,
            channel=message.channel.value,
            recipient=message.recipient,
            status=message.status.value,
            subject=message.subject,
            content=message.content,
            template_used=message.template_used,
            created_at=message.created_at,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            opened_at=message.opened_at,
            clicked_at=message.clicked_at,
            failed_at=message.failed_at,
            failed_reason=message.failed_reason,
            attempts=message.attempts,
            retryable=message.retryable,
        )


class SendMessageIn(StrictIn):
    """Which message to send (``confirmation``, ``reminder``, ...) and how."""

    type: str = Field(max_length=64, examples=["confirmation"])
    channel: str | None = Field(default=None, max_length=32, examples=["email"])


class AuditEntryOut(BaseModel):
    """One change: who, when, what it was before and after, why, and from where."""

    id: UUID
    entity: str
    entity_id: UUID
    action: str
    actor: ActorOut
    occurred_at: datetime
    old_values: dict[str, Any]
    new_values: dict[str, Any]
    reason: str | None
    ip_address: str | None
    user_agent: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        """The entry's fields."""
        return cls(
            id=entry.id,
            entity=entry.entity,
            entity_id=entry.entity_id,
            action=entry.action.value,
            actor=ActorOut.of(entry.actor),
            occurred_at=entry.occurred_at,
            old_values=_jsonable(entry.old_values),
            new_values=_jsonable(entry.new_values),
            reason=entry.reason,
            ip_address=entry.ip_address,
            user_agent=entry.user_agent,
        )


class HistoryEventOut(BaseModel):
    """One move of a booking along its lifecycle."""

    id: UUID
    from_status: str | None
    to_status: str
    actor: ActorOut
    occurred_at: datetime
    note: str | None
    metadata: dict[str, str]

    @classmethod
    def of(cls, event: LifecycleEvent) -> HistoryEventOut:
        """The event's fields (not its idempotency key)."""
        return cls(
            id=event.id,
            from_status=event.from_status,
            to_status=event.to_status,
            actor=ActorOut.of(event.actor),
            occurred_at=event.occurred_at,
            note=event.note,
            metadata=dict(event.metadata),
        )


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Audit values as JSON: strings, numbers, booleans and null stay; the rest become text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = str(value)
    return out


class AssignIn(StrictIn):
    """The advisor to assign (``null`` unassigns) and why."""

    advisor_id: UUID | None
    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class BookingUpdateIn(StrictIn):
    """Fields to change; those left out stay, ``null`` clears one."""

    external_id: str | None = Field(default=None, max_length=255)
    referral_source: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class BookingReplaceIn(StrictIn):
    """Every field a partner may edit on its booking, as a whole: one left out is
    cleared (the body of ``PUT``; ``PATCH`` changes only the fields given)."""

    external_id: str | None = Field(default=None, max_length=255)
    referral_source: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    expected_version: int | None = None


class StatusIn(StrictIn):
    """An advisor's status change with a note (the advisors' mobile flow)."""

    status: str = Field(max_length=64, examples=["CONFIRMED"])
    note: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = None


class LifecycleMoveIn(BaseModel):
    """A travel agency system's lifecycle call: move ``bookingId`` to ``toStatus``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    booking_id: UUID = Field(alias="bookingId")
    to_status: str = Field(alias="toStatus", max_length=64, examples=["payment_pending"])
    note: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=50)
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey", max_length=255)
    expected_version: int | None = Field(default=None, alias="expectedVersion")


# ---------------------------------------------------------------------- payments


class MoneyIn(StrictIn):
    """An amount as a decimal string and its ISO 4217 currency."""

    amount: str = Field(max_length=32, pattern=r"^-?\d{1,15}(\.\d{1,6})?$", examples=["2500.00"])
    currency: str = Field(max_length=3, examples=["INR"])

    def to_money(self) -> Money:
        """The library's :class:`~bookingcore.Money` (it checks the currency)."""
        return Money(self.amount, self.currency)


class IntentIn(StrictIn):
    """Ask a provider to collect money for a booking (the balance due by default)."""

    booking_id: UUID
    provider: str = Field(max_length=64, examples=["razorpay"])
    amount: MoneyIn | None = None


class PaymentOut(BaseModel):
    """A payment and how much of it was captured and refunded."""

    id: UUID
    booking_id: UUID
    provider: str
    provider_reference: str | None
    status: str
    amount: MoneyOut
    captured: MoneyOut
    refunded: MoneyOut
    created_at: datetime
    captured_at: datetime | None
    failure_reason: str | None

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        """The payment's fields."""
        return cls(
            id=payment.id,
            booking_id=payment.booking_id,
            provider=payment.provider,
            provider_reference=payment.provider_reference,
            status=payment.status.value,
            amount=MoneyOut.of(payment.amount),
            captured=MoneyOut.of(payment.captured_amount),
            refunded=MoneyOut.of(payment.refunded_amount),
            created_at=payment.created_at,
            captured_at=payment.captured_at,
            failure_reason=payment.failure_reason,
        )


class IntentOut(BaseModel):
    """The payment and what the client needs to finish it with the provider."""

    payment: PaymentOut
    client_secret: str | None
    redirect_url: str | None
    replayed: bool

    @classmethod
    def of(cls, intent: PaymentIntent) -> IntentOut:
        """The intent's fields."""
        return cls(
            payment=PaymentOut.of(intent.payment),
            client_secret=intent.client_secret,
            redirect_url=intent.redirect_url,
            replayed=intent.replayed,
        )


class WebhookOut(BaseModel):
    """What became of a provider's delivery: applied, ignored, failed, or a redelivery."""

    event_id: str
    kind: str
    status: str

    @classmethod
    def of(cls, receipt: WebhookReceipt) -> WebhookOut:
        """The receipt's fields."""
        return cls(event_id=receipt.event_id, kind=receipt.kind, status=receipt.status.value)


class RefundIn(StrictIn):
    """How much of a captured payment to give back, and why."""

    amount: MoneyIn
    reason: str | None = Field(default=None, max_length=500)


class RefundOut(BaseModel):
    """A refund and its state."""

    id: UUID
    payment_id: UUID
    amount: MoneyOut
    status: str
    reason: str | None
    provider_reference: str | None
    created_at: datetime
    completed_at: datetime | None
    failure_reason: str | None = None

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        """The refund's fields."""
        return cls(
            id=refund.id,
            payment_id=refund.payment_id,
            amount=MoneyOut.of(refund.amount),
            status=refund.status.value,
            reason=refund.reason,
            provider_reference=refund.provider_reference,
            created_at=refund.created_at,
            completed_at=refund.completed_at,
            failure_reason=refund.failure_reason,
        )


class RefundResolutionIn(StrictIn):
    """What staff do with a refund made at the provider that the books could not hold:
    ``apply`` it now that it fits, or ``dismiss`` it with a ``note`` (required)."""

    action: Literal["apply", "dismiss"]
    note: str | None = Field(default=None, max_length=1000)


class AttentionItemOut(BaseModel):
    """One open reason a payment needs staff: its code, what happened, and since when."""

    code: AttentionReason
    text: str
    since: datetime

    @classmethod
    def of(cls, item: AttentionItem) -> AttentionItemOut:
        """The item's fields."""
        return cls(code=item.code, text=item.text, since=item.since)


class AttentionResolutionIn(StrictIn):
    """Which open item of a payment staff resolve (``reason_code``), and how (``note``)."""

    reason_code: AttentionReason
    note: str = Field(min_length=1, max_length=1000)


class PaymentAttentionOut(BaseModel):
    """A payment flagged for staff, why (``reason`` joins the texts of its open
    ``items``, oldest first), and its unreconciled refunds."""

    payment: PaymentOut
    reason: str
    items: list[AttentionItemOut]
    unreconciled_refunds: list[RefundOut]

    @classmethod
    def of(cls, found: PaymentAttention) -> PaymentAttentionOut:
        """The flagged payment's fields."""
        return cls(
            payment=PaymentOut.of(found.payment),
            reason=found.reason,
            items=[AttentionItemOut.of(i) for i in found.items],
            unreconciled_refunds=[RefundOut.of(r) for r in found.unreconciled_refunds],
        )


class PaymentAttentionLeftOut(BaseModel):
    """A payment and the items it still has open for staff, oldest first."""

    payment: PaymentOut
    items: list[AttentionItemOut]

    @classmethod
    def of(cls, payment: Payment) -> PaymentAttentionLeftOut:
        """The payment's fields and its open items."""
        return cls(
            payment=PaymentOut.of(payment),
            items=[AttentionItemOut.of(i) for i in payment.attention],
        )


class InvoiceOut(BaseModel):
    """An invoice, credit note or debit note, numbered without gaps."""

    id: UUID
    kind: str
    number: str
    booking_id: UUID
    payment_id: UUID
    issued_at: datetime
    subtotal: MoneyOut
    discount: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    paid: MoneyOut
    due: MoneyOut

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        """The invoice's fields (not its lines)."""
        return cls(
            id=invoice.id,
            kind=invoice.kind.value,
            number=invoice.number,
            booking_id=invoice.booking_id,
            payment_id=invoice.payment_id,
            issued_at=invoice.issued_at,
            subtotal=MoneyOut.of(invoice.subtotal),
            discount=MoneyOut.of(invoice.discount),
            tax=MoneyOut.of(invoice.tax),
            total=MoneyOut.of(invoice.total),
            paid=MoneyOut.of(invoice.paid),
            due=MoneyOut.of(invoice.due),
        )


# ---------------------------------------------------------------------- reports


class ReconciliationLineOut(BaseModel):
    """A booking against what was paid for it."""

    booking_id: UUID
    reference: str
    status: str
    state: str
    total: MoneyOut
    captured: MoneyOut
    refunded: MoneyOut
    net_paid: MoneyOut
    payment_ids: list[UUID]


class StrayPaymentOut(BaseModel):
    """A payment holding money without an active booking in the period to show for it."""

    payment_id: UUID
    booking_id: UUID
    provider: str
    provider_reference: str | None
    reason: str
    captured: MoneyOut
    refunded: MoneyOut
    net_paid: MoneyOut


class CurrencyTotalsOut(BaseModel):
    """The period's sums in one currency."""

    currency: str
    total: MoneyOut
    captured: MoneyOut
    refunded: MoneyOut
    net_paid: MoneyOut
    stray_net_paid: MoneyOut


class ReconciliationOut(BaseModel):
    """Bookings created in ``[start, end)`` reconciled against their payments."""

    start: datetime
    end: datetime
    bookings: list[ReconciliationLineOut]
    stray_payments: list[StrayPaymentOut]
    totals: list[CurrencyTotalsOut]

    @classmethod
    def of(cls, report: ReconciliationReport) -> ReconciliationOut:
        """The report's lines and totals."""
        m = MoneyOut.of
        return cls(
            start=report.start,
            end=report.end,
            bookings=[
                ReconciliationLineOut(
                    booking_id=line.booking_id,
                    reference=line.reference,
                    status=line.status,
                    state=line.state.value,
                    total=m(line.total),
                    captured=m(line.captured),
                    refunded=m(line.refunded),
                    net_paid=m(line.net_paid),
                    payment_ids=list(line.payment_ids),
                )
                for line in report.bookings
            ],
            stray_payments=[
                StrayPaymentOut(
                    payment_id=stray.payment_id,
                    booking_id=stray.booking_id,
                    provider=stray.provider,
                    provider_reference=stray.provider_reference,
                    reason=stray.reason.value,
                    captured=m(stray.captured),
                    refunded=m(stray.refunded),
                    net_paid=m(stray.net_paid),
                )
                for stray in report.stray_payments
            ],
            totals=[
                CurrencyTotalsOut(
                    currency=t.currency,
                    total=m(t.total),
                    captured=m(t.captured),
                    refunded=m(t.refunded),
                    net_paid=m(t.net_paid),
                    stray_net_paid=m(t.stray_net_paid),
                )
                for t in report.totals
            ],
        )


# ---------------------------------------------------------------------- import jobs


class CellProblemOut(BaseModel):
    """What is wrong with one cell (or row) of an import file."""

    message: str
    code: str
    column: str | None
    cell: str | None
    value: str | None

    @classmethod
    def of(cls, problem: CellProblem) -> CellProblemOut:
        """The problem's fields."""
        return cls(
            message=problem.message,
            code=problem.code,
            column=problem.column,
            cell=problem.cell,
            value=problem.value,
        )


#: What an import's rows are (:class:`~bookingcore.domain.ImportKind`).
ImportKindOut = Literal["bookings", "customers", "travelers"]


class ImportJobOut(BaseModel):
    """An import: its file, status and counts."""

    id: UUID
    kind: ImportKindOut
    filename: str
    file_format: str
    file_size: int
    status: str
    settings: dict[str, Any]
    total_rows: int
    processed_rows: int
    created: int
    updated: int
    skipped: int
    failed: int
    error_summary: dict[str, int]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    cancel_requested: bool

    @classmethod
    def of(cls, job: ImportJob) -> ImportJobOut:
        """The job's fields."""
        return cls(
            id=job.id,
            kind=job.kind.value,
            filename=job.filename,
            file_format=job.file_format,
            file_size=job.file_size,
            status=job.status.value,
            settings=_jsonable(job.settings),
            total_rows=job.total_rows,
            processed_rows=job.processed_rows,
            created=job.created,
            updated=job.updated,
            skipped=job.skipped,
            failed=job.failed,
            error_summary=dict(job.error_summary),
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            cancel_requested=job.cancel_requested,
        )


class ImportRowErrorOut(BaseModel):
    """A failed row: its number, its cells as read, and its problems."""

    row_number: int
    raw_row: dict[str, str]
    problems: list[CellProblemOut]
    resolved: bool

    @classmethod
    def of(cls, error: ImportRowError) -> ImportRowErrorOut:
        """The failed row as answered."""
        return cls(
            row_number=error.row_number,
            raw_row=dict(error.raw_row),
            problems=[CellProblemOut.of(p) for p in error.problems],
            resolved=error.resolved_at is not None,
        )


class PreviewRowOut(BaseModel):
    """One previewed row: what would happen to it, and its problems."""

    number: int
    values: dict[str, str]
    action: str
    problems: list[CellProblemOut]


class ImportPreviewOut(BaseModel):
    """The detected column mapping and the first rows of the file, checked."""

    kind: ImportKindOut
    filename: str
    header: list[str]
    mapping: dict[str, str]
    extra_columns: list[str]
    defaults: dict[str, str] = Field(
        description="What a blank cell of a column stands for in a new row "
        '(bookings: {"status": the lifecycle\'s initial state}); an update keeps its status.'
    )
    rows: list[PreviewRowOut]

    @classmethod
    def of(cls, preview: ImportPreview) -> ImportPreviewOut:
        """The preview's fields."""
        return cls(
            kind=preview.kind.value,
            filename=preview.filename,
            header=list(preview.header),
            mapping=dict(preview.mapping),
            extra_columns=list(preview.extra_columns),
            defaults=dict(preview.defaults),
            rows=[
                PreviewRowOut(
                    number=row.number,
                    values=dict(row.values),
                    action=row.action,
                    problems=[CellProblemOut.of(p) for p in row.problems],
                )
                for row in preview.rows
            ],
        )


class ImportPlanOut(BaseModel):
    """A dry run: what the whole file would do, and every failing row."""

    kind: ImportKindOut
    filename: str
    file_format: str
    size: int
    total: int
    would_create: int
    would_update: int
    would_skip: int
    failed: int
    errors: list[ImportRowErrorOut]

    @classmethod
    def of(cls, plan: ImportPlan) -> ImportPlanOut:
        """The plan's counts and failed rows."""
        return cls(
            kind=plan.settings.kind.value,
            filename=plan.filename,
            file_format=plan.file_format,
            size=plan.size,
            total=plan.total,
            would_create=plan.would_create,
            would_update=plan.would_update,
            would_skip=plan.would_skip,
            failed=plan.failed,
            errors=[
                ImportRowErrorOut(
                    row_number=number,
                    raw_row=dict(raw),
                    problems=[CellProblemOut.of(p) for p in problems],
                    resolved=False,
                )
                for number, raw, problems in plan.errors
            ],
        )


class MoveOut(BaseModel):
    """A lifecycle move as any caller sees it (no staff-only fields)."""

    booking: BookingOut
    from_status: str | None
    to_status: str
    replayed: bool


class StaffBookingIn(StrictIn):
    """A booking the desk makes for a customer given by phone (one at a time, not imported)."""

    slot_id: UUID
    customer: CustomerIn
    travelers: list[BookingTravelerIn] = Field(max_length=200)
    source: str | None = Field(default=None, max_length=32, examples=["phone"])
    external_id: str | None = Field(default=None, max_length=255)
    referral_source: str | None = Field(default=None, max_length=100)
    internal_notes: str | None = Field(default=None, max_length=5000)
    voucher_code: str | None = Field(
        default=None, max_length=64, description="A promo code (any case)", examples=["SUMMER10"]
    )
    override_requirements: bool = Field(
        default=False,
        description=(
            "Book travelers the product's requirements refuse (age, certificates); staff "
            "who change every booking only, noted on the booking"
        ),
    )
    group_id: UUID | None = Field(
        default=None, description="The booking group to book into (an active group's id)"
    )

    def to_request(self) -> BookingRequest:
        """The library's :class:`~bookingcore.BookingRequest`."""
        return BookingRequest(
            SlotId(self.slot_id),
            [t.to_choice() for t in self.travelers],
            customer=self.customer.to_details(),
            group_id=None if self.group_id is None else BookingGroupId(self.group_id),
            source=self.source,
            external_id=self.external_id,
            referral_source=self.referral_source,
            internal_notes=self.internal_notes,
            voucher_code=self.voucher_code,
            override_requirements=self.override_requirements,
        )


class ImportStatsOut(BaseModel):
    """Import statistics: jobs by status and rows by outcome, over the imports of one kind
    (or all)."""

    jobs: int
    by_status: dict[str, int]
    rows: int
    created: int
    updated: int
    skipped: int
    failed: int


class NoteIn(StrictIn):
    """A note to add to the booking's internal notes (kept after the earlier ones)."""

    note: str = Field(min_length=1, max_length=2000)
    expected_version: int | None = None
