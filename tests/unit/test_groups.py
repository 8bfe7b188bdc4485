"""Booking groups: normalised references, participants, and the active/closed/cancelled moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore import CustomerId
from bookingcore.domain import BookingGroup, BookingGroupStatus
from bookingcore.errors import InvalidTransitionError, ValidationError
from bookingcore.testing.builders import T0, Builder

LATER = T0 + timedelta(hours=1)


@pytest.fixture
def make() -> Builder:
    return Builder()


def _group(make: Builder, **fields: object) -> BookingGroup:
    return make.group(CustomerId(uuid4()), **fields)


class TestReference:
    def test_is_stripped_and_upper_cased(self, make: Builder) -> None:
        assert _group(make, group_reference="  acme/offsite-2026 ").group_reference == (
            "ACME/OFFSITE-2026"
        )

    @pytest.mark.parametrize("reference", ["", "   ", "has space", "-leading-dash", "x" * 101])
    def test_a_malformed_reference_names_the_field(self, make: Builder, reference: str) -> None:
        with pytest.raises(ValidationError) as caught:
            _group(make, group_reference=reference)
        assert caught.value.fields == ("group_reference",)


class TestInvariants:
    @pytest.mark.parametrize("total", [0, -3, 100_001, True])
    def test_participants_are_a_whole_number_from_one(self, make: Builder, total: int) -> None:
        with pytest.raises(ValidationError) as caught:
            _group(make, total_participants=total)
        assert caught.value.fields == ("total_participants",)

    def test_the_company_profile_is_not_the_organiser(self, make: Builder) -> None:
        organizer = CustomerId(uuid4())
        with pytest.raises(ValidationError) as caught:
            make.group(organizer, company_id=organizer)
        assert caught.value.fields == ("company_id",)

    def test_times_must_be_timezone_aware(self, make: Builder) -> None:
        with pytest.raises(ValidationError) as caught:
            _group(make, created_at=datetime(2026, 1, 1, 9))  # noqa: DTZ001
        assert caught.value.fields == ("created_at",)

    def test_an_unknown_status_is_a_validation_error(self, make: Builder) -> None:
        with pytest.raises(ValidationError) as caught:
            _group(make, status="archived")
        assert caught.value.fields == ("status",)


class TestChanges:
    def test_participants_and_name_change_with_a_new_version(self, make: Builder) -> None:
        group = _group(make)
        group.set_participants(12, now=LATER)
        group.rename("  Sales   kick-off ", now=LATER)
        assert (group.total_participants, group.group_name) == (12, "Sales kick-off")
        assert (group.version, group.updated_at) == (3, LATER)

    def test_a_bad_participant_count_changes_nothing(self, make: Builder) -> None:
        group = _group(make, total_participants=5)
        with pytest.raises(ValidationError):
            group.set_participants(0, now=LATER)
        assert (group.total_participants, group.version) == (5, 1)


class TestStatus:
    def test_a_group_closes_reopens_and_is_cancelled_for_good(self, make: Builder) -> None:
        group = _group(make)
        assert group.accepts_bookings
        group.close(now=LATER)
        assert not group.accepts_bookings
        group.reopen(now=LATER)
        assert group.status is BookingGroupStatus.ACTIVE
        group.cancel(now=LATER)
        assert (group.status, group.version) == (BookingGroupStatus.CANCELLED, 4)
        for move in (group.close, group.reopen, group.cancel):
            with pytest.raises(InvalidTransitionError) as caught:
                move(now=LATER)
            assert caught.value.from_state == "cancelled"
        assert group.version == 4

    def test_an_active_group_cannot_be_reopened(self, make: Builder) -> None:
        group = _group(make)
        with pytest.raises(InvalidTransitionError) as caught:
            group.reopen(now=LATER)
        assert (caught.value.lifecycle, caught.value.to_state) == ("booking group", "active")
        assert "it can become cancelled, closed" in caught.value.message
