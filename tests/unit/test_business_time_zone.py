"""The business's time zone (``Settings.timezone``): what people read and what "today"
means follow it; stored times stay in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, QuotationExpiredError, QuotationStatus, Slot
from bookingcore.domain.communications import MessageTemplate, message_time
from bookingcore.services import QuotationRequest
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.memory import MemoryStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
INDIA = "Asia/Kolkata"  # UTC+05:30, no summer time


class Agency:
    """A business in India whose clock starts at 2026-01-01 09:00 UTC."""

    def __init__(self, **settings: object) -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", timezone=INDIA, **settings),  # type: ignore[arg-type]
            notifier=self.notifier,
            renderer=PlainRenderer("text"),
        )
        self.camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.customer = self.core.customers.register(
            "+919876543210", name="Asha Rao", principal=ADMIN
        ).customer

    def slot(self, starts_at: datetime) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=starts_at,
            price_per_traveler=Money("2500", "INR"),
            principal=ADMIN,
        )

    def book(self, slot: Slot) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
                customer_id=self.customer.id,
            ),
            principal=ADMIN,
        )


class TestSettings:
    def test_the_default_is_utc_and_leaves_times_as_they_were(self) -> None:
        settings = Settings()
        moment = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
        assert (settings.timezone, settings.fiscal_year_start) == ("UTC", 1)
        assert settings.local(moment) == moment
        assert settings.fiscal_year(moment) == 2026
        assert message_time(moment, settings.zone) == "2026-12-31 20:00 UTC"

    @pytest.mark.parametrize(
        "zone", ["Mars/Olympus", "", "../etc/passwd", 5, "America", "Etc", "A" * 300]
    )
    def test_a_zone_that_is_no_iana_zone_is_refused_naming_the_field(self, zone: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Settings(timezone=zone)  # type: ignore[arg-type]
        assert caught.value.fields == ("timezone",)
        assert caught.value.errors[0].code == "invalid_timezone"

    @pytest.mark.parametrize("month", [0, 13, -1, True, "4"])
    def test_a_fiscal_year_start_that_is_no_month_is_refused(self, month: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Settings(fiscal_year_start=month)  # type: ignore[arg-type]
        assert caught.value.fields == ("fiscal_year_start",)

    def test_the_fiscal_year_is_the_local_year_it_started_in(self) -> None:
        settings = Settings(timezone=INDIA, fiscal_year_start=4)
        assert settings.fiscal_year(datetime(2027, 3, 31, 18, 29, tzinfo=UTC)) == 2026
        assert settings.fiscal_year(datetime(2027, 3, 31, 18, 30, tzinfo=UTC)) == 2027


class TestWhatPeopleRead:
    def test_a_confirmation_writes_the_departure_on_the_business_clock(self) -> None:
        template = MessageTemplate("when.sms", body="$reference leaves at $starts_at")
        agency = Agency(templates={("confirmation", "sms"): template})
        booking = agency.book(agency.slot(datetime(2026, 1, 20, 20, 0, tzinfo=UTC)))
        sent = agency.core.communications.send(booking.id, "confirmation", principal=ADMIN)
        assert sent.content == f"{booking.reference} leaves at 2026-01-21 01:30 IST"
        assert agency.notifier.sent[0].body == sent.content

    def test_an_itinerary_starts_on_the_local_day_at_the_local_time(self) -> None:
        agency = Agency()
        booking = agency.book(agency.slot(datetime(2026, 1, 20, 20, 0, tzinfo=UTC)))
        itinerary = agency.core.itineraries.generate(booking.id, principal=ADMIN)
        first = itinerary.days[0]
        assert first.day == date(2026, 1, 21)
        assert first.entries[0] == "Departure at 01:30 IST"

    def test_an_invoice_document_is_issued_and_starts_on_the_business_clock(self) -> None:
        agency = Agency()
        booking = agency.book(agency.slot(datetime(2026, 1, 20, 20, 0, tzinfo=UTC)))
        agency.clock.set(datetime(2026, 1, 2, 19, 0, tzinfo=UTC))
        agency.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference="CASH-1"
        )
        (invoice,) = agency.core.payments.invoices_for(booking.id, principal=ADMIN)
        assert invoice.issued_at == datetime(2026, 1, 2, 19, 0, tzinfo=UTC)  # stored in UTC
        text = agency.core.invoices.render(invoice.id, principal=ADMIN).content
        assert "2026-01-03 00:30 IST" in text
        assert "UTC" not in text


class TestToday:
    def test_the_dashboard_lists_the_departures_of_the_local_day(self) -> None:
        agency = Agency()
        # 2026-01-20 in India runs from 2026-01-19 18:30 to 2026-01-20 18:30 UTC.
        late_on_19th = agency.book(agency.slot(datetime(2026, 1, 19, 18, 29, tzinfo=UTC)))
        early_20th = agency.book(agency.slot(datetime(2026, 1, 19, 18, 30, tzinfo=UTC)))
        late_20th = agency.book(agency.slot(datetime(2026, 1, 20, 18, 29, tzinfo=UTC)))
        on_21st = agency.book(agency.slot(datetime(2026, 1, 20, 18, 30, tzinfo=UTC)))
        board = agency.core.dashboard.staff(principal=ADMIN, day=date(2026, 1, 20))
        assert [b.id for b in board.departures] == [early_20th.id, late_20th.id]
        assert late_on_19th.id not in {b.id for b in board.departures}
        assert on_21st.id not in {b.id for b in board.departures}
        # Without a day, the dashboard is for the business's today.
        agency.clock.set(datetime(2026, 1, 19, 19, 0, tzinfo=UTC))  # 00:30 on the 20th in India
        assert agency.core.dashboard.staff(principal=ADMIN).day == date(2026, 1, 20)

    def test_a_quotation_expires_when_its_last_day_ends_on_the_business_clock(self) -> None:
        agency = Agency()
        slot = agency.slot(datetime(2026, 2, 1, 3, 0, tzinfo=UTC))
        quotation = agency.core.quotations.create(
            QuotationRequest(
                customer_id=agency.customer.id,
                slot_id=slot.id,
                travelers=1,
                valid_until=date(2026, 1, 11),
            ),
            principal=ADMIN,
        )
        agency.clock.set(datetime(2026, 1, 11, 18, 29, tzinfo=UTC))  # 23:59 on the 11th in India
        agency.core.quotations.send(quotation.id, principal=ADMIN)
        agency.clock.set(datetime(2026, 1, 11, 18, 30, tzinfo=UTC))  # the 12th has begun there
        party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
        with pytest.raises(QuotationExpiredError) as caught:
            agency.core.quotations.approve(quotation.id, party, principal=ADMIN)
        assert caught.value.fields == ("valid_until",)
        expired = agency.core.quotations.expire_due(principal=ADMIN)
        assert [(q.id, q.status) for q in expired] == [(quotation.id, QuotationStatus.EXPIRED)]

    def test_stored_times_stay_in_utc(self) -> None:
        agency = Agency()
        agency.clock.set(datetime(2026, 1, 1, 20, 0, tzinfo=UTC))
        booking = agency.book(agency.slot(datetime(2026, 1, 20, 20, 0, tzinfo=UTC)))
        assert booking.created_at.utcoffset() == timedelta(0)
        assert booking.starts_at == datetime(2026, 1, 20, 20, 0, tzinfo=UTC)
