"""The request digest that recognises retries: canonical, versioned, and kept stable.

``tests/fixtures/request_digests.json`` holds digests stored by bookingcore 0.2;
a later version must still compute the same ones, or every key stored before
an upgrade would turn retries into conflicts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerId,
    Money,
    NewTraveler,
    Principal,
    SavedTraveler,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
    TravelerId,
)
from bookingcore.domain.idempotency import DIGEST_VERSION, canonical, request_digest
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore

FIXTURE = Path(__file__).parent.parent / "fixtures" / "request_digests.json"
STORED = json.loads(FIXTURE.read_text())


def _fixed_request() -> BookingRequest:
    return BookingRequest(
        SlotId(UUID(int=7)),
        [
            SavedTraveler(TravelerId(UUID(int=8)), is_primary=True, price=Money("8500.00", "INR")),
            NewTraveler(
                TravelerDetails("Ravi", birth_date=date(2014, 5, 1), phone="+919876500000"),
                special_requirements="Vegetarian",
            ),
        ],
        customer_id=CustomerId(UUID(int=9)),
        referral_source="google",
        external_id="CRM-42",
        metadata={"campaign": "diwali", "desk": "2"},
    )


class TestStoredDigests:
    def test_the_digest_of_a_fixed_request_is_the_one_stored_by_an_earlier_version(self) -> None:
        staff = Principal.staff(StaffId(UUID(int=1)), StaffRole.ADMIN)
        digest = request_digest(
            "book",
            {"principal": {"kind": staff.kind, "id": staff.id}, "request": _fixed_request()},
        )
        assert digest == STORED["book"]

    def test_a_booking_stores_the_same_digest_through_the_service(self) -> None:
        clock = FixedClock(datetime(2026, 1, 1, 9, tzinfo=UTC))
        core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
        )
        admin = Principal.staff(StaffId(UUID(int=1)), StaffRole.ADMIN)
        camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
        slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=clock.now() + timedelta(days=3),
            price_per_traveler=Money("100", "INR"),
            principal=admin,
        )
        request = BookingRequest(slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)])
        mine = core.customers.register("+919876543210", principal=admin).customer
        me = Principal.customer(mine.id).with_origin(ip_address="192.0.2.1", user_agent="x/1")
        booking = core.bookings.book(request, principal=me, idempotency_key="k1")
        expected = request_digest(
            "book", {"principal": {"kind": "customer", "id": mine.id}, "request": request}
        )
        assert booking.request_fingerprint == expected
        assert booking.request_fingerprint.startswith(f"v{DIGEST_VERSION}:")

    def test_the_fixture_names_the_format_version(self) -> None:
        assert all(value.startswith("v1:") for value in STORED.values())


class TestCanonicalForm:
    def test_where_a_request_came_from_never_changes_its_digest(self) -> None:
        plain = Principal.customer(CustomerId(UUID(int=3)))
        moved = plain.with_origin(ip_address="198.51.100.7", user_agent="lte")
        for who in (plain, moved):
            fields = {"principal": {"kind": who.kind, "id": who.id}, "request": _fixed_request()}
            assert request_digest("book", fields) == STORED["book_as_customer_3"]

    def test_one_amount_written_two_ways_is_one_digest(self) -> None:
        assert canonical(Decimal("10.50")) == canonical(Decimal("10.5")) == "10.5"
        assert canonical(Decimal("1E+3")) == "1000"
        assert canonical(Money("8500", "INR")) == canonical(Money("8500.00", "INR"))

    def test_mapping_order_does_not_matter_but_list_order_does(self) -> None:
        assert request_digest("x", {"a": 1, "b": 2}) == request_digest("x", {"b": 2, "a": 1})
        assert request_digest("x", {"l": [1, 2]}) != request_digest("x", {"l": [2, 1]})

    def test_fields_at_their_default_are_left_out_so_new_optional_fields_change_nothing(
        self,
    ) -> None:
        bare = canonical(SavedTraveler(TravelerId(UUID(int=1))))
        assert bare == {"@type": "SavedTraveler", "traveler_id": str(UUID(int=1))}
        primary = canonical(SavedTraveler(TravelerId(UUID(int=1)), is_primary=True))
        assert primary["is_primary"] is True

    def test_a_lone_surrogate_is_digested_not_a_crash(self) -> None:
        """The digest is taken before a request's own checks refuse its text."""
        assert request_digest("x", {"to": "\ud800"}) != request_digest("x", {"to": "\ud801"})

    def test_the_operation_is_part_of_the_digest(self) -> None:
        assert request_digest("book", {}) != request_digest("cancel", {})

    def test_a_saved_and_a_new_traveler_with_the_same_fields_differ(self) -> None:
        assert canonical(SavedTraveler(TravelerId(UUID(int=1))))["@type"] == "SavedTraveler"

    def test_datetimes_are_compared_in_utc(self) -> None:
        utc = datetime(2026, 1, 1, 12, tzinfo=UTC)
        ist = utc.astimezone(ZoneInfo("Asia/Kolkata"))
        assert canonical(utc) == canonical(ist)

    @pytest.mark.parametrize(
        "value",
        [1.5, {1: "a"}, datetime(2026, 1, 1), object(), Decimal("NaN")],  # noqa: DTZ001
    )
    def test_values_with_no_canonical_form_are_refused(self, value: object) -> None:
        with pytest.raises(TypeError):
            canonical(value)
