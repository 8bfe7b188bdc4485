"""Loyalty tiers on every store: the figures they are judged on, the discount the one
booking path applies once and records, and prices that later tier changes never touch.

Each test runs on memory, SQLite and PostgreSQL, with the same expected figures.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    BookingRequest,
    DiscountTier,
    LoyaltyProgram,
    LoyaltyTier,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, BookingSource, Slot
from bookingcore.domain.values import CustomerId
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


def inr(amount: str) -> Money:
    return Money(amount, "INR")


PROGRAM = LoyaltyProgram(
    [
        LoyaltyTier("Member"),
        LoyaltyTier("Silver", min_completed_bookings=1, discount_percent=Decimal(5)),
        LoyaltyTier(
            "Gold",
            min_completed_bookings=3,
            min_spent={"INR": inr("2500")},
            discount_percent=Decimal("12.5"),
        ),
    ]
)


class Shop:
    """A walk (1,000 INR a head, 10 % off from four travelers) and a loyalty program."""

    def __init__(
        self, store: MemoryStore | SqlStore, program: LoyaltyProgram | None = PROGRAM
    ) -> None:
        self.store = store
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", loyalty=program),
        )
        self._n = itertools.count(1)
        self.make = Builder()
        self.city = self.core.catalog.add_location("CITY", "City walks", principal=ADMIN)
        self.slot = self.slot_on(5)
        self.customer = self.core.customers.register(
            "+919876500001", principal=ADMIN, name="Asha Rao"
        ).customer.id

    def slot_on(self, days: int) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.city.id,
            starts_at=self.clock.now() + timedelta(days=days),
            price_per_traveler=inr("1000"),
            capacity=50,
            group_discounts=(DiscountTier(4, Decimal(10)),),
            name="Old town walk",
            principal=ADMIN,
        )

    def book(
        self, *, travelers: int = 1, slot: Slot | None = None, code: str | None = None
    ) -> Booking:
        request = BookingRequest(
            (slot or self.slot).id,
            [
                NewTraveler(TravelerDetails(f"Walker {next(self._n)}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer_id=self.customer,
            voucher_code=code,
        )
        return self.core.bookings.book(request, principal=ADMIN)

    def complete(self, booking: Booking) -> None:
        self.core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        self.core.bookings.transition(booking.id, "completed", principal=ADMIN)

    def pay(self, booking: Booking, amount: str) -> None:
        payment = self.make.payment(booking)
        payment.captured_amount = inr(amount)
        with self.store.unit_of_work() as uow:
            uow.payments.add(payment)
            uow.commit()


def test_a_new_customer_is_in_the_base_tier_and_pays_the_full_price(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    status = shop.core.customers.loyalty(shop.customer, principal=ADMIN)
    assert status.tier is not None
    assert status.tier.name == "Member"
    assert (status.completed_bookings, status.spent) == (0, ())
    assert status.next_tier is not None
    assert (status.next_tier.name, status.bookings_to_next, status.spent_to_next) == (
        "Silver",
        1,
        (),
    )
    booking = shop.book()
    assert (booking.total, booking.loyalty_tier, booking.loyalty_discount) == (
        inr("1000"),
        None,
        None,
    )


def test_the_tier_discount_comes_after_the_group_tier_before_the_voucher_and_is_kept(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.complete(shop.book())
    shop.core.vouchers.create(code="SAVE10", percent_off="10", principal=ADMIN)
    booking = shop.book(travelers=4, code="save10")
    # 4,000 less the 10 % group tier is 3,600; Silver's 5 % of that is 180; the
    # voucher's 10 % of the 3,420 left is 342.
    assert booking.subtotal == inr("4000")
    assert (booking.loyalty_tier, booking.loyalty_percent) == ("Silver", Decimal(5))
    assert booking.loyalty_discount == inr("180")
    assert booking.voucher_discount == inr("342")
    assert booking.discount == inr("922")
    assert booking.total == inr("3078")
    stored = shop.core.bookings.get(booking.id, principal=ADMIN)
    assert (
        stored.loyalty_tier,
        stored.loyalty_percent,
        stored.loyalty_discount,
        stored.total,
    ) == ("Silver", Decimal(5), inr("180"), inr("3078"))


def test_a_later_tier_change_never_reprices_a_booking(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.complete(shop.book())
    silver = shop.book(travelers=2)
    assert (silver.loyalty_tier, silver.total) == ("Silver", inr("1900"))
    # Two more completed bookings and 2,500 spent: Gold now.
    for _ in range(2):
        done = shop.book()
        shop.pay(done, "1250")
        shop.complete(done)
    status = shop.core.customers.loyalty(shop.customer, principal=ADMIN)
    assert status.tier is not None
    assert status.tier.name == "Gold"
    assert (status.completed_bookings, status.spent, status.next_tier) == (3, (inr("2500"),), None)
    gold = shop.book()
    assert (gold.loyalty_tier, gold.loyalty_discount, gold.total) == (
        "Gold",
        inr("125"),
        inr("875"),
    )
    again = shop.core.bookings.get(silver.id, principal=ADMIN)
    assert (again.loyalty_tier, again.total, again.version) == ("Silver", inr("1900"), 1)
    # Moving the Silver booking reprices it with Silver's 5 %, not Gold's.
    later = shop.slot_on(9)
    moved = shop.core.bookings.reschedule(silver.id, later.id, principal=ADMIN)
    assert (moved.booking.loyalty_tier, moved.booking.loyalty_discount) == ("Silver", inr("100"))
    assert moved.booking.total == inr("1900")


def test_money_alone_is_not_enough_and_any_missing_part_is_reported(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    first = shop.book()
    shop.pay(first, "4000")
    shop.complete(first)
    status = shop.core.customers.loyalty(shop.customer, principal=ADMIN)
    assert status.tier is not None
    assert status.tier.name == "Silver"
    assert (status.bookings_to_next, status.spent_to_next) == (2, ())
    assert status.discount_percent == Decimal(5)


def test_without_discounting_tiers_no_figures_are_read_and_nothing_comes_off(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store, LoyaltyProgram([LoyaltyTier("Friend", min_completed_bookings=1)]))
    shop.complete(shop.book())
    booking = shop.book()
    assert (booking.total, booking.loyalty_tier) == (inr("1000"), None)
    assert shop.core.customers.loyalty(shop.customer, principal=ADMIN).tier is not None


def test_without_a_program_loyalty_is_refused_and_the_view_has_none(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store, None)
    with pytest.raises(ValidationError) as refused:
        shop.core.customers.loyalty(shop.customer, principal=ADMIN)
    assert (refused.value.fields, refused.value.errors[0].code) == (("loyalty",), "not_configured")
    assert shop.core.customers.view(shop.customer, principal=ADMIN).loyalty is None


def test_the_view_shows_the_tier_to_staff_and_the_customer_not_to_a_partner(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.complete(shop.book())
    view = shop.core.customers.view(shop.customer, principal=ADMIN)
    assert view.loyalty is not None
    assert view.loyalty.tier is not None
    assert view.loyalty.tier.name == "Silver"
    own = shop.core.customers.view(shop.customer, principal=Principal.customer(shop.customer))
    assert own.loyalty == view.loyalty


def test_only_who_sees_all_the_customers_bookings_reads_the_figures(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    partner = shop.make.partner()
    theirs = shop.make.customer(partner_id=partner.id)
    with any_store.unit_of_work() as uow:
        uow.partners.add(partner)
        uow.customers.add(theirs)
        uow.commit()
    agent = Principal.partner(partner.id)
    # The partner sees its customer, but only its own bookings of theirs.
    assert shop.core.customers.view(theirs.id, principal=agent).loyalty is None
    with pytest.raises(PermissionDeniedError):
        shop.core.customers.loyalty(theirs.id, principal=agent)
    assert shop.core.customers.loyalty(theirs.id, principal=ADMIN).completed_bookings == 0
    with pytest.raises(NotFoundError):
        shop.core.customers.loyalty(CustomerId(uuid4()), principal=ADMIN)
    with pytest.raises(NotFoundError):
        shop.core.customers.loyalty(shop.customer, principal=agent)


def test_an_import_books_through_the_same_rule(any_store: MemoryStore | SqlStore) -> None:
    """A row for a customer on file gets their tier's discount, judged from the stored
    figures; a row registering a new customer gets the tier of no figures."""
    shop = Shop(any_store)
    shop.complete(shop.book())
    header = ("Customer Name", "customer_phone", "dealer_code", "booking_date", "slot_id")
    day = f"{shop.slot.starts_at:%Y-%m-%d}"
    rows = [
        ("Asha Rao", "+919876500001", "CITY", day, str(shop.slot.id)),
        ("New Walker", "+919876500099", "CITY", day, str(shop.slot.id)),
    ]
    job = shop.core.imports.run_file(ListSource(header, rows), principal=ADMIN)
    assert (job.created, job.failed) == (2, 0)
    found = shop.core.bookings.list(BookingFilter(), principal=ADMIN, page=PageRequest(limit=10))
    by_customer = {b.customer_id: b for b in found if b.source is BookingSource.IMPORT}
    mine = by_customer.pop(shop.customer)
    assert (mine.loyalty_tier, mine.loyalty_discount, mine.total) == (
        "Silver",
        inr("50"),
        inr("950"),
    )
    (newcomer,) = by_customer.values()
    assert (newcomer.loyalty_tier, newcomer.total) == (None, inr("1000"))


def test_a_voucher_check_tells_a_customers_tier_and_uses_only_to_whom_may_see_them(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.complete(shop.book())  # Asha is Silver now
    shop.core.vouchers.create(
        code="ONCE10", percent_off="10", max_uses_per_customer=1, principal=ADMIN
    )
    partner = shop.core.partners.register(
        name="Agent",
        company_name="Agent Pvt Ltd",
        contact_email="ops@agent.example.com",
        allowed_location_ids=[shop.city.id],
        principal=ADMIN,
    ).partner
    agent = Principal.partner(partner.id)
    # Staff see Asha's standing; a partner that did not bring her learns nothing of it.
    staff_quote = shop.core.vouchers.check(
        "ONCE10", shop.slot.id, 1, principal=ADMIN, customer_id=shop.customer
    )
    assert staff_quote.loyalty_tier == "Silver"
    for someone in (shop.customer, CustomerId(uuid4())):
        with pytest.raises(ValidationError) as refused:
            shop.core.vouchers.check(
                "ONCE10", shop.slot.id, 1, principal=agent, customer_id=someone
            )
        assert (refused.value.fields, refused.value.errors[0].code) == (
            ("customer_id",),
            "unknown_reference",
        )
    with pytest.raises(ValidationError) as unknown:
        shop.core.vouchers.check(
            "ONCE10", shop.slot.id, 1, principal=ADMIN, customer_id=CustomerId(uuid4())
        )
    assert unknown.value.fields == ("customer_id",)
    # Its own customer it may name, and the answer is what its booking would cost.
    own = shop.core.customers.register("+919876500002", principal=agent, name="Ravi").customer
    quote = shop.core.vouchers.check("ONCE10", shop.slot.id, 1, principal=agent, customer_id=own.id)
    assert quote.voucher_discount == inr("100")


def test_a_tier_percent_finer_than_a_booking_keeps_is_refused(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A booking keeps its loyalty percent to four decimal places on every store
    (PostgreSQL's ``NUMERIC(7, 4)`` rounds a finer one, so a later change of the
    booking would reprice it otherwise than on memory or SQLite)."""
    with pytest.raises(ValidationError) as refused:
        LoyaltyTier("Fine", discount_percent="7.12345")
    assert (refused.value.fields, refused.value.errors[0].code) == (
        ("discount_percent",),
        "too_precise",
    )
    with pytest.raises(ValidationError) as read:
        LoyaltyProgram.from_dict({"tiers": [{"name": "Fine", "discount_percent": "7.00001"}]})
    assert read.value.fields == ("loyalty.tiers[0].discount_percent",)
    program = LoyaltyProgram([LoyaltyTier("Fine", discount_percent="7.1235")])
    shop = Shop(any_store, program)
    booking = shop.book(travelers=3)
    stored = shop.core.bookings.get(booking.id, principal=ADMIN)
    assert (stored.loyalty_percent, stored.loyalty_discount) == (Decimal("7.1235"), inr("213.71"))
