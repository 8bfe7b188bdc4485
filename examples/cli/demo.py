"""The bookingcore story, told on a fresh SQLite file (or any empty database, or in memory).

:func:`run_demo` wires a :class:`~bookingcore.BookingCore` explicitly, then
walks through what the library is for: reference data, phone-first customers,
saved travelers, a group booking with a discount, a partner held to its
locations, capacity, typed validation errors, a cancellation, who sees what,
and finally a customer signing in by phone with a code from the console SMS
sender. Every step prints to the given :class:`rich.console.Console`.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import attrs
import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from bookingcore import (
    AuthenticationError,
    BookingCore,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    CustomerId,
    DiscountTier,
    InvalidTransitionError,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
    RequestOrigin,
    SavedTraveler,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import (
    Booking,
    Location,
    ProductKind,
    QuotationSupersededError,
    Slot,
    Traveler,
)
from bookingcore.domain.communications import message_time
from bookingcore.domain.queries import every_item
from bookingcore.ports.webhooks import WebhookSender
from bookingcore.services import LeadRequest, QuotationRequest, QuoteLine, WebhookSettings
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.jobs import InProcessJobQueue
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter, MemoryStore
from bookingcore_adapters.notifications import LogNotifier
from bookingcore_adapters.payments.fake_stripe import FakeStripe, running_fake_stripe
from bookingcore_adapters.payments.stripe import StripeProvider
from bookingcore_adapters.sms import ConsoleSmsSender
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.webhooks import HttpxWebhookSender
from examples.cli.customer_story import customer_view_story
from examples.cli.partner_endpoint import PartnerEndpoint, running_partner_endpoint

__all__ = ["DEFAULT_DATABASE", "MEMORY", "DemoError", "make_core", "run_demo"]

#: Where the demo keeps its bookings unless told otherwise: a file it recreates each run.
DEFAULT_DATABASE = "sqlite:///bookingcore-demo.sqlite3"

#: The ``database`` that keeps everything in memory instead.
MEMORY = "memory"
#: The demo business is in India: what people read is on its clock (stored times are UTC).
TIMEZONE = "Asia/Kolkata"


def make_core(
    store: SqlStore | None = None,
    *,
    sms: ConsoleSmsSender | None = None,
    stripe: StripeProvider | None = None,
    jobs: InProcessJobQueue | None = None,
    webhook_sender: WebhookSender | None = None,
) -> BookingCore:
    """A core over ``store`` (in memory when None) and the real clock; local numbers read as Indian.

    Messages go to the log (:class:`LogNotifier`) and documents are plain HTML.
    Sign-in codes go to ``sms`` (a new :class:`ConsoleSmsSender` when None),
    wait in memory, and tokens are signed with a key made for this run. Card
    payments go through ``stripe`` when given. Background jobs (reminders,
    clean-ups, the event catch-up) run on ``jobs``, a new in-process runner when None.
    Partner webhooks are scheduled and sent through ``webhook_sender`` when given.
    """
    uow_factory = MemoryStore().unit_of_work if store is None else store.unit_of_work
    return BookingCore(
        uow_factory=uow_factory,
        settings=Settings(default_region="IN", business_name="Himalaya Trails", timezone=TIMEZONE),
        notifier=LogNotifier(),
        renderer=PlainRenderer(),
        otp_store=MemoryOtpStore(),
        rate_limiter=MemoryRateLimiter(),
        sms=sms or ConsoleSmsSender(),
        token_signer=JwtTokenSigner({"demo": secrets.token_bytes(32)}),
        payment_providers=[stripe] if stripe is not None else [],
        jobs=jobs or InProcessJobQueue(),
        webhook_sender=webhook_sender,
        # The demo's partner endpoint listens on this machine (127.0.0.1), a private
        # address that webhooks are not sent to unless allowed.
        webhook_settings=WebhookSettings(allow_private_addresses=True),
        exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90.25")}),
    )


# ---------------------------------------------------------------------- printing helpers


def _section(console: Console, number: int, title: str) -> None:
    console.print()
    console.rule(f"[bold]{number}. {escape(title)}", align="left")


def _say(console: Console, text: str) -> None:
    """Print ``text`` as-is and unwrapped, so ids and messages stay whole on one line.

    Library messages may contain brackets (``travelers[0]``) that rich would read
    as markup, so the text is escaped.
    """
    console.print(escape(text), soft_wrap=True)


def _when(moment: datetime) -> str:
    return message_time(moment, ZoneInfo(TIMEZONE))


def _seats(slot: Slot) -> str:
    return "unlimited" if slot.seats_left is None else str(slot.seats_left)


def _field_errors(console: Console, label: str, error: ValidationError) -> None:
    _say(console, f"{label} -> {error.code}")
    for problem in error.errors:
        _say(console, f"    {problem.field}: {problem.message} ({problem.code})")


def _slots_table(slots: Iterable[Slot], codes: Mapping[object, str]) -> Table:
    table = Table(title="Slots open for booking")
    table.add_column("Slot")
    table.add_column("Location", no_wrap=True)
    table.add_column("Starts", no_wrap=True)
    table.add_column("Price", justify="right", no_wrap=True)
    table.add_column("Cap.", justify="right")
    table.add_column("Left", justify="right")
    for slot in slots:
        table.add_row(
            escape(slot.name or "-"),
            codes[slot.location_id],
            _when(slot.starts_at),
            str(slot.price_per_traveler),
            "unlimited" if slot.capacity is None else str(slot.capacity),
            _seats(slot),
        )
    return table


def _travelers_table(travelers: Iterable[Traveler]) -> Table:
    table = Table(title="Saved travelers")
    table.add_column("Name")
    table.add_column("Age", justify="right")
    table.add_column("Gender")
    table.add_column("Emergency contact")
    table.add_column("Special requirements")
    for traveler in travelers:
        contact = "-"
        if traveler.emergency_contact_name:
            phone = traveler.emergency_contact_phone
            contact = traveler.emergency_contact_name + (f"\n{phone}" if phone else "")
        table.add_row(
            escape(traveler.name),
            "-" if traveler.age is None else str(traveler.age),
            traveler.gender.value if traveler.gender else "-",
            escape(contact),
            escape(traveler.special_requirements or "-"),
        )
    return table


def _booking_table(booking: Booking, names: Mapping[TravelerId, str], slot: Slot) -> Table:
    title = (
        f"Booking {booking.reference} - status {booking.status} - "
        f"{booking.total_travelers} travelers"
    )
    table = Table(title=escape(title))
    table.add_column("#", justify="right")
    table.add_column("Traveler")
    table.add_column("Primary")
    table.add_column("Special requirements")
    table.add_column("Price", justify="right", no_wrap=True)
    for index, seat in enumerate(booking.travelers, start=1):
        table.add_row(
            str(index),
            escape(names.get(seat.traveler_id, str(seat.traveler_id))),
            "yes" if seat.is_primary else "",
            escape(seat.special_requirements or "-"),
            str(seat.price),
        )
    reached = [t for t in slot.group_discounts if booking.total_travelers >= t.min_travelers]
    discount_label = "Discount"
    if reached:
        discount_label = f"Group discount {reached[-1].percent.normalize():f}%"
    table.add_section()
    table.add_row("", "Subtotal", "", "", str(booking.subtotal))
    table.add_row("", discount_label, "", "", f"-{booking.discount}")
    table.add_row("", "[bold]Total[/bold]", "", "", f"[bold]{booking.total}[/bold]")
    return table


# ---------------------------------------------------------------------- the story


def run_demo(console: Console, database: str = DEFAULT_DATABASE) -> None:
    """Tell the bookingcore story on ``database``, printing each step to ``console``.

    ``database`` is an SQLAlchemy URL of an empty database (the demo creates its
    own reference data), or :data:`MEMORY`. The default SQLite file is deleted
    and created afresh each run.

    Raises:
        DemoError: ``database`` already holds data.
        BookingError: only if the library stops behaving as the story expects.
    """
    with (
        running_fake_stripe() as fake,
        running_partner_endpoint() as endpoint,
        # Only 127.0.0.1 is called: no proxy from the environment.
        HttpxWebhookSender(timeout=5, client=httpx.Client(trust_env=False)) as sender,
    ):
        stripe = StripeProvider(fake.api_key, [fake.webhook_secret], api_base=fake.url)
        _run_demo(console, database, _Locals(fake, stripe, endpoint, sender))


@attrs.frozen
class _Locals:
    """The demo's stand-ins on 127.0.0.1: Stripe, and a partner's webhook endpoint."""

    fake: FakeStripe
    stripe: StripeProvider
    endpoint: PartnerEndpoint
    sender: HttpxWebhookSender


def _run_demo(console: Console, database: str, local: _Locals) -> None:
    fake = local.fake
    if database == MEMORY:
        sms = ConsoleSmsSender()
        core = make_core(sms=sms, stripe=local.stripe, webhook_sender=local.sender)
        _tell_story(console, core, "in memory", sms, fake, local.endpoint)
        return
    url = make_url(database)
    if database == DEFAULT_DATABASE:
        for leftover in ("", "-wal", "-shm"):
            Path(f"{url.database}{leftover}").unlink(missing_ok=True)
    where = url.render_as_string(hide_password=True)
    store = SqlStore(url)
    try:
        store.migrate()
        with store.unit_of_work() as uow:
            if uow.locations.list():
                msg = f"{where} already holds data; give the demo an empty database"
                raise DemoError(msg)
        sms = ConsoleSmsSender()
        core = make_core(store, sms=sms, stripe=local.stripe, webhook_sender=local.sender)
        _tell_story(console, core, where, sms, fake, local.endpoint)
    finally:
        store.dispose()


class DemoError(Exception):
    """The demo cannot run where it was pointed."""


def _tell_story(
    console: Console,
    core: BookingCore,
    where: str,
    sms: ConsoleSmsSender,
    fake: FakeStripe,
    endpoint: PartnerEndpoint,
) -> None:
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    otp_login = Principal.system("otp-login")
    start = (core.context.clock.now() + timedelta(days=14)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )

    console.print(
        f"[bold]bookingcore demo[/bold] - storage: {escape(where)}, default phone region IN"
    )

    # 1. Reference data --------------------------------------------------------------
    _section(console, 1, "The operator sets up reference data")
    base_camp = core.catalog.add_location(
        "HAMPTA-BC", "Hampta Pass base camp", principal=admin, kind="base_camp"
    )
    dive_centre = core.catalog.add_location(
        "GOA-DIVE", "Goa dive centre", principal=admin, kind="dive_centre"
    )
    trek = core.catalog.add_product(
        "HAMPTA-TREK", "Hampta Pass trek", ProductKind.TREK, principal=admin
    )
    dive = core.catalog.add_product(
        "GOA-FUN-DIVE", "Grande Island fun dive", ProductKind.DIVE, principal=admin
    )
    trek_slot = core.catalog.create_slot(
        location_id=base_camp.id,
        product_id=trek.id,
        name="Hampta Pass trek",
        starts_at=start,
        ends_at=start + timedelta(days=5),
        price_per_traveler=Money("8500", "INR"),
        capacity=6,
        group_discounts=[DiscountTier(4, Decimal(10)), DiscountTier(8, Decimal(15))],
        principal=admin,
    )
    dive_slot = core.catalog.create_slot(
        location_id=dive_centre.id,
        product_id=dive.id,
        name="Goa reef dive",
        starts_at=start + timedelta(days=3),
        price_per_traveler=Money("4500", "INR"),
        capacity=4,
        principal=admin,
    )
    locations: list[Location] = list(core.catalog.list_locations(principal=admin))
    codes: dict[object, str] = {loc.id: loc.code for loc in locations}
    _say(console, "Locations: " + ", ".join(f"{loc.code} ({loc.kind})" for loc in locations))
    _say(
        console,
        "Products: "
        + ", ".join(
            f"{p.code} ({p.kind.value})"
            for p in sorted(core.catalog.list_products(principal=admin), key=lambda p: p.code)
        ),
    )
    console.print(_slots_table(core.catalog.list_slots(principal=admin), codes))
    tiers = ", ".join(
        f"{tier.percent.normalize():f}% from {tier.min_travelers} travelers"
        for tier in trek_slot.group_discounts
    )
    _say(console, f"Group discounts on the trek: {tiers}")

    # 2. Phone-first registration ----------------------------------------------------
    _section(console, 2, "A customer registers by phone alone")
    first = core.customers.register("98765 43210", principal=otp_login)
    customer = first.customer
    _say(console, f"register('98765 43210') -> {customer.phone} created={first.created}")
    again = core.customers.register("+91-98765-43210", principal=otp_login)
    same = "same customer" if again.customer.id == customer.id else "A DIFFERENT CUSTOMER"
    _say(
        console,
        f"register('+91-98765-43210') -> {again.customer.phone} created={again.created} ({same})",
    )
    me = Principal.customer(customer.id)
    customer = core.customers.complete_profile(
        customer.id, principal=me, name="Asha Verma", email="asha.verma@example.com"
    )
    _say(
        console,
        f"Profile completed: {customer.name} <{customer.email}>, "
        f"complete={customer.is_profile_complete}",
    )

    # 3. Saved travelers -------------------------------------------------------------
    _section(console, 3, "The customer saves two travelers")
    asha = core.travelers.add(
        customer.id,
        TravelerDetails(
            name="Asha Verma",
            age=29,
            gender="female",
            emergency_contact_name="Rohan Verma",
            emergency_contact_phone="98111 22233",
            special_requirements="Asthma inhaler",
        ),
        principal=me,
    )
    kabir = core.travelers.add(
        customer.id,
        TravelerDetails(
            name="Kabir Verma",
            age=12,
            gender="m",
            emergency_contact_name="Asha Verma",
            emergency_contact_phone="98765 43210",
        ),
        principal=me,
    )
    console.print(_travelers_table(core.travelers.list(customer.id, principal=me)))

    # 4. A group booking -------------------------------------------------------------
    _section(console, 4, "The customer books the trek for four travelers")
    booking = core.bookings.book(
        BookingRequest(
            slot_id=trek_slot.id,
            travelers=[
                SavedTraveler(asha.id, is_primary=True),
                SavedTraveler(kabir.id, special_requirements="Vegetarian meals"),
                NewTraveler(TravelerDetails("Dev Sharma", age=34, gender="male")),
                NewTraveler(TravelerDetails("Nisha Rao", age=31, gender="female")),
            ],
        ),
        principal=me,
    )
    names = {t.id: t.name for t in core.travelers.list(customer.id, principal=me)}
    console.print(_booking_table(booking, names, trek_slot))
    trek_slot = core.catalog.get_slot(trek_slot.id, principal=admin)
    _say(console, f"Seats left on {trek_slot.name}: {_seats(trek_slot)} of {trek_slot.capacity}")
    _say(console, f"The two inline travelers were saved too: {len(names)} saved travelers in all")

    # 5. A partner, held to its locations --------------------------------------------
    _section(console, 5, "A partner books where it is allowed, and only there")
    partner = core.partners.register(
        name="TrekMates",
        company_name="TrekMates Adventures Pvt Ltd",
        contact_email="ops@trekmates.example.com",
        allowed_location_ids=[base_camp.id],
        commission_rate=Decimal(15),
        principal=admin,
    ).partner
    _say(
        console,
        f"Partner {partner.name} registered: allowed at {base_camp.code} only, "
        f"commission {partner.commission_rate}%",
    )
    as_partner = Principal.partner(partner.id)
    partner_booking = core.bookings.book(
        BookingRequest(
            slot_id=trek_slot.id,
            customer=CustomerDetails("+91 99887 76655", name="Meera Nair"),
            travelers=[NewTraveler(TravelerDetails("Meera Nair", age=27), is_primary=True)],
        ),
        principal=as_partner,
    )
    _say(
        console,
        f"Booked {partner_booking.reference} at {base_camp.code} for a new customer: "
        f"source={partner_booking.source.value}",
    )
    _say(console, f"    partner_id={partner_booking.partner_id} ({partner.name})")
    stranger_phone = "+91 91234 56789"
    try:
        core.bookings.book(
            BookingRequest(
                slot_id=dive_slot.id,
                customer=CustomerDetails(stranger_phone, name="Imran Sheikh"),
                travelers=[NewTraveler(TravelerDetails("Imran Sheikh"), is_primary=True)],
            ),
            principal=as_partner,
        )
    except PermissionDeniedError as refused:
        _say(console, f"Partner books at {dive_centre.code}:")
        _say(console, f"    refused: {refused.message}")
    left_behind = core.customers.find_by_phone(stranger_phone, principal=admin)
    _say(
        console,
        "The refusal left no trace: "
        f"customer {stranger_phone} {'EXISTS' if left_behind else 'does not exist'}",
    )

    # 6. Capacity --------------------------------------------------------------------
    _section(console, 6, "Nobody can overbook")
    trek_slot = core.catalog.get_slot(trek_slot.id, principal=admin)
    _say(
        console, f"{trek_slot.name} has {_seats(trek_slot)} seat(s) left; the operator asks for 3."
    )
    try:
        core.bookings.book(
            BookingRequest(
                slot_id=trek_slot.id,
                customer=CustomerDetails("+91 98111 22233", name="Rohan Verma"),
                travelers=[
                    NewTraveler(TravelerDetails("Rohan Verma"), is_primary=True),
                    NewTraveler(TravelerDetails("Ira Verma")),
                    NewTraveler(TravelerDetails("Vik Verma")),
                ],
            ),
            principal=admin,
        )
    except CapacityError as full:
        _say(console, f"    refused ({full.code}): {full.message}")
        _say(console, f"    seats_left={full.seats_left}, requested={full.requested}")

    # 7. Typed validation errors -----------------------------------------------------
    _section(console, 7, "Bad input is refused with a typed error naming the field")
    try:
        core.customers.register("12345", principal=otp_login)
    except ValidationError as bad_phone:
        _field_errors(console, "register('12345')", bad_phone)
    try:
        core.bookings.book(
            BookingRequest(
                slot_id=trek_slot.id,
                travelers=[
                    SavedTraveler(asha.id, is_primary=True),
                    SavedTraveler(kabir.id, is_primary=True),
                ],
            ),
            principal=me,
        )
    except ValidationError as two_primaries:
        _field_errors(console, "book(two primary contacts)", two_primaries)
    try:
        core.travelers.add(
            customer.id,
            TravelerDetails(name="Z", age=200, emergency_contact_phone="555"),
            principal=me,
        )
    except ValidationError as bad_traveler:
        _field_errors(console, "travelers.add(name='Z', age=200, ...)", bad_traveler)

    # 8. Cancellation ----------------------------------------------------------------
    _section(console, 8, "The customer cancels; the seats come back")
    before = core.catalog.get_slot(trek_slot.id, principal=admin)
    cancelled = core.bookings.cancel(booking.id, principal=me, reason="Change of plans")
    after = core.catalog.get_slot(trek_slot.id, principal=admin)
    _say(
        console,
        f"{cancelled.reference} is {cancelled.status}; "
        f"seats left before: {_seats(before)}, after: {_seats(after)}",
    )

    # 9. Who sees what ---------------------------------------------------------------
    _section(console, 9, "Who sees what")
    everything = core.bookings.list(principal=admin)  # the first page, newest first
    partner_names = {
        pid: core.partners.get(pid, principal=admin).name
        for pid in {item.partner_id for item in everything if item.partner_id}
    }
    table = Table(title="All bookings, as the operator sees them")
    table.add_column("Reference")
    table.add_column("Source")
    table.add_column("Partner")
    table.add_column("Status")
    table.add_column("Travelers", justify="right")
    table.add_column("Total", justify="right")
    for item in everything:
        table.add_row(
            item.reference,
            item.source.value,
            escape(partner_names.get(item.partner_id, "-") if item.partner_id else "-"),
            item.status,
            str(item.total_travelers),
            str(item.total),
        )
    console.print(table)
    partner_sees = core.bookings.list(principal=as_partner)
    customer_sees = core.bookings.list(principal=me)
    _say(
        console,
        f"The operator sees {len(everything)} booking(s); "
        f"partner {partner.name} sees only its own {len(partner_sees)}: "
        + ", ".join(b.reference for b in partner_sees),
    )
    _say(
        console,
        f"Customer {customer.name} sees only their own {len(customer_sees)}: "
        + ", ".join(b.reference for b in customer_sees),
    )

    # 10. A booking travels through a lifecycle ---------------------------------------
    _section(console, 10, "A holiday travels through the travel lifecycle, and leaves a history")
    holiday = core.bookings.book(
        BookingRequest(
            slot_id=dive_slot.id,
            customer_id=customer.id,
            travelers=[SavedTraveler(asha.id, is_primary=True)],
            lifecycle="travel",
        ),
        principal=admin,
    )
    _say(console, f"{holiday.reference} follows the travel lifecycle, starting {holiday.status}")
    desk = admin.with_origin(ip_address="203.0.113.7", user_agent="travel-desk/2.1")
    steps = [
        ("quotation_sent", "Quote Q-118 emailed"),
        ("quotation_approved", "Approved on the phone"),
        ("booking_created", None),
        ("payment_pending", "Payment link sent"),
        ("payment_confirmed", None),
        ("supplier_confirmed", "Dive centre confirmed 2 tanks"),
        ("documents_generated", None),
        ("completed", "Back safe"),
    ]
    for target, note in steps:
        if target == "payment_confirmed":
            # Money moves a booking there, nobody by hand: the desk records the transfer.
            try:
                core.bookings.transition(holiday.id, target, principal=desk)
            except ValidationError as by_hand:
                _say(console, f"Marking it paid by hand -> {by_hand.errors[0].code} on status")
            core.payments.record_manual_payment(
                holiday.id, holiday.total, principal=desk, reference="pay_29QQoUBi66xm2f"
            )
            continue
        core.bookings.transition(
            holiday.id, target, principal=desk, note=note, idempotency_key=f"{holiday.id}:{target}"
        )
    retried = core.bookings.transition(
        holiday.id,
        "completed",
        principal=desk,
        note="Back safe",
        idempotency_key=f"{holiday.id}:completed",
    )
    _say(
        console,
        f"The desk retried its last move with the same key: replayed={retried.replayed}, "
        f"status stays {retried.booking.status}",
    )
    try:
        core.bookings.transition(holiday.id, "quotation_sent", principal=desk)
    except InvalidTransitionError as illegal:
        _say(console, f"Moving back to quotation_sent -> {illegal.code}: {illegal.message}")
    history = Table(title=escape(f"History of {holiday.reference}"))
    history.add_column("#", justify="right")
    history.add_column("From")
    history.add_column("To")
    history.add_column("By")
    history.add_column("Note")
    events = core.bookings.history(holiday.id, principal=admin)
    for event in events:
        history.add_row(
            str(event.booking_version),
            event.from_status or "(created)",
            event.to_status,
            escape(str(event.actor.kind.value)),
            escape(event.note or "-"),
        )
    console.print(history)
    documents = core.bookings.documents(holiday.id, principal=admin)
    _say(
        console, "Documents generated by the handlers: " + ", ".join(d.filename for d in documents)
    )
    for message in core.communications.for_booking(holiday.id, principal=admin):
        _say(
            console,
            f"Message logged: {message.type.value} by {message.channel.value} to "
            f"{message.recipient}, status {message.status.value}",
        )
    trail = core.bookings.audit_trail(holiday.id, principal=admin)
    last = trail[-1]
    _say(
        console,
        f"Audit trail: {len(trail)} entries; the last: {last.action.value} "
        f"{last.old_values.get('status')} -> {last.new_values.get('status')} "
        f"by {last.actor.kind.value} from {last.ip_address} ({last.user_agent})",
    )
    cancelled_history = core.bookings.history(booking.id, principal=admin)
    moves = " -> ".join(e.to_status for e in cancelled_history)
    _say(console, f"And the cancelled trek booking {booking.reference}: {moves}")

    _section(console, 11, "A dealership imports a spreadsheet with a few bad rows")
    _import_story(console, core, admin)

    _section(console, 12, "The customer signs in on the app with a code by SMS")
    _phone_sign_in_story(console, core, sms)

    _section(console, 13, "The customer pays by card through Stripe; staff refund part of it")
    _payment_story(console, core, admin, me, trek_slot, fake)

    _section(console, 14, "The in-process job runner sends a reminder and a partner webhook, once")
    _reminder_story(console, core, admin, base_camp, endpoint)

    _section(
        console, 15, "A cancellation offers its seats to the waiting list; groups; a reschedule"
    )
    _waitlist_story(console, core, admin, base_camp, start)

    _section(console, 16, "A holiday from a lead, through two quotations, to every supplier's yes")
    _travel_story(console, core, admin, start)

    _section(console, 17, "Staff open the customer's page")
    assert me.id is not None
    customer_view_story(console, core, admin, CustomerId(me.id))


def _payment_story(
    console: Console,
    core: BookingCore,
    admin: Principal,
    me: Principal,
    slot: Slot,
    fake: FakeStripe,
) -> None:
    """Seed 003: an intent, the provider's signed webhook (twice), the booking paid, a refund."""
    booking = core.bookings.book(
        BookingRequest(slot.id, [NewTraveler(TravelerDetails("Meera Joshi"), is_primary=True)]),
        principal=me,
    )
    intent = core.payments.create_intent(
        booking.id, "stripe", principal=me, idempotency_key=f"pay-{booking.reference}"
    )
    payment = intent.payment
    _say(
        console,
        f"create_intent({booking.reference}) -> {payment.provider_reference} for "
        f"{payment.amount}, client secret for the app: {bool(intent.client_secret)}",
    )
    reference = payment.provider_reference or ""
    paid = fake.succeed(reference)  # the customer confirmed the card in the app
    headers, body = fake.event("payment_intent.succeeded", paid)
    receipt = core.payments.handle_webhook("stripe", headers, body)
    again = core.payments.handle_webhook("stripe", headers, body)
    _say(
        console,
        f"Stripe's signed webhook -> receipt {receipt.status.value}; delivered again -> "
        f"the same receipt ({again.id == receipt.id}), applied once",
    )
    status = core.bookings.get(booking.id, principal=me).status
    _say(console, f"{booking.reference} is now {status}: the payment covered its total")
    try:
        core.payments.handle_webhook("stripe", headers, body.replace(b"succeeded", b"canceled"))
    except AuthenticationError as refused:
        _say(console, f"A tampered delivery -> {refused.code}; nothing stored")
    part = Money(payment.amount.amount / 2, payment.amount.currency)
    refund = core.payments.refund(
        payment.id, part, principal=admin, idempotency_key="desk-refund-1", reason="one night less"
    )
    (after,) = core.payments.for_booking(booking.id, principal=admin)
    _say(
        console,
        f"refund({part}) -> {refund.status.value} ({refund.provider_reference}); the payment "
        f"is {after.status.value}, {after.refundable_amount} left to refund",
    )


#: The sample sheet of the import step: two good rows, four bad ones.
SAMPLE_SHEET = (
    ("Customer Name", "Mobile", "Email", "Dealer Code", "Booking Date", "External ID",
     "Car Variant", "Status", "Notes"),
    ("Kiran Patel", "98200 11111", "kiran@example.com", "DL01", "2026-12-05", "CRM-1",
     "City VX", "pending", "test drive"),
    ("Lata Iyer", "+91 98200 22222", "", "DL02", "06-12-2026", "CRM-2", "City VX",
     "ASSIGNED", ""),
    ("Mohan Das", "98200 33333", "mohan@", "DL01", "2026-12-07", "CRM-3", "", "", ""),
    ("Nisha Rao", "12345", "", "DL09", "2026-12-08", "CRM-4", "", "", ""),
    ("Om", "98200 55555", "", "DL02", "31-02-2026", "CRM-5", "", "flying", ""),
    ("Priya Sen", "98200 666", "", "DL02", "2026-12-09", "CRM-6", "", "",
     "@SUM(A1:A9)"),
)  # fmt: skip


def _import_story(console: Console, core: BookingCore, admin: Principal) -> None:
    """Seed 004: reference data, a sample XLSX with bad rows, the import and its error report."""
    import openpyxl  # noqa: PLC0415 - the import step alone needs the imports extra

    from bookingcore import ImportSettings  # noqa: PLC0415
    from bookingcore_adapters.importers import open_rows, write_error_csv  # noqa: PLC0415

    core.catalog.add_location("DL01", "Pune Motors", kind="dealer", principal=admin)
    core.catalog.add_location("DL02", "Mumbai Motors", kind="dealer", principal=admin)
    core.catalog.add_product("CITY-VX", "City VX", ProductKind.CAR_VARIANT, principal=admin)
    core.staff.add("ravi@example.com", "Ravi", principal=admin, locations=["DL01"])
    core.staff.add("meera@example.com", "Meera", principal=admin, locations=["DL02"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dealer-bookings.xlsx"
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("Bookings")
        for values in SAMPLE_SHEET:
            sheet.append(values)
        book.save(path)
        source = open_rows(path)
        _say(
            console,
            f"{path.name}: {source.file_format}, {source.size} bytes, header {source.header}",
        )
        settings = ImportSettings(assignment="dealer_based")
        job = core.imports.run_file(source, principal=admin, settings=settings)
        _say(
            console,
            f"Import {job.status.value}: {job.total_rows} rows, {job.created} created, "
            f"{job.failed} failed; errors by kind {dict(job.error_summary)}",
        )
        errors = list(every_item(partial(core.imports.errors, job.id, principal=admin)))
        for error in errors:
            _say(console, f"  row {error.row_number}: {error.message}")
        report = Path(folder) / "dealer-bookings.errors.csv"
        write_error_csv(errors, source.header, report)
        _say(console, f"Error report {report.name} (formulas escaped):")
        for line in report.read_text(encoding="utf-8-sig").splitlines():
            _say(console, "  " + line)


def _phone_sign_in_story(console: Console, core: BookingCore, sms: ConsoleSmsSender) -> None:
    """Seed 000: a code by SMS, tokens that name the customer, a refresh, a logout."""
    phone = "98765 43210"
    sent = core.auth.request_otp(phone, client_key="203.0.113.50")
    to, text, _ = sms.sent[-1]
    _say(
        console,
        f"request_otp('{phone}') -> a code for {to.masked()}, valid until {_when(sent.expires_at)}",
    )
    _say(console, f"The console SMS sender captured: {text}")
    found = re.search(r"\b(\d{6})\b", text)
    assert found is not None
    code = found.group(1)
    try:
        core.auth.request_otp(phone, client_key="203.0.113.50")
    except RateLimitedError as wait:
        _say(console, f"Asking again at once -> {wait.code}, retry after {wait.retry_after:.0f} s")
    signed = core.auth.verify_otp(
        phone, code, origin=RequestOrigin("203.0.113.50", "himalaya-app/2.4")
    )
    customer = signed.customer
    assert customer is not None
    _say(
        console,
        f"verify_otp('{phone}', <the code>) -> {customer.name} ({customer.phone}), "
        f"created={signed.created}",
    )
    tokens = signed.tokens
    principal = core.auth.authenticate(tokens.access_token, expect="customer")
    same = "the customer" if principal == Principal.customer(customer.id) else "SOMEONE ELSE"
    _say(
        console,
        f"The access token decodes to {principal} ({same}); it expires "
        f"{_when(tokens.access_expires_at)}",
    )
    try:
        core.auth.authenticate(tokens.access_token, expect="staff")
    except AuthenticationError as refused:
        _say(console, f"The same token at a staff endpoint -> {refused.code}: {refused.message}")
    assert tokens.refresh_token is not None
    renewed = core.auth.refresh(tokens.refresh_token)
    _say(
        console,
        f"refresh() -> a new pair; the new access token is {principal} too: "
        f"{core.auth.authenticate(renewed.access_token, expect='customer') == principal}",
    )
    core.auth.logout(renewed.access_token)
    try:
        core.auth.authenticate(renewed.access_token, expect="customer")
    except AuthenticationError as ended:
        _say(console, f"logout(), then the access token -> {ended.code}: {ended.message}")


def _reminder_story(
    console: Console,
    core: BookingCore,
    admin: Principal,
    location: Location,
    endpoint: PartnerEndpoint,
) -> None:
    """Issue 23: a booking starting soon gets its reminder from the ``reminders.send_due``
    job, and a partner's booking reaches the partner's endpoint (on 127.0.0.1) as a
    Standard Webhooks request sent by the ``webhooks.deliver_due`` job."""
    queue = core.jobs.queue
    assert isinstance(queue, InProcessJobQueue)
    soon = core.catalog.create_slot(
        location_id=location.id,
        starts_at=core.context.clock.now() + timedelta(hours=3),
        price_per_traveler=Money("1500", "INR"),
        capacity=10,
        name="Sunrise hike",
        principal=admin,
    )
    booking = core.bookings.book(
        BookingRequest(
            soon.id,
            [NewTraveler(TravelerDetails("Kabir Rao"), is_primary=True)],
            customer=CustomerDetails("+91 90000 12345", name="Kabir Rao"),
        ),
        principal=admin,
    )
    partner = core.partners.register(
        name="PeakStays",
        company_name="PeakStays Hostels Pvt Ltd",
        contact_email="tech@peakstays.example.com",
        allowed_location_ids=[location.id],
        webhook_url=endpoint.url,
        principal=admin,
    ).partner
    endpoint.secret = partner.webhook_secret or ""
    as_partner = Principal.partner(partner.id)
    guest = core.customers.register("+91 90000 54321", name="Meera Iyer", principal=as_partner)
    partner_booking = core.bookings.book(
        BookingRequest(
            soon.id,
            [NewTraveler(TravelerDetails("Meera Iyer"), is_primary=True)],
            customer_id=guest.customer.id,
        ),
        principal=as_partner,
    )
    _say(
        console,
        f"{booking.reference} starts in 3 hours; partner {partner.name} booked "
        f"{partner_booking.reference} (its webhook URL: {endpoint.url}); the runner's jobs: ",
    )
    ran = queue.run_pending()
    for record in sorted(queue.list_jobs(), key=lambda r: r.name):
        _say(console, f"  {record.name}: {record.state.value} (attempt {record.attempts})")
    for message in core.communications.for_booking(booking.id, principal=admin):
        _say(
            console,
            f"{message.type.value} to {message.recipient} by {message.channel.value}: "
            f"{message.status.value} (dedupe key {message.dedupe_key})",
        )
    for delivery in core.webhooks.list(principal=admin, partner_id=partner.id).items:
        (attempt, *_) = core.webhooks.attempts(delivery.id, principal=admin)
        _say(
            console,
            f"webhook {delivery.topic.value} {delivery.webhook_id} to {partner.name}: "
            f"{delivery.status.value} after {delivery.attempts} attempt(s), "
            f"HTTP {attempt.status_code}",
        )
    for got in endpoint.received:
        payload = got.payload or {}
        data = payload.get("data", {})
        _say(
            console,
            f"{partner.name}'s endpoint verified it with the standardwebhooks package: "
            f"signature ok={got.verified}, webhook-id {got.webhook_id}, "
            f"type {payload.get('type')}, booking {data.get('booking', {}).get('reference')}",
        )
    again = queue.run_pending()
    sent = core.communications.for_booking(booking.id, principal=admin)
    _say(
        console,
        f"run_pending() ran {ran} jobs; run again at once -> {again} jobs, "
        f"{len(sent)} reminder in the log, {len(endpoint.received)} webhook at the partner "
        "(the periodic jobs are not due yet)",
    )
    counts = core.jobs.counters.snapshot()
    _say(
        console,
        "counters a host can export: "
        f"reminders.send_due succeeded={counts[('reminders.send_due', 'succeeded')]}, "
        f"webhooks.deliver_due succeeded={counts[('webhooks.deliver_due', 'succeeded')]}",
    )


def _waitlist_story(
    console: Console, core: BookingCore, admin: Principal, camp: Location, start: datetime
) -> None:
    """Section 14 (issue 22): waiting list, accepted offer, a group, a reschedule."""
    batch = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=start + timedelta(days=21),
        price_per_traveler=Money("8500", "INR"),
        capacity=2,
        name="Hampta Pass late batch",
        principal=admin,
    )
    later = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=start + timedelta(days=28),
        price_per_traveler=Money("9000", "INR"),
        capacity=6,
        name="Hampta Pass last batch",
        principal=admin,
    )
    register = core.customers.register
    kavya = register("+919800011111", name="Kavya Iyer", principal=admin).customer
    rohan = register("+919800022222", name="Rohan Das", principal=admin).customer
    full = core.bookings.book(
        BookingRequest(
            batch.id,
            [
                NewTraveler(TravelerDetails("Kavya Iyer"), is_primary=True),
                NewTraveler(TravelerDetails("Arjun Iyer")),
            ],
            customer_id=kavya.id,
        ),
        principal=admin,
    )
    entry = core.waitlists.join(batch.id, customer_id=rohan.id, seats=2, principal=admin)
    place = core.waitlists.place(entry.id, principal=admin)
    _say(console, f"{batch.name} is full; {rohan.name} waits at place {place.place} for 2 seats")
    core.bookings.cancel(full.id, principal=admin, reason="Exams moved")
    offered = core.waitlists.get(entry.id, principal=admin)
    held = core.catalog.get_slot(batch.id, principal=admin)
    expires = offered.offer_expires_at
    _say(
        console,
        f"{full.reference} cancelled: the 2 seats are offered to {rohan.name} "
        f"({offered.status.value} until {_when(expires) if expires else '?'}); "
        f"seats left for anyone else: {held.seats_left}",
    )
    taken = core.waitlists.accept(
        entry.id,
        [
            NewTraveler(TravelerDetails("Rohan Das"), is_primary=True),
            NewTraveler(TravelerDetails("Isha Das")),
        ],
        principal=Principal.customer(rohan.id),
    )
    _say(
        console,
        f"{rohan.name} accepts: booking {taken.reference} ({taken.total_travelers} travelers, "
        f"{taken.total}); entry {core.waitlists.get(entry.id, principal=admin).status.value}",
    )

    group = core.groups.create(
        "college-trek-2026",
        organizer_id=kavya.id,
        group_name="College trek club",
        total_participants=4,
        principal=admin,
    )
    for name, phone in (("Neha Kapoor", "+919800033333"), ("Vikram Rao", "+919800044444")):
        member = register(phone, name=name, principal=admin).customer
        core.bookings.book(
            BookingRequest(
                later.id,
                [
                    NewTraveler(TravelerDetails(name), is_primary=True),
                    NewTraveler(TravelerDetails(f"{name.split()[0]}'s friend")),
                ],
                customer_id=member.id,
                group_id=group.id,
            ),
            principal=admin,
        )
    totals = core.groups.totals(group.id, principal=admin)
    _say(
        console,
        f"Group {group.group_reference}: {totals.bookings} bookings, {totals.travelers} "
        f"travelers, amount {totals.amount}, paid {totals.paid}, due {totals.due}",
    )

    moved = core.bookings.reschedule(taken.id, later.id, principal=admin, reason="Wants later")
    _say(
        console,
        f"{taken.reference} rescheduled to {later.name} on {_when(later.starts_at)}: "
        f"price difference {moved.price_difference}, now {moved.booking.total}",
    )


def _travel_story(console: Console, core: BookingCore, admin: Principal, start: datetime) -> None:
    """Seed 003: a lead, quotation versions 1 and 2, approval into a booking with the
    items of two suppliers (one priced in EUR), their answers, and the itinerary."""
    leh = core.catalog.add_location("LEH", "Leh, Ladakh", principal=admin, kind="base_camp")
    departure = core.catalog.create_slot(
        location_id=leh.id,
        starts_at=start + timedelta(days=21),
        price_per_traveler=Money("20000", "INR"),
        capacity=12,
        name="Ladakh by jeep",
        principal=admin,
    )
    hotel = core.catalog.add_supplier("LAKESIDE", "Lakeside Hotel", principal=admin)
    jeeps = core.catalog.add_supplier("LADAKH-JEEPS", "Ladakh Jeeps", principal=admin)
    lead = core.leads.capture(
        LeadRequest(
            source="web_form",
            phone="98111 22333",
            name="Nisha Verma",
            destination="Ladakh",
            travelers=2,
        ),
        principal=Principal.system("website"),
    )
    _say(console, f"Lead from the web form: {lead.destination}, status {lead.status.value}")
    first_day = departure.starts_at.date()

    def lines(nights: int) -> list[QuoteLine]:
        return [
            QuoteLine(
                kind="hotel",
                description=f"Lakeside Hotel, {nights} nights, twin room",
                quantity=nights,
                unit_price=Money("80", "EUR"),
                supplier_id=hotel.id,
                service_starts_on=first_day,
                service_ends_on=first_day + timedelta(days=nights),
            ),
            QuoteLine(
                kind="ground_service",
                description="Airport pick-up by jeep",
                quantity=1,
                unit_price=Money("2500", "INR"),
                supplier_id=jeeps.id,
                service_starts_on=first_day,
            ),
        ]

    first = core.quotations.create(
        QuotationRequest(
            customer_id=lead.customer_id,
            lead_id=lead.id,
            slot_id=departure.id,
            travelers=2,
            lines=lines(2),
            valid_until=(start + timedelta(days=7)).date(),
        ),
        principal=admin,
    )
    core.quotations.send(first.id, principal=admin)
    _say(console, f"{first.reference} v1 sent: {first.total} (the hotel at 1 EUR = 90.25 INR)")
    second = core.quotations.revise(first.id, lines=lines(3), principal=admin)
    sent = core.quotations.send(second.id, principal=admin)
    _say(
        console,
        f"{second.reference} v2 (one more night) sent: {second.total}; "
        f"logged as a {sent.communication.type.value} message ({sent.communication.status.value})",
    )
    customer = Principal.customer(lead.customer_id)
    party = [
        NewTraveler(TravelerDetails("Nisha Verma"), is_primary=True),
        NewTraveler(TravelerDetails("Arjun Verma")),
    ]
    try:
        core.quotations.approve(first.id, party, principal=customer)
    except QuotationSupersededError as old:
        _say(console, f"Approving v1 -> {old.code} on {old.fields[0]}: {old.message}")
    booking = core.quotations.approve(second.id, party, principal=customer)
    _say(
        console,
        f"The customer approves v2 -> booking {booking.reference}, {booking.status}, "
        f"total {booking.total} (items {booking.items_total})",
    )
    deposit = Money("20000", booking.currency)
    core.payments.record_manual_payment(booking.id, deposit, principal=admin, reference="DEP-1")
    status = core.bookings.get(booking.id, principal=admin).status
    _say(console, f"A {deposit} deposit at the desk -> the booking is {status}")
    balance = booking.total - deposit
    core.payments.record_manual_payment(booking.id, balance, principal=admin, reference="BAL-1")
    booking = core.bookings.get(booking.id, principal=admin)
    _say(console, f"The {balance} balance by bank transfer -> the booking is {booking.status}")
    items = {i.supplier_id: i for i in core.items.for_booking(booking.id, principal=admin)}
    hotel_item, jeep_item = items[hotel.id], items[jeeps.id]
    hotel_user = Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=hotel.id)
    jeep_user = Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=jeeps.id)
    seen = core.items.for_booking(booking.id, principal=hotel_user)
    _say(console, f"The hotel sees {len(seen)} of the booking's 2 items: {seen[0].description}")
    core.items.confirm(hotel_item.id, principal=hotel_user, supplier_reference="LKS-2231")
    core.items.reject(jeep_item.id, "no jeep free at that hour", principal=jeep_user)
    rejected = core.items.for_supplier(principal=jeep_user).items[0]
    _say(console, f"Ladakh Jeeps rejects: {rejected.rejection_reason!r}; staff ask again")
    core.items.request_again(jeep_item.id, principal=admin)
    core.items.confirm(jeep_item.id, principal=jeep_user, supplier_reference="LJ-77")
    status = core.bookings.get(booking.id, principal=admin).status
    _say(console, f"Both suppliers confirmed -> the booking is {status}")
    plan = core.itineraries.generate(booking.id, principal=admin)
    table = Table("day", "plan", title=f"Itinerary of {booking.reference}")
    for day in plan.days:
        table.add_row(f"{day.day.isoformat()} {day.title}", "; ".join(day.entries))
    console.print(table)
