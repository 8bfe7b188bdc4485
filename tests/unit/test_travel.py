"""The travel operating system: leads, quotation versions, approval into a multi-supplier
booking, suppliers' answers, multi-currency lines, the catalogue's updates and the dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import attrs
import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    DiscountTier,
    IdempotencyConflictError,
    InvalidTransitionError,
    LoyaltyProgram,
    LoyaltyTier,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PartnerId,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    Booking,
    BookingItemStatus,
    ItineraryDay,
    Lead,
    LeadSource,
    LeadStatus,
    ProductKind,
    Quotation,
    QuotationExpiredError,
    QuotationStatus,
    QuotationSupersededError,
    Slot,
    Supplier,
)
from bookingcore.domain.communications import CommunicationStatus, CommunicationType
from bookingcore.services import (
    BookedItem,
    LeadRequest,
    QuotationRequest,
    QuoteLine,
    TravelDocumentService,
)
from bookingcore.services.items import install_supplier_confirmation
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.filestore import FileSystemDocumentStore
from bookingcore_adapters.memory import MemoryStore

RATES = FixedExchangeRates({("EUR", "INR"): Decimal("90.25"), ("USD", "INR"): "83.10"})


@attrs.frozen
class Holiday:
    """A small travel agency: a departure slot, a hotel and a jeep company."""

    core: BookingCore
    clock: FixedClock
    admin: Principal
    slot: Slot
    hotel: Supplier
    jeeps: Supplier

    def supplier_user(self, supplier: Supplier) -> Principal:
        return Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=supplier.id)

    def lines(self, nights: int = 2) -> list[QuoteLine]:
        first = self.slot.starts_at.date()
        return [
            QuoteLine(
                kind="hotel",
                description=f"Lakeside hotel, {nights} nights, twin room",
                quantity=nights,
                unit_price=Money("80", "EUR"),
                supplier_id=self.hotel.id,
                service_starts_on=first,
                service_ends_on=first + timedelta(days=nights),
            ),
            QuoteLine(
                kind="ground_service",
                description="Airport transfer by jeep",
                quantity=1,
                unit_price=Money("2500", "INR"),
                supplier_id=self.jeeps.id,
                service_starts_on=first,
            ),
        ]


@pytest.fixture
def holiday() -> Holiday:
    return _holiday(Settings(default_region="IN"))


def _holiday(settings: Settings) -> Holiday:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=settings,
        exchange_rates=RATES,
    )
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    location = core.catalog.add_location("LEH", "Leh base camp", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=30),
        price_per_traveler=Money("20000", "INR"),
        capacity=12,
        principal=admin,
    )
    hotel = core.catalog.add_supplier("LAKESIDE", "Lakeside Hotel", principal=admin)
    jeeps = core.catalog.add_supplier("JEEPS", "Ladakh Jeeps", principal=admin)
    return Holiday(core, clock, admin, slot, hotel, jeeps)


def _party(*names: str) -> list[NewTraveler]:
    return [NewTraveler(TravelerDetails(n), is_primary=i == 0) for i, n in enumerate(names)]


def _quoted(h: Holiday, travelers: int = 2) -> tuple[Lead, Quotation]:
    lead = h.core.leads.capture(
        LeadRequest(source="web_form", phone="98765 43210", name="Asha Rao", destination="Ladakh"),
        principal=Principal.system("web"),
    )
    quotation = h.core.quotations.create(
        QuotationRequest(
            customer_id=lead.customer_id,
            slot_id=h.slot.id,
            travelers=travelers,
            lines=h.lines(),
            valid_until=h.clock.now().date() + timedelta(days=10),
            lead_id=lead.id,
        ),
        principal=h.admin,
    )
    return lead, quotation


class TestLeads:
    def test_a_lead_from_a_web_form_finds_or_creates_its_customer_by_phone(
        self, holiday: Holiday
    ) -> None:
        system = Principal.system("web")
        first = holiday.core.leads.capture(
            LeadRequest(source="web_form", phone="+919876543210", email="asha@example.com"),
            principal=system,
        )
        again = holiday.core.leads.capture(
            LeadRequest(source=LeadSource.PHONE, phone="98765 43210"), principal=system
        )
        by_email = holiday.core.leads.capture(
            LeadRequest(source="email", email="asha@EXAMPLE.com"), principal=system
        )
        assert first.customer_id == again.customer_id == by_email.customer_id
        assert [first.status, again.source] == [LeadStatus.NEW, LeadSource.PHONE]

    def test_an_unknown_email_without_a_phone_names_the_phone_field(self, holiday: Holiday) -> None:
        with pytest.raises(ValidationError) as caught:
            holiday.core.leads.capture(
                LeadRequest(source="email", email="new@example.com"),
                principal=Principal.system(),
            )
        assert caught.value.fields == ("phone",)

    def test_least_loaded_assignment_spreads_leads_over_active_advisors(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        ann = core.staff.add("ann@example.com", "Ann", principal=admin)
        bob = core.staff.add("bob@example.com", "Bob", principal=admin)
        assigned = [
            core.leads.capture(
                LeadRequest(source="phone", phone=f"+9198765432{n:02d}"),
                principal=admin,
                assign="least_loaded",
            ).assignee_id
            for n in range(4)
        ]
        assert sorted(assigned, key=str) == sorted([ann.id, ann.id, bob.id, bob.id], key=str)
        advisor = Principal.staff(ann.id, StaffRole.ADVISOR)
        mine = core.leads.list(principal=advisor)
        assert len(mine) == 2
        assert all(lead.assignee_id == ann.id for lead in mine)

    def test_leads_come_in_pages_newest_first_scoped_to_who_asks(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        ann = core.staff.add("ann@example.com", "Ann", principal=admin)
        made = [
            core.leads.capture(
                LeadRequest(source="phone", phone=f"+9198765432{n:02d}"),
                principal=admin,
                assign=ann.id if n % 2 else None,
            )
            for n in range(7)
        ]

        def walk(principal: Principal, **filters: Any) -> list[Lead]:
            seen: list[Lead] = []
            page = core.leads.list(PageRequest(limit=2), principal=principal, **filters)
            seen.extend(page)
            while page.next_cursor is not None:
                assert len(page) == 2  # scoping happens in the query: no short pages
                request = PageRequest(limit=2, cursor=page.next_cursor)
                page = core.leads.list(request, principal=principal, **filters)
                seen.extend(page)
            return seen

        assert [lead.id for lead in walk(admin)] == [lead.id for lead in reversed(made)]
        advisor = Principal.staff(ann.id, StaffRole.ADVISOR)
        theirs = [lead.id for lead in reversed(made) if lead.assignee_id == ann.id]
        assert [lead.id for lead in walk(advisor)] == theirs
        assert [lead.id for lead in walk(advisor, status="new")] == theirs
        assert walk(advisor, assignee_id=StaffId(uuid4())) == []
        assert walk(Principal.staff(ann.id, StaffRole.SUPPLIER)) == []
        with pytest.raises(ValidationError) as caught:
            core.leads.list(principal=admin, status="warm")
        assert caught.value.fields == ("status",)

    def test_statuses_follow_their_table_and_follow_ups_come_due(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        lead = core.leads.capture(
            LeadRequest(source="phone", phone="+919876543210"), principal=admin
        )
        core.leads.move(lead.id, "contacted", principal=admin)
        with pytest.raises(InvalidTransitionError):
            core.leads.move(lead.id, "new", principal=admin)  # only a lost lead reopens
        today = holiday.clock.now().date()
        core.leads.schedule_follow_up(lead.id, today + timedelta(days=2), principal=admin)
        assert list(core.leads.follow_ups_due(today, principal=admin)) == []
        due = core.leads.follow_ups_due(today + timedelta(days=3), principal=admin)
        assert [d.id for d in due] == [lead.id]
        lost = core.leads.move(lead.id, "lost", principal=admin, reason="went elsewhere")
        assert (lost.status, lost.lost_reason) == (LeadStatus.LOST, "went elsewhere")

    def test_losing_a_lead_with_a_bad_reason_leaves_it_as_it_was(self, holiday: Holiday) -> None:
        lead = holiday.core.leads.capture(
            LeadRequest(source="phone", phone="+919876543210"), principal=holiday.admin
        )
        version = lead.version
        with pytest.raises(ValidationError) as caught:
            lead.move("lost", now=holiday.clock.now(), reason="x" * 501)
        assert caught.value.fields == ("reason",)
        assert (lead.status, lead.version) == (LeadStatus.NEW, version)

    @pytest.mark.parametrize("target", ["quoted", "won"])
    def test_quoted_and_won_follow_from_quotations_not_from_a_manual_move(
        self, holiday: Holiday, target: str
    ) -> None:
        core, admin = holiday.core, holiday.admin
        lead = core.leads.capture(
            LeadRequest(source="phone", phone="+919876543210"), principal=admin
        )
        core.leads.move(lead.id, "qualified", principal=admin)
        with pytest.raises(ValidationError) as caught:
            core.leads.move(lead.id, target, principal=admin)
        assert caught.value.fields == ("status",)
        assert caught.value.errors[0].code == "set_by_quotation"
        assert core.leads.get(lead.id, principal=admin).status is LeadStatus.QUALIFIED
        assert [e.new_values for e in core.audit.trail("lead", lead.id, principal=admin)][-1] == {
            "status": "qualified"
        }
        # A quoted lead is not won by hand either: its quotation's approval does that.
        quoted, _ = _quoted(holiday)
        with pytest.raises(ValidationError):
            core.leads.move(quoted.id, "won", principal=admin)
        assert core.leads.get(quoted.id, principal=admin).status is LeadStatus.QUOTED

    def test_a_customer_sees_only_their_own_leads(self, holiday: Holiday) -> None:
        core = holiday.core
        mine = core.leads.capture(
            LeadRequest(source="web_form", phone="+919876543210"), principal=Principal.system()
        )
        core.leads.capture(
            LeadRequest(source="web_form", phone="+919876543211"), principal=Principal.system()
        )
        me = Principal.customer(mine.customer_id)
        assert [lead.id for lead in core.leads.list(principal=me)] == [mine.id]


class TestQuotations:
    def test_a_line_in_a_supplier_currency_keeps_the_rate_it_was_quoted_at(
        self, holiday: Holiday
    ) -> None:
        lead, quotation = _quoted(holiday)
        hotel, transfer = quotation.lines
        assert hotel.exchange_rate == Decimal("90.25")
        assert hotel.total_in("INR") == Money("14440.00", "INR")
        assert transfer.exchange_rate == 1
        assert quotation.total == Money("56940.00", "INR")
        assert holiday.core.leads.get(lead.id, principal=holiday.admin).status is LeadStatus.QUOTED

    def test_a_revision_supersedes_the_old_version_which_stays_readable_and_unapprovable(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        _, first = _quoted(holiday)
        core.quotations.send(first.id, principal=admin)
        second = core.quotations.revise(first.id, lines=holiday.lines(nights=3), principal=admin)
        versions = core.quotations.revisions(second.reference, principal=admin)
        assert [(q.revision, q.status) for q in versions] == [
            (1, QuotationStatus.SUPERSEDED),
            (2, QuotationStatus.DRAFT),
        ]
        assert versions[0].lines == first.lines
        with pytest.raises(QuotationSupersededError) as caught:
            core.quotations.approve(first.id, _party("Asha", "Ravi"), principal=admin)
        assert caught.value.fields == ("revision",)

    def test_a_rejected_version_is_revised_into_a_counter_offer_and_stays_rejected(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        lead, first = _quoted(holiday)
        core.quotations.send(first.id, principal=admin)
        customer = Principal.customer(first.customer_id)
        core.quotations.reject(first.id, principal=customer, reason="too dear")
        second = core.quotations.revise(first.id, seat_price=Money("18000", "INR"), principal=admin)
        versions = core.quotations.revisions(first.reference, principal=admin)
        assert [(q.revision, q.status) for q in versions] == [
            (1, QuotationStatus.REJECTED),
            (2, QuotationStatus.DRAFT),
        ]
        assert versions[0].rejection_reason == "too dear"
        with pytest.raises(QuotationSupersededError):
            core.quotations.revise(first.id, principal=admin)
        core.quotations.send(second.id, principal=admin)
        booking = core.quotations.approve(second.id, _party("Asha", "Ravi"), principal=customer)
        assert booking.total == second.total
        assert core.leads.get(lead.id, principal=admin).status is LeadStatus.WON
        with pytest.raises(InvalidTransitionError):
            core.quotations.revise(second.id, principal=admin)  # approved: decided for good

    def test_an_expired_version_is_revised_with_a_new_validity(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, first = _quoted(holiday)
        core.quotations.send(first.id, principal=admin)
        holiday.clock.advance(timedelta(days=11))
        core.quotations.expire_due(principal=admin)
        with pytest.raises(ValidationError) as caught:
            core.quotations.revise(first.id, principal=admin)  # keeps the past validity
        assert caught.value.fields == ("valid_until",)
        today = holiday.clock.now().date()
        second = core.quotations.revise(
            first.id, valid_until=today + timedelta(days=5), principal=admin
        )
        versions = core.quotations.revisions(first.reference, principal=admin)
        assert [(q.revision, q.status) for q in versions] == [
            (1, QuotationStatus.EXPIRED),
            (2, QuotationStatus.DRAFT),
        ]
        assert second.valid_until == today + timedelta(days=5)

    def test_an_expired_version_cannot_be_approved(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        holiday.clock.advance(timedelta(days=11))
        with pytest.raises(QuotationExpiredError) as caught:
            core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)
        assert caught.value.fields == ("valid_until",)
        expired = core.quotations.expire_due(principal=admin)
        assert [q.status for q in expired] == [QuotationStatus.EXPIRED]

    def test_sending_logs_the_quotation_as_a_communication(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        sent = core.quotations.send(quotation.id, principal=admin)
        assert sent.quotation.status is QuotationStatus.SENT
        assert sent.communication.type is CommunicationType.QUOTATION
        assert sent.communication.status is CommunicationStatus.FAILED  # no notifier wired
        assert "Total: INR 56,940.00" in sent.communication.content or "56940" in (
            sent.communication.content.replace(",", "")
        )
        logged = core.communications.for_customer(quotation.customer_id, principal=admin)
        assert [c.id for c in logged] == [sent.communication.id]

    def test_revisions_come_in_pages_newest_first(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, first = _quoted(holiday)
        core.quotations.send(first.id, principal=admin)
        second = core.quotations.revise(first.id, principal=admin, travelers=3)
        core.quotations.send(second.id, principal=admin)
        third = core.quotations.revise(second.id, principal=admin, travelers=4)
        core.quotations.send(third.id, principal=admin)
        owner = Principal.customer(first.customer_id)
        page = core.quotations.list(PageRequest(limit=2), principal=owner)
        assert [q.id for q in page] == [third.id, second.id]
        assert page.next_cursor is not None
        rest = core.quotations.list(PageRequest(limit=2, cursor=page.next_cursor), principal=owner)
        assert ([q.id for q in rest], rest.next_cursor) == ([first.id], None)
        superseded = core.quotations.list(principal=admin, status="superseded")
        assert [q.id for q in superseded] == [second.id, first.id]
        with pytest.raises(ValidationError) as caught:
            core.quotations.list(principal=admin, status="maybe")
        assert caught.value.fields == ("status",)

    def test_a_customer_sees_and_decides_only_their_own_quotations(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        owner = Principal.customer(quotation.customer_id)
        other = core.customers.register("+919876500000", principal=admin).customer
        stranger = Principal.customer(other.id)
        quotation = core.quotations.send(quotation.id, principal=admin).quotation
        assert core.quotations.get(quotation.id, principal=owner) == quotation
        with pytest.raises(NotFoundError):
            core.quotations.get(quotation.id, principal=stranger)
        assert core.quotations.list(principal=stranger).items == []
        assert (
            core.quotations.list(principal=stranger, customer_id=quotation.customer_id).items == []
        )
        with pytest.raises(PermissionDeniedError):
            core.quotations.create(
                QuotationRequest(
                    customer_id=other.id,
                    slot_id=holiday.slot.id,
                    travelers=1,
                    valid_until=date(2026, 2, 1),
                ),
                principal=stranger,
            )

    def test_a_customer_sees_a_quotation_only_once_it_was_sent(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, draft = _quoted(holiday)
        owner = Principal.customer(draft.customer_id)
        with pytest.raises(NotFoundError):
            core.quotations.get(draft.id, principal=owner)
        with pytest.raises(NotFoundError):
            core.quotations.revisions(draft.reference, principal=owner)
        assert core.quotations.list(principal=owner).items == []
        assert core.quotations.list(principal=owner, status="draft").items == []
        with pytest.raises(NotFoundError):
            core.quotations.reject(draft.id, principal=owner)
        assert core.quotations.get(draft.id, principal=admin).id == draft.id

        sent = core.quotations.send(draft.id, principal=admin).quotation
        assert core.quotations.get(draft.id, principal=owner) == sent
        assert [q.id for q in core.quotations.list(principal=owner)] == [sent.id]
        newer = core.quotations.revise(sent.id, notes="a cheaper hotel", principal=admin)
        # The new revision is a draft again: the customer still sees only the sent one.
        assert [q.id for q in core.quotations.revisions(sent.reference, principal=owner)] == [
            sent.id
        ]
        with pytest.raises(NotFoundError):
            core.quotations.get(newer.id, principal=owner)
        assert [q.id for q in core.quotations.list(principal=owner)] == [sent.id]
        assert len(core.quotations.revisions(sent.reference, principal=admin)) == 2

    def test_a_deactivated_supplier_cannot_be_quoted(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        core.catalog.set_supplier_active(holiday.hotel.id, False, principal=admin)
        with pytest.raises(ValidationError) as caught:
            _quoted(holiday)
        assert caught.value.fields == ("lines[0].supplier_id",)

    def test_a_currency_without_a_rate_names_the_line(self, holiday: Holiday) -> None:
        lines = [*holiday.lines(), attrs.evolve(holiday.lines()[1], unit_price=Money("5", "GBP"))]
        with pytest.raises(ValidationError) as caught:
            holiday.core.quotations.create(
                QuotationRequest(
                    customer_id=holiday.core.customers.register(
                        "+919876543210", principal=holiday.admin
                    ).customer.id,
                    slot_id=holiday.slot.id,
                    travelers=1,
                    lines=lines,
                    valid_until=date(2026, 2, 1),
                ),
                principal=holiday.admin,
            )
        assert caught.value.fields == ("lines[2].currency",)

    def test_without_exchange_rates_a_line_in_another_currency_names_its_currency(
        self,
    ) -> None:
        h = _holiday(Settings(default_region="IN"))
        core = BookingCore(
            uow_factory=h.core.context.uow_factory, clock=h.clock, settings=h.core.settings
        )
        customer = core.customers.register("+919876543210", principal=h.admin).customer
        with pytest.raises(ValidationError) as caught:
            core.quotations.create(
                QuotationRequest(
                    customer_id=customer.id,
                    slot_id=h.slot.id,
                    travelers=1,
                    lines=h.lines(),
                    valid_until=h.clock.now().date() + timedelta(days=10),
                ),
                principal=h.admin,
            )
        assert caught.value.fields == ("lines[0].currency",)
        assert caught.value.errors[0].code == "no_rate"

    @pytest.mark.parametrize("valid_until", ["2026-02-01", datetime(2026, 2, 1, tzinfo=UTC)])
    def test_a_validity_that_is_not_a_day_is_refused_on_valid_until(
        self, holiday: Holiday, valid_until: object
    ) -> None:
        customer = holiday.core.customers.register("+919876543210", principal=holiday.admin)
        request = QuotationRequest(
            customer_id=customer.customer.id,
            slot_id=holiday.slot.id,
            travelers=1,
            valid_until=valid_until,  # type: ignore[arg-type]
        )
        with pytest.raises(ValidationError) as caught:
            holiday.core.quotations.create(request, principal=holiday.admin)
        assert [(e.field, e.code) for e in caught.value.errors] == [("valid_until", "invalid_type")]
        _, quotation = _quoted(holiday)
        with pytest.raises(ValidationError) as revised:
            holiday.core.quotations.revise(
                quotation.id,
                valid_until=valid_until,  # type: ignore[arg-type]
                principal=holiday.admin,
            )
        assert revised.value.fields == ("valid_until",)

    def test_a_slot_that_started_earlier_today_cannot_be_quoted(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        morning = core.catalog.create_slot(
            location_id=holiday.slot.location_id,
            starts_at=holiday.clock.now() + timedelta(hours=1),
            price_per_traveler=Money("20000", "INR"),
            capacity=12,
            principal=admin,
        )
        holiday.clock.advance(hours=2)  # the same day, an hour after it started
        customer = core.customers.register("+919876543210", principal=admin).customer
        with pytest.raises(ValidationError) as caught:
            core.quotations.create(
                QuotationRequest(
                    customer_id=customer.id,
                    slot_id=morning.id,
                    travelers=1,
                    valid_until=holiday.clock.now().date(),
                ),
                principal=admin,
            )
        assert [(e.field, e.code) for e in caught.value.errors] == [("slot_id", "past")]

    def test_a_rejection_with_a_bad_reason_leaves_the_revision_as_it_was(
        self, holiday: Holiday
    ) -> None:
        _, quotation = _quoted(holiday)
        sent = holiday.core.quotations.send(quotation.id, principal=holiday.admin).quotation
        version = sent.version
        with pytest.raises(ValidationError) as caught:
            sent.reject(now=holiday.clock.now(), reason="x" * 1001)
        assert caught.value.fields == ("reason",)
        assert (sent.status, sent.version, sent.decided_at) == (QuotationStatus.SENT, version, None)

    @pytest.mark.parametrize("travelers", [0, -1])
    def test_a_revision_for_no_travelers_is_refused_not_ignored(
        self, holiday: Holiday, travelers: int
    ) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        with pytest.raises(ValidationError) as caught:
            core.quotations.revise(quotation.id, travelers=travelers, principal=admin)
        assert caught.value.fields == ("travelers",)
        revisions = core.quotations.revisions(quotation.reference, principal=admin)
        assert [(q.revision, q.status) for q in revisions] == [(1, QuotationStatus.DRAFT)]
        lead = core.leads.capture(
            LeadRequest(source="phone", phone="+919876543211", travelers=3), principal=admin
        )
        with pytest.raises(ValidationError) as caught:
            core.quotations.convert_lead(
                lead.id,
                slot_id=holiday.slot.id,
                valid_until=holiday.clock.now().date() + timedelta(days=5),
                travelers=travelers,
                principal=admin,
            )
        assert caught.value.fields == ("travelers",)

    @pytest.mark.parametrize(
        ("seat_price", "code"),
        [
            (Money("-5", "INR"), "negative_amount"),
            (Decimal("15000"), "invalid_type"),
            ("15000", "invalid_type"),
        ],
    )
    def test_a_bad_seat_price_is_refused_on_its_field(
        self, holiday: Holiday, seat_price: Any, code: str
    ) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        with pytest.raises(ValidationError) as caught:
            core.quotations.revise(quotation.id, seat_price=seat_price, principal=admin)
        assert caught.value.fields == ("seat_price",)
        assert caught.value.errors[0].code == code
        revisions = core.quotations.revisions(quotation.reference, principal=admin)
        assert [(q.revision, q.status) for q in revisions] == [(1, QuotationStatus.DRAFT)]


class TestApproval:
    def test_approving_the_current_version_books_seats_and_items_in_one_path(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        lead, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        customer = Principal.customer(quotation.customer_id)
        booking = core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=customer)
        assert booking.status == "booking_created"
        assert booking.lifecycle == "travel"
        assert booking.total == quotation.total
        assert booking.items_total == quotation.lines_total
        history = core.bookings.history(booking.id, principal=admin)
        assert [e.to_status for e in history] == [
            "lead_created",
            "quotation_sent",
            "quotation_approved",
            "booking_created",
        ]
        items = core.items.for_booking(booking.id, principal=admin)
        assert [(i.kind.value, i.booking_currency, i.exchange_rate) for i in items] == [
            ("hotel", "INR", Decimal("90.25")),
            ("ground_service", "INR", Decimal(1)),
        ]
        assert core.catalog.get_slot(holiday.slot.id, principal=admin).seats_held == 2
        approved = core.quotations.get(quotation.id, principal=admin)
        assert (approved.status, approved.booking_id) == (QuotationStatus.APPROVED, booking.id)
        assert core.leads.get(lead.id, principal=admin).status is LeadStatus.WON

    def test_an_approved_quotation_keeps_its_quoted_price_whatever_the_loyalty_tier(
        self,
    ) -> None:
        """A quoted price is the price agreed: no loyalty discount comes off on top."""
        everyone = LoyaltyProgram([LoyaltyTier("Member", discount_percent=Decimal(5))])
        holiday = _holiday(Settings(default_region="IN", loyalty=everyone))
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        customer = Principal.customer(quotation.customer_id)
        booking = core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=customer)
        assert (booking.total, booking.loyalty_tier) == (quotation.total, None)
        direct = core.bookings.book(
            BookingRequest(holiday.slot.id, _party("Kabir"), customer_id=quotation.customer_id),
            principal=admin,
        )
        assert (direct.loyalty_tier, direct.loyalty_discount) == ("Member", Money("1000", "INR"))

    @pytest.mark.parametrize("tiers", [[DiscountTier(2, Decimal(10))], []])
    def test_a_quotation_whose_slot_discounts_changed_is_not_booked_at_another_price(
        self, tiers: list[DiscountTier]
    ) -> None:
        """The price agreed is the quoted one: new group tiers on the slot (more off,
        or the tier the quotation had gone) refuse the approval and book nothing."""
        holiday = _holiday(Settings(default_region="IN"))
        core, admin = holiday.core, holiday.admin
        if not tiers:
            core.catalog.update_slot(
                holiday.slot.id, group_discounts=[DiscountTier(2, Decimal(5))], principal=admin
            )
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        core.catalog.update_slot(holiday.slot.id, group_discounts=tiers, principal=admin)
        customer = Principal.customer(quotation.customer_id)
        with pytest.raises(ValidationError) as refused:
            core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=customer)
        assert [(e.field, e.code) for e in refused.value.errors] == [
            ("seats_total", "price_changed")
        ]
        assert core.catalog.get_slot(holiday.slot.id, principal=admin).seats_held == 0
        still = core.quotations.get(quotation.id, principal=admin)
        assert (still.status, still.booking_id) == (QuotationStatus.SENT, None)

    @pytest.mark.parametrize("moves", [["lost"], ["lost", "new"]])
    def test_an_approved_quotation_wins_its_lead_even_one_marked_lost(
        self, holiday: Holiday, moves: list[str]
    ) -> None:
        # The desk gave up on the lead (and maybe reopened it), but the customer then
        # approved the quotation still sent to them: a booking exists, the lead is won.
        core, admin = holiday.core, holiday.admin
        lead, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        for status in moves:
            core.leads.move(lead.id, status, principal=admin, reason="no answer")
        customer = Principal.customer(quotation.customer_id)
        core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=customer)
        won = core.leads.get(lead.id, principal=admin)
        assert (won.status, won.lost_reason) == (LeadStatus.WON, None)
        assert [lead.id for lead in core.leads.list(principal=admin, status="lost")] == []

    def test_a_draft_cannot_be_approved_and_the_party_size_must_match(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        with pytest.raises(InvalidTransitionError):
            core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)
        core.quotations.send(quotation.id, principal=admin)
        with pytest.raises(ValidationError) as caught:
            core.quotations.approve(quotation.id, _party("Asha"), principal=admin)
        assert caught.value.fields == ("travelers",)

    def test_a_supplier_deactivated_after_quoting_refuses_the_approval(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        core.catalog.set_supplier_active(holiday.jeeps.id, False, principal=admin)
        with pytest.raises(ValidationError) as caught:
            core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)
        assert caught.value.fields == ("items[1].supplier_id",)
        assert core.catalog.get_slot(holiday.slot.id, principal=admin).seats_held == 0


class TestSupplierAnswers:
    def _booked(self, holiday: Holiday) -> Booking:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        return core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)

    def test_a_supplier_sees_and_confirms_only_its_own_items(self, holiday: Holiday) -> None:
        core = holiday.core
        booking = self._booked(holiday)
        hotel_user = holiday.supplier_user(holiday.hotel)
        mine = core.items.for_booking(booking.id, principal=hotel_user)
        assert [i.supplier_id for i in mine] == [holiday.hotel.id]
        theirs = core.items.for_booking(booking.id, principal=holiday.admin)[1]
        with pytest.raises(NotFoundError):
            core.items.confirm(theirs.id, principal=hotel_user)
        assert list(core.items.for_supplier(principal=hotel_user)) == mine
        with pytest.raises(PermissionDeniedError):
            core.items.for_supplier(principal=hotel_user, supplier_id=holiday.jeeps.id)
        assert list(core.items.for_supplier(principal=hotel_user, status="Pending")) == mine
        for unknown in ("", "shipped"):  # was a ValueError (a 500 in the example host)
            with pytest.raises(ValidationError) as caught:
                core.items.for_supplier(principal=hotel_user, status=unknown)
            assert caught.value.fields == ("status",)

    def test_a_confirmation_with_a_bad_reference_leaves_the_item_pending(
        self, holiday: Holiday
    ) -> None:
        core = holiday.core
        booking = self._booked(holiday)
        hotel_user = holiday.supplier_user(holiday.hotel)
        (item,) = core.items.for_booking(booking.id, principal=hotel_user)
        with pytest.raises(ValidationError) as caught:
            core.items.confirm(item.id, principal=hotel_user, supplier_reference="R" * 256)
        assert caught.value.fields == ("supplier_reference",)
        version = item.version
        with pytest.raises(ValidationError):
            item.confirm(now=holiday.clock.now(), supplier_reference="R" * 256)
        assert (item.status, item.version) == (BookingItemStatus.PENDING, version)

    def test_the_booking_reaches_supplier_confirmed_only_when_every_item_is_confirmed(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        core.payments.record_manual_payment(
            booking.id, booking.total, principal=admin, reference="CASH-1"
        )
        hotel_item, jeep_item = core.items.for_booking(booking.id, principal=admin)
        with pytest.raises(ValidationError) as caught:
            core.bookings.transition(booking.id, "supplier_confirmed", principal=admin)
        assert caught.value.fields == ("to",)
        jeeps = holiday.supplier_user(holiday.jeeps)
        core.items.reject(jeep_item.id, "no jeep free that day", principal=jeeps)
        seen = core.items.for_booking(booking.id, principal=admin)[1]
        assert (seen.status, seen.rejection_reason) == (
            BookingItemStatus.REJECTED,
            "no jeep free that day",
        )
        core.items.confirm(hotel_item.id, principal=holiday.supplier_user(holiday.hotel))
        assert core.bookings.get(booking.id, principal=admin).status == "payment_confirmed"
        core.items.request_again(jeep_item.id, principal=admin)
        core.items.confirm(jeep_item.id, principal=jeeps, supplier_reference="JP-7")
        assert core.bookings.get(booking.id, principal=admin).status == "supplier_confirmed"

    def test_cancelling_an_item_takes_it_out_of_the_total(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        jeep_item = core.items.for_booking(booking.id, principal=admin)[1]
        core.items.cancel(jeep_item.id, principal=admin)
        after = core.bookings.get(booking.id, principal=admin)
        assert after.total == booking.total - Money("2500", "INR")


class TestCatalog:
    def test_products_are_updated_deactivated_and_searched_by_kind_location_and_text(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        leh = core.catalog.location("LEH", principal=admin)
        lodge = core.catalog.add_product(
            "LODGE",
            "Lake lodge",
            "hotel",
            principal=admin,
            supplier_id=holiday.hotel.id,
            location_id=leh.id,
        )
        core.catalog.add_product("RAFT", "Rafting on the Indus", "activity", principal=admin)
        found = core.catalog.search_products(principal=admin, kind="hotel", location_id=leh.id)
        assert [p.code for p in found] == ["LODGE"]
        assert [p.code for p in core.catalog.search_products(principal=admin, text="indus")] == [
            "RAFT"
        ]
        renamed = core.catalog.update_product(lodge.id, name="Lakeside lodge", principal=admin)
        assert (renamed.name, renamed.kind) == ("Lakeside lodge", ProductKind.HOTEL)
        core.catalog.set_supplier_active(holiday.hotel.id, False, principal=admin)
        assert list(core.catalog.search_products(principal=admin, kind="hotel")) == []
        assert [s.code for s in core.catalog.search_suppliers(principal=admin, text="jeep")] == [
            "JEEPS"
        ]
        with pytest.raises(PermissionDeniedError):
            core.catalog.set_product_active(
                lodge.id, False, principal=holiday.supplier_user(holiday.hotel)
            )


class TestDashboard:
    def test_the_dashboard_counts_leads_and_lists_what_waits(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        board = core.dashboard.staff(principal=admin)
        assert board.leads_by_status["quoted"] == 1
        assert [q.id for q in board.quotations_awaiting_approval] == [quotation.id]
        booking = core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)
        board = core.dashboard.staff(principal=admin)
        assert [(b.id, n) for b, n in board.bookings_waiting_for_supplier] == [(booking.id, 2)]
        assert [b.id for b in board.awaiting_payment] == [booking.id]
        departure_day = holiday.slot.starts_at.date()
        assert [
            b.id for b in core.dashboard.staff(principal=admin, day=departure_day).departures
        ] == [booking.id]


class TestTripsItinerariesAndDocuments:
    def _booked(self, holiday: Holiday) -> Booking:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        return core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)

    def test_a_trip_groups_one_customers_bookings_with_dates(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        start = holiday.slot.starts_at.date()
        trip = core.trips.create(
            booking.customer_id,
            "Ladakh in spring",
            starts_on=start,
            ends_on=start + timedelta(days=8),
            booking_ids=[booking.id],
            principal=admin,
        )
        owner = Principal.customer(booking.customer_id)
        assert list(core.trips.for_customer(booking.customer_id, principal=owner)) == [trip]
        other = core.customers.register("+919876500000", principal=admin).customer
        with pytest.raises(ValidationError) as caught:
            core.trips.create(
                other.id,
                "Not theirs",
                starts_on=start,
                ends_on=start,
                booking_ids=[booking.id],
                principal=admin,
            )
        assert caught.value.fields == ("booking_ids[0]",)
        with pytest.raises(NotFoundError):
            core.trips.get(trip.id, principal=Principal.customer(other.id))

    @pytest.mark.parametrize("field", ["starts_on", "ends_on"])
    @pytest.mark.parametrize("value", ["2026-03-01", datetime(2026, 3, 1, tzinfo=UTC), None])
    def test_trip_dates_that_are_not_days_are_refused_on_their_field(
        self, holiday: Holiday, field: str, value: object
    ) -> None:
        core, admin = holiday.core, holiday.admin
        customer = core.customers.register("+919876500000", principal=admin).customer
        dates: dict[str, Any] = {"starts_on": date(2026, 3, 1), "ends_on": date(2026, 3, 9)}
        dates[field] = value
        with pytest.raises(ValidationError) as caught:
            core.trips.create(customer.id, "Spring", principal=admin, **dates)
        assert caught.value.fields == (field,)
        assert list(core.trips.for_customer(customer.id, principal=admin)) == []

    @pytest.mark.parametrize("value", ["2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)])
    def test_an_itinerary_day_that_is_not_a_day_is_refused_on_day(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            ItineraryDay(day=value, title="Pangong lake")  # type: ignore[arg-type]
        assert caught.value.fields == ("day",)

    def test_every_change_to_a_trip_leaves_an_audit_entry(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        start = holiday.slot.starts_at.date()
        trip = core.trips.create(
            booking.customer_id,
            "Ladakh in spring",
            starts_on=start,
            ends_on=start,
            principal=admin,
        )
        holiday.clock.advance(minutes=1)
        core.trips.add_booking(trip.id, booking.id, principal=admin, idempotency_key="add-1")
        core.trips.add_booking(trip.id, booking.id, principal=admin, idempotency_key="add-1")
        holiday.clock.advance(minutes=1)
        core.trips.remove_booking(trip.id, booking.id, principal=admin)
        core.trips.remove_booking(trip.id, booking.id, principal=admin)  # not on it: no change
        trail = core.audit.trail("trip", trip.id, principal=admin)
        assert [(e.action.value, e.old_values, e.new_values) for e in trail] == [
            (
                "created",
                {},
                {
                    "customer_id": str(booking.customer_id),
                    "name": "Ladakh in spring",
                    "starts_on": start.isoformat(),
                    "ends_on": start.isoformat(),
                    "booking_ids": [],
                    "notes": None,
                },
            ),
            ("updated", {"booking_ids": []}, {"booking_ids": [str(booking.id)]}),
            ("updated", {"booking_ids": [str(booking.id)]}, {"booking_ids": []}),
        ]
        assert {e.actor for e in trail} == {admin.actor}
        assert core.trips.get(trip.id, principal=admin).version == 3

    def test_adding_a_booking_the_trip_holds_already_names_booking_id(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        start = holiday.slot.starts_at.date()
        trip = core.trips.create(
            booking.customer_id,
            "Ladakh in spring",
            starts_on=start,
            ends_on=start,
            booking_ids=[booking.id],
            principal=admin,
        )
        with pytest.raises(ValidationError) as caught:
            core.trips.add_booking(trip.id, booking.id, principal=admin)
        assert caught.value.fields == ("booking_id",)
        assert caught.value.errors[0].code == "on_this_trip"
        assert core.trips.get(trip.id, principal=admin).version == trip.version

    def test_every_change_to_an_itinerary_leaves_an_audit_entry(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        plan = core.itineraries.generate(booking.id, principal=admin)
        core.itineraries.generate(booking.id, principal=admin)  # there already: no change
        second = plan.days[1].day
        holiday.clock.advance(minutes=1)
        edited = core.itineraries.set_day(
            booking.id, ItineraryDay(day=second, title="Pangong lake"), principal=admin
        )
        holiday.clock.advance(minutes=1)
        core.itineraries.remove_day(booking.id, second, principal=admin)
        holiday.clock.advance(minutes=1)
        core.itineraries.generate(booking.id, principal=admin, replace=True)
        trail = core.audit.trail("itinerary", plan.id, principal=admin)
        assert [e.action.value for e in trail] == ["created", "updated", "updated", "updated"]
        created, set_day, removed, replaced = trail
        assert created.new_values["booking_id"] == str(booking.id)
        assert len(created.new_values["days"]) == len(plan.days)
        assert set_day.old_values["days"] == created.new_values["days"]
        assert [d["title"] for d in set_day.new_values["days"]] == [d.title for d in edited.days]
        assert removed.old_values == set_day.new_values
        assert len(removed.new_values["days"]) == len(plan.days) - 1
        assert replaced.old_values == removed.new_values
        assert replaced.new_values["days"] == created.new_values["days"]
        assert all(e.actor == admin.actor for e in trail)

    def test_the_itinerary_is_planned_from_the_items_and_edited_by_staff(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        plan = core.itineraries.generate(booking.id, principal=admin)
        first = holiday.slot.starts_at.date()
        assert [d.day for d in plan.days] == [
            first,
            first + timedelta(days=1),
            first + timedelta(2),
        ]
        assert "Airport transfer by jeep" in plan.days[0].entries
        assert plan.days[2].entries == ("Check out: Lakeside hotel, 2 nights, twin room",)
        edited = core.itineraries.set_day(
            booking.id,
            ItineraryDay(day=first + timedelta(days=1), title="Pangong lake", notes="Warm clothes"),
            principal=admin,
        )
        assert edited.days[1].title == "Pangong lake"
        owner = Principal.customer(booking.customer_id)
        assert core.itineraries.get(booking.id, principal=owner) == edited
        with pytest.raises(PermissionDeniedError):
            core.itineraries.set_day(booking.id, edited.days[0], principal=owner)

    def test_cancelling_an_earlier_item_leaves_later_voucher_numbers_unchanged(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        hotel_item, jeep_item = core.items.for_booking(booking.id, principal=admin)
        first = core.travel_documents.generate(booking.id, "voucher", principal=admin)
        assert [d.filename for d in first] == ["voucher-1-v1.txt", "voucher-2-v1.txt"]
        assert "Ladakh Jeeps" in first[1].content
        core.items.cancel(hotel_item.id, principal=admin)
        again = core.travel_documents.generate(booking.id, "voucher", principal=admin)
        # The jeep voucher keeps its number 2 (a new version of it), never becomes 1.
        assert [d.filename for d in again] == ["voucher-2-v2.txt"]
        assert "Ladakh Jeeps" in again[0].content
        assert jeep_item.supplier_id == holiday.jeeps.id

    def test_a_booking_names_the_trip_it_is_on_as_trips_gain_and_lose_it(
        self, holiday: Holiday
    ) -> None:
        """``Booking.trip_id`` follows the trips' ``booking_ids`` in the same unit of
        work: set by ``create`` and ``add_booking``, cleared by ``remove_booking``;
        a booking on one trip is refused by another and keeps its trip."""
        core, admin = holiday.core, holiday.admin
        booking = self._booked(holiday)
        start = holiday.slot.starts_at.date()

        def trip_of() -> object:
            return core.bookings.get(booking.id, principal=admin).trip_id

        assert trip_of() is None
        first = core.trips.create(
            booking.customer_id,
            "Ladakh in spring",
            starts_on=start,
            ends_on=start,
            booking_ids=[booking.id],
            principal=admin,
        )
        assert trip_of() == first.id
        second = core.trips.create(
            booking.customer_id, "Goa", starts_on=start, ends_on=start, principal=admin
        )
        with pytest.raises(ValidationError) as caught:
            core.trips.add_booking(second.id, booking.id, principal=admin)
        assert caught.value.errors[0].code == "on_another_trip"
        core.trips.remove_booking(second.id, booking.id, principal=admin)  # not on it
        assert trip_of() == first.id
        version = core.bookings.get(booking.id, principal=admin).version
        core.trips.remove_booking(first.id, booking.id, principal=admin)
        assert trip_of() is None
        assert core.bookings.get(booking.id, principal=admin).version == version + 1
        core.trips.add_booking(second.id, booking.id, principal=admin)
        assert trip_of() == second.id
        assert core.trips.get(second.id, principal=admin).booking_ids == (booking.id,)

    def test_a_quotation_document_records_the_quotation_it_shows(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        booking = core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)
        [quote] = core.travel_documents.generate(booking.id, "quotation", principal=admin)
        vouchers = core.travel_documents.generate(booking.id, "voucher", principal=admin)
        assert quote.quotation_id == quotation.id
        assert [d.quotation_id for d in vouchers] == [None] * len(vouchers)
        listed = core.bookings.documents(booking.id, principal=admin)
        assert [d.quotation_id for d in listed if d.id == quote.id] == [quotation.id]

    def test_documents_are_generated_on_demand_as_new_versions_in_the_store(
        self, holiday: Holiday, tmp_path: Path
    ) -> None:
        store = FileSystemDocumentStore(tmp_path)
        core = holiday.core
        core.travel_documents = TravelDocumentService(core.context, core.itineraries, store)
        admin = holiday.admin
        booking = self._booked(holiday)
        vouchers = core.travel_documents.generate(booking.id, "voucher", principal=admin)
        assert [d.filename for d in vouchers] == ["voucher-1-v1.txt", "voucher-2-v1.txt"]
        assert "Lakeside Hotel" in vouchers[0].content
        again = [
            *core.travel_documents.generate(booking.id, "itinerary", principal=admin),
            *core.travel_documents.generate(booking.id, "itinerary", principal=admin),
        ]
        assert [d.filename for d in again] == ["itinerary-v1.txt", "itinerary-v2.txt"]
        quote = core.travel_documents.generate(booking.id, "quotation", principal=admin)[0]
        assert "Total: " in quote.content
        kept = store.get(f"{booking.reference}/itinerary-v2.txt").decode()
        assert kept == again[1].content
        listed = core.bookings.documents(booking.id, principal=admin)
        assert len(listed) == 5
        with pytest.raises(ValidationError):
            core.travel_documents.generate(booking.id, "certificate", principal=admin)
        assert core.travel_documents.generate(booking.id, "invoice", principal=admin) == []
        with pytest.raises(ValidationError):
            store.put("../escape.txt", b"x", media_type="text/plain")


class TestApprovalRetries:
    def test_a_retried_approval_with_its_key_returns_the_first_booking(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        customer = Principal.customer(quotation.customer_id)
        party = _party("Asha", "Ravi")
        first = core.quotations.approve(
            quotation.id, party, principal=customer, idempotency_key="k1"
        )
        again = core.quotations.approve(
            quotation.id, party, principal=customer, idempotency_key="k1"
        )
        assert again == first
        assert len(core.bookings.list(principal=admin).items) == 1
        with pytest.raises(IdempotencyConflictError):
            core.quotations.approve(
                quotation.id, _party("Asha", "Mira"), principal=customer, idempotency_key="k1"
            )
        with pytest.raises(InvalidTransitionError):
            core.quotations.approve(quotation.id, party, principal=customer)


class TestDirectBookingWithItems:
    def test_staff_book_seats_with_items_and_the_total_includes_them(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        item = BookedItem(
            kind="activity",
            description="Rafting on the Indus",
            quantity=2,
            unit_price=Money("30", "EUR"),
            supplier_id=holiday.jeeps.id,
            exchange_rate=Decimal("90.25"),
        )
        request = BookingRequest(
            holiday.slot.id,
            _party("Asha", "Ravi"),
            customer=CustomerDetails("+919876543210"),
            items=[item],
        )
        booking = core.bookings.book(request, principal=admin)
        assert booking.items_total == Money("5415.00", "INR")
        assert booking.total == Money("45415.00", "INR")
        with pytest.raises(ValidationError) as caught:
            core.bookings.book(
                attrs.evolve(request, items=[attrs.evolve(item, exchange_rate=None)]),
                principal=admin,
            )
        assert caught.value.fields == ("items[0].exchange_rate",)
        customer = Principal.customer(booking.customer_id)
        with pytest.raises(PermissionDeniedError):
            core.bookings.book(
                attrs.evolve(request, customer=None, travelers=_party("Mira")),
                principal=customer,
            )


class TestPartnerLeads:
    def test_a_partners_lead_is_its_own_and_marked_partner(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            principal=admin,
        ).partner
        agent = Principal.partner(partner.id)
        lead = core.leads.capture(
            LeadRequest(source="web_form", phone="+919876543210", name="Asha Rao"),
            principal=agent,
        )
        assert (lead.source, lead.partner_id) == (LeadSource.PARTNER, partner.id)
        assert [found.id for found in core.leads.list(principal=agent)] == [lead.id]
        other = Principal.partner(PartnerId(uuid4()))
        with pytest.raises(NotFoundError):
            core.leads.get(lead.id, principal=other)
        with pytest.raises(PermissionDeniedError):
            core.leads.move(lead.id, "contacted", principal=agent)

    def test_a_partner_or_customer_does_not_pick_who_works_their_lead(
        self, holiday: Holiday
    ) -> None:
        # Choosing the member of staff is assigning, which takes change_all; a
        # partner or customer may still ask for a strategy, as a web form does.
        core, admin = holiday.core, holiday.admin
        ann = core.staff.add("ann@example.com", "Ann", principal=admin)
        partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            principal=admin,
        ).partner
        customer = core.customers.register("+919876543211", principal=admin).customer
        request = LeadRequest(source="web_form", phone="+919876543210")
        for who in (Principal.partner(partner.id), Principal.customer(customer.id)):
            with pytest.raises(PermissionDeniedError):
                core.leads.capture(request, principal=who, assign=ann.id)
            lead = core.leads.capture(request, principal=who, assign="round_robin")
            assert lead.assignee_id == ann.id
        assert core.leads.list(principal=admin, assignee_id=ann.id).items[0].assignee_id == ann.id
        assert len(core.leads.list(principal=admin).items) == 2


class TestConversion:
    def test_a_lead_converts_into_a_quotation_for_its_party(self, holiday: Holiday) -> None:
        core, admin = holiday.core, holiday.admin
        lead = core.leads.capture(
            LeadRequest(source="phone", phone="+919876543210", travelers=3), principal=admin
        )
        until = holiday.clock.now().date() + timedelta(days=5)
        quotation = core.quotations.convert_lead(
            lead.id, slot_id=holiday.slot.id, valid_until=until, principal=admin
        )
        assert (quotation.customer_id, quotation.travelers, quotation.lead_id) == (
            lead.customer_id,
            3,
            lead.id,
        )
        assert core.leads.get(lead.id, principal=admin).status is LeadStatus.QUOTED
        lost = core.leads.capture(
            LeadRequest(source="phone", phone="+919876543211"), principal=admin
        )
        with pytest.raises(ValidationError) as caught:
            core.quotations.convert_lead(
                lost.id, slot_id=holiday.slot.id, valid_until=until, principal=admin
            )
        assert caught.value.fields == ("travelers",)
        core.leads.move(lost.id, "lost", principal=admin, reason="no budget")
        with pytest.raises(InvalidTransitionError):
            core.quotations.convert_lead(
                lost.id, slot_id=holiday.slot.id, valid_until=until, principal=admin, travelers=1
            )


class TestSuppliersBeforePayment:
    def test_a_booking_whose_suppliers_all_confirmed_moves_on_once_paid(
        self, holiday: Holiday
    ) -> None:
        core, admin = holiday.core, holiday.admin
        install_supplier_confirmation(core.events, core.context)
        _, quotation = _quoted(holiday)
        core.quotations.send(quotation.id, principal=admin)
        booking = core.quotations.approve(quotation.id, _party("Asha", "Ravi"), principal=admin)
        for item in core.items.for_booking(booking.id, principal=admin):
            supplier = holiday.hotel if item.supplier_id == holiday.hotel.id else holiday.jeeps
            core.items.confirm(item.id, principal=holiday.supplier_user(supplier))
        assert core.bookings.get(booking.id, principal=admin).status == "booking_created"
        core.payments.record_manual_payment(
            booking.id, booking.total, principal=admin, reference="CASH-1"
        )
        history = core.bookings.history(booking.id, principal=admin)
        assert [e.to_status for e in history][-2:] == ["payment_confirmed", "supplier_confirmed"]
        assert history[-1].actor.kind.value == "system"
