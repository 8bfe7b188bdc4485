"""Customers are found by email without regard to case, on memory, SQLite and PostgreSQL.

``Ann@Example.com`` and ``ann@example.com`` are one person: most mail providers
ignore case in the local part, and email-validator lower-cases only the domain.
The address is stored as it was given; finding by it (``identify``, leads, the
bookings, customers and travelers imports) compares ``EmailAddress.match_key``.
"""

from __future__ import annotations

import pytest
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    CustomerFilter,
    ImportSettings,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Customer, ImportStatus
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
BOOKING_HEADER = ("Customer Name", "customer_phone", "Email", "dealer_code", "booking_date")
CUSTOMER_HEADER = ("Full Name", "Mobile", "E-mail", "Signed up")


@pytest.fixture
def core(any_store: MemoryStore | SqlStore) -> BookingCore:
    core = BookingCore(uow_factory=any_store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
    core.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    return core


@pytest.fixture
def ann(core: BookingCore) -> Customer:
    return core.customers.register(
        "+919800000001", principal=ADMIN, name="Ann Lee", email="Ann@Example.com"
    ).customer


def _customers(core: BookingCore) -> list[Customer]:
    return list(core.customers.list(CustomerFilter(), PageRequest(limit=50), principal=ADMIN))


def test_the_address_is_kept_as_given(core: BookingCore, ann: Customer) -> None:
    # email-validator lower-cases the domain only; the local part stays as typed.
    assert str(core.customers.get(ann.id, principal=ADMIN).email) == "Ann@example.com"


@pytest.mark.parametrize("asked", ["ann@example.com", "ANN@EXAMPLE.COM", "Ann@Example.com"])
def test_identify_by_email_alone_finds_her_in_any_case(
    core: BookingCore, ann: Customer, asked: str
) -> None:
    found = core.customers.identify(email=asked, principal=ADMIN)
    assert (found.customer.id, found.created) == (ann.id, False)


def test_identify_with_a_new_phone_and_her_email_in_another_case_registers_nobody(
    core: BookingCore, ann: Customer
) -> None:
    found = core.customers.identify(phone="+919800000002", email="aNN@example.com", principal=ADMIN)
    assert (found.customer.id, found.created) == (ann.id, False)
    assert [c.id for c in _customers(core)] == [ann.id]


def test_a_bookings_import_row_with_only_her_email_in_lower_case_books_her(
    core: BookingCore, ann: Customer
) -> None:
    source = ListSource(BOOKING_HEADER, [("Ann Lee", "", "ann@example.com", "DL01", "2026-03-05")])
    job = core.imports.run_file(source, principal=ADMIN)
    assert (job.status, job.created, job.failed) == (ImportStatus.COMPLETED, 1, 0)
    (booking,) = core.bookings.list(BookingFilter(), principal=ADMIN).items
    assert booking.customer_id == ann.id


def test_a_customers_import_matches_stored_and_earlier_rows_in_any_case(
    core: BookingCore, ann: Customer
) -> None:
    source = ListSource(
        CUSTOMER_HEADER,
        [
            ("A. Lee", "+919800000009", "ANN@example.com", "1"),  # her, by email
            ("Zoe Roy", "+919800000003", "Zoe@Example.com", "2"),  # registered by this run
            ("Z. Roy", "", "zoe@EXAMPLE.com", "3"),  # ... and found again by email
        ],
    )
    job = core.imports.run_file(source, principal=ADMIN, settings=ImportSettings(kind="customers"))
    assert (job.status, job.created, job.failed) == (ImportStatus.COMPLETED, 1, 0)
    emails = sorted(str(c.email) for c in _customers(core))
    assert emails == ["Ann@example.com", "Zoe@example.com"]
