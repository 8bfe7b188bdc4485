"""CommunicationService over the memory adapter: sending from templates, the log,
failures and retries, policy, delivery callbacks, history and reminders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerId,
    DeliveryError,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    NotFoundError,
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
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
    Slot,
)
from bookingcore.domain.communications import (
    DEFAULT_TEMPLATES,
    FAMILY_INVITATION_FIELDS,
    TEMPLATE_FIELDS,
    MessageTemplate,
    check_template_fields,
)
from bookingcore.domain.events import CommunicationStatusChanged
from bookingcore.domain.quotations import Quotation, QuotationStatus
from bookingcore.domain.values import CommunicationId
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore.services import QuotationRequest, QuoteLine
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.notifications import LogNotifier

BUSINESS = "Himalaya Treks"
WEBHOOK = Principal.webhook("sms")


def make_core(
    store: MemoryStore,
    clock: FixedClock,
    notifier: RecordingNotifier | LogNotifier | None,
    **settings: object,
) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", business_name=BUSINESS, **settings),  # type: ignore[arg-type]
        notifier=notifier,
    )


class Shop:
    """A base camp, customers with and without email, and helpers to book them."""

    def __init__(self, core: BookingCore, admin: Principal, clock: FixedClock) -> None:
        self.core, self.admin, self.clock = core, admin, clock
        self.camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
        self.asha = core.customers.register(
            "+919876543210", name="Asha Rao", email="asha@example.com", principal=admin
        ).customer
        self.ravi = core.customers.register(
            "+919812345678", name="Ravi Kumar", principal=admin
        ).customer
        self.slot = self.open_slot(timedelta(days=10))

    def open_slot(self, ahead: timedelta) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.clock.now() + ahead,
            price_per_traveler=Money("2500", "INR"),
            principal=self.admin,
        )

    def book(
        self,
        customer_id: CustomerId,
        slot: Slot | None = None,
        *,
        principal: Principal | None = None,
        travelers: tuple[str, ...] = ("Guest",),
    ) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                (slot or self.slot).id,
                [
                    NewTraveler(TravelerDetails(name), is_primary=i == 0)
                    for i, name in enumerate(travelers)
                ],
                customer_id=customer_id,
            ),
            principal=principal or self.admin,
        )


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock, notifier: RecordingNotifier) -> BookingCore:
    return make_core(store, clock, notifier)


@pytest.fixture
def shop(core: BookingCore, admin: Principal, clock: FixedClock) -> Shop:
    return Shop(core, admin, clock)


@pytest.fixture
def booking(shop: Shop) -> Booking:
    """Asha's booking on the shop's slot (she has an email), made by the admin."""
    return shop.book(shop.asha.id)


def status_events(store: MemoryStore, communication: Communication) -> list[str]:
    return [
        message.event.status
        for message in sorted(store.rows["outbox"].values(), key=lambda m: m.sequence or 0)
        if isinstance(message.event, CommunicationStatusChanged)
        and message.event.communication_id == communication.id
    ]


class TestSending:
    def test_a_confirmation_to_a_customer_with_email_goes_by_email(
        self,
        shop: Shop,
        core: BookingCore,
        notifier: RecordingNotifier,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        booking = shop.book(shop.asha.id, travelers=("Asha Rao", "Mira"))
        sent = core.communications.send(booking.id, "confirmation", principal=admin)

        assert sent.channel is Channel.EMAIL
        assert sent.recipient == "asha@example.com"
        assert sent.type is CommunicationType.CONFIRMATION
        assert sent.customer_id == shop.asha.id
        assert sent.booking_id == booking.id
        assert sent.subject == f"Your booking {booking.reference} is confirmed"
        assert sent.content == (
            f"Hello Asha Rao,\n\nyour booking {booking.reference} for 2 traveler(s) at "
            "Base camp on 2026-01-11 09:00 UTC is confirmed.\n"
            f"Total: 5,000.00 INR.\n\n{BUSINESS}"
        )
        assert sent.template_used == "confirmation.email"
        assert sent.status is CommunicationStatus.SENT
        assert sent.provider_message_id == "msg-1"
        assert sent.sent_at == clock.now()
        assert sent.created_by == admin.actor
        assert sent.failed_reason is None
        assert notifier.sent == [
            OutgoingMessage(
                communication_id=sent.id,
                channel=Channel.EMAIL,
                recipient="asha@example.com",
                body=sent.content,
                subject=sent.subject,
            )
        ]
        assert core.communications.get(sent.id, principal=admin) == sent

    def test_a_customer_without_email_gets_an_sms_to_their_e164_number(
        self, shop: Shop, core: BookingCore, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        booking = shop.book(shop.ravi.id)
        sent = core.communications.send(booking.id, CommunicationType.CONFIRMATION, principal=admin)

        assert sent.channel is Channel.SMS
        assert sent.recipient == "+919812345678"
        assert sent.subject is None
        assert sent.content == (
            f"{BUSINESS}: booking {booking.reference} confirmed for 2026-01-11 09:00 UTC "
            "at Base camp."
        )
        assert sent.template_used == "confirmation.sms"
        assert sent.status is CommunicationStatus.SENT
        assert len(notifier.sent) == 1
        assert notifier.sent[0].channel is Channel.SMS
        assert notifier.sent[0].recipient == "+919812345678"

    def test_an_explicit_channel_overrides_the_default(
        self, booking: Booking, core: BookingCore, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        sent = core.communications.send(booking.id, "reminder", principal=admin, channel="sms")
        assert (sent.channel, sent.recipient) == (Channel.SMS, "+919876543210")
        assert sent.template_used == "reminder.sms"
        assert notifier.sent[0].recipient == "+919876543210"

    def test_email_to_a_customer_without_email_is_refused_and_nothing_is_logged(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        booking = shop.book(shop.ravi.id)
        with pytest.raises(ValidationError) as error:
            core.communications.send(booking.id, "confirmation", principal=admin, channel="email")
        assert error.value.fields == ("channel",)
        assert error.value.errors[0].code == "no_address"
        assert store.count("communications") == 0
        assert notifier.attempts == 0

    @pytest.mark.parametrize(
        ("kind", "channel", "field"),
        [("birthday", None, "type"), ("confirmation", "pigeon", "channel")],
    )
    def test_an_unknown_type_or_channel_is_refused(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
        kind: str,
        channel: str | None,
        field: str,
    ) -> None:
        with pytest.raises(ValidationError) as error:
            core.communications.send(booking.id, kind, principal=admin, channel=channel)
        assert error.value.fields == (field,)
        assert error.value.errors[0].code == "invalid_choice"
        assert store.count("communications") == 0
        assert notifier.attempts == 0

    def test_an_unknown_booking_is_not_found(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.communications.send(uuid4(), "confirmation", principal=admin)  # type: ignore[arg-type]


class TestFailures:
    def test_a_notifier_failure_raises_and_is_logged_as_failed(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        notifier.fail_next(reason="gateway down")
        with pytest.raises(DeliveryError) as error:
            core.communications.send(booking.id, "confirmation", principal=admin)
        assert error.value.reason == "gateway down"
        assert error.value.channel == "email"

        [logged] = core.communications.for_booking(booking.id, principal=admin)
        assert logged.status is CommunicationStatus.FAILED
        assert logged.failed_reason == "gateway down"
        assert logged.failed_at == clock.now()
        assert logged.sent_at is None
        assert logged.provider_message_id is None
        assert logged.content  # the message is logged with what would have been sent
        assert notifier.sent == []
        assert status_events(store, logged) == ["failed"]

    def test_with_a_key_a_repeat_after_a_failure_sends_again_on_the_same_record(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        notifier.fail_next()
        with pytest.raises(DeliveryError):
            core.communications.send(
                booking.id, "confirmation", principal=admin, idempotency_key="conf-1"
            )
        [failed] = core.communications.for_booking(booking.id, principal=admin)

        again = core.communications.send(
            booking.id, "confirmation", principal=admin, idempotency_key="conf-1"
        )
        assert again.id == failed.id
        assert notifier.attempts == 2
        assert [m.communication_id for m in notifier.sent] == [failed.id]
        assert store.count("communications") == 1
        assert again.provider_message_id == "msg-1"
        assert again.status is CommunicationStatus.SENT

    def test_after_a_failed_attempt_succeeds_a_further_repeat_does_not_send_again(
        self, booking: Booking, core: BookingCore, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        notifier.fail_next()
        with pytest.raises(DeliveryError):
            core.communications.send(
                booking.id, "confirmation", principal=admin, idempotency_key="k"
            )
        core.communications.send(booking.id, "confirmation", principal=admin, idempotency_key="k")
        core.communications.send(booking.id, "confirmation", principal=admin, idempotency_key="k")
        assert len(notifier.sent) == 1
        assert notifier.attempts == 2

    def test_with_a_key_a_repeat_after_success_returns_the_logged_message(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        first = core.communications.send(
            booking.id, "confirmation", principal=admin, idempotency_key="conf-1"
        )
        again = core.communications.send(
            booking.id, "confirmation", principal=admin, idempotency_key="conf-1"
        )
        assert again == first
        assert notifier.attempts == 1
        assert store.count("communications") == 1

    def test_without_a_key_every_call_sends(
        self, booking: Booking, core: BookingCore, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        one = core.communications.send(booking.id, "confirmation", principal=admin)
        two = core.communications.send(booking.id, "confirmation", principal=admin)
        assert one.id != two.id
        assert len(notifier.sent) == 2

    def test_the_same_key_for_a_different_message_is_a_conflict(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        core.communications.send(booking.id, "confirmation", principal=admin, idempotency_key="k")
        with pytest.raises(IdempotencyConflictError):
            core.communications.send(booking.id, "reminder", principal=admin, idempotency_key="k")
        assert notifier.attempts == 1
        assert store.count("communications") == 1

    def test_without_a_notifier_every_send_is_logged_as_failed(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = make_core(store, clock, None)
        shop = Shop(core, admin, clock)
        booking = shop.book(shop.asha.id)
        with pytest.raises(DeliveryError) as error:
            core.communications.send(booking.id, "confirmation", principal=admin)
        assert error.value.reason == "no notifier configured"
        [logged] = core.communications.for_booking(booking.id, principal=admin)
        assert logged.status is CommunicationStatus.FAILED
        assert logged.failed_reason == "no notifier configured"


class TestPolicy:
    def test_the_customer_cannot_send_messages_about_their_own_booking(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
    ) -> None:
        me = Principal.customer(shop.asha.id)
        booking = shop.book(shop.asha.id, principal=me)
        with pytest.raises(PermissionDeniedError):
            core.communications.send(booking.id, "confirmation", principal=me)
        assert store.count("communications") == 0
        assert notifier.attempts == 0

    def test_a_partner_cannot_send_messages_about_its_own_booking(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            allowed_location_ids=[shop.camp.id],
            principal=admin,
        ).partner
        as_partner = Principal.partner(partner.id)
        customer = core.customers.register("+919900011122", principal=as_partner).customer
        booking = shop.book(customer.id, principal=as_partner)
        with pytest.raises(PermissionDeniedError):
            core.communications.send(booking.id, "confirmation", principal=as_partner)
        assert store.count("communications") == 0
        assert notifier.attempts == 0

    def test_an_editor_who_may_only_view_cannot_send(
        self, booking: Booking, core: BookingCore, notifier: RecordingNotifier
    ) -> None:
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        with pytest.raises(PermissionDeniedError):
            core.communications.send(booking.id, "confirmation", principal=editor)
        assert notifier.attempts == 0

    @pytest.mark.parametrize("who", ["other customer", "advisor"])
    def test_someone_who_cannot_see_the_booking_gets_not_found(
        self,
        shop: Shop,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        who: str,
    ) -> None:
        principal = (
            Principal.customer(shop.ravi.id)
            if who == "other customer"
            else Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
        )
        with pytest.raises(NotFoundError):
            core.communications.send(booking.id, "confirmation", principal=principal)
        assert store.count("communications") == 0
        assert notifier.attempts == 0

    def test_the_system_may_send(
        self, booking: Booking, core: BookingCore, notifier: RecordingNotifier
    ) -> None:
        sent = core.communications.send(booking.id, "follow_up", principal=Principal.system("jobs"))
        assert sent.status is CommunicationStatus.SENT
        assert sent.template_used == "follow_up.email"
        assert len(notifier.sent) == 1


class TestCallbacks:
    def test_the_answer_moving_a_message_on_clears_its_claim_and_a_requeue_too(
        self, shop: Shop, core: BookingCore, clock: FixedClock, admin: Principal
    ) -> None:
        """``sending_claim`` (0.4) names a sender only while the message is pending at
        the gateway: a report that moves it on clears it, a late one that does not
        move it changes nothing, and a failed message claimed again is held by nobody."""
        booking = shop.book(shop.ravi.id)
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        assert (sent.sending_claim, sent.sending_since) == (None, None)
        message = Communication(
            id=CommunicationId(uuid4()),
            customer_id=sent.customer_id,
            type=CommunicationType.REMINDER,
            channel=Channel.SMS,
            recipient="+919812345678",
            created_at=clock.now(),
            created_by=sent.created_by,
            sending_since=clock.now(),
            sending_claim=uuid4(),
        )
        assert message.record("failed", clock.now(), reason="down")
        assert (message.sending_claim, message.sending_since) == (None, None)
        message.sending_claim = uuid4()
        message.requeue(clock.now())
        assert (message.status, message.sending_claim) == (CommunicationStatus.PENDING, None)
        held = uuid4()
        message.sending_claim = held
        assert message.record("sent", clock.now())
        assert message.sending_claim is None
        message.sending_claim = held  # a stale value a late report must not touch
        assert not message.record("sent", clock.now())
        assert message.sending_claim == held

    def test_a_delivery_callback_moves_sent_to_delivered(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        booking = shop.book(shop.ravi.id)
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        sent_at = clock.now()
        delivered_at = clock.advance(minutes=2)

        delivered = core.communications.record_callback("msg-1", "delivered", principal=WEBHOOK)

        assert delivered.id == sent.id
        assert delivered.status is CommunicationStatus.DELIVERED
        assert delivered.delivered_at == delivered_at
        assert delivered.sent_at == sent_at
        stored = core.communications.get(sent.id, principal=admin)
        assert (stored.status, stored.delivered_at) == (CommunicationStatus.DELIVERED, delivered_at)
        assert status_events(store, sent) == ["sent", "delivered"]

    def test_late_callbacks_do_not_move_the_status_back(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        opened_at = clock.advance(minutes=5)
        core.communications.record_callback("msg-1", "opened", principal=WEBHOOK)
        late = clock.advance(minutes=5)

        after_sent = core.communications.record_callback("msg-1", "sent", principal=WEBHOOK)
        assert after_sent.status is CommunicationStatus.OPENED
        after_delivered = core.communications.record_callback(
            "msg-1", CommunicationStatus.DELIVERED, principal=WEBHOOK
        )
        assert after_delivered.status is CommunicationStatus.OPENED
        assert after_delivered.opened_at == opened_at
        assert after_delivered.delivered_at == late  # the late receipt fills in its time
        failed = core.communications.record_callback(
            "msg-1", "failed", principal=WEBHOOK, reason="bounced"
        )
        assert failed.status is CommunicationStatus.OPENED

        stored = core.communications.get(sent.id, principal=admin)
        assert stored.status is CommunicationStatus.OPENED
        assert status_events(store, sent) == ["sent", "opened"]

    def test_record_status_by_id_with_an_explicit_time(
        self,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        when = clock.now() + timedelta(hours=1)
        clicked = core.communications.record_status(
            sent.id, "clicked", principal=Principal.system(), at=when
        )
        assert clicked.status is CommunicationStatus.CLICKED
        assert clicked.clicked_at == when
        assert status_events(store, sent) == ["sent", "clicked"]

    def test_a_naive_report_time_is_refused_naming_it(
        self, booking: Booking, core: BookingCore, clock: FixedClock, admin: Principal
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        naive = clock.now().replace(tzinfo=None)
        for report in (
            lambda: core.communications.record_status(
                sent.id, "delivered", principal=WEBHOOK, at=naive
            ),
            lambda: core.communications.record_callback(
                "msg-1", "delivered", principal=WEBHOOK, at=naive
            ),
        ):
            with pytest.raises(ValidationError) as caught:
                report()
            assert [(e.field, e.code) for e in caught.value.errors] == [("at", "naive_datetime")]
        assert core.communications.get(sent.id, principal=admin).status is CommunicationStatus.SENT

    def test_staff_who_change_every_booking_may_report(
        self, booking: Booking, core: BookingCore, admin: Principal
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        staff = Principal.staff(StaffId(uuid4()), StaffRole.STAFF)
        reported = core.communications.record_status(sent.id, "delivered", principal=staff)
        assert reported.status is CommunicationStatus.DELIVERED

    def test_an_unknown_communication_is_not_found(self, core: BookingCore) -> None:
        with pytest.raises(NotFoundError):
            core.communications.record_status(
                CommunicationId(uuid4()), "delivered", principal=WEBHOOK
            )
        with pytest.raises(NotFoundError):
            core.communications.record_callback("msg-404", "delivered", principal=WEBHOOK)

    @pytest.mark.parametrize("role", ["customer", "editor", "partner"])
    def test_others_may_not_report_deliveries(
        self,
        shop: Shop,
        booking: Booking,
        core: BookingCore,
        store: MemoryStore,
        admin: Principal,
        role: str,
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        principal = {
            "customer": Principal.customer(shop.asha.id),
            "editor": Principal.staff(StaffId(uuid4()), StaffRole.EDITOR),
            "partner": Principal.partner(uuid4()),  # type: ignore[arg-type]
        }[role]
        with pytest.raises(PermissionDeniedError):
            core.communications.record_status(sent.id, "delivered", principal=principal)
        with pytest.raises(PermissionDeniedError):
            core.communications.record_callback("msg-1", "delivered", principal=principal)
        assert core.communications.get(sent.id, principal=admin).status is (
            CommunicationStatus.SENT
        )
        assert status_events(store, sent) == ["sent"]

    def test_an_unknown_status_is_refused(
        self, booking: Booking, core: BookingCore, admin: Principal
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        for status in ("bounced", "pending"):
            with pytest.raises(ValidationError) as error:
                core.communications.record_status(sent.id, status, principal=WEBHOOK)
            assert error.value.fields == ("status",)
        assert core.communications.get(sent.id, principal=admin).status is (
            CommunicationStatus.SENT
        )


class TestHistory:
    def test_a_bookings_and_a_customers_messages_oldest_first(
        self, shop: Shop, core: BookingCore, clock: FixedClock, admin: Principal
    ) -> None:
        first = shop.book(shop.asha.id)
        second = shop.book(shop.asha.id, shop.open_slot(timedelta(days=12)))
        other = shop.book(shop.ravi.id)
        a = core.communications.send(first.id, "confirmation", principal=admin)
        clock.advance(minutes=1)
        b = core.communications.send(second.id, "confirmation", principal=admin)
        clock.advance(minutes=1)
        c = core.communications.send(first.id, "reminder", principal=admin)
        clock.advance(minutes=1)
        core.communications.send(other.id, "confirmation", principal=admin)

        assert [m.id for m in core.communications.for_booking(first.id, principal=admin)] == [
            a.id,
            c.id,
        ]
        assert [m.id for m in core.communications.for_customer(shop.asha.id, principal=admin)] == [
            a.id,
            b.id,
            c.id,
        ]
        me = Principal.customer(shop.asha.id)
        assert [m.id for m in core.communications.for_booking(second.id, principal=me)] == [b.id]
        assert len(core.communications.for_customer(shop.asha.id, principal=me)) == 3
        assert core.communications.get(a.id, principal=me).id == a.id

    def test_another_customer_sees_none_of_it(
        self, shop: Shop, booking: Booking, core: BookingCore, admin: Principal
    ) -> None:
        sent = core.communications.send(booking.id, "confirmation", principal=admin)
        stranger = Principal.customer(shop.ravi.id)
        with pytest.raises(NotFoundError):
            core.communications.for_booking(booking.id, principal=stranger)
        with pytest.raises(NotFoundError):
            core.communications.for_customer(shop.asha.id, principal=stranger)
        with pytest.raises(NotFoundError):
            core.communications.get(sent.id, principal=stranger)


class Interrupting(RecordingNotifier):
    """A recording notifier that runs ``after_next`` (once) after its next send."""

    def __init__(self) -> None:
        super().__init__()
        self.after_next: Callable[[], None] | None = None

    def send(self, message: OutgoingMessage) -> SendReceipt:
        receipt = super().send(message)
        then, self.after_next = self.after_next, None
        if then is not None:
            then()
        return receipt


class Reminders:
    """Bookings starting in 2 h, 20 h, 30 h, and a cancelled one in 5 h (whose
    cancellation message, sent by the automations, is the first message sent)."""

    def __init__(self, shop: Shop, admin: Principal) -> None:
        self.in_2h = shop.book(shop.asha.id, shop.open_slot(timedelta(hours=2)))
        self.in_20h = shop.book(shop.ravi.id, shop.open_slot(timedelta(hours=20)))
        self.in_30h = shop.book(shop.asha.id, shop.open_slot(timedelta(hours=30)))
        self.cancelled = shop.book(shop.ravi.id, shop.open_slot(timedelta(hours=5)))
        shop.core.bookings.cancel(self.cancelled.id, principal=admin, reason="changed plans")


@pytest.fixture
def reminders(shop: Shop, admin: Principal) -> Reminders:
    return Reminders(shop, admin)


class ReminderRun:
    """Staff running the reminder job over :class:`Reminders`, told by a recording
    notifier, at the clock's now: what is due, what a run sends, what was logged."""

    def __init__(
        self,
        core: BookingCore,
        reminders: Reminders,
        notifier: RecordingNotifier,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        self.core, self.reminders, self.notifier = core, reminders, notifier
        self.clock, self.admin = clock, admin

    def send(self, within: timedelta | None = None) -> list[Communication]:
        """One run of ``send_due_reminders`` (the default window unless given)."""
        window = {} if within is None else {"within": within}
        return list(self.core.communications.send_due_reminders(principal=self.admin, **window))

    def due(self) -> list[Booking]:
        return list(self.core.communications.due_reminders(principal=self.admin))

    def logged(self, booking: Booking) -> list[Communication]:
        return list(self.core.communications.for_booking(booking.id, principal=self.admin))


@pytest.fixture
def run(
    core: BookingCore,
    reminders: Reminders,
    notifier: RecordingNotifier,
    clock: FixedClock,
    admin: Principal,
) -> ReminderRun:
    return ReminderRun(core, reminders, notifier, clock, admin)


class TestReminders:
    def test_due_reminders_are_the_active_bookings_starting_within_the_window(
        self, core: BookingCore, reminders: Reminders, admin: Principal
    ) -> None:
        due = core.communications.due_reminders(principal=admin, within=timedelta(hours=24))
        assert [b.id for b in due] == [reminders.in_2h.id, reminders.in_20h.id]
        wider = core.communications.due_reminders(principal=admin, within=timedelta(hours=48))
        assert [b.id for b in wider] == [
            reminders.in_2h.id,
            reminders.in_20h.id,
            reminders.in_30h.id,
        ]

    def test_a_naive_now_is_refused_naming_it(
        self, core: BookingCore, clock: FixedClock, admin: Principal
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.communications.due_reminders(principal=admin, now=clock.now().replace(tzinfo=None))
        assert [(e.field, e.code) for e in caught.value.errors] == [("now", "naive_datetime")]

    def test_each_due_booking_gets_one_reminder_and_a_second_run_sends_nothing(
        self,
        core: BookingCore,
        reminders: Reminders,
        notifier: RecordingNotifier,
        store: MemoryStore,
        admin: Principal,
    ) -> None:
        sent = core.communications.send_due_reminders(principal=admin)
        assert [m.booking_id for m in sent] == [reminders.in_2h.id, reminders.in_20h.id]
        assert all(m.type is CommunicationType.REMINDER for m in sent)
        assert all(m.status is CommunicationStatus.SENT for m in sent)
        assert [m.dedupe_key for m in sent] == [
            f"reminder:{reminders.in_2h.id}",
            f"reminder:{reminders.in_20h.id}",
        ]
        assert [(m.channel, m.template_used) for m in sent] == [
            (Channel.EMAIL, "reminder.email"),
            (Channel.SMS, "reminder.sms"),
        ]
        reminded = notifier.sent[1:]
        assert [m.recipient for m in reminded] == ["asha@example.com", "+919812345678"]

        assert core.communications.send_due_reminders(principal=admin) == []
        assert core.communications.due_reminders(principal=admin) == []
        assert len(notifier.sent) == 3
        assert store.count("communications") == 3

    def test_a_booking_entering_the_window_later_gets_its_reminder_then(
        self, run: ReminderRun
    ) -> None:
        run.send()
        run.clock.advance(hours=7)
        sent = run.send()
        assert [m.booking_id for m in sent] == [run.reminders.in_30h.id]
        assert len(run.notifier.sent) == 4
        assert run.send() == []

    def test_a_failing_reminder_is_logged_and_the_others_still_go_out(
        self,
        core: BookingCore,
        reminders: Reminders,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        notifier.fail_next(reason="mailbox full")
        results = core.communications.send_due_reminders(principal=admin)
        assert [(m.booking_id, m.status) for m in results] == [
            (reminders.in_2h.id, CommunicationStatus.FAILED),
            (reminders.in_20h.id, CommunicationStatus.SENT),
        ]
        assert results[0].failed_reason == "mailbox full"
        [logged] = core.communications.for_booking(reminders.in_2h.id, principal=admin)
        assert logged.status is CommunicationStatus.FAILED
        assert [m.recipient for m in notifier.sent[1:]] == ["+919812345678"]

    def test_a_customer_without_an_address_on_the_asked_channel_is_skipped_not_fatal(
        self,
        core: BookingCore,
        reminders: Reminders,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        """Ravi has no email address: asked to remind by email, the run reminds Asha and
        passes Ravi over (nothing to log without an address), rather than raising
        after Asha's reminder went out and leaving the bookings after his unreminded."""
        sent = core.communications.send_due_reminders(principal=admin, channel="email")
        assert [(m.booking_id, m.channel) for m in sent] == [(reminders.in_2h.id, Channel.EMAIL)]
        assert core.communications.for_booking(reminders.in_20h.id, principal=admin) == []
        assert [b.id for b in core.communications.due_reminders(principal=admin)] == [
            reminders.in_20h.id
        ]
        [by_sms] = core.communications.send_due_reminders(principal=admin)  # his default
        assert (by_sms.booking_id, by_sms.channel) == (reminders.in_20h.id, Channel.SMS)

    @pytest.mark.parametrize("fails", [False, True])
    def test_a_reminder_the_job_logged_as_another_principal_is_the_same_reminder(
        self, store: MemoryStore, clock: FixedClock, admin: Principal, fails: bool
    ) -> None:
        """Staff run the reminders while the system's job runs too: the job logs the
        second booking's reminder between the staff run's list and its send. The
        staff run recognises it as the same reminder (returned as it is), not a
        conflict over who asked. One that just failed is not sent again at once:
        it waits for ``Settings.reminder_retry_after``, then a run sends it (the
        same record)."""
        notifier = Interrupting()
        core = make_core(store, clock, notifier)
        reminders = Reminders(Shop(core, admin, clock), admin)
        job = Principal.system("reminders")

        def system_job_runs() -> None:
            if fails:
                notifier.fail_next(reason="gateway unavailable")
            ran = core.communications.send_due_reminders(principal=job)
            assert [m.booking_id for m in ran] == [reminders.in_20h.id]

        notifier.after_next = system_job_runs
        sent = core.communications.send_due_reminders(principal=admin)
        assert notifier.after_next is None  # the system's job ran in between
        second = CommunicationStatus.FAILED if fails else CommunicationStatus.SENT
        assert [(m.booking_id, m.status) for m in sent] == [
            (reminders.in_2h.id, CommunicationStatus.SENT),
            (reminders.in_20h.id, second),
        ]
        assert notifier.attempts == 1 + 2  # the cancellation, two reminders
        if fails:
            clock.advance(minutes=15)
            [retried] = core.communications.send_due_reminders(principal=admin)
            assert (retried.id, retried.status) == (sent[1].id, CommunicationStatus.SENT)
        [logged] = core.communications.for_booking(reminders.in_20h.id, principal=admin)
        assert logged.id == sent[1].id
        assert logged.created_by == job.actor  # the job's message, sent again or as it was
        to_ravi = [m for m in notifier.sent if m.communication_id == logged.id]
        assert len(to_ravi) == 1
        assert notifier.attempts == 1 + 2 + fails

    def test_a_reminder_that_failed_retryably_is_sent_again_after_the_wait(
        self, run: ReminderRun
    ) -> None:
        """A reminder the gateway refused for now (``retryable``) is sent again, the
        same record, by the first run ``reminder_retry_after`` (15 min) after it
        failed; not before. (Before 0.4 it was never sent again.)"""
        run.notifier.fail_next(reason="HTTP 503")
        first = run.send()
        failed = first[0]
        assert (failed.booking_id, failed.status) == (run.reminders.in_2h.id, "failed")
        assert (failed.attempts, failed.retryable) == (1, True)
        assert run.send() == []
        run.clock.advance(minutes=14)
        assert run.due() == []
        assert run.send() == []
        run.clock.advance(minutes=1)
        assert [b.id for b in run.due()] == [run.reminders.in_2h.id]
        [retried] = run.send()
        assert (retried.id, retried.status, retried.attempts) == (
            failed.id,
            CommunicationStatus.SENT,
            2,
        )
        assert retried.failed_reason == "HTTP 503"  # the last failure stays on record
        to_asha = [m for m in run.notifier.sent if m.communication_id == failed.id]
        assert len(to_asha) == 1
        run.clock.advance(minutes=15)
        assert run.send() == []
        [logged] = run.logged(run.reminders.in_2h)
        assert logged.id == failed.id

    def test_a_failing_reminder_is_tried_at_most_reminder_attempts_times(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        """``Settings.reminder_attempts`` attempts in all, ``reminder_retry_after`` apart."""
        notifier = RecordingNotifier()
        core = make_core(
            store, clock, notifier, reminder_attempts=2, reminder_retry_after=timedelta(minutes=5)
        )
        run = ReminderRun(core, Reminders(Shop(core, admin, clock), admin), notifier, clock, admin)
        notifier.fail_next(times=5, reason="timeout")
        soon = timedelta(hours=3)  # only the booking in 2 h

        sent = run.send(soon)
        assert [(m.booking_id, m.status) for m in sent] == [(run.reminders.in_2h.id, "failed")]
        clock.advance(minutes=4)
        assert run.send(soon) == []
        clock.advance(minutes=1)
        [again] = run.send(soon)
        assert (again.id, again.status, again.attempts) == (sent[0].id, "failed", 2)
        before = notifier.attempts
        for _ in range(3):
            clock.advance(minutes=5)
            assert run.send(soon) == []
        assert notifier.attempts == before
        [logged] = run.logged(run.reminders.in_2h)
        assert (logged.status, logged.attempts) == (CommunicationStatus.FAILED, 2)

    def test_a_reminder_that_cannot_work_later_is_not_sent_again(self, run: ReminderRun) -> None:
        """A failure that is not ``retryable`` (an invalid number) is final."""
        run.notifier.fail_next(reason="invalid number", retryable=False)
        first = run.send()
        assert (first[0].status, first[0].retryable) == (CommunicationStatus.FAILED, False)
        run.clock.advance(minutes=30)
        assert run.due() == []
        assert run.send() == []
        [logged] = run.logged(run.reminders.in_2h)
        assert (logged.status, logged.attempts) == (CommunicationStatus.FAILED, 1)

    def test_a_failed_reminder_is_not_retried_once_the_booking_is_cancelled_or_departed(
        self, run: ReminderRun
    ) -> None:
        """Retries stop when the booking is no longer active, or has left the window."""
        reminders = run.reminders
        run.notifier.fail_next(times=2, reason="HTTP 503")
        sent = run.send()
        assert [(m.booking_id, m.status) for m in sent] == [
            (reminders.in_2h.id, CommunicationStatus.FAILED),
            (reminders.in_20h.id, CommunicationStatus.FAILED),
        ]
        run.core.bookings.cancel(reminders.in_20h.id, principal=run.admin, reason="changed plans")
        run.clock.advance(hours=2, minutes=1)  # in_2h has departed
        before = run.notifier.attempts
        assert run.due() == []
        assert run.send() == []
        assert run.notifier.attempts == before
        for booking in (reminders.in_2h, reminders.in_20h):
            messages = run.logged(booking)
            reminder = [m for m in messages if m.type is CommunicationType.REMINDER]
            assert [(m.status, m.attempts) for m in reminder] == [(CommunicationStatus.FAILED, 1)]

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("reminder_retry_after", timedelta(0)),
            ("reminder_retry_after", 900),  # seconds are not a timedelta
            ("stalled_message_after", 900),
            ("reminder_attempts", 0),
            ("reminder_attempts", True),
        ],
    )
    def test_reminder_retry_settings_out_of_range_are_refused(
        self, setting: str, value: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            Settings(**{setting: value})  # type: ignore[arg-type]
        assert [(e.field, e.code) for e in caught.value.errors] == [(setting, "out_of_range")]

    def test_a_caller_key_used_by_two_principals_stays_two_messages(
        self, shop: Shop, booking: Booking, admin: Principal, notifier: RecordingNotifier
    ) -> None:
        """Caller keys stay scoped to who sent them (unchanged by the fix above)."""
        other = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        first = shop.core.communications.send(
            booking.id, "reminder", principal=admin, idempotency_key="k-1"
        )
        second = shop.core.communications.send(
            booking.id, "reminder", principal=other, idempotency_key="k-1"
        )
        assert first.id != second.id
        with pytest.raises(IdempotencyConflictError):
            shop.core.communications.send(
                booking.id, "cancellation", principal=admin, idempotency_key="k-1"
            )

    def test_only_staff_who_change_every_booking_send_reminders(
        self, core: BookingCore, reminders: Reminders, notifier: RecordingNotifier
    ) -> None:
        before = notifier.attempts
        for principal in (
            Principal.customer(reminders.in_2h.customer_id),
            Principal.staff(StaffId(uuid4()), StaffRole.EDITOR),
        ):
            with pytest.raises(PermissionDeniedError):
                core.communications.send_due_reminders(principal=principal)
        assert notifier.attempts == before


def test_a_provider_s_webhook_writes_no_message_of_its_own_to_a_customer(
    shop: Shop, core: BookingCore, store: MemoryStore, notifier: RecordingNotifier
) -> None:
    # Staff who change everything and the system write to customers; a delivery
    # report's webhook only reports (docs/policy.md).
    with pytest.raises(PermissionDeniedError):
        core.communications.send_text(
            shop.asha.id, "follow_up", subject="Hi", body="Click here", principal=WEBHOOK
        )
    assert (store.count("communications"), notifier.attempts) == (0, 0)


class TestTemplates:
    def test_a_custom_template_is_used_and_the_defaults_fill_in_the_rest(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        custom = MessageTemplate(
            "custom.sms", body="Hi $customer_name, $reference is on ($total). -$business"
        )
        notifier = RecordingNotifier()
        core = make_core(
            store,
            clock,
            notifier,
            templates={(CommunicationType.CONFIRMATION, Channel.SMS): custom},
        )
        shop = Shop(core, admin, clock)
        by_sms = shop.book(shop.ravi.id)
        by_email = shop.book(shop.asha.id)

        sms = core.communications.send(by_sms.id, "confirmation", principal=admin)
        email = core.communications.send(by_email.id, "confirmation", principal=admin)

        assert sms.template_used == "custom.sms"
        assert sms.content == f"Hi Ravi Kumar, {by_sms.reference} is on (2,500.00 INR). -{BUSINESS}"
        assert notifier.sent[0].body == sms.content
        assert email.template_used == "confirmation.email"
        assert (
            core.settings.template(CommunicationType.REMINDER, Channel.SMS)
            is (DEFAULT_TEMPLATES[(CommunicationType.REMINDER, Channel.SMS)])
        )

    def test_a_channel_without_a_template_is_refused(
        self, booking: Booking, core: BookingCore, store: MemoryStore, admin: Principal
    ) -> None:
        with pytest.raises(ValidationError) as error:
            core.communications.send(booking.id, "confirmation", principal=admin, channel="phone")
        assert error.value.fields == ("channel",)
        assert store.count("communications") == 0

    @pytest.mark.parametrize(
        ("subject", "body"),
        [
            (None, "Hello $nickname"),
            ("About $booking_code", "Hello $customer_name"),
            (None, "Pay $5 now"),
        ],
    )
    def test_a_template_with_an_unknown_or_malformed_placeholder_is_refused(
        self, subject: str | None, body: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            MessageTemplate("bad", body=body, subject=subject)
        assert error.value.fields == ("template",)
        assert error.value.errors[0].code == "invalid_template"

    def test_every_known_placeholder_is_accepted_and_dollars_can_be_escaped(self) -> None:
        body = " ".join(f"${name}" for name in sorted(TEMPLATE_FIELDS)) + " costs $$5"
        template = MessageTemplate("all", body=body)
        _, rendered = template.render({name: name.upper() for name in TEMPLATE_FIELDS})
        assert rendered == " ".join(n.upper() for n in sorted(TEMPLATE_FIELDS)) + " costs $5"

    def test_every_default_template_is_named_after_its_type_and_channel(self) -> None:
        for (kind, channel), template in DEFAULT_TEMPLATES.items():
            assert template.name == f"{kind.value}.{channel.value}"
            assert (template.subject is None) == (channel is Channel.SMS)


class TestSmsLength:
    """An SMS carries at most 1600 characters (Twilio refuses more, error 21617): a
    longer one is refused before it is logged, and one logged anyway is not sent."""

    def test_a_caller_s_text_too_long_for_sms_is_refused_before_it_is_logged(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.communications.send_text(
                shop.ravi.id,
                "quotation",
                subject="Your quotation",
                body="x" * 1601,
                principal=admin,
                channel="sms",
                idempotency_key="quote-1",
            )
        assert [(e.field, e.code) for e in caught.value.errors] == [("body", "too_long")]
        assert (store.count("communications"), notifier.attempts) == (0, 0)
        # the same text goes by email, and a text of exactly 1600 characters by SMS
        emailed = core.communications.send_text(
            shop.asha.id, "quotation", subject="Q", body="x" * 1601, principal=admin
        )
        texted = core.communications.send_text(
            shop.ravi.id, "quotation", subject="Q", body="🙂" * 800, principal=admin
        )
        assert [emailed.status, texted.status] == [CommunicationStatus.SENT] * 2

    def test_a_template_that_renders_too_long_for_sms_is_refused_naming_the_body(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        wordy = MessageTemplate("wordy.sms", body="$reference: " + "🙂" * 800)
        notifier = RecordingNotifier()
        core = make_core(
            store, clock, notifier, templates={(CommunicationType.REMINDER, Channel.SMS): wordy}
        )
        shop = Shop(core, admin, clock)
        booking = shop.book(shop.ravi.id)
        with pytest.raises(ValidationError) as caught:
            core.communications.send(booking.id, "reminder", principal=admin)
        assert [(e.field, e.code) for e in caught.value.errors] == [("body", "too_long")]
        assert core.communications.for_booking(booking.id, principal=admin) == []
        assert notifier.attempts == 0

    def test_a_reminder_too_long_for_sms_does_not_stop_the_others(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        wordy = MessageTemplate("wordy.sms", body="🙂" * 750 + " $customer_name")
        notifier = RecordingNotifier()
        core = make_core(
            store, clock, notifier, templates={(CommunicationType.REMINDER, Channel.SMS): wordy}
        )
        shop = Shop(core, admin, clock)
        tomorrow = shop.open_slot(timedelta(hours=20))
        long_named = core.customers.register("+919800000001", name="N" * 100, principal=admin)
        first = shop.book(long_named.customer.id, tomorrow)  # its text would be 1601 long
        second = shop.book(shop.ravi.id, tomorrow)
        sent = core.communications.send_due_reminders(principal=admin)
        assert [c.booking_id for c in sent] == [second.id]
        assert core.communications.for_booking(first.id, principal=admin) == []
        assert [m.recipient for m in notifier.sent] == [shop.ravi.phone.e164]

    def test_a_message_logged_too_long_for_sms_fails_for_good_without_the_notifier(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        clock: FixedClock,
        admin: Principal,
    ) -> None:
        booking = shop.book(shop.ravi.id)
        logged = Communication(
            id=CommunicationId(uuid4()),
            customer_id=shop.ravi.id,
            booking_id=booking.id,
            type=CommunicationType.CONFIRMATION,
            channel=Channel.SMS,
            recipient=shop.ravi.phone.e164,
            content="x" * 1601,
            created_at=clock.now(),
            created_by=admin.actor,
        )
        with store.unit_of_work() as uow:
            uow.communications.add(logged)
            uow.commit()
        with pytest.raises(DeliveryError) as caught:
            core.communications.deliver_logged(logged.id)
        assert not caught.value.retryable
        failed = core.communications.get(logged.id, principal=admin)
        assert failed.status is CommunicationStatus.FAILED
        assert failed.retryable is False
        assert failed.failed_reason is not None
        assert "1600" in failed.failed_reason
        assert notifier.attempts == 0


class TestQuotationText:
    """A quotation is marked sent only when its text can go: the same checks as any
    caller's text, made before the revision changes."""

    def quote(self, shop: Shop, admin: Principal, lines: int = 0) -> Quotation:
        return shop.core.quotations.create(
            QuotationRequest(
                customer_id=shop.ravi.id,
                slot_id=shop.slot.id,
                travelers=1,
                lines=[
                    QuoteLine(
                        kind="hotel",
                        description=f"Night {n} at the guest house by the lake " + "-" * 60,
                        quantity=1,
                        unit_price=Money("900", "INR"),
                    )
                    for n in range(lines)
                ],
                valid_until=shop.clock.now().date() + timedelta(days=5),
            ),
            principal=admin,
        )

    @pytest.mark.parametrize(
        ("lines", "channel", "field"), [(0, "email", "channel"), (20, None, "body")]
    )
    def test_a_quotation_whose_text_cannot_go_is_left_unsent(
        self,
        shop: Shop,
        core: BookingCore,
        store: MemoryStore,
        notifier: RecordingNotifier,
        admin: Principal,
        lines: int,
        channel: str | None,
        field: str,
    ) -> None:
        # Ravi has no email address; twenty lines make a text longer than an SMS carries.
        quotation = self.quote(shop, admin, lines)
        with pytest.raises(ValidationError) as caught:
            core.quotations.send(quotation.id, principal=admin, channel=channel)
        assert caught.value.fields == (field,)
        assert core.quotations.get(quotation.id, principal=admin).status is QuotationStatus.DRAFT
        assert (store.count("communications"), notifier.attempts) == (0, 0)

    def test_a_quotation_that_fits_an_sms_is_marked_sent_and_texted(
        self, shop: Shop, core: BookingCore, admin: Principal
    ) -> None:
        quotation = self.quote(shop, admin, lines=2)
        sent = core.quotations.send(quotation.id, principal=admin)
        assert sent.quotation.status is QuotationStatus.SENT
        assert (sent.communication.channel, sent.communication.status) == (
            Channel.SMS,
            CommunicationStatus.SENT,
        )


class TestLogNotifier:
    def test_it_logs_each_message_and_numbers_the_provider_ids(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        notifier = LogNotifier()
        email = OutgoingMessage(
            communication_id=CommunicationId(uuid4()),
            channel=Channel.EMAIL,
            recipient="asha@example.com",
            body="Hello",
            subject="Booked",
        )
        sms = OutgoingMessage(
            communication_id=CommunicationId(uuid4()),
            channel=Channel.SMS,
            recipient="+919876543210",
            body="See you",
        )
        with caplog.at_level(logging.INFO, logger="bookingcore.notifications"):
            first = notifier.send(email)
            second = notifier.send(sms)
        assert (first.provider_message_id, second.provider_message_id) == (
            f"log-{email.communication_id}",
            f"log-{sms.communication_id}",
        )
        assert first.status is CommunicationStatus.SENT
        messages = [r.getMessage() for r in caplog.records if r.name == "bookingcore.notifications"]
        assert messages == [
            "email to asha@example.com [Booked]: Hello",
            "sms to +919876543210: See you",
        ]
        assert all(r.levelno == logging.INFO for r in caplog.records)

    def test_a_given_logger_is_used(self, caplog: pytest.LogCaptureFixture) -> None:
        logger = logging.getLogger("tests.outbox")
        message = OutgoingMessage(CommunicationId(uuid4()), Channel.SMS, "+919876543210", "Hi")
        with caplog.at_level(logging.INFO, logger="tests.outbox"):
            LogNotifier(logger).send(message)
        assert [r.name for r in caplog.records] == ["tests.outbox"]

    def test_the_core_logs_through_it(
        self,
        store: MemoryStore,
        clock: FixedClock,
        admin: Principal,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        core = make_core(store, clock, LogNotifier())
        shop = Shop(core, admin, clock)
        booking = shop.book(shop.ravi.id)
        with caplog.at_level(logging.INFO, logger="bookingcore.notifications"):
            sent = core.communications.send(booking.id, "confirmation", principal=admin)
        assert sent.provider_message_id == f"log-{sent.id}"
        assert sent.status is CommunicationStatus.SENT
        assert [
            r.getMessage() for r in caplog.records if r.name == "bookingcore.notifications"
        ] == [f"sms to +919812345678: {sent.content}"]


class TestFamilyInvitationTemplates:
    def test_the_shipped_ones_name_the_inviter_and_relation_and_nothing_else(self) -> None:
        kind = CommunicationType.FAMILY_INVITATION
        shipped = {c: t for (k, c), t in DEFAULT_TEMPLATES.items() if k is kind}
        assert set(shipped) == {Channel.SMS, Channel.EMAIL, Channel.PUSH}
        for template in shipped.values():
            assert template.placeholders <= FAMILY_INVITATION_FIELDS
            assert {"inviter_name", "relation"} <= template.placeholders
            check_template_fields(kind, template)
        assert FAMILY_INVITATION_FIELDS <= TEMPLATE_FIELDS

    def test_a_template_may_use_only_what_its_type_fills(self) -> None:
        kind = CommunicationType.FAMILY_INVITATION
        for body in ("$customer_name", "$starts_at at $location", "${reference}"):
            with pytest.raises(ValidationError) as caught:
                check_template_fields(kind, MessageTemplate("t", body=body))
            assert caught.value.errors[0].code == "invalid_template"
        with pytest.raises(ValidationError):
            check_template_fields(
                kind, MessageTemplate("t", subject="Hi $customer_name", body="$relation")
            )
        for other in (CommunicationType.CONFIRMATION, CommunicationType.REMINDER):
            with pytest.raises(ValidationError):
                check_template_fields(other, MessageTemplate("t", body="$inviter_name"))
            check_template_fields(other, MessageTemplate("t", body="$reference $business"))
