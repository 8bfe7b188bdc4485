"""Domain rules behind the customer view, merging, erasure and certificates."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import attrs
import pytest

from bookingcore import Money, ValidationError
from bookingcore.domain import (
    APPOINTMENT,
    PRESETS,
    RESERVATION,
    TRAVEL,
    BookingNote,
    Certificate,
    CertificateFilter,
    CertificateId,
    CertificateState,
    CustomerStats,
    StatusGroups,
    StatusSet,
    summarise_bookings,
)
from bookingcore.domain.audit import REDACTED, AuditAction, AuditEntry
from bookingcore.domain.customers import ERASED_NAME, erased_phone
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.values import Actor, BookingId, CustomerId, EmailAddress
from bookingcore.services import status_groups
from bookingcore.testing.builders import T0, Builder


class TestStatusGroups:
    def test_cancelled_and_no_show_states_come_from_the_lifecycles(self) -> None:
        groups = status_groups(PRESETS.values())
        assert groups.cancelled.names == {"cancelled", "CANCELLED", "refunded"}
        assert groups.no_show.names == {"no_show", "NO_SHOW"}
        assert groups.ended.names == groups.cancelled.names | groups.no_show.names
        assert status_groups([RESERVATION]).no_show.names == {"no_show"}
        assert status_groups([APPOINTMENT]).cancelled.names == {"CANCELLED"}

    def test_a_status_counting_differently_in_two_lifecycles_is_matched_with_it(self) -> None:
        """A lifecycle of one's own where ``refunded`` still holds seats: only travel's
        ``refunded`` is cancelled, as in the reports."""
        own = Lifecycle(
            name="own",
            states=("pending", "refunded", "cancelled"),
            initial="pending",
            transitions={"pending": {"refunded", "cancelled"}},
            terminal={"cancelled"},
            holding={"pending", "refunded"},
            cancelled="cancelled",
        )
        groups = status_groups([TRAVEL, own])
        assert groups.is_cancelled("travel", "refunded")
        assert not groups.is_cancelled("own", "refunded")
        assert groups.has_ended("own", "cancelled")
        assert groups.counts("own", "refunded")

    def test_names_given_as_before_are_a_status_set(self) -> None:
        groups = StatusGroups(cancelled=frozenset({"cancelled"}), no_show={"no_show"})
        assert groups.cancelled == StatusSet({"cancelled"})
        assert groups.has_ended("any", "no_show")
        assert not groups.has_ended("any", "pending")


class TestSummariseBookings:
    def test_no_bookings_is_all_zero(self) -> None:
        assert summarise_bookings([], [], now=T0, statuses=StatusGroups()) == CustomerStats()

    def test_a_cancelled_booking_counts_but_adds_no_value(self) -> None:
        make = Builder()
        slot = make.slot(make.location().id)
        customer = make.customer()
        kept = make.booking(customer.id, slot, [uuid4()], status="confirmed")  # type: ignore[list-item]
        gone = make.booking(customer.id, slot, [uuid4()], status="cancelled")  # type: ignore[list-item]
        groups = StatusGroups(cancelled=frozenset({"cancelled"}))
        stats = summarise_bookings([kept, gone], [], now=T0, statuses=groups)
        assert (stats.total_bookings, stats.cancelled_bookings, stats.upcoming_bookings) == (
            2,
            1,
            1,
        )
        assert stats.lifetime_value == (Money("100", "INR"),)
        assert stats.value_in("INR") == Money("100", "INR")
        assert stats.value_in("EUR") == Money.zero("EUR")


class TestMergeAndErase:
    def test_a_customer_is_merged_once_and_never_into_itself(self) -> None:
        customer = Builder().customer()
        with pytest.raises(ValidationError):
            customer.merge_into(customer.id, now=T0)
        survivor = CustomerId(uuid4())
        customer.merge_into(survivor, now=T0)
        assert customer.is_merged
        assert customer.version == 2
        with pytest.raises(ValidationError):
            customer.merge_into(CustomerId(uuid4()), now=T0)

    def test_erasure_drops_every_personal_field(self) -> None:
        make = Builder()
        customer = make.customer(name="Asha Rao", email=EmailAddress("asha@example.com"))
        traveler = make.traveler(customer.id, special_requirements="vegan", age=30)
        customer.erase(now=T0)
        traveler.erase(now=T0)
        assert (customer.name, customer.email, customer.erased_at) == (None, None, T0)
        assert customer.phone == erased_phone(customer.id)
        assert customer.phone.e164.startswith("+0")
        assert len(customer.phone.e164) == 20
        assert (traveler.name, traveler.age, traveler.special_requirements) == (
            ERASED_NAME,
            None,
            None,
        )

    def test_redacting_an_audit_entry_keeps_who_when_and_which_fields(self) -> None:
        entry = AuditEntry(
            id=uuid4(),
            entity="customer",
            entity_id=uuid4(),
            action=AuditAction.CREATED,
            actor=Actor.system("tests"),
            occurred_at=T0,
            new_values={"phone": "+919812345678", "source": "direct"},
        )
        assert entry.redact({"phone", "name"})
        assert entry.new_values == {"phone": REDACTED, "source": "direct"}
        assert not entry.redact({"phone"})
        assert entry.changed_fields == ("phone", "source")


def _certificate(**fields: object) -> Certificate:
    values: dict[str, object] = {
        "certificate_id": CertificateId(uuid4()),
        "customer_id": CustomerId(uuid4()),
        "booking_id": BookingId(uuid4()),
        "kind": "PADI Open Water",
        "number": "OW-1",
        "issued_at": T0,
        "now": T0,
        "expires_at": T0 + timedelta(days=365),
    }
    return Certificate.issue(**(values | fields))  # type: ignore[arg-type]


class TestCertificates:
    def test_kind_number_and_expiry_are_checked_together(self) -> None:
        with pytest.raises(ValidationError) as caught:
            _certificate(kind=" ", number="", expires_at=T0)
        assert set(caught.value.fields) == {"kind", "number", "expires_at"}

    def test_naive_times_are_refused_naming_their_field(self) -> None:
        naive = T0.replace(tzinfo=None)
        with pytest.raises(ValidationError) as both:
            _certificate(issued_at=naive, expires_at=naive + timedelta(days=1))
        assert both.value.fields == ("issued_at", "expires_at")
        cert = _certificate()
        with pytest.raises(ValidationError) as stored:
            attrs.evolve(cert, reminded_for=naive)
        assert stored.value.fields == ("reminded_for",)
        with pytest.raises(ValidationError) as renewed:
            cert.renew(naive + timedelta(days=400), now=T0)
        assert renewed.value.fields == ("expires_at",)
        assert cert.expires_at == T0 + timedelta(days=365)

    def test_state_moves_from_valid_to_expiring_to_expired(self) -> None:
        cert = _certificate()
        lead = timedelta(days=30)
        assert cert.state(T0, lead=lead) is CertificateState.VALID
        assert cert.state(T0 + timedelta(days=340), lead=lead) is CertificateState.EXPIRING
        assert cert.state(T0 + timedelta(days=365), lead=lead) is CertificateState.EXPIRED
        assert _certificate(expires_at=None).state(T0, lead=lead) is CertificateState.PERMANENT

    def test_a_reminder_is_due_once_per_expiry_date(self) -> None:
        cert = _certificate()
        lead, soon = timedelta(days=30), T0 + timedelta(days=340)
        assert not cert.needs_reminder(T0, lead=lead)
        assert cert.needs_reminder(soon, lead=lead)
        cert.mark_reminded(now=soon)
        assert not cert.needs_reminder(soon, lead=lead)
        cert.renew(T0 + timedelta(days=370), now=soon)
        assert cert.needs_reminder(soon + timedelta(days=5), lead=lead)
        with pytest.raises(ValidationError):
            cert.renew(T0, now=soon)

    def test_the_filter_bounds_expiry_and_leaves_out_permanent_ones(self) -> None:
        cert, forever = _certificate(), _certificate(expires_at=None)
        window = CertificateFilter(expires_before=T0 + timedelta(days=400))
        assert window.matches(cert)
        assert not window.matches(forever)
        assert CertificateFilter().matches(forever)
        assert not CertificateFilter(kind="EFR").matches(cert)


class TestBookingNote:
    def _entry(self, **fields: object) -> AuditEntry:
        booking_id = BookingId(uuid4())
        values: dict[str, object] = {
            "id": uuid4(),
            "entity": "booking",
            "entity_id": booking_id,
            "action": AuditAction.NOTE_ADDED,
            "actor": Actor.system("desk"),
            "occurred_at": T0,
            "new_values": {"note": "Called back"},
            "booking_id": booking_id,
        }
        return AuditEntry(**(values | fields))  # type: ignore[arg-type]

    def test_an_advisor_note_reads_its_author_time_text_and_booking(self) -> None:
        entry = self._entry()
        note = BookingNote.from_entry(entry, "BK-1")
        assert (note.id, note.booking_id, note.reference) == (entry.id, entry.booking_id, "BK-1")
        assert (note.author, note.written_at, note.text) == (entry.actor, T0, "Called back")

    @pytest.mark.parametrize("fields", [{"action": AuditAction.UPDATED}, {"booking_id": None}])
    def test_other_audit_entries_are_not_notes(self, fields: dict[str, object]) -> None:
        with pytest.raises(ValueError, match="not an advisor note"):
            BookingNote.from_entry(self._entry(**fields), "BK-1")
