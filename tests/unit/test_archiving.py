"""Archiving rules in the domain: final states, what keeps a booking live, the guard."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from bookingcore import BookingArchivedError, BookingFilter, InvalidTransitionError
from bookingcore.domain.archiving import KeptReason, final_states, why_kept
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Author, Booking
from bookingcore.domain.lifecycle import APPOINTMENT, RESERVATION, TRAVEL
from bookingcore.domain.payments import AttentionItem, AttentionReason, PaymentStatus, RefundStatus
from bookingcore.domain.values import Actor, Money
from bookingcore.domain.waitlist import WaitlistStatus
from bookingcore.testing.builders import T0, Builder

STAFF = Actor.system("tests")
LATER = T0 + timedelta(days=400)
ZERO = Money.zero("INR")


class TestFinalStates:
    def test_each_preset_ends_where_no_hand_moves_it_on(self) -> None:
        assert final_states(RESERVATION) == {"completed", "cancelled", "no_show"}
        # A no-show appointment may still be rescheduled; a cancelled one is over.
        assert final_states(APPOINTMENT) == {"COMPLETED", "CANCELLED"}
        # Travel's completed and cancelled move on only when money does (refunded).
        assert final_states(TRAVEL) == {"completed", "cancelled", "refunded"}


class _World:
    def __init__(self, status: str = "completed") -> None:
        make = self.make = Builder()
        self.slot = make.slot(make.location().id)
        customer = make.customer()
        self.booking = make.booking(
            customer.id, self.slot, [make.traveler(customer.id).id], status=status
        )

    def why(self, **given: object) -> KeptReason | None:
        values: dict[str, object] = {
            "lifecycle": RESERVATION,
            "slot": self.slot,
            "ended_before": self.slot.starts_at + timedelta(days=1),
            "balance_due": ZERO,
        }
        return why_kept(self.booking, **(values | given))  # type: ignore[arg-type]


class TestWhyKept:
    def test_an_ended_settled_booking_may_be_archived(self) -> None:
        assert _World().why() is None

    def test_a_booking_still_under_way_is_kept(self) -> None:
        assert _World("confirmed").why() is KeptReason.NOT_FINAL

    def test_a_slot_that_ended_after_the_cutoff_is_kept(self) -> None:
        world = _World()
        assert world.why(ended_before=world.slot.starts_at) is KeptReason.RECENT

    def test_money_left_to_pay_keeps_it(self) -> None:
        assert _World().why(balance_due=Money("1", "INR")) is KeptReason.OPEN_BALANCE

    @pytest.mark.parametrize(
        "status", [PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.AUTHORIZED]
    )
    def test_a_payment_in_flight_keeps_it(self, status: PaymentStatus) -> None:
        world = _World()
        payment = world.make.payment(world.booking, status=status)
        assert world.why(payments=[payment]) is KeptReason.OPEN_PAYMENT

    def test_a_payment_flagged_for_staff_keeps_it(self) -> None:
        world = _World()
        flag = AttentionItem(AttentionReason.OVERPAID, "took too much", T0)
        payment = world.make.payment(
            world.booking,
            status=PaymentStatus.CAPTURED,
            captured_amount=world.booking.total,
            attention=(flag,),
        )
        assert world.why(payments=[payment]) is KeptReason.OPEN_PAYMENT

    @pytest.mark.parametrize("status", [RefundStatus.PENDING, RefundStatus.UNRECONCILED])
    def test_an_unsettled_refund_keeps_it(self, status: RefundStatus) -> None:
        world = _World()
        payment = world.make.payment(
            world.booking, status=PaymentStatus.CAPTURED, captured_amount=world.booking.total
        )
        refund = world.make.refund(payment.id, status=status)
        assert world.why(payments=[payment], refunds={payment.id: [refund]}) is (
            KeptReason.UNSETTLED_REFUND
        )
        settled = world.make.refund(payment.id, status=RefundStatus.SUCCEEDED)
        assert world.why(payments=[payment], refunds={payment.id: [settled]}) is None

    def test_money_reserved_by_a_refund_keeps_it(self) -> None:
        world = _World()
        payment = world.make.payment(
            world.booking,
            status=PaymentStatus.CAPTURED,
            captured_amount=world.booking.total,
            pending_refund_amount=Money("10", world.booking.currency),
        )
        assert world.why(payments=[payment]) is KeptReason.UNSETTLED_REFUND

    def test_an_open_waiting_list_offer_on_its_slot_keeps_it(self) -> None:
        world = _World()
        entry = world.make.waitlist_entry(world.slot.id, world.make.customer().id)
        assert world.why(offers=[entry]) is None  # waiting, not offered
        entry.offer(now=T0, expires_at=T0 + timedelta(hours=1))
        assert entry.status is WaitlistStatus.OFFERED
        assert world.why(offers=[entry]) is KeptReason.OPEN_OFFER


class TestArchivedBooking:
    def _archived(self) -> Booking:
        booking = _World("confirmed").booking
        entry = booking.archive(author=Author(STAFF, LATER, uuid4), reason="old")
        assert entry is not None
        assert entry.action is AuditAction.ARCHIVED
        assert entry.booking_id == booking.id
        return booking

    def test_archiving_sets_the_time_once_and_changes_nothing_else(self) -> None:
        booking = _World().booking
        before = (booking.status, booking.total, booking.travelers, booking.updated_at)
        booking.archive(author=Author(STAFF, LATER, uuid4))
        assert booking.archived_at == LATER
        assert booking.is_archived
        assert (booking.status, booking.total, booking.travelers) == before[:3]
        assert booking.archive(author=Author(STAFF, LATER + timedelta(1), uuid4)) is None
        assert booking.archived_at == LATER

    def test_a_move_of_an_archived_booking_is_refused_with_a_typed_error(self) -> None:
        booking = self._archived()
        with pytest.raises(BookingArchivedError) as refused:
            booking.move("cancelled", lifecycle=RESERVATION, author=Author(STAFF, LATER, uuid4))
        assert isinstance(refused.value, InvalidTransitionError)
        assert refused.value.code == "booking_archived"
        assert refused.value.details()["reference"] == booking.reference
        assert booking.status == "confirmed"
        assert booking.reference in str(refused.value)

    def test_unarchived_it_moves_again(self) -> None:
        booking = self._archived()
        entry = booking.unarchive(author=Author(STAFF, LATER, uuid4), reason="disputed")
        assert entry is not None
        assert entry.action is AuditAction.UNARCHIVED
        assert booking.unarchive(author=Author(STAFF, LATER, uuid4)) is None
        booking.move("completed", lifecycle=RESERVATION, author=Author(STAFF, LATER, uuid4))
        assert booking.status == "completed"

    def test_a_filter_leaves_archived_bookings_out_unless_asked(self) -> None:
        live, archived = _World().booking, self._archived()
        assert BookingFilter().matches(live, None)
        assert not BookingFilter().matches(archived, None)
        assert BookingFilter(include_archived=True).matches(archived, None)
        assert BookingFilter(only_archived=True).matches(archived, None)
        assert not BookingFilter(only_archived=True).matches(live, None)


class TestMoneyOnAnArchivedBooking:
    def test_money_that_settles_never_moves_an_archived_booking(self) -> None:
        """A capture or refund recorded for an archived booking leaves its status alone
        (a webhook never fails on it); unarchived, the same money moves it."""
        from bookingcore import BookingCore, Principal  # noqa: PLC0415
        from bookingcore.services._settlement import advance_if_paid  # noqa: PLC0415
        from bookingcore_adapters.memory import MemoryStore  # noqa: PLC0415

        world = _World("pending")
        store = MemoryStore()
        core = BookingCore(uow_factory=store.unit_of_work)
        booking = world.booking
        booking.archive(author=Author(STAFF, LATER, uuid4))
        with store.unit_of_work() as uow:
            uow.locations.add(world.make.location(id=world.slot.location_id))
            uow.slots.add(world.slot)
            customer = world.make.customer(id=booking.customer_id)
            uow.customers.add(customer)
            for traveler in booking.travelers:  # the booking's travelers must exist
                uow.travelers.add(world.make.traveler(customer.id, id=traveler.traveler_id))
            uow.bookings.add(booking)
            uow.commit()
        jobs = Principal.system("payments")
        for archived, expected in ((True, "pending"), (False, "confirmed")):
            with core.context.transaction() as tx:
                locked = tx.uow.bookings.get_for_update(booking.id)
                assert locked is not None
                if not archived:
                    locked.unarchive(author=Author(STAFF, LATER, uuid4))
                moved = advance_if_paid(
                    core.context, tx, locked, paid=locked.total, principal=jobs, note="paid"
                )
                assert moved is not archived
                assert locked.status == expected
                tx.commit()
