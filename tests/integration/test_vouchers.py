"""Vouchers on every store: made by staff, used through the one booking path, counted
once per booking in the booking's own transaction, never past ``max_uses`` however many
bookings race for the last use, and given nothing back by a refused booking or a retry."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs
import pytest
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    DiscountTier,
    DuplicateError,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, Slot
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.values import CustomerId
from bookingcore.domain.vouchers import Voucher, VoucherFilter
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
EDITOR = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.EDITOR)


def inr(amount: str) -> Money:
    return Money(amount, "INR")


class Shop:
    """A tour operator with a slot (1,000 INR a head, 10 % off from four travelers)."""

    def __init__(self, store: MemoryStore | SqlStore, *, capacity: int = 20) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            payment_providers=[ManualProvider()],
        )
        self._n = itertools.count(1)
        self.city = self.core.catalog.add_location("CITY", "City walks", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=self.city.id,
            starts_at=self.clock.now() + timedelta(days=5),
            price_per_traveler=inr("1000"),
            capacity=capacity,
            group_discounts=(DiscountTier(4, Decimal(10)),),
            name="Old town walk",
            principal=ADMIN,
        )

    def customer(self) -> CustomerId:
        n = next(self._n)
        return self.core.customers.register(
            f"+9198765{n:05d}", principal=ADMIN, name=f"Walker {n}"
        ).customer.id

    def request(
        self, customer: CustomerId, code: str | None, *, travelers: int = 1
    ) -> BookingRequest:
        return BookingRequest(
            self.slot.id,
            [
                NewTraveler(TravelerDetails(f"Walker {next(self._n)}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer_id=customer,
            voucher_code=code,
        )

    def book(
        self,
        code: str | None,
        *,
        travelers: int = 1,
        customer: CustomerId | None = None,
        principal: Principal = ADMIN,
        key: str | None = None,
    ) -> Booking:
        request = self.request(customer or self.customer(), code, travelers=travelers)
        return self.core.bookings.book(request, principal=principal, idempotency_key=key)

    def voucher(self, code: str = "summer10", **terms: object) -> Voucher:
        if "percent_off" not in terms and "amount_off" not in terms:
            terms["percent_off"] = "10"
        return self.core.vouchers.create(code=code, principal=ADMIN, **terms)  # type: ignore[arg-type]

    def uses(self, voucher: Voucher) -> int:
        return self.core.vouchers.get(voucher.id, principal=ADMIN).uses


def _code(exc: BaseException) -> tuple[str, str]:
    assert isinstance(exc, ValidationError), exc
    return exc.errors[0].field, exc.errors[0].code


def test_a_voucher_comes_off_after_the_group_tier_and_the_booking_keeps_what_it_took(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher()
    booking = shop.book(" Summer10 ", travelers=4)
    # 4,000 less the 10 % tier is 3,600; the voucher's 10 % of that is 360.
    assert booking.subtotal == inr("4000")
    assert booking.voucher_code == "SUMMER10"
    assert booking.voucher_discount == inr("360")
    assert booking.discount == inr("760")
    assert booking.total == inr("3240")
    stored = shop.core.bookings.get(booking.id, principal=ADMIN)
    assert (stored.voucher_code, stored.voucher_discount, stored.total) == (
        "SUMMER10",
        inr("360"),
        inr("3240"),
    )
    assert shop.uses(voucher) == 1
    (redemption,) = shop.core.vouchers.redemptions(voucher.id, principal=ADMIN)
    assert (redemption.booking_id, redemption.customer_id, redemption.amount) == (
        booking.id,
        booking.customer_id,
        inr("360"),
    )
    trail = shop.core.audit.trail("voucher", voucher.id, principal=ADMIN)
    assert [e.action for e in trail] == [AuditAction.CREATED, AuditAction.UPDATED]
    assert (trail[1].old_values, trail[1].new_values) == ({"uses": 0}, {"uses": 1})
    assert trail[1].booking_id == booking.id


def test_a_fixed_amount_never_takes_the_total_below_zero(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.voucher("FIFTY", amount_off=inr("50"))
    shop.voucher("HUGE", amount_off=inr("5000"))
    assert shop.book("fifty").total == inr("950")
    big = shop.book("huge", travelers=2)
    assert (big.voucher_discount, big.total) == (inr("2000"), inr("0"))


def test_each_refusal_names_the_voucher_code_and_uses_nothing(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    now = shop.clock.now()
    other = shop.core.catalog.add_location("PORT", "Harbour", principal=ADMIN)
    cases = {
        "unknown": ("NOPE", {}),
        "inactive": ("OFF", {}),
        "not_yet_valid": ("LATER", {"valid_from": now + timedelta(days=1)}),
        "expired": ("GONE", {"valid_until": now}),
        "used_up": ("ONCE", {"max_uses": 1}),
        "not_for_this_slot": ("HARBOUR", {"location_ids": [other.id]}),
        "currency_mismatch": ("EURO", {"amount_off": Money("5", "EUR")}),
        "too_few_travelers": ("GROUP", {"min_travelers": 3}),
    }
    made = {code: shop.voucher(code, **terms) for code, terms in cases.values() if code != "NOPE"}
    shop.core.vouchers.deactivate(made["OFF"].id, principal=ADMIN)
    shop.book("ONCE")
    for reason, (code, _) in cases.items():
        with pytest.raises(ValidationError) as refused:
            shop.book(code)
        assert _code(refused.value) == ("voucher_code", reason)
    assert shop.core.catalog.get_slot(shop.slot.id, principal=ADMIN).seats_held == 1
    assert all(shop.uses(v) == (1 if code == "ONCE" else 0) for code, v in made.items())


def test_a_customer_limit_counts_that_customer_only(any_store: MemoryStore | SqlStore) -> None:
    shop = Shop(any_store)
    shop.voucher("WELCOME", max_uses_per_customer=1)
    first, second = shop.customer(), shop.customer()
    shop.book("WELCOME", customer=first, principal=Principal.customer(first))
    with pytest.raises(ValidationError) as refused:
        shop.book("welcome", customer=first, principal=Principal.customer(first))
    assert _code(refused.value) == ("voucher_code", "used_up_by_customer")
    assert shop.book("WELCOME", customer=second).voucher_code == "WELCOME"
    # One person after all: the survivor of a merge has used it (the duplicate's use moved).
    third = shop.customer()
    shop.core.customers.merge(third, second, principal=ADMIN)
    with pytest.raises(ValidationError) as merged:
        shop.book("WELCOME", customer=third)
    assert _code(merged.value) == ("voucher_code", "used_up_by_customer")


def test_a_booking_refused_for_its_seats_counts_no_use(any_store: MemoryStore | SqlStore) -> None:
    shop = Shop(any_store, capacity=2)
    voucher = shop.voucher(max_uses=5)
    with pytest.raises(CapacityError):
        shop.book("SUMMER10", travelers=3)
    assert shop.uses(voucher) == 0
    assert shop.core.vouchers.redemptions(voucher.id, principal=ADMIN) == []


def test_a_retried_booking_counts_its_use_once(any_store: MemoryStore | SqlStore) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher(max_uses=2)
    customer = shop.customer()
    request = shop.request(customer, "SUMMER10")
    first = shop.core.bookings.book(request, principal=ADMIN, idempotency_key="k-1")
    again = shop.core.bookings.book(request, principal=ADMIN, idempotency_key="k-1")
    assert again.id == first.id
    # the code in another case asks the same: codes are case-insensitive
    spelled = attrs.evolve(request, voucher_code=" summer10")
    assert shop.core.bookings.book(spelled, principal=ADMIN, idempotency_key="k-1").id == first.id
    assert shop.uses(voucher) == 1
    changed = shop.request(customer, None)
    with pytest.raises(IdempotencyConflictError):
        shop.core.bookings.book(changed, principal=ADMIN, idempotency_key="k-1")


def test_a_cancelled_booking_keeps_its_use(any_store: MemoryStore | SqlStore) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher(max_uses=1)
    booking = shop.book("SUMMER10")
    shop.core.bookings.cancel(booking.id, principal=ADMIN, reason="plans changed")
    with pytest.raises(ValidationError) as refused:
        shop.book("SUMMER10")
    assert _code(refused.value) == ("voucher_code", "used_up")
    shop.core.vouchers.update(voucher.id, principal=ADMIN, max_uses=2)
    assert shop.book("SUMMER10").voucher_discount == inr("100")


def test_changing_travelers_keeps_the_voucher_amount(any_store: MemoryStore | SqlStore) -> None:
    shop = Shop(any_store)
    shop.voucher("FLAT", amount_off=inr("300"))
    booking = shop.book("FLAT", travelers=2)
    assert booking.total == inr("1700")
    more = shop.core.bookings.change_travelers(
        booking.id,
        principal=ADMIN,
        add=[
            NewTraveler(TravelerDetails("Walker extra 1")),
            NewTraveler(TravelerDetails("Walker extra 2")),
        ],
    )
    # 4,000 less the 10 % tier, less the 300 the booking kept.
    assert (more.voucher_discount, more.discount, more.total) == (
        inr("300"),
        inr("700"),
        inr("3300"),
    )


def test_a_rescheduled_booking_keeps_its_voucher_amount_and_counts_no_new_use(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher(max_uses=1)
    booking = shop.book("SUMMER10", travelers=2)
    later = shop.core.catalog.create_slot(
        location_id=shop.city.id,
        starts_at=shop.clock.now() + timedelta(days=9),
        price_per_traveler=inr("1200"),
        capacity=5,
        principal=ADMIN,
    )
    moved = shop.core.bookings.reschedule(booking.id, later.id, principal=ADMIN).booking
    # 2,400 at the new price, less the 200 the booking kept (not 10 % of 2,400).
    assert (moved.voucher_code, moved.voucher_discount, moved.total) == (
        "SUMMER10",
        inr("200"),
        inr("2200"),
    )
    assert shop.uses(voucher) == 1
    assert len(shop.core.vouchers.redemptions(voucher.id, principal=ADMIN)) == 1


def test_partners_use_vouchers_not_limited_to_products_or_locations(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    partner = shop.core.partners.register(
        name="Agent",
        company_name="Agent Pvt Ltd",
        contact_email="ops@agent.example.com",
        allowed_location_ids=[shop.city.id],
        principal=ADMIN,
    ).partner
    as_partner = Principal.partner(partner.id)
    shop.voucher("OPEN")
    shop.voucher("CITYONLY", location_ids=[shop.city.id])

    def partner_books(code: str) -> Booking:
        request = attrs.evolve(
            shop.request(shop.customer(), code),
            customer_id=None,
            customer=CustomerDetails(f"+91987000{next(shop._n):04d}"),
        )
        return shop.core.bookings.book(request, principal=as_partner)

    assert partner_books("OPEN").voucher_code == "OPEN"
    with pytest.raises(ValidationError) as refused:
        partner_books("CITYONLY")
    assert _code(refused.value) == ("voucher_code", "not_for_partners")
    assert shop.book("CITYONLY").voucher_code == "CITYONLY"


def test_staff_make_vouchers_once_per_key_codes_unique_in_any_case(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    first = shop.core.vouchers.create(
        code="spring", percent_off="15", principal=ADMIN, idempotency_key="v-1"
    )
    again = shop.core.vouchers.create(
        code="spring", percent_off="15", principal=ADMIN, idempotency_key="v-1"
    )
    assert again.id == first.id
    assert first.code == "SPRING"
    with pytest.raises(IdempotencyConflictError):
        shop.core.vouchers.create(
            code="spring", percent_off="20", principal=ADMIN, idempotency_key="v-1"
        )
    with pytest.raises(DuplicateError):
        shop.core.vouchers.create(code="Spring", percent_off="5", principal=ADMIN)
    with pytest.raises(PermissionDeniedError):
        shop.core.vouchers.create(code="EDIT", percent_off="5", principal=EDITOR)
    with pytest.raises(ValidationError) as bad:
        shop.core.vouchers.create(code="X", percent_off="5", principal=ADMIN)
    assert bad.value.errors[0].field == "code"
    with pytest.raises(ValidationError) as both:
        shop.core.vouchers.create(
            code="BOTH", percent_off="5", amount_off=inr("10"), principal=ADMIN
        )
    assert both.value.errors[0].field == "percent_off"
    assert shop.core.vouchers.get_by_code(" spring", principal=ADMIN).id == first.id
    changed = shop.core.vouchers.update(first.id, principal=ADMIN, percent_off="20")
    assert (changed.percent_off, changed.version) == (Decimal("20"), 2)
    off = shop.core.vouchers.deactivate(first.id, principal=ADMIN)
    assert not off.active
    listed = shop.core.vouchers.list(VoucherFilter(active=False), principal=ADMIN)
    assert [v.code for v in listed.items] == ["SPRING"]
    actions = [e.action for e in shop.core.audit.trail("voucher", first.id, principal=ADMIN)]
    assert actions == [AuditAction.CREATED, AuditAction.UPDATED, AuditAction.DEACTIVATED]


def test_check_says_what_a_code_would_take_off_and_counts_nothing(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher(min_travelers=2)
    customer = Principal.customer(shop.customer())
    quote = shop.core.vouchers.check("summer10", shop.slot.id, 4, principal=customer)
    assert (quote.subtotal, quote.tier_discount, quote.voucher_discount, quote.total) == (
        inr("4000"),
        inr("400"),
        inr("360"),
        inr("3240"),
    )
    with pytest.raises(ValidationError) as refused:
        shop.core.vouchers.check("SUMMER10", shop.slot.id, 1, principal=customer)
    assert _code(refused.value) == ("voucher_code", "too_few_travelers")
    assert shop.uses(voucher) == 0


def test_bookings_racing_for_the_last_uses_never_pass_max_uses(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher("THREE", max_uses=3)
    customers = [shop.customer() for _ in range(8)]
    requests = [shop.request(c, "THREE") for c in customers]

    def work(index: int) -> Booking:
        return shop.core.bookings.book(requests[index], principal=ADMIN)

    results = at_once(len(requests), work)
    booked = [r for r in results if isinstance(r, Booking)]
    refused = [r for r in results if not isinstance(r, Booking)]
    assert len(booked) == 3
    assert all(_code(r) == ("voucher_code", "used_up") for r in refused)
    assert shop.uses(voucher) == 3
    redemptions = shop.core.vouchers.redemptions(voucher.id, principal=ADMIN)
    assert sorted(r.booking_id for r in redemptions) == sorted(b.id for b in booked)
    assert shop.core.catalog.get_slot(shop.slot.id, principal=ADMIN).seats_held == 3


def _own_slots(shop: Shop, count: int) -> list[Slot]:
    """``count`` slots of their own, so no slot lock lines racing bookings up."""
    return [
        shop.core.catalog.create_slot(
            location_id=shop.city.id,
            starts_at=shop.clock.now() + timedelta(days=6, hours=n),
            price_per_traveler=inr("1000"),
            capacity=5,
            principal=ADMIN,
        )
        for n in range(count)
    ]


def test_bookings_of_different_slots_racing_for_the_last_uses_never_pass_max_uses(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher("SPREAD", max_uses=3)
    slots = _own_slots(shop, 8)
    requests = [
        attrs.evolve(shop.request(shop.customer(), "SPREAD"), slot_id=slot.id) for slot in slots
    ]
    results = at_once(
        len(requests), lambda i: shop.core.bookings.book(requests[i], principal=ADMIN)
    )
    booked = [r for r in results if isinstance(r, Booking)]
    assert len(booked) == 3, results
    assert all(_code(r) == ("voucher_code", "used_up") for r in results if r not in booked)
    assert shop.uses(voucher) == 3
    assert len(shop.core.vouchers.redemptions(voucher.id, principal=ADMIN)) == 3


def test_one_customer_booking_different_slots_at_once_uses_the_voucher_as_often_as_it_allows(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher("ONCEEACH", max_uses_per_customer=1)
    customer = shop.customer()
    slots = _own_slots(shop, 4)
    requests = [attrs.evolve(shop.request(customer, "ONCEEACH"), slot_id=slot.id) for slot in slots]
    results = at_once(
        len(requests), lambda i: shop.core.bookings.book(requests[i], principal=ADMIN)
    )
    booked = [r for r in results if isinstance(r, Booking)]
    assert len(booked) == 1, results
    refused = [r for r in results if r not in booked]
    assert all(_code(r) == ("voucher_code", "used_up_by_customer") for r in refused)
    assert shop.uses(voucher) == 1


def test_twin_retries_racing_with_one_key_count_one_use(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    voucher = shop.voucher("TWINS", max_uses=5)
    request = shop.request(shop.customer(), "TWINS")

    def work(_: int) -> Booking:
        return shop.core.bookings.book(request, principal=ADMIN, idempotency_key="twin-1")

    results = at_once(4, work)
    assert all(isinstance(r, Booking) for r in results), results
    assert len({r.id for r in results}) == 1
    assert shop.uses(voucher) == 1
    assert len(shop.core.vouchers.redemptions(voucher.id, principal=ADMIN)) == 1


def test_the_invoice_of_a_paid_voucher_booking_shows_the_same_discount_and_total(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.voucher("FLAT", amount_off=inr("300"))
    booking = shop.book("FLAT", travelers=4)
    assert (booking.discount, booking.total) == (inr("700"), inr("3300"))
    shop.core.payments.record_manual_payment(
        booking.id, booking.total, principal=ADMIN, reference="CASH-1"
    )
    (invoice,) = shop.core.payments.invoices_for(booking.id, principal=ADMIN)
    assert invoice.discount == booking.discount
    assert invoice.total == booking.total


def test_a_voucher_retried_with_its_terms_spelled_otherwise_is_the_same_request(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    ist = timezone(timedelta(hours=5, minutes=30))
    until = shop.clock.now() + timedelta(days=30)
    first = shop.core.vouchers.create(
        code="monsoon",
        percent_off="12.5",
        valid_until=until,
        description="Monsoon  sale",
        principal=ADMIN,
        idempotency_key="v-monsoon",
    )
    # The code in another case and spacing, the same percent written otherwise, the same
    # instant in another timezone, the description as it is kept: the same voucher.
    again = shop.core.vouchers.create(
        code=" MONSOON ",
        percent_off=Decimal("12.50"),
        valid_until=until.astimezone(ist),
        description=" Monsoon sale",
        principal=ADMIN,
        idempotency_key="v-monsoon",
    )
    assert again.id == first.id
    assert shop.core.vouchers.list(principal=ADMIN).items == [again]
    with pytest.raises(IdempotencyConflictError):
        shop.core.vouchers.create(
            code="MONSOON2", percent_off="12.5", principal=ADMIN, idempotency_key="v-monsoon"
        )


def test_bad_terms_of_a_keyed_voucher_are_named_never_a_type_error(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    naive = datetime(2030, 1, 1)  # noqa: DTZ001 - the bad input under test
    cases: list[tuple[str, dict[str, object]]] = [
        ("valid_until", {"percent_off": "10", "valid_until": naive}),
        ("valid_from", {"percent_off": "10", "valid_from": naive}),
        ("max_uses", {"percent_off": "10", "max_uses": 2.5}),
        ("max_uses_per_customer", {"percent_off": "10", "max_uses_per_customer": 1.0}),
        ("percent_off", {"percent_off": 10.0}),
    ]
    for field, terms in cases:
        with pytest.raises(ValidationError) as refused:
            shop.core.vouchers.create(
                code="BAD1",
                principal=ADMIN,
                idempotency_key=f"bad-{field}",
                **terms,  # type: ignore[arg-type]
            )
        assert refused.value.fields == (field,)
    assert shop.core.vouchers.list(principal=ADMIN).items == []
    # The keys were not spent on the refused requests: a good request takes one.
    made = shop.core.vouchers.create(
        code="BAD1", percent_off="10", principal=ADMIN, idempotency_key="bad-max_uses"
    )
    assert made.code == "BAD1"


def test_a_percent_finer_than_the_stores_keep_is_refused_on_every_store(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Stores keep a percent to four decimal places (``NUMERIC(7, 4)`` on PostgreSQL,
    which rounds what is finer): a finer one would price a booking differently on
    memory and SQLite than on PostgreSQL, so it is refused everywhere."""
    shop = Shop(any_store)
    with pytest.raises(ValidationError) as refused:
        shop.voucher("FINE", percent_off="12.34565")
    assert (refused.value.fields, refused.value.errors[0].code) == (("percent_off",), "too_precise")
    voucher = shop.voucher("FINE", percent_off="12.3457")
    with pytest.raises(ValidationError) as changed:
        shop.core.vouchers.update(voucher.id, principal=ADMIN, percent_off=Decimal("7.00001"))
    assert changed.value.fields == ("percent_off",)
    stored = shop.core.vouchers.get(voucher.id, principal=ADMIN)
    assert stored.percent_off == Decimal("12.3457")
    booking = shop.book("FINE", travelers=3)
    # 12.3457 % of 3,000 is 370.371, rounded to 370.37 on every store.
    assert (booking.voucher_discount, booking.total) == (inr("370.37"), inr("2629.63"))


def test_a_validity_window_given_in_another_timezone_is_kept_in_utc(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    ist = timezone(timedelta(hours=5, minutes=30))
    starts = shop.clock.now() + timedelta(days=1)
    made = shop.voucher(
        "DIWALI", valid_from=starts.astimezone(ist), valid_until=(starts + timedelta(days=5))
    )
    changed = shop.core.vouchers.update(
        made.id, principal=ADMIN, valid_until=(starts + timedelta(days=9)).astimezone(ist)
    )
    stored = shop.core.vouchers.get(made.id, principal=ADMIN)
    for voucher in (made, changed, stored):
        assert voucher.valid_from == starts
        assert voucher.valid_from is not None
        assert voucher.valid_from.utcoffset() == timedelta(0)
    for voucher in (changed, stored):
        assert voucher.valid_until == starts + timedelta(days=9)
        assert voucher.valid_until is not None
        assert voucher.valid_until.utcoffset() == timedelta(0)


def test_product_and_location_limits_that_are_no_ids_are_named(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    for terms in ({"product_ids": 5}, {"location_ids": ["CITY"]}, {"product_ids": "CITY"}):
        with pytest.raises(ValidationError) as refused:
            shop.voucher("LIMITED", **terms)
        assert refused.value.fields == tuple(terms)
    voucher = shop.voucher("LIMITED", location_ids=[shop.city.id])
    with pytest.raises(ValidationError) as changed:
        shop.core.vouchers.update(voucher.id, principal=ADMIN, location_ids=[str(shop.city.id)])
    assert changed.value.fields == ("location_ids",)
    assert shop.core.vouchers.get(voucher.id, principal=ADMIN).location_ids == {shop.city.id}
