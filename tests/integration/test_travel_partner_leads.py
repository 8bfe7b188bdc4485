"""A partner's lead, quoted by staff and approved by the customer, books for the partner.

Regression: the booking made from the approved quotation of a lead a partner captured had
no ``partner_id`` (only the acting principal was looked at), so the partner earned no
commission on its payments and could not read it. It now carries the lead's partner, on
every backend; nobody else's lead or booking is attributed to a partner.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, CommissionEntryKind, Lead, Partner, WebhookTopic
from bookingcore.services import LeadRequest
from bookingcore.testing import FixedClock, RecordingWebhookSender
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
PHONE = "+919812345678"


class Agency:
    """A core over one backend, two partners at a base camp and a departure to quote."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.core = core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            webhook_sender=RecordingWebhookSender(),
        )
        self.camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("10000", "INR"),
            capacity=20,
            principal=ADMIN,
        )
        self.partner = self.register("Trailhead")
        self.other = self.register("Summit")
        self.as_partner = Principal.partner(self.partner.id)
        self.as_other = Principal.partner(self.other.id)

    def register(self, name: str) -> Partner:
        return self.core.partners.register(
            name=name,
            company_name=f"{name} Pvt Ltd",
            contact_email=f"ops@{name.lower()}.example.com",
            allowed_location_ids=[self.camp.id],
            commission_rate=Decimal("10"),
            webhook_url=f"https://{name.lower()}.example.com/hooks",
            principal=ADMIN,
        ).partner

    def capture(self, principal: Principal, phone: str = PHONE) -> Lead:
        return self.core.leads.capture(
            LeadRequest(source="phone", phone=phone, name="Asha Rao", travelers=1),
            principal=principal,
        )

    def approved(
        self, lead: Lead, *, by: Principal | None = None, traveler: str = "Asha Rao"
    ) -> Booking:
        """Staff quote the lead and send it; the customer (or ``by``) approves it."""
        core = self.core
        quotation = core.quotations.convert_lead(
            lead.id,
            slot_id=self.slot.id,
            valid_until=self.clock.now().date() + timedelta(days=5),
            principal=ADMIN,
        )
        core.quotations.send(quotation.id, principal=ADMIN)
        party = [NewTraveler(TravelerDetails(traveler), is_primary=True)]
        approver = by or Principal.customer(lead.customer_id)
        return core.quotations.approve(quotation.id, party, principal=approver)

    def visible_to(self, principal: Principal) -> set[str]:
        return {b.reference for b in self.core.bookings.list(principal=principal).items}


@pytest.fixture
def agency(any_store: MemoryStore | SqlStore) -> Agency:
    return Agency(any_store)


class TestThePartnersLeadBooksForThePartner:
    @pytest.mark.parametrize("approver", ["customer", "staff"])
    def test_the_booking_carries_the_partner_of_the_lead(
        self, agency: Agency, approver: str
    ) -> None:
        lead = agency.capture(agency.as_partner)
        booking = agency.approved(lead, by=ADMIN if approver == "staff" else None)
        assert booking.partner_id == agency.partner.id
        stored = agency.core.bookings.get(booking.id, principal=ADMIN)
        assert stored.partner_id == agency.partner.id
        # Brought by the partner, not made by it: the channel stays the staff's.
        assert stored.created_by_partner_id is None
        assert stored.source.value == "direct"

    def test_its_captured_payment_accrues_the_partners_commission(self, agency: Agency) -> None:
        booking = agency.approved(agency.capture(agency.as_partner))
        agency.core.payments.record_manual_payment(
            booking.id, Money("10000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        (entry,) = agency.core.commissions.for_booking(booking.id, principal=ADMIN)
        assert entry.kind is CommissionEntryKind.ACCRUAL
        assert entry.partner_id == agency.partner.id
        assert entry.amount == Money("1000", "INR")
        report = agency.core.commissions.report(
            agency.clock.now() - timedelta(days=1),
            agency.clock.now() + timedelta(days=1),
            principal=agency.as_partner,
        )
        assert [line.net for line in report.lines] == [Money("1000", "INR")]

    def test_the_partner_reads_that_booking_and_no_other_of_the_customer(
        self, agency: Agency
    ) -> None:
        core = agency.core
        referred = agency.approved(agency.capture(agency.as_partner))
        # The same customer books directly with the desk, and through a lead of the desk's.
        direct = core.bookings.book(
            BookingRequest(
                agency.slot.id,
                [NewTraveler(TravelerDetails("Ravi Rao"), is_primary=True)],
                customer_id=referred.customer_id,
            ),
            principal=ADMIN,
        )
        desk = agency.approved(agency.capture(Principal.system("website")), traveler="Mira Rao")
        assert direct.partner_id is None
        assert desk.partner_id is None
        assert core.bookings.get(referred.id, principal=agency.as_partner).id == referred.id
        assert agency.visible_to(agency.as_partner) == {referred.reference}
        for hidden in (direct, desk):
            with pytest.raises(NotFoundError):
                core.bookings.get(hidden.id, principal=agency.as_partner)
        assert agency.visible_to(agency.as_other) == set()
        with pytest.raises(NotFoundError):
            core.bookings.get(referred.id, principal=agency.as_other)

    def test_the_audit_trail_shows_the_partner_on_the_booking(self, agency: Agency) -> None:
        booking = agency.approved(agency.capture(agency.as_partner))
        trail = agency.core.audit.trail("booking", booking.id, principal=ADMIN)
        (created,) = [e for e in trail if e.action.value == "created"]
        assert created.new_values["partner_id"] == str(agency.partner.id)
        assert created.actor.kind.value != "partner"  # staff/customer made it, for the partner

    def test_the_partner_is_sent_the_bookings_webhooks(self, agency: Agency) -> None:
        booking = agency.approved(agency.capture(agency.as_partner))
        deliveries = agency.core.webhooks.list(principal=agency.as_partner).items
        assert (WebhookTopic.BOOKING_CREATED, booking.id) in [
            (d.topic, d.booking_id) for d in deliveries
        ]
        assert {d.partner_id for d in deliveries} == {agency.partner.id}
        assert agency.core.webhooks.list(principal=agency.as_other).items == []


class TestNoPartnerTakesAnothersLead:
    def test_another_partners_lead_for_the_same_customer_changes_nothing(
        self, agency: Agency
    ) -> None:
        mine = agency.capture(agency.as_partner)
        theirs = agency.capture(agency.as_other)
        assert theirs.customer_id == mine.customer_id
        booking = agency.approved(mine)
        assert booking.partner_id == agency.partner.id
        with pytest.raises(NotFoundError):
            agency.core.bookings.get(booking.id, principal=agency.as_other)

    def test_a_lead_of_the_desk_for_a_partners_customer_books_without_partner(
        self, agency: Agency
    ) -> None:
        # The partner registered the customer; the desk's own lead is not the partner's.
        customer = agency.core.customers.register(
            PHONE, name="Asha Rao", principal=agency.as_partner
        ).customer
        lead = agency.capture(ADMIN)
        assert lead.customer_id == customer.id
        assert lead.partner_id is None
        booking = agency.approved(lead)
        assert booking.partner_id is None
        assert agency.visible_to(agency.as_partner) == set()

    def test_a_partner_cannot_find_a_customer_it_may_not_see_by_email(self, agency: Agency) -> None:
        # An email on file of a customer the partner may not see is answered as an
        # unknown one: no lead, no customer id, nothing to tell the two apart.
        core = agency.core
        core.customers.register(PHONE, name="Asha Rao", email="asha@example.com", principal=ADMIN)
        answers = []
        for email in ("asha@example.com", "nobody@example.com"):
            with pytest.raises(ValidationError) as refused:
                core.leads.capture(
                    LeadRequest(source="phone", email=email, travelers=1),
                    principal=agency.as_partner,
                )
            answers.append([(e.field, e.code) for e in refused.value.errors])
        assert answers[0] == answers[1] == [("phone", "required")]
        assert core.leads.list(principal=ADMIN).items == []

    def test_a_provider_s_webhook_captures_no_lead(self, agency: Agency) -> None:
        with pytest.raises(PermissionDeniedError):
            agency.capture(Principal.webhook("razorpay"))

    def test_a_provider_s_webhook_sends_no_quotation_and_marks_none_sent(
        self, agency: Agency
    ) -> None:
        core = agency.core
        lead = agency.capture(ADMIN)
        quotation = core.quotations.convert_lead(
            lead.id,
            slot_id=agency.slot.id,
            valid_until=agency.clock.now().date() + timedelta(days=5),
            principal=ADMIN,
        )
        with pytest.raises(PermissionDeniedError):
            core.quotations.send(quotation.id, principal=Principal.webhook("razorpay"))
        assert core.quotations.get(quotation.id, principal=ADMIN).status == quotation.status
        assert core.communications.for_customer(lead.customer_id, principal=ADMIN) == []

    def test_a_partner_cannot_quote_or_approve_a_lead(self, agency: Agency) -> None:
        core = agency.core
        theirs = agency.capture(agency.as_other)
        with pytest.raises(NotFoundError):  # not its lead: it cannot even see it
            core.quotations.convert_lead(
                theirs.id,
                slot_id=agency.slot.id,
                valid_until=agency.clock.now().date() + timedelta(days=5),
                principal=agency.as_partner,
            )
        mine = agency.capture(agency.as_partner)
        with pytest.raises(PermissionDeniedError):  # its own: quoting is the staff's
            core.quotations.convert_lead(
                mine.id,
                slot_id=agency.slot.id,
                valid_until=agency.clock.now().date() + timedelta(days=5),
                principal=agency.as_partner,
            )
        quotation = core.quotations.convert_lead(
            theirs.id,
            slot_id=agency.slot.id,
            valid_until=agency.clock.now().date() + timedelta(days=5),
            principal=ADMIN,
        )
        core.quotations.send(quotation.id, principal=ADMIN)
        party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
        with pytest.raises(NotFoundError):
            core.quotations.approve(quotation.id, party, principal=agency.as_partner)
        booking = core.quotations.approve(quotation.id, party, principal=ADMIN)
        assert booking.partner_id == agency.other.id
        assert agency.visible_to(agency.as_partner) == set()
