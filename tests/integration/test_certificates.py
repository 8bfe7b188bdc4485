"""Certificates earned on completed bookings, renewal reminders, the compliance report.

Each test runs on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests._threads import all_at_once, at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    DuplicateError,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain.bookings import Booking
from bookingcore.domain.certificates import CertificateFilter, CertificateState
from bookingcore.domain.values import CustomerId
from bookingcore.services import CertificateService
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
YEAR = timedelta(days=365)


def _core(store: MemoryStore | SqlStore, notifier: RecordingNotifier | None = None) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        notifier=notifier or RecordingNotifier(),
    )


def _book(
    core: BookingCore,
    code: str,
    name: str,
    customer_id: CustomerId,
    traveler: str,
    *,
    days: int,
    price: str = "1000",
    lifecycle: str | None = None,
) -> Booking:
    """A location ``code`` (``name``), a slot there ``days`` ahead with four seats at
    ``price`` INR, and the customer's booking of ``traveler`` on it."""
    location = core.catalog.add_location(code, name, principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=core.context.now() + timedelta(days=days),
        price_per_traveler=Money(price, "INR"),
        capacity=4,
        principal=ADMIN,
    )
    return core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(traveler), is_primary=True)],
            customer_id=customer_id,
            lifecycle=lifecycle,
        ),
        principal=ADMIN,
    )


def _completed(core: BookingCore, phone: str = "+919812345678") -> Booking:
    customer = core.customers.register(
        phone, principal=ADMIN, name="Asha Rao", email="asha@example.com"
    ).customer
    booking = _book(core, f"D{phone[-4:]}", "Dive centre", customer.id, "Ravi Kumar", days=1)
    core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
    return core.bookings.transition(booking.id, "completed", principal=ADMIN).booking


def test_a_certificate_is_earned_on_a_completed_booking_and_shown_in_the_customer_view(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    traveler_id = booking.travelers[0].traveler_id

    cert = core.certificates.issue(
        booking.id,
        kind="PADI Open Water",
        number="OW-1",
        traveler_id=traveler_id,
        expires_at=core.context.now() + 2 * YEAR,
        principal=ADMIN,
    )

    assert (cert.customer_id, cert.booking_id, cert.traveler_id) == (
        booking.customer_id,
        booking.id,
        traveler_id,
    )
    view = core.customers.view(booking.customer_id, principal=ADMIN)
    assert [c.number for c in view.certificates] == ["OW-1"]
    assert [c.id for c in core.certificates.for_customer(booking.customer_id, principal=ADMIN)] == [
        cert.id
    ]
    with pytest.raises(DuplicateError):
        core.certificates.issue(booking.id, kind="PADI Open Water", number="OW-1", principal=ADMIN)
    trail = core.audit.trail("certificate", cert.id, principal=ADMIN)
    assert trail[0].new_values["number"] == "OW-1"


def test_only_a_completed_booking_earns_one_and_only_for_its_travelers(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    pending = _book(core, "OPEN", "Open", booking.customer_id, "Meera Iyer", days=3, price="10")
    with pytest.raises(ValidationError) as not_done:
        core.certificates.issue(pending.id, kind="AOW", number="1", principal=ADMIN)
    assert not_done.value.fields == ("booking_id",)
    with pytest.raises(ValidationError) as stranger:
        core.certificates.issue(
            booking.id,
            kind="AOW",
            number="1",
            traveler_id=pending.travelers[0].traveler_id,
            principal=ADMIN,
        )
    assert stranger.value.fields == ("traveler_id",)
    with pytest.raises(PermissionDeniedError):
        core.certificates.issue(
            booking.id,
            kind="AOW",
            number="1",
            principal=Principal.customer(booking.customer_id),
        )


def test_renewal_reminders_go_out_once_per_certificate_and_expiry(
    any_store: MemoryStore | SqlStore,
) -> None:
    notifier = RecordingNotifier()
    core = _core(any_store, notifier)
    booking = _completed(core)
    now = core.context.now()
    soon = core.certificates.issue(
        booking.id, kind="EFR", number="E-1", expires_at=now + timedelta(days=20), principal=ADMIN
    )
    core.certificates.issue(
        booking.id, kind="EFR", number="E-2", expires_at=now + 2 * YEAR, principal=ADMIN
    )
    core.certificates.issue(booking.id, kind="Lifetime", number="L-1", principal=ADMIN)
    system = Principal.system("reminders")

    first = core.certificates.due_renewal_reminders(principal=system)
    again = core.certificates.due_renewal_reminders(principal=system)

    assert len(first) == 1
    assert first[0].type == "certificate"
    assert "E-1" in first[0].content
    assert first[0].recipient == "asha@example.com"
    assert again == []
    assert sum("E-1" in m.body for m in notifier.sent) == 1
    # A renewal opens a new window: the reminder goes out again before the new date.
    core.certificates.renew(soon.id, now + timedelta(days=25), principal=ADMIN)
    assert len(core.certificates.due_renewal_reminders(principal=system)) == 1
    # Later, the long certificate's window opens too.
    later = core.certificates.due_renewal_reminders(
        now + 2 * YEAR - timedelta(days=10), principal=system
    )
    assert ["E-2" in m.content for m in later] == [True]
    history = core.communications.for_customer(booking.customer_id, principal=ADMIN)
    assert sum(m.type == "certificate" for m in history) == 3


def test_an_expiry_renewed_back_to_one_already_reminded_is_not_reminded_again(
    any_store: MemoryStore | SqlStore,
) -> None:
    # A renewal corrected back to an expiry whose reminder went out already: that
    # reminder's dedupe key is taken, so the run sends nothing more for it and
    # marks the certificate reminded (it used to retry it for ever, never returning).
    notifier = RecordingNotifier()
    core = _core(any_store, notifier)
    booking = _completed(core)
    now = core.context.now()
    cert = core.certificates.issue(
        booking.id, kind="EFR", number="E-7", expires_at=now + timedelta(days=20), principal=ADMIN
    )
    system = Principal.system("reminders")
    assert len(core.certificates.due_renewal_reminders(principal=system)) == 1
    core.certificates.renew(cert.id, now + timedelta(days=25), principal=ADMIN)
    assert len(core.certificates.due_renewal_reminders(principal=system)) == 1
    core.certificates.renew(cert.id, now + timedelta(days=20), principal=ADMIN)

    (run,) = at_once(
        1, lambda _: core.certificates.due_renewal_reminders(principal=system), timeout=20
    )

    assert run == []
    assert core.certificates.due_renewal_reminders(principal=system) == []
    assert sum("E-7" in m.body for m in notifier.sent) == 2


def test_a_refused_reminder_is_logged_as_failed_and_not_sent_twice(
    any_store: MemoryStore | SqlStore,
) -> None:
    notifier = RecordingNotifier()
    core = _core(any_store, notifier)
    booking = _completed(core)
    notifier.fail_next(5)
    now = core.context.now()
    core.certificates.issue(
        booking.id, kind="EFR", number="E-9", expires_at=now + timedelta(days=5), principal=ADMIN
    )
    system = Principal.system("reminders")
    failed = core.certificates.due_renewal_reminders(principal=system)
    assert [m.status for m in failed] == ["failed"]
    assert core.certificates.due_renewal_reminders(principal=system) == []


def test_the_compliance_report_says_who_holds_what_and_what_expires_when(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    now = core.context.now()
    traveler_id = booking.travelers[0].traveler_id
    for number, expires in (("A", now - timedelta(days=1)), ("B", now + timedelta(days=10))):
        core.certificates.issue(
            booking.id,
            kind="AOW",
            number=number,
            issued_at=now - YEAR,
            expires_at=expires,
            traveler_id=traveler_id,
            principal=ADMIN,
        )
    core.certificates.issue(
        booking.id, kind="AOW", number="C", expires_at=now + YEAR, principal=ADMIN
    )
    core.certificates.issue(booking.id, kind="Other", number="Z", principal=ADMIN)

    report = core.certificates.compliance_report(CertificateFilter(kind="AOW"), principal=ADMIN)

    assert [(line.certificate.number, line.state) for line in report.lines] == [
        ("A", CertificateState.EXPIRED),
        ("B", CertificateState.EXPIRING),
        ("C", CertificateState.VALID),
    ]
    assert [line.holder for line in report.lines] == ["Ravi Kumar", "Ravi Kumar", "Asha Rao"]
    assert report.counts[CertificateState.EXPIRED] == 1
    expiring = core.certificates.compliance_report(
        CertificateFilter(expires_from=now, expires_before=now + timedelta(days=30)),
        principal=ADMIN,
    )
    assert [line.certificate.number for line in expiring.lines] == ["B"]
    with pytest.raises(PermissionDeniedError):
        core.certificates.compliance_report(principal=Principal.customer(booking.customer_id))


def test_two_workers_at_once_send_each_reminder_once(any_store: MemoryStore | SqlStore) -> None:
    """Two reminder jobs racing over the same certificates log and send each reminder once."""
    notifier = RecordingNotifier()
    core = _core(any_store, notifier)
    booking = _completed(core)
    now = core.context.now()
    for number in range(6):
        core.certificates.issue(
            booking.id,
            kind="EFR",
            number=f"R-{number}",
            expires_at=now + timedelta(days=3 + number),
            principal=ADMIN,
        )
    system = Principal.system("reminders")
    results = all_at_once(
        [lambda: len(core.certificates.due_renewal_reminders(principal=system))] * 2
    )

    assert sum(results) == 6
    reminders = [m for m in notifier.sent if m.subject and "certificate" in m.subject]
    assert len(reminders) == 6
    history = core.communications.for_customer(booking.customer_id, principal=ADMIN)
    assert sum(m.type == "certificate" for m in history) == 6


def test_naive_datetimes_are_refused_naming_the_field_and_nothing_is_stored(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A naive issue or expiry date would be stored as given and break every later read
    that compares it with an aware one (the report, the reminder run)."""
    core = _core(any_store)
    booking = _completed(core)
    naive = datetime(2030, 1, 1, 9, 0)  # noqa: DTZ001 - the point of the test
    for field, when in (("expires_at", {"expires_at": naive}), ("issued_at", {"issued_at": naive})):
        with pytest.raises(ValidationError) as refused:
            core.certificates.issue(booking.id, kind="EFR", number="N-1", principal=ADMIN, **when)
        assert [(e.field, e.code) for e in refused.value.errors] == [(field, "naive_datetime")]
    assert core.certificates.for_customer(booking.customer_id, principal=ADMIN) == []
    cert = core.certificates.issue(
        booking.id,
        kind="EFR",
        number="N-2",
        expires_at=core.context.now() + YEAR,
        principal=ADMIN,
    )
    with pytest.raises(ValidationError) as renewal:
        core.certificates.renew(cert.id, naive, principal=ADMIN)
    assert renewal.value.fields == ("expires_at",)
    report = core.certificates.compliance_report(principal=ADMIN)
    assert [line.state for line in report.lines] == [CertificateState.VALID]
    assert core.certificates.due_renewal_reminders(principal=Principal.system("jobs")) == []
    with pytest.raises(ValidationError) as reminders:
        core.certificates.due_renewal_reminders(naive, principal=Principal.system("jobs"))
    assert reminders.value.fields == ("now",)
    with pytest.raises(ValidationError) as report_at:
        core.certificates.compliance_report(principal=ADMIN, now=naive)
    assert report_at.value.fields == ("now",)


def test_a_day_or_text_for_a_time_is_refused_naming_the_field(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A certificate's times are datetimes: a date (the expiry printed on a card) or text
    is a ValidationError on its field, not an AttributeError."""
    core = _core(any_store)
    booking = _completed(core)
    for wrong in (date(2030, 1, 1), "2030-01-01T09:00:00+00:00"):
        for field in ("expires_at", "issued_at"):
            with pytest.raises(ValidationError) as refused:
                core.certificates.issue(
                    booking.id, kind="EFR", number="N-1", principal=ADMIN, **{field: wrong}
                )
            assert [(e.field, e.code) for e in refused.value.errors] == [(field, "invalid_type")]
    assert core.certificates.for_customer(booking.customer_id, principal=ADMIN) == []
    cert = core.certificates.issue(booking.id, kind="EFR", number="N-2", principal=ADMIN)
    with pytest.raises(ValidationError) as renewal:
        core.certificates.renew(cert.id, date(2030, 1, 1), principal=ADMIN)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in renewal.value.errors] == [("expires_at", "invalid_type")]
    (kept,) = core.certificates.for_customer(booking.customer_id, principal=ADMIN)
    assert (kept.expires_at, kept.version) == (None, cert.version)


def test_a_refunded_travel_booking_earns_no_certificate(
    any_store: MemoryStore | SqlStore,
) -> None:
    """``refunded`` ends the travel lifecycle but the trip did not take place."""
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        payment_providers=[ManualProvider()],
    )
    customer = core.customers.register("+919812345600", principal=ADMIN, name="Asha Rao")
    booking = _book(
        core, "LEH", "Leh", customer.customer.id, "Ravi Kumar", days=20, lifecycle="travel"
    )
    for status in ("quotation_sent", "quotation_approved", "booking_created"):
        core.bookings.transition(booking.id, status, principal=ADMIN)
    cash = core.payments.record_manual_payment(
        booking.id, Money("1000", "INR"), principal=ADMIN, reference="CASH-1"
    )
    core.bookings.cancel(booking.id, principal=ADMIN)
    core.payments.refund(cash.id, Money("1000", "INR"), principal=ADMIN, idempotency_key="r1")
    assert core.bookings.get(booking.id, principal=ADMIN).status == "refunded"
    with pytest.raises(ValidationError) as refused:
        core.certificates.issue(booking.id, kind="AOW", number="R-1", principal=ADMIN)
    assert [(e.field, e.code) for e in refused.value.errors] == [("booking_id", "not_completed")]
    assert core.certificates.for_customer(booking.customer_id, principal=ADMIN) == []


def test_an_unknown_reminder_channel_is_a_validation_error_naming_it(
    any_store: MemoryStore | SqlStore,
) -> None:
    notifier = RecordingNotifier()
    core = _core(any_store, notifier)
    booking = _completed(core)
    core.certificates.issue(
        booking.id,
        kind="EFR",
        number="C-1",
        expires_at=core.context.now() + timedelta(days=5),
        principal=ADMIN,
    )
    system = Principal.system("reminders")
    before = len(notifier.sent)
    with pytest.raises(ValidationError) as refused:
        core.certificates.due_renewal_reminders(principal=system, channel="fax")
    assert refused.value.fields == ("channel",)
    assert len(notifier.sent) == before
    sent = core.certificates.due_renewal_reminders(principal=system, channel="SMS")
    assert [m.channel.value for m in sent] == ["sms"]


def test_a_deleted_travelers_certificate_is_still_reported_as_theirs(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    traveler_id = booking.travelers[0].traveler_id
    assert traveler_id is not None
    core.certificates.issue(
        booking.id,
        kind="PADI Open Water",
        number="OW-7",
        traveler_id=traveler_id,
        expires_at=core.context.now() + YEAR,
        principal=ADMIN,
    )

    core.travelers.delete(traveler_id, principal=ADMIN)

    (line,) = core.certificates.compliance_report(principal=ADMIN).lines
    assert line.holder == "Ravi Kumar"


def test_an_erased_customers_certificate_is_reported_without_a_made_up_holder(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    core.certificates.issue(
        booking.id,
        kind="PADI Open Water",
        number="OW-8",
        expires_at=core.context.now() + YEAR,
        principal=ADMIN,
    )

    core.privacy.erase_customer(booking.customer_id, principal=ADMIN)

    (line,) = core.certificates.compliance_report(principal=ADMIN).lines
    assert line.holder == "[erased]"
    assert line.certificate.number == "OW-8"  # the record stays


def test_a_renewal_must_expire_after_today_in_the_business_zone_and_nothing_moves(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A renewal into the past (or to today, on the business's calendar) is refused on
    ``expires_at``; the certificate keeps its expiry, version and audit trail."""
    # 20:00 UTC on 1 January is 01:30 on 2 January in Kolkata: "today" is the 2nd there.
    clock = FixedClock(datetime(2026, 1, 1, 20, 0, tzinfo=UTC))
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        notifier=RecordingNotifier(),
        settings=Settings(timezone="Asia/Kolkata"),
    )
    booking = _completed(core)
    now = clock.now()
    cert = core.certificates.issue(
        booking.id,
        kind="EFR",
        number="R-1",
        issued_at=now - 2 * YEAR,
        expires_at=now + YEAR,
        principal=ADMIN,
    )
    before = core.audit.trail("certificate", cert.id, principal=ADMIN)
    for refused in (
        now - YEAR,  # after the issue date, but past
        now - timedelta(hours=1),
        now + timedelta(hours=2),  # later than now, but still today in Kolkata
        datetime(1, 1, 2, tzinfo=UTC),  # before the issue date too
    ):
        with pytest.raises(ValidationError) as caught:
            core.certificates.renew(cert.id, refused, principal=ADMIN)
        assert caught.value.fields == ("expires_at",)
        assert caught.value.errors[0].code in {"past", "out_of_range"}
    (kept,) = core.certificates.for_customer(booking.customer_id, principal=ADMIN)
    assert (kept.expires_at, kept.version) == (cert.expires_at, cert.version)
    assert core.audit.trail("certificate", cert.id, principal=ADMIN) == before
    # The next day in Kolkata is fine, and so is a shorter validity (a correction).
    tomorrow = datetime(2026, 1, 2, 19, 0, tzinfo=UTC)  # 00:30 on the 3rd in Kolkata
    assert core.certificates.renew(cert.id, tomorrow, principal=ADMIN).expires_at == tomorrow
    far = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
    assert core.certificates.renew(cert.id, far, principal=ADMIN).expires_at == far
    report = core.certificates.compliance_report(principal=ADMIN)
    assert [line.state for line in report.lines] == [CertificateState.VALID]
    assert core.certificates.due_renewal_reminders(principal=Principal.system("jobs")) == []


def test_a_certificate_is_not_issued_in_the_future(any_store: MemoryStore | SqlStore) -> None:
    core = _core(any_store)
    booking = _completed(core)
    now = core.context.now()
    with pytest.raises(ValidationError) as caught:
        core.certificates.issue(
            booking.id, kind="EFR", number="F-1", issued_at=now + YEAR, principal=ADMIN
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("issued_at", "future")]
    assert core.certificates.for_customer(booking.customer_id, principal=ADMIN) == []
    # A certificate recorded late, already expired, is history and is kept as given.
    old = core.certificates.issue(
        booking.id,
        kind="EFR",
        number="F-2",
        issued_at=now - 3 * YEAR,
        expires_at=now - YEAR,
        principal=ADMIN,
    )
    report = core.certificates.compliance_report(principal=ADMIN)
    assert [(line.certificate.id, line.state) for line in report.lines] == [
        (old.id, CertificateState.EXPIRED)
    ]


@pytest.mark.parametrize("lead", [timedelta(0), -YEAR, timedelta.max, timedelta(days=367)])
def test_a_reminder_lead_out_of_range_is_refused_on_lead(
    any_store: MemoryStore | SqlStore, lead: timedelta
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    core.certificates.issue(
        booking.id,
        kind="EFR",
        number="L-1",
        expires_at=core.context.now() + timedelta(days=20),
        principal=ADMIN,
    )
    with pytest.raises(ValidationError) as caught:
        core.certificates.due_renewal_reminders(principal=Principal.system("jobs"), lead=lead)
    assert caught.value.fields == ("lead",)
    history = core.communications.for_customer(booking.customer_id, principal=ADMIN)
    assert [m for m in history if m.type == "certificate"] == []


@pytest.mark.parametrize("lead", [timedelta(0), -YEAR, timedelta(days=367)])
def test_a_service_reminder_lead_out_of_range_is_refused_when_made(
    any_store: MemoryStore | SqlStore, lead: timedelta
) -> None:
    core = _core(any_store)
    with pytest.raises(ValidationError) as caught:
        CertificateService(core.context, core.communications, reminder_lead=lead)
    assert caught.value.fields == ("reminder_lead",)
    made = CertificateService(core.context, core.communications, reminder_lead=timedelta(days=9))
    assert made.reminder_lead == timedelta(days=9)


@pytest.mark.parametrize("lead", [timedelta(0), -YEAR, timedelta(days=367)])
def test_setting_a_reminder_lead_out_of_range_is_refused_and_the_old_one_stays(
    any_store: MemoryStore | SqlStore, lead: timedelta
) -> None:
    """The compliance report reads the lead too: a bad one set on the service would
    count every certificate as expiring (or none) without a run ever refusing it."""
    core = _core(any_store)
    with pytest.raises(ValidationError) as caught:
        core.certificates.reminder_lead = lead
    assert caught.value.fields == ("reminder_lead",)
    assert core.certificates.reminder_lead == timedelta(days=30)
    core.certificates.reminder_lead = timedelta(days=60)
    assert core.certificates.reminder_lead == timedelta(days=60)


def test_only_staff_who_change_everything_and_the_system_renew(
    any_store: MemoryStore | SqlStore,
) -> None:
    # A provider's webhook holds change_all for bookings only (docs/policy.md).
    core = _core(any_store)
    booking = _completed(core)
    now = core.context.now()
    cert = core.certificates.issue(
        booking.id, kind="EFR", number="N-1", expires_at=now + YEAR, principal=ADMIN
    )
    for principal in (Principal.webhook("razorpay"), Principal.customer(booking.customer_id)):
        with pytest.raises(PermissionDeniedError):
            core.certificates.renew(cert.id, now + 2 * YEAR, principal=principal)
    assert core.certificates.for_customer(booking.customer_id, principal=ADMIN) == [cert]
    renewed = core.certificates.renew(cert.id, now + 2 * YEAR, principal=Principal.system("ops"))
    assert renewed.expires_at == now + 2 * YEAR


def test_a_certificate_expiring_exactly_at_the_end_of_the_lead_is_reminded_when_reported(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    booking = _completed(core)
    now = core.context.now()
    lead = core.certificates.reminder_lead
    edge = core.certificates.issue(
        booking.id, kind="EFR", number="EDGE", expires_at=now + lead, principal=ADMIN
    )
    core.certificates.issue(
        booking.id,
        kind="EFR",
        number="AFTER",
        expires_at=now + lead + timedelta(seconds=1),
        principal=ADMIN,
    )
    system = Principal.system("reminders")

    report = core.certificates.compliance_report(principal=ADMIN, now=now)
    sent = core.certificates.due_renewal_reminders(now, principal=system)

    states = {line.certificate.number: line.state for line in report.lines}
    assert states == {"EDGE": CertificateState.EXPIRING, "AFTER": CertificateState.VALID}
    # The run that reports it expiring sends its reminder, and only its.
    assert ["EDGE" in m.content for m in sent] == [True]
    assert core.certificates.due_renewal_reminders(now, principal=system) == []
    assert edge.expires_at == now + lead
