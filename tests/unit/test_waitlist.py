"""Waiting-list entries: waiting -> offered -> booked / expired / cancelled, and offer order."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest

from bookingcore import BookingId, CustomerId, SlotId
from bookingcore.domain import (
    WaitlistEntry,
    WaitlistPriority,
    WaitlistStatus,
    offer_order,
    pick_offers,
)
from bookingcore.domain.communications import Channel
from bookingcore.errors import InvalidTransitionError, ValidationError
from bookingcore.testing.builders import T0, Builder

SLOT = SlotId(uuid4())
OFFERED_AT = T0 + timedelta(hours=1)
EXPIRES_AT = T0 + timedelta(hours=25)


@pytest.fixture
def make() -> Builder:
    return Builder()


def _entry(make: Builder, **fields: object) -> WaitlistEntry:
    return make.waitlist_entry(SLOT, CustomerId(uuid4()), **fields)


def _offered(make: Builder, **fields: object) -> WaitlistEntry:
    entry = _entry(make, **fields)
    entry.offer(now=OFFERED_AT, expires_at=EXPIRES_AT)
    return entry


class TestNewEntries:
    def test_alternative_dates_are_sorted_without_repeats(self, make: Builder) -> None:
        days = [date(2026, 3, 9), date(2026, 3, 2), date(2026, 3, 9)]
        entry = _entry(make, alternative_dates=days, preferred_contact_method="SMS")
        assert entry.alternative_dates == (date(2026, 3, 2), date(2026, 3, 9))
        assert entry.preferred_contact_method is Channel.SMS
        assert (entry.status, entry.priority) == (WaitlistStatus.WAITING, WaitlistPriority.NORMAL)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"seats": 0}, "seats"),
            ({"seats": 1001}, "seats"),
            ({"position": 0}, "position"),
            ({"priority": "urgent"}, "priority"),
            ({"preferred_contact_method": "pigeon"}, "preferred_contact_method"),
            ({"alternative_dates": [T0]}, "alternative_dates[0]"),
            ({"status": WaitlistStatus.OFFERED}, "offer_expires_at"),
            ({"status": WaitlistStatus.BOOKED}, "booking_id"),
            ({"offered_at": OFFERED_AT, "offer_expires_at": OFFERED_AT}, "offer_expires_at"),
        ],
    )
    def test_a_broken_rule_names_its_field(
        self, make: Builder, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _entry(make, **fields)
        assert caught.value.fields == (field,)


class TestOffer:
    def test_a_waiting_entry_is_offered_until_a_time(self, make: Builder) -> None:
        entry = _offered(make)
        assert (entry.status, entry.offered_at, entry.offer_expires_at) == (
            WaitlistStatus.OFFERED,
            OFFERED_AT,
            EXPIRES_AT,
        )
        assert (entry.version, entry.updated_at) == (2, OFFERED_AT)
        assert entry.is_active
        assert entry.offer_is_open(EXPIRES_AT - timedelta(microseconds=1))
        assert not entry.offer_is_open(EXPIRES_AT)

    def test_an_offer_must_end_after_it_is_made(self, make: Builder) -> None:
        entry = _entry(make)
        with pytest.raises(ValidationError) as caught:
            entry.offer(now=OFFERED_AT, expires_at=OFFERED_AT)
        assert caught.value.fields == ("expires_at",)
        assert (entry.status, entry.version) == (WaitlistStatus.WAITING, 1)

    def test_an_entry_is_offered_once(self, make: Builder) -> None:
        entry = _offered(make)
        with pytest.raises(InvalidTransitionError) as caught:
            entry.offer(now=OFFERED_AT, expires_at=EXPIRES_AT + timedelta(days=1))
        assert (caught.value.lifecycle, caught.value.from_state, caught.value.to_state) == (
            "waitlist",
            "offered",
            "offered",
        )
        assert entry.offer_expires_at == EXPIRES_AT


class TestBook:
    def test_an_open_offer_becomes_a_booking(self, make: Builder) -> None:
        entry = _offered(make)
        booking = BookingId(uuid4())
        entry.book(booking_id=booking, now=EXPIRES_AT - timedelta(seconds=1))
        assert (entry.status, entry.booking_id, entry.version) == (
            WaitlistStatus.BOOKED,
            booking,
            3,
        )
        assert not entry.is_active

    def test_a_waiting_entry_cannot_be_booked_without_an_offer(self, make: Builder) -> None:
        entry = _entry(make)
        with pytest.raises(InvalidTransitionError) as caught:
            entry.book(booking_id=BookingId(uuid4()), now=OFFERED_AT)
        assert (caught.value.from_state, caught.value.to_state) == ("waiting", "booked")

    def test_an_expired_offer_cannot_be_booked(self, make: Builder) -> None:
        entry = _offered(make)
        with pytest.raises(InvalidTransitionError) as caught:
            entry.book(booking_id=BookingId(uuid4()), now=EXPIRES_AT)
        assert "offer expired" in caught.value.message
        assert (entry.status, entry.booking_id, entry.version) == (
            WaitlistStatus.OFFERED,
            None,
            2,
        )


class TestEnding:
    def test_an_offer_expires_once_its_time_is_up(self, make: Builder) -> None:
        entry = _offered(make)
        with pytest.raises(InvalidTransitionError) as caught:
            entry.expire(now=EXPIRES_AT - timedelta(seconds=1))
        assert "open until" in caught.value.message
        entry.expire(now=EXPIRES_AT)
        assert (entry.status, entry.version) == (WaitlistStatus.EXPIRED, 3)

    def test_a_waiting_entry_expires_when_its_slot_passes(self, make: Builder) -> None:
        entry = _entry(make)
        entry.expire(now=OFFERED_AT)
        assert entry.status is WaitlistStatus.EXPIRED

    @pytest.mark.parametrize("offered", [False, True])
    def test_an_active_entry_can_be_cancelled(self, make: Builder, offered: bool) -> None:
        entry = _offered(make) if offered else _entry(make)
        entry.cancel(now=OFFERED_AT)
        assert entry.status is WaitlistStatus.CANCELLED

    @pytest.mark.parametrize(
        "end", [WaitlistStatus.BOOKED, WaitlistStatus.EXPIRED, WaitlistStatus.CANCELLED]
    )
    def test_an_ended_entry_never_moves_again(self, make: Builder, end: WaitlistStatus) -> None:
        entry = _offered(make)
        if end is WaitlistStatus.BOOKED:
            entry.book(booking_id=BookingId(uuid4()), now=OFFERED_AT)
        elif end is WaitlistStatus.EXPIRED:
            entry.expire(now=EXPIRES_AT)
        else:
            entry.cancel(now=OFFERED_AT)
        version = entry.version
        attempts = [
            lambda: entry.offer(now=EXPIRES_AT, expires_at=EXPIRES_AT + timedelta(hours=1)),
            lambda: entry.book(booking_id=BookingId(uuid4()), now=OFFERED_AT),
            lambda: entry.expire(now=EXPIRES_AT + timedelta(days=1)),
            lambda: entry.cancel(now=EXPIRES_AT),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidTransitionError) as caught:
                attempt()
            assert caught.value.from_state == end.value
            assert "cannot change any more" in caught.value.message
        assert (entry.status, entry.version) == (end, version)


class TestEditing:
    def test_seats_change_only_while_waiting(self, make: Builder) -> None:
        entry = _entry(make, seats=2)
        entry.change_seats(4, now=OFFERED_AT)
        assert (entry.seats, entry.version) == (4, 2)
        entry.offer(now=OFFERED_AT, expires_at=EXPIRES_AT)
        with pytest.raises(ValidationError) as caught:
            entry.change_seats(1, now=OFFERED_AT)
        assert caught.value.fields == ("status",)
        assert entry.seats == 4

    def test_priority_changes_while_active_only(self, make: Builder) -> None:
        entry = _offered(make)
        entry.set_priority("high", now=OFFERED_AT)
        assert entry.priority is WaitlistPriority.HIGH
        entry.cancel(now=OFFERED_AT)
        with pytest.raises(ValidationError):
            entry.set_priority(WaitlistPriority.LOW, now=OFFERED_AT)
        assert entry.priority is WaitlistPriority.HIGH


class TestOfferOrder:
    def test_priority_comes_before_position_and_only_waiting_entries_count(
        self, make: Builder
    ) -> None:
        low_first = _entry(make, position=1, priority="low")
        normal = _entry(make, position=4)
        high_last = _entry(make, position=9, priority="high")
        normal_earlier = _entry(make, position=2)
        offered = _offered(make, position=1, priority="high")
        assert offer_order([low_first, normal, offered, high_last, normal_earlier]) == [
            high_last,
            normal_earlier,
            normal,
            low_first,
        ]

    def test_equal_positions_go_to_whoever_joined_first(self, make: Builder) -> None:
        later = _entry(make, position=3, created_at=T0 + timedelta(minutes=5))
        earlier = _entry(make, position=3, created_at=T0)
        assert offer_order([later, earlier]) == [earlier, later]

    def test_freed_seats_go_down_the_list_to_whoever_fits(self, make: Builder) -> None:
        four = _entry(make, position=1, seats=4)
        two = _entry(make, position=2, seats=2)
        one = _entry(make, position=3, seats=1)
        assert pick_offers([one, two, four], 3) == [two, one]
        assert pick_offers([one, two, four], 3, strict=True) == []
        assert pick_offers([one, two, four], 7) == [four, two, one]
        assert pick_offers([one, two, four], 0) == []
        assert pick_offers([one, two, four], None) == [four, two, one]
