"""Generated hostile input to the public service methods: success or a BookingError, never
another exception, nothing written on refusal, and the same outcome on every backend.

Each test drives identical worlds (same ids, same clock) on memory and SQLite, and
PostgreSQL as well when it is available, through one call per example with generated
text (control characters, NUL, lone surrogates, huge strings, any Unicode), numbers
(huge, negative, NaN, floats, numeric strings) and sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._sqlite import sqlite_file_store
from tests.integration.test_imports import HEADER, ListSource

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingError,
    BookingFilter,
    BookingRequest,
    CustomerFilter,
    Money,
    NewTraveler,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)

HOSTILE_SNIPPETS = [
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "\ud800",
    "\u202e",
    "\ufeff",
    "\x85",
    "line\nbreak\ttab",
    "x" * 300,
    "y" * 100_000,
    "=cmd|' /C calc'!A0",
    "Ōsaka 大阪 🚀",
    "  ",
    "",
]
hostile_text = st.one_of(
    st.sampled_from(HOSTILE_SNIPPETS),
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x9F), max_size=20),
    st.sampled_from(HOSTILE_SNIPPETS).map(lambda s: f"Asha {s} Rao"),
)
maybe_text = st.one_of(st.none(), hostile_text)
hostile_number = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    st.sampled_from([0, -1, 1, 10**6, 10**6 + 1, 2**31, 2**63, 10**20]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True),
    st.sampled_from(["1e27", "NaN", "-0", "12.345", "1" * 40, "", "abc"]),
)
hostile_metadata = st.one_of(
    st.none(),
    st.dictionaries(hostile_text, hostile_text, max_size=4),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=51, max_size=55),
    st.dictionaries(st.integers(), st.integers(), max_size=2),
)


class World:
    """One backend with a location, a slot, a customer and a booking to act on."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work, clock=self.clock, ids=SequentialIds()
        )
        self.camp = self.core.catalog.add_location("DL01", "Base camp", principal=ADMIN)
        self.core.catalog.add_location("DL02", "Second camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            principal=ADMIN,
        )
        self.customer = self.core.customers.register(
            "+919876543210", name="Asha Rao", principal=ADMIN
        ).customer
        self.booking = self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
                customer_id=self.customer.id,
            ),
            principal=ADMIN,
        )

    def counts(self) -> tuple[object, ...]:
        page = PageRequest(limit=500)
        booking = self.core.bookings.get(self.booking.id, principal=ADMIN)
        return (
            len(self.core.bookings.list(BookingFilter(), principal=ADMIN, page=page).items),
            len(self.core.customers.list(CustomerFilter(), principal=ADMIN, page=page).items),
            len(self.core.catalog.list_slots(principal=ADMIN)),
            len(self.core.catalog.list_locations(principal=ADMIN)),
            len(self.core.travelers.list(self.customer.id, principal=ADMIN)),
            len(self.core.imports.list(principal=ADMIN).items),
            booking.version,
            self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held,
        )


Call = Callable[[World], object]


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, Call]:
    """One public service call with generated hostile arguments."""
    which = draw(
        st.sampled_from(
            [
                "register",
                "complete_profile",
                "add_traveler",
                "add_location",
                "create_slot",
                "book",
                "transition",
                "update",
                "list",
                "send",
                "import",
            ]
        )
    )
    text, maybe, number = hostile_text, maybe_text, hostile_number
    if which == "register":
        phone = draw(st.sampled_from(["+919876543212", "+919876543213"]) | text)
        name, email = draw(maybe), draw(maybe)
        return which, lambda w: w.core.customers.register(
            phone, name=name, email=email, principal=ADMIN
        )
    if which == "complete_profile":
        name, email = draw(maybe), draw(maybe)
        return which, lambda w: w.core.customers.complete_profile(
            w.customer.id, name=name, email=email, principal=ADMIN
        )
    if which == "add_traveler":
        details = TravelerDetails(
            draw(text),
            age=draw(st.none() | number),
            special_requirements=draw(maybe),
            emergency_contact_name=draw(maybe),
        )
        return which, lambda w: w.core.travelers.add(w.customer.id, details, principal=ADMIN)
    if which == "add_location":
        code, name, address = draw(text), draw(text), draw(maybe)
        return which, lambda w: w.core.catalog.add_location(
            code, name, address=address, principal=ADMIN
        )
    if which == "create_slot":
        capacity, amount, name = draw(st.none() | number), draw(number), draw(maybe)
        return which, lambda w: w.core.catalog.create_slot(
            location_id=w.camp.id,
            starts_at=w.clock.now() + timedelta(days=3),
            price_per_traveler=Money(amount, "INR"),
            capacity=capacity,
            name=name,
            principal=ADMIN,
        )
    if which == "book":
        fields: dict[str, Any] = {
            "internal_notes": draw(maybe),
            "external_id": draw(maybe),
            "referral_source": draw(maybe),
            "metadata": draw(hostile_metadata),
        }
        traveler, key = draw(text), draw(maybe)
        return which, lambda w: w.core.bookings.book(
            BookingRequest(
                w.slot.id,
                [NewTraveler(TravelerDetails(traveler), is_primary=True)],
                customer_id=w.customer.id,
                **fields,
            ),
            principal=ADMIN,
            idempotency_key=key,
        )
    if which == "transition":
        to = draw(st.sampled_from(["confirmed", "cancelled"]) | text)
        note, metadata, key = draw(maybe), draw(hostile_metadata), draw(maybe)
        return which, lambda w: w.core.bookings.transition(
            w.booking.id, to, note=note, metadata=metadata, idempotency_key=key, principal=ADMIN
        )
    if which == "update":
        changes = BookingChanges(
            internal_notes=draw(maybe), external_id=draw(maybe), referral_source=draw(maybe)
        )
        return which, lambda w: w.core.bookings.update(w.booking.id, changes, principal=ADMIN)
    if which == "list":
        search = draw(maybe)
        return which, lambda w: list(
            w.core.bookings.list(BookingFilter(text=search), principal=ADMIN)
        )
    if which == "send":
        kind = draw(st.sampled_from(["reminder", "confirmation"]) | text)
        key = draw(maybe)
        return which, lambda w: w.core.communications.send(
            w.booking.id, kind, idempotency_key=key, principal=ADMIN
        )
    cells = draw(st.lists(text, min_size=len(HEADER), max_size=len(HEADER)))
    cells[1] = draw(st.sampled_from(["+919812345678", cells[1]]))
    cells[3] = draw(st.sampled_from(["DL01", cells[3]]))
    cells[4] = draw(st.sampled_from(["2026-03-05", cells[4]]))
    header = draw(st.sampled_from([HEADER, (*HEADER[:-1], cells[-1] or "x")]))
    return which, lambda w: w.core.imports.run_file(
        ListSource(header, [tuple(cells)]), principal=ADMIN
    )


def outcome(world: World, call: Call) -> str:
    """``"ok"`` or the BookingError's class name; anything else fails the test."""
    before = world.counts()
    try:
        call(world)
    except BookingError as exc:
        refused = type(exc).__name__
    else:
        return "ok"
    assert world.counts() == before, f"{refused} after a partial write"
    return refused


def check_alike(worlds: list[World]) -> None:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(calls())
    def one_call(named: tuple[str, Call]) -> None:
        _, call = named
        outcomes = [outcome(world, call) for world in worlds]
        assert len(set(outcomes)) == 1, outcomes

    one_call()


def _sqlite(tmp_path: Path) -> SqlStore:
    return sqlite_file_store(tmp_path / "hostile.db")


def test_hostile_input_to_every_service_is_refused_alike_on_memory_and_sqlite(
    tmp_path: Path,
) -> None:
    sqlite = _sqlite(tmp_path)
    try:
        check_alike([World(MemoryStore()), World(sqlite)])
    finally:
        sqlite.dispose()


@pytest.mark.postgres
def test_hostile_input_to_every_service_is_refused_alike_on_postgresql(
    tmp_path: Path, pg_store: SqlStore
) -> None:
    sqlite = _sqlite(tmp_path)
    try:
        check_alike([World(MemoryStore()), World(sqlite), World(pg_store)])
    finally:
        sqlite.dispose()


def test_money_from_hostile_numbers_is_money_or_a_validation_error() -> None:
    @settings(max_examples=60, deadline=None)
    @given(hostile_number, st.sampled_from(["INR", "JPY", "KWD", "XXX", "inr", ""]))
    def build(amount: object, currency: str) -> None:
        try:
            money = Money(amount, currency)  # type: ignore[arg-type]
        except BookingError:
            return
        assert abs(money.amount) <= Decimal(10) ** 12

    build()


@given(
    st.one_of(
        hostile_metadata,
        st.dictionaries(
            st.one_of(hostile_text, st.text(min_size=99, max_size=101)),
            st.one_of(hostile_text, st.text(min_size=999, max_size=1001), st.integers()),
            max_size=5,
        ),
    )
)
@settings(max_examples=300, deadline=None)
def test_metadata_in_a_plain_dict_is_checked_as_any_other_mapping(metadata: Any) -> None:
    """check_metadata's quick pass over a dict of clean text gives what the full check
    gives (a read-only view takes the full check): the same pairs, or the same errors."""
    from types import MappingProxyType  # noqa: PLC0415

    from bookingcore.domain._validation import check_metadata  # noqa: PLC0415
    from bookingcore.errors import ValidationError  # noqa: PLC0415

    def outcome(value: Any) -> Any:
        try:
            return list(check_metadata(value).items())  # in order
        except ValidationError as exc:
            return [(e.field, e.message, e.code) for e in exc.errors]

    full = metadata if metadata is None else MappingProxyType(metadata)
    assert outcome(metadata) == outcome(full)
