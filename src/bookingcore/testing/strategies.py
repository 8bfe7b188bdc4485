"""Hypothesis strategies for bookingcore's values and entities.

Shared by the library's own property tests and available to yours::

    from hypothesis import given
    from bookingcore.testing import strategies as bst

    @given(bst.phone_numbers())
    def test_my_sms_adapter_accepts_any_valid_number(phone): ...

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import phonenumbers
from hypothesis import assume
from hypothesis import strategies as st

from bookingcore.domain._currencies import MINOR_UNITS
from bookingcore.domain.bookings import Booking, BookingTraveler
from bookingcore.domain.cancellation import CancellationPolicy, RefundTier
from bookingcore.domain.catalog import Location, Product, ProductKind, Supplier
from bookingcore.domain.communications import Channel
from bookingcore.domain.customers import MAX_AGE, Customer, Gender, Traveler
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus
from bookingcore.domain.items import BookingItem, BookingItemKind, BookingItemStatus
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.partners import Partner
from bookingcore.domain.payments import Payment, PaymentStatus, Refund, RefundStatus
from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.requirements import CertificateRule, ProductRequirements
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    ActorKind,
    BookingGroupId,
    BookingId,
    BookingItemId,
    CustomerId,
    EmailAddress,
    LocationId,
    Money,
    PartnerId,
    PaymentId,
    PhoneNumber,
    ProductId,
    RefundId,
    SlotId,
    SupplierId,
    TravelerId,
    WaitlistEntryId,
)
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistPriority, WaitlistStatus

__all__ = [
    "REGIONS",
    "actors",
    "aware_datetimes",
    "booking_groups",
    "booking_items",
    "bookings",
    "cancellation_policies",
    "codes",
    "currencies",
    "customers",
    "discount_tiers",
    "emails",
    "lifecycles",
    "locations",
    "money",
    "names",
    "partners",
    "payments",
    "phone_numbers",
    "phone_spellings",
    "product_requirements",
    "products",
    "refunds",
    "slots",
    "state_names",
    "suppliers",
    "travelers",
    "waitlist_entries",
]

#: Regions the phone strategy draws from: a spread of numbering plans.
REGIONS = ("IN", "GB", "US", "DE", "AU", "SG", "AE", "FR", "BR", "JP")


def _example_mobile(region: str) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:  # pragma: no cover - every region in REGIONS has one
        msg = f"phonenumbers has no example mobile number for {region}"
        raise LookupError(msg)
    return phonenumbers.national_significant_number(example)


_MOBILE_PREFIXES = {region: _example_mobile(region) for region in REGIONS}


def uuids() -> st.SearchStrategy[UUID]:
    """Random UUIDs."""
    return st.uuids()


@st.composite
def phone_numbers(draw: st.DrawFn, regions: tuple[str, ...] = REGIONS) -> PhoneNumber:
    """Valid mobile numbers from several numbering plans.

    Built from each region's example mobile number with all but its first three
    digits drawn, keeping only numbers phonenumbers calls valid.
    """
    region = draw(st.sampled_from(regions))
    example = _MOBILE_PREFIXES[region]
    country = phonenumbers.country_code_for_region(region)
    digits = draw(st.text("0123456789", min_size=len(example) - 3, max_size=len(example) - 3))
    parsed = phonenumbers.parse(f"+{country}{example[:3]}{digits}")
    assume(phonenumbers.is_valid_number(parsed))
    return PhoneNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@st.composite
def phone_spellings(draw: st.DrawFn, phone: PhoneNumber) -> tuple[str, str | None]:
    """One way a person might write ``phone``, and the region needed to read it.

    Spellings: E.164, international with spaces, with dashes or dots, ``00``
    instead of ``+`` (read from Germany, whose exit code is ``00``; Australia's is
    ``0011``), and the national form (which needs the number's own region).
    """
    parsed = phonenumbers.parse(phone.e164)
    region = phonenumbers.region_code_for_number(parsed)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    choices: list[tuple[str, str | None]] = [
        (phone.e164, None),
        (international, None),
        (international.replace(" ", "-"), None),
        (international.replace(" ", "."), None),
        ("00" + phone.e164[1:], "DE"),  # dialled from a country whose exit code is 00
        (f"  {international}  ", None),
        (national, region),
        (national.replace(" ", ""), region),
    ]
    return draw(st.sampled_from(choices))


_LOCAL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_LABEL = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10)


@st.composite
def emails(draw: st.DrawFn) -> EmailAddress:
    """Plain, valid email addresses (``name.part@label.tld``), sometimes with upper case."""
    local = draw(_LOCAL)
    if draw(st.booleans()):
        local += "." + draw(_LOCAL)
    domain = f"{draw(_LABEL)}.{draw(st.sampled_from(['com', 'in', 'co.uk', 'org', 'dive']))}"
    address = f"{local}@{domain}"
    return EmailAddress(address.upper() if draw(st.booleans()) else address)


def names() -> st.SearchStrategy[str]:
    """Person names of 2-60 characters, with the odd accent."""
    return st.text(
        st.characters(categories=["Lu", "Ll"], max_codepoint=0x17F), min_size=2, max_size=30
    ).map(str.title)


def codes() -> st.SearchStrategy[str]:
    """Valid, normalised reference codes."""
    return st.from_regex(r"[A-Z0-9][A-Z0-9_\-]{1,11}", fullmatch=True)


def currencies() -> st.SearchStrategy[str]:
    """ISO 4217 codes, weighted toward the common ones but including 0- and 3-digit units."""
    return st.one_of(
        st.sampled_from(["INR", "EUR", "USD", "GBP"]), st.sampled_from(sorted(MINOR_UNITS))
    )


@st.composite
def money(
    draw: st.DrawFn,
    currency: str | None = None,
    *,
    min_value: int = 0,
    max_value: int = 1_000_000,
) -> Money:
    """Exact amounts in ``currency`` (or a drawn one), at the currency's precision."""
    code = currency or draw(currencies())
    places = MINOR_UNITS[code]
    minor = draw(st.integers(min_value * 10**places, max_value * 10**places))
    return Money(Decimal(minor).scaleb(-places), code)


def aware_datetimes(
    min_value: datetime = datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value: datetime = datetime(2035, 1, 1),  # noqa: DTZ001
) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes, whole microseconds."""
    return st.datetimes(min_value, max_value, timezones=st.just(UTC))


def discount_tiers() -> st.SearchStrategy[tuple[DiscountTier, ...]]:
    """Zero to three tiers with distinct thresholds and 0-100 % off."""
    return st.lists(
        st.builds(
            DiscountTier,
            min_travelers=st.integers(1, 20),
            percent=st.decimals(0, 100, places=2),
        ),
        max_size=3,
        unique_by=lambda t: t.min_travelers,
    ).map(lambda tiers: tuple(sorted(tiers)))


def actors() -> st.SearchStrategy[Actor]:
    """Any actor kind, with or without an id."""
    return st.builds(
        Actor, kind=st.sampled_from(ActorKind), id=st.one_of(st.none(), st.uuids().map(str))
    )


#: Characters the domain's text rule accepts: no control characters, no lone surrogates.
_CHARS = st.characters(exclude_categories=["Cc", "Cs"])
_TEXT = st.one_of(st.none(), st.text(_CHARS, min_size=1, max_size=40).map(str.strip).filter(bool))
_METADATA = st.dictionaries(
    st.text(_CHARS, min_size=1, max_size=10), st.text(_CHARS, max_size=20), max_size=3
)


@st.composite
def customers(draw: st.DrawFn) -> Customer:
    """Customers with any mix of optional fields."""
    created = draw(aware_datetimes())
    return Customer(
        id=CustomerId(draw(uuids())),
        phone=draw(phone_numbers()),
        created_at=created,
        updated_at=created + draw(st.timedeltas(timedelta(0), timedelta(days=30))),
        name=draw(st.one_of(st.none(), names())),
        email=draw(st.one_of(st.none(), emails())),
        source=draw(st.sampled_from(BookingSource)),
        partner_id=draw(st.one_of(st.none(), uuids().map(PartnerId))),
        created_by=draw(st.one_of(st.none(), actors())),
        version=draw(st.integers(1, 50)),
    )


@st.composite
def travelers(draw: st.DrawFn, customer_id: CustomerId | None = None) -> Traveler:
    """Travelers with any mix of optional fields."""
    created = draw(aware_datetimes())
    return Traveler(
        id=TravelerId(draw(uuids())),
        customer_id=customer_id or CustomerId(draw(uuids())),
        name=draw(names()),
        created_at=created,
        updated_at=created,
        age=draw(st.one_of(st.none(), st.integers(0, 120))),
        birth_date=draw(st.one_of(st.none(), st.dates(date(1920, 1, 1), date(2025, 1, 1)))),
        gender=draw(st.one_of(st.none(), st.sampled_from(Gender))),
        phone=draw(st.one_of(st.none(), phone_numbers())),
        emergency_contact_name=draw(st.one_of(st.none(), names())),
        emergency_contact_phone=draw(st.one_of(st.none(), phone_numbers())),
        special_requirements=draw(_TEXT),
        deleted_at=draw(st.one_of(st.none(), st.just(created))),
    )


@st.composite
def locations(draw: st.DrawFn) -> Location:
    """Locations with unique-looking codes."""
    return Location(
        id=LocationId(draw(uuids())),
        code=draw(codes()),
        name=draw(names()),
        created_at=draw(aware_datetimes()),
        kind=draw(st.sampled_from(["dealer", "dive_centre", "base_camp"])),
        address=draw(_TEXT),
        is_active=draw(st.booleans()),
    )


@st.composite
def suppliers(draw: st.DrawFn) -> Supplier:
    """Suppliers with optional contact details."""
    return Supplier(
        id=SupplierId(draw(uuids())),
        code=draw(codes()),
        name=draw(names()),
        created_at=draw(aware_datetimes()),
        email=draw(st.one_of(st.none(), emails())),
        phone=draw(st.one_of(st.none(), phone_numbers())),
        is_active=draw(st.booleans()),
    )


@st.composite
def products(draw: st.DrawFn) -> Product:
    """Products of every kind."""
    return Product(
        id=ProductId(draw(uuids())),
        code=draw(codes()),
        name=draw(names()),
        kind=draw(st.sampled_from(ProductKind)),
        created_at=draw(aware_datetimes()),
        supplier_id=draw(st.one_of(st.none(), uuids().map(SupplierId))),
        description=draw(_TEXT),
        is_active=draw(st.booleans()),
        cancellation_policy=draw(st.one_of(st.none(), cancellation_policies())),
        requirements=draw(st.one_of(st.none(), product_requirements())),
    )


@st.composite
def product_requirements(draw: st.DrawFn) -> ProductRequirements:
    """Valid requirements: age limits in order (or none), up to four distinct
    certificate kinds, either rule.

    .. versionadded:: 0.4
    """
    ages = draw(st.lists(st.integers(0, MAX_AGE), min_size=2, max_size=2).map(sorted))
    kinds = draw(
        st.lists(
            st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=20),
            max_size=4,
            unique=True,
        )
    )
    return ProductRequirements(
        min_age=draw(st.sampled_from([None, ages[0]])),
        max_age=draw(st.sampled_from([None, ages[1]])),
        certificates=kinds,
        certificates_rule=draw(st.sampled_from(CertificateRule)),
    )


@st.composite
def cancellation_policies(draw: st.DrawFn) -> CancellationPolicy:
    """Valid policies of whole-second durations: tiers whose percent falls as the
    notice shrinks, in any order.

    .. versionadded:: 0.4
    """
    hours = st.integers(0, 24 * 400).map(lambda h: timedelta(hours=h))
    notices = draw(st.lists(hours, max_size=4, unique=True))
    percents = draw(
        st.lists(
            st.decimals(0, 100, places=1, allow_nan=False),
            min_size=len(notices),
            max_size=len(notices),
            unique=True,
        )
    )
    tiers = zip(sorted(notices), sorted(percents), strict=True)
    return CancellationPolicy(
        self_service_until=draw(hours),
        refund_tiers=draw(st.permutations([RefundTier(n, p) for n, p in tiers])),
    )


@st.composite
def slots(draw: st.DrawFn) -> Slot:
    """Slots with a capacity (or none) and some seats held."""
    capacity = draw(st.one_of(st.none(), st.integers(1, 200)))
    starts = draw(aware_datetimes())
    return Slot(
        id=SlotId(draw(uuids())),
        location_id=LocationId(draw(uuids())),
        starts_at=starts,
        price_per_traveler=draw(money()),
        created_at=draw(aware_datetimes()),
        capacity=capacity,
        seats_held=draw(st.integers(0, capacity if capacity is not None else 500)),
        product_id=draw(st.one_of(st.none(), uuids().map(ProductId))),
        ends_at=draw(st.one_of(st.none(), st.just(starts + timedelta(hours=3)))),
        name=draw(_TEXT),
        group_discounts=draw(discount_tiers()),
        is_active=draw(st.booleans()),
    )


@st.composite
def bookings(draw: st.DrawFn) -> Booking:
    """Internally consistent bookings: one primary, distinct travelers, totals that add up."""
    currency = draw(currencies())
    count = draw(st.integers(1, 6))
    ids = draw(st.lists(uuids(), min_size=count, max_size=count, unique=True))
    primary = draw(st.integers(0, count - 1))
    travelers_ = tuple(
        BookingTraveler(
            traveler_id=TravelerId(tid),
            price=draw(money(currency, max_value=5000)),
            is_primary=index == primary,
            special_requirements=draw(_TEXT),
        )
        for index, tid in enumerate(ids)
    )
    subtotal = sum((t.price for t in travelers_), Money.zero(currency))
    discount = subtotal.percent(draw(st.decimals(0, 100, places=1)))
    created = draw(aware_datetimes())
    return Booking(
        id=BookingId(draw(uuids())),
        reference="BK-" + draw(st.from_regex(r"[0-9A-Z]{8}", fullmatch=True)),
        customer_id=CustomerId(draw(uuids())),
        slot_id=SlotId(draw(uuids())),
        location_id=LocationId(draw(uuids())),
        starts_at=draw(aware_datetimes()),
        lifecycle="reservation",
        status=draw(st.sampled_from(["pending", "confirmed", "cancelled"])),
        travelers=travelers_,
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        created_at=created,
        updated_at=created,
        created_by=draw(actors()),
        source=draw(st.sampled_from(BookingSource)),
        partner_id=draw(st.one_of(st.none(), uuids().map(PartnerId))),
        referral_source=draw(_TEXT),
        internal_notes=draw(_TEXT),
        external_id=draw(_TEXT),
        idempotency_key=draw(_TEXT),
        metadata=draw(_METADATA),
        version=draw(st.integers(1, 20)),
    )


@st.composite
def partners(draw: st.DrawFn) -> Partner:
    """Partners with some allowed locations and an optional commission."""
    created = draw(aware_datetimes())
    return Partner(
        id=PartnerId(draw(uuids())),
        name=draw(names()),
        company_name=draw(names()),
        contact_email=draw(emails()),
        api_key="pk_" + draw(st.from_regex(r"[A-Za-z0-9_\-]{16}", fullmatch=True)),
        created_at=created,
        updated_at=created,
        contact_phone=draw(st.one_of(st.none(), phone_numbers())),
        commission_rate=draw(st.one_of(st.none(), st.decimals(0, 100, places=2))),
        allowed_location_ids=draw(st.frozensets(uuids().map(LocationId), max_size=4)),
        is_active=draw(st.booleans()),
        settings=draw(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)),
    )


#: Names the diagram writers give their own meaning to (Mermaid aliases ``s<n>``,
#: the Graphviz start node); generated state names avoid them.
_RESERVED_STATE_NAMES = re.compile(r"s\d+|__start__")


def state_names() -> st.SearchStrategy[str]:
    """Lifecycle state names: identifiers and names with spaces, quotes, backslashes, dashes.

    Names carry no surrounding blanks (the services strip them) and avoid the
    names diagrams reserve.
    """
    return st.one_of(
        st.sampled_from(
            ["pending", "confirmed", "in progress", "on hold", 'say "hi"', "a\\b", "x-ray", "1st"]
        ),
        st.text("abcdeXYZ019_ -'\"\\", min_size=1, max_size=8),
    ).filter(lambda name: name == name.strip() and not _RESERVED_STATE_NAMES.fullmatch(name))


@st.composite
def lifecycles(draw: st.DrawFn, name: str = "custom") -> Lifecycle:
    """Lifecycles that :func:`~bookingcore.domain.lifecycle.check` finds nothing wrong with.

    Built to be sound: the initial state comes first and is never terminal;
    every other state that is not an entry state gets a move from an earlier
    non-terminal state (so all are reachable); every non-terminal state gets at
    least one way out; random extra moves (self-loops included) are added. The
    cancelled state, when there is one, is neither the initial nor an entry state
    and holds no seats.

    .. versionchanged:: 0.4 the cancelled state is one ``Lifecycle`` accepts.
    """
    states = draw(st.lists(state_names(), min_size=1, max_size=7, unique_by=str.casefold))
    count = len(states)
    terminals = draw(st.integers(0, count - 1))
    open_count = count - terminals  # states[:open_count] are not terminal, states[0] initial
    entry = draw(st.sets(st.sampled_from(states[1:]))) if count > 1 else set()
    table: dict[str, set[str]] = {state: set() for state in states[:open_count]}
    for index in range(1, count):
        if states[index] in entry and draw(st.booleans()):
            continue
        parent = states[draw(st.integers(0, min(index, open_count) - 1))]
        table[parent].add(states[index])
    for targets in table.values():
        if not targets:
            targets.add(draw(st.sampled_from(states)))
        targets.update(draw(st.sets(st.sampled_from(states), max_size=3)))
    for state in states[open_count:]:
        if draw(st.booleans()):
            table[state] = set()  # a terminal state listed with no targets is still sound
    candidates = [state for state in states[1:] if state not in entry]
    cancelled = draw(st.one_of(st.none(), st.sampled_from(candidates))) if candidates else None
    return Lifecycle(
        name=name,
        states=draw(st.permutations(states)),
        initial=states[0],
        transitions=table,
        terminal=states[open_count:],
        holding=draw(st.sets(st.sampled_from(states))) - {cancelled},
        cancelled=cancelled,
        entry=entry,
    )


_DAYS = st.dates(date(2020, 1, 1), date(2035, 1, 1))


@st.composite
def booking_groups(draw: st.DrawFn) -> BookingGroup:
    """Groups with any mix of company, name and participant count, in any status."""
    created = draw(aware_datetimes())
    organizer = CustomerId(draw(uuids()))
    company = draw(st.one_of(st.none(), uuids().map(CustomerId)))
    return BookingGroup(
        id=BookingGroupId(draw(uuids())),
        group_reference=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,30}", fullmatch=True)),
        organizer_id=organizer,
        created_at=created,
        updated_at=created,
        company_id=None if company == organizer else company,
        group_name=draw(_TEXT),
        total_participants=draw(st.one_of(st.none(), st.integers(1, 500))),
        status=draw(st.sampled_from(BookingGroupStatus)),
        version=draw(st.integers(1, 20)),
    )


@st.composite
def booking_items(draw: st.DrawFn, currency: str | None = None) -> BookingItem:
    """Line items of every kind and status, with or without service dates."""
    created = draw(aware_datetimes())
    starts = draw(st.one_of(st.none(), _DAYS))
    ends = None
    if starts is not None and draw(st.booleans()):
        ends = starts + timedelta(days=draw(st.integers(0, 14)))
    return BookingItem(
        id=BookingItemId(draw(uuids())),
        booking_id=BookingId(draw(uuids())),
        kind=draw(st.sampled_from(BookingItemKind)),
        description=draw(st.text(_CHARS, min_size=1, max_size=60).map(str.strip).filter(bool)),
        quantity=draw(st.integers(1, 50)),
        unit_price=draw(money(currency, max_value=100_000)),
        created_at=created,
        updated_at=created,
        product_id=draw(st.one_of(st.none(), uuids().map(ProductId))),
        supplier_id=draw(st.one_of(st.none(), uuids().map(SupplierId))),
        service_starts_on=starts,
        service_ends_on=ends,
        status=draw(st.sampled_from(BookingItemStatus)),
        supplier_reference=draw(_TEXT),
        metadata=draw(_METADATA),
        version=draw(st.integers(1, 20)),
    )


@st.composite
def waitlist_entries(
    draw: st.DrawFn,
    slot_id: SlotId | None = None,
    statuses: tuple[WaitlistStatus, ...] = tuple(WaitlistStatus),
) -> WaitlistEntry:
    """Consistent waiting-list entries: offered ones carry their offer, booked ones a booking."""
    created = draw(aware_datetimes(max_value=datetime(2034, 1, 1)))  # noqa: DTZ001
    status = draw(st.sampled_from(statuses))
    offered_at = expires_at = None
    if status is WaitlistStatus.OFFERED or (
        status in {WaitlistStatus.BOOKED, WaitlistStatus.EXPIRED} and draw(st.booleans())
    ):
        offered_at = created + timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
        expires_at = offered_at + timedelta(minutes=draw(st.integers(1, 60 * 24 * 7)))
    booked = status is WaitlistStatus.BOOKED
    return WaitlistEntry(
        id=WaitlistEntryId(draw(uuids())),
        slot_id=slot_id or SlotId(draw(uuids())),
        customer_id=CustomerId(draw(uuids())),
        seats=draw(st.integers(1, 12)),
        position=draw(st.integers(1, 500)),
        created_at=created,
        updated_at=created,
        priority=draw(st.sampled_from(WaitlistPriority)),
        preferred_contact_method=draw(st.one_of(st.none(), st.sampled_from(Channel))),
        alternative_dates=draw(st.lists(_DAYS, max_size=5)),
        status=status,
        offered_at=offered_at,
        offer_expires_at=expires_at,
        booking_id=BookingId(draw(uuids())) if booked else None,
        notes=draw(_TEXT),
        version=draw(st.integers(1, 20)),
    )


def _minor(amount: Money) -> int:
    return amount.minor_units


@st.composite
def payments(draw: st.DrawFn) -> Payment:
    """Payments in every status whose captured, refunded and reserved amounts add up."""
    currency = draw(currencies())
    amount = draw(money(currency, min_value=1, max_value=100_000))
    status = draw(st.sampled_from(PaymentStatus))
    unit = Money(Decimal(1).scaleb(-MINOR_UNITS[currency]), currency)
    captured = refunded = pending = 0
    if status in {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}:
        captured = draw(st.integers(max(1, _minor(amount) // 2), _minor(amount)))
        if status is PaymentStatus.REFUNDED:
            refunded = captured
        elif status is PaymentStatus.PARTIALLY_REFUNDED:
            refunded = draw(st.integers(0, captured))
        pending = draw(st.integers(0, captured - refunded))
    created = draw(aware_datetimes())
    return Payment(
        id=PaymentId(draw(uuids())),
        booking_id=BookingId(draw(uuids())),
        customer_id=CustomerId(draw(uuids())),
        provider=draw(st.sampled_from(["stripe", "razorpay", "manual", "fake"])),
        amount=amount,
        created_at=created,
        updated_at=created,
        provider_reference=draw(
            st.one_of(st.none(), st.from_regex(r"pi_[A-Za-z0-9]{8,20}", fullmatch=True))
        ),
        status=status,
        captured_amount=unit * captured,
        refunded_amount=unit * refunded,
        pending_refund_amount=unit * pending,
        processed_event_ids=draw(
            st.frozensets(st.from_regex(r"evt_[A-Za-z0-9]{1,16}", fullmatch=True), max_size=4)
        ),
        idempotency_key=draw(_TEXT),
        failure_reason=draw(_TEXT),
        captured_at=created if captured else None,
        metadata=draw(_METADATA),
        version=draw(st.integers(1, 20)),
    )


@st.composite
def refunds(draw: st.DrawFn) -> Refund:
    """Refunds in every status, with or without a provider reference and reason."""
    created = draw(aware_datetimes())
    status = draw(st.sampled_from(RefundStatus))
    return Refund(
        id=RefundId(draw(uuids())),
        payment_id=PaymentId(draw(uuids())),
        amount=draw(money(min_value=1, max_value=100_000)),
        created_at=created,
        updated_at=created,
        reason=draw(_TEXT),
        status=status,
        provider_reference=draw(
            st.one_of(st.none(), st.from_regex(r"rfnd_[A-Za-z0-9]{8,20}", fullmatch=True))
        ),
        failure_reason=draw(_TEXT) if status is RefundStatus.FAILED else None,
        completed_at=None if status is RefundStatus.PENDING else created,
        version=draw(st.integers(1, 20)),
    )
