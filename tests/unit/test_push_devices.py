"""Push devices and the push channel over the memory adapter: registering tokens (one row
per token, moving between customers), the policy, audit entries, and push messages fanned
out to every active device, with gone tokens deactivated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore import (
    Automations,
    BookingCore,
    BookingRequest,
    DeliveryError,
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
from bookingcore.domain import Booking, Channel, CommunicationStatus, DevicePlatform, PushDevice
from bookingcore.domain.devices import PushDeviceId
from bookingcore.domain.values import CustomerId
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore

PHONE_TOKEN = "dGVzdC1mY20tdG9rZW4:APA91bH-phone_0123456789"
TABLET_TOKEN = "dGVzdC1mY20tdG9rZW4:APA91bH-tablet_987654321"


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock, notifier: RecordingNotifier) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", business_name="Trails"),
        notifier=notifier,
    )


class People:
    def __init__(self, core: BookingCore, admin: Principal) -> None:
        self.asha = core.customers.register("+919876543210", name="Asha", principal=admin).customer
        self.ravi = core.customers.register("+919812345678", name="Ravi", principal=admin).customer
        self.as_asha = Principal.customer(self.asha.id)
        self.as_ravi = Principal.customer(self.ravi.id)


@pytest.fixture
def people(core: BookingCore, admin: Principal) -> People:
    return People(core, admin)


class TestRegistering:
    def test_a_customer_registers_a_device_and_lists_it(
        self, core: BookingCore, people: People
    ) -> None:
        device = core.devices.register(
            people.asha.id, "Android", f"  {PHONE_TOKEN} ", principal=people.as_asha, label="Pixel"
        ).device
        assert (device.platform, device.token, device.label, device.active) == (
            DevicePlatform.ANDROID,
            PHONE_TOKEN,
            "Pixel",
            True,
        )
        assert core.devices.list(people.asha.id, principal=people.as_asha) == [device]
        assert core.devices.list(people.ravi.id, principal=people.as_ravi) == []

    def test_registering_the_same_token_again_returns_the_same_device(
        self, core: BookingCore, people: People, clock: FixedClock
    ) -> None:
        first = core.devices.register(
            people.asha.id, "ios", PHONE_TOKEN, principal=people.as_asha, label="iPhone"
        ).device
        clock.advance(days=1)
        again = core.devices.register(
            people.asha.id, "ios", PHONE_TOKEN, principal=people.as_asha
        ).device
        assert again.id == first.id
        assert again.label == "iPhone"  # no label given: the one it had stays
        assert again.registered_at == clock.now()
        assert len(core.devices.list(people.asha.id, principal=people.as_asha)) == 1

    def test_a_token_registered_by_another_customer_moves_to_them(
        self, core: BookingCore, people: People, admin: Principal
    ) -> None:
        shared = core.devices.register(
            people.asha.id, "web", TABLET_TOKEN, principal=people.as_asha, label="Family tablet"
        ).device
        registration = core.devices.register(
            people.ravi.id, "web", TABLET_TOKEN, principal=people.as_ravi
        )
        assert (registration.created, registration.moved_from) == (False, people.asha.id)
        moved = registration.device
        assert (moved.id, moved.customer_id, moved.label) == (shared.id, people.ravi.id, None)
        assert core.devices.list(people.asha.id, principal=people.as_asha) == []
        assert [d.id for d in core.devices.list(people.ravi.id, principal=admin)] == [shared.id]
        trail = core.audit.trail("push device", shared.id, principal=admin)
        assert [e.action.value for e in trail] == ["created", "updated"]
        assert trail[1].new_values["moved_from"] == str(people.asha.id)
        assert trail[1].new_values["customer_id"] == str(people.ravi.id)
        # The token is masked in the trail, never whole.
        assert all(TABLET_TOKEN not in str(e.old_values) + str(e.new_values) for e in trail)

    @pytest.mark.parametrize(
        ("platform", "token", "fields"),
        [
            ("android", "", {"token"}),
            ("android", "   ", {"token"}),
            ("android", "two words", {"token"}),
            ("android", "x" * 1025, {"token"}),
            ("blackberry", PHONE_TOKEN, {"platform"}),
            ("symbian", "", {"platform", "token"}),
        ],
    )
    def test_bad_input_names_its_field_and_stores_nothing(
        self, core: BookingCore, people: People, platform: str, token: str, fields: set[str]
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.devices.register(people.asha.id, platform, token, principal=people.as_asha)
        assert {e.field for e in caught.value.errors} == fields
        assert core.devices.list(people.asha.id, principal=people.as_asha) == []

    def test_only_the_customer_registers_their_devices(
        self, core: BookingCore, people: People, admin: Principal
    ) -> None:
        for principal in (people.as_ravi, admin, Principal.system()):
            with pytest.raises(PermissionDeniedError):
                core.devices.register(people.asha.id, "ios", PHONE_TOKEN, principal=principal)
        assert core.devices.list(people.asha.id, principal=admin) == []

    def test_another_customer_cannot_list_devices_but_staff_can(
        self, core: BookingCore, people: People
    ) -> None:
        core.devices.register(people.asha.id, "ios", PHONE_TOKEN, principal=people.as_asha)
        with pytest.raises(NotFoundError):
            core.devices.list(people.asha.id, principal=people.as_ravi)
        editor = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.STAFF)
        assert len(core.devices.list(people.asha.id, principal=editor)) == 1


class TestUnregistering:
    def test_the_customer_unregisters_their_device_and_it_is_audited(
        self, core: BookingCore, people: People, admin: Principal
    ) -> None:
        device = core.devices.register(
            people.asha.id, "ios", PHONE_TOKEN, principal=people.as_asha
        ).device
        core.devices.unregister(people.asha.id, device.id, principal=people.as_asha)
        assert core.devices.list(people.asha.id, principal=people.as_asha) == []
        with pytest.raises(NotFoundError):
            core.devices.unregister(people.asha.id, device.id, principal=people.as_asha)
        trail = core.audit.trail("push device", device.id, principal=admin)
        assert [e.action.value for e in trail] == ["created", "deleted"]
        assert trail[1].actor == people.as_asha.actor

    def test_nobody_unregisters_another_customers_device(
        self, core: BookingCore, people: People
    ) -> None:
        device = core.devices.register(
            people.asha.id, "ios", PHONE_TOKEN, principal=people.as_asha
        ).device
        with pytest.raises(NotFoundError):  # Ravi may not see Asha
            core.devices.unregister(people.asha.id, device.id, principal=people.as_ravi)
        with pytest.raises(NotFoundError):  # the device is not Ravi's
            core.devices.unregister(people.ravi.id, device.id, principal=people.as_ravi)
        assert len(core.devices.list(people.asha.id, principal=people.as_asha)) == 1

    def test_staff_who_change_everything_may_unregister_a_lost_phone(
        self, core: BookingCore, people: People, admin: Principal
    ) -> None:
        device = core.devices.register(
            people.asha.id, "ios", PHONE_TOKEN, principal=people.as_asha
        ).device
        core.devices.unregister(people.asha.id, PushDeviceId(device.id), principal=admin)
        assert core.devices.list(people.asha.id, principal=admin) == []


def book_on_a_new_slot(
    core: BookingCore,
    admin: Principal,
    clock: FixedClock,
    customer_id: CustomerId,
    location_code: str,
    traveler: str,
) -> Booking:
    """A location ``location_code`` ("Base camp"), a slot there in ten days, and the
    customer's booking of one ``traveler`` on it, made by ``admin``."""
    camp = core.catalog.add_location(location_code, "Base camp", principal=admin)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=10),
        price_per_traveler=Money("2500", "INR"),
        principal=admin,
    )
    return core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(traveler), is_primary=True)],
            customer_id=customer_id,
        ),
        principal=admin,
    )


class TestPushMessages:
    @pytest.fixture
    def booking_id(self, core: BookingCore, people: People, admin: Principal, clock: FixedClock):  # type: ignore[no-untyped-def]
        return book_on_a_new_slot(core, admin, clock, people.asha.id, "CAMP", "Asha").id

    def devices(self, core: BookingCore, people: People) -> list[PushDevice]:
        return [
            core.devices.register(
                people.asha.id, "android", PHONE_TOKEN, principal=people.as_asha
            ).device,
            core.devices.register(
                people.asha.id, "ios", TABLET_TOKEN, principal=people.as_asha
            ).device,
        ]

    def test_a_push_message_goes_to_every_active_device_and_is_logged_once(
        self,
        core: BookingCore,
        people: People,
        admin: Principal,
        notifier: RecordingNotifier,
        booking_id,  # type: ignore[no-untyped-def]
    ) -> None:
        self.devices(core, people)
        logged = core.communications.send(
            booking_id, "confirmation", channel="push", principal=admin
        )
        assert [m.recipient for m in notifier.sent] == [PHONE_TOKEN, TABLET_TOKEN]
        first = notifier.sent[0]
        assert (first.channel, first.subject) == (Channel.PUSH, "Booking confirmed")
        assert first.data == {
            "communication_id": str(logged.id),
            "type": "confirmation",
            "booking_id": str(booking_id),
        }
        assert logged.status is CommunicationStatus.SENT
        assert logged.recipient == f"customer:{people.asha.id}"
        assert logged.provider_message_id == "msg-1"
        assert [c.id for c in core.communications.for_booking(booking_id, principal=admin)] == [
            logged.id
        ]

    def test_a_gone_token_deactivates_its_device_and_the_others_still_get_it(
        self,
        core: BookingCore,
        people: People,
        admin: Principal,
        notifier: RecordingNotifier,
        booking_id,  # type: ignore[no-untyped-def]
    ) -> None:
        phone, tablet = self.devices(core, people)
        notifier.gone.add(PHONE_TOKEN)
        logged = core.communications.send(booking_id, "reminder", channel="push", principal=admin)
        assert logged.status is CommunicationStatus.SENT
        assert [m.recipient for m in notifier.sent] == [TABLET_TOKEN]
        listed = {d.id: d for d in core.devices.list(people.asha.id, principal=admin)}
        assert listed[phone.id].active is False
        assert listed[phone.id].deactivation_reason == "UNREGISTERED"
        assert listed[tablet.id].active is True
        trail = core.audit.trail("push device", phone.id, principal=admin)
        assert [e.action.value for e in trail][-1] == "deactivated"
        # The next message does not try the deactivated device at all.
        attempts = notifier.attempts
        core.communications.send(booking_id, "confirmation", channel="push", principal=admin)
        assert notifier.attempts == attempts + 1
        assert notifier.sent[-1].recipient == TABLET_TOKEN
        # Registering the token again (the app was reinstalled) makes it active again.
        core.devices.register(people.asha.id, "android", PHONE_TOKEN, principal=people.as_asha)
        assert all(d.active for d in core.devices.list(people.asha.id, principal=admin))

    def test_every_device_gone_fails_the_message_without_retry(
        self,
        core: BookingCore,
        people: People,
        admin: Principal,
        notifier: RecordingNotifier,
        booking_id,  # type: ignore[no-untyped-def]
    ) -> None:
        self.devices(core, people)
        notifier.gone |= {PHONE_TOKEN, TABLET_TOKEN}
        with pytest.raises(DeliveryError) as caught:
            core.communications.send(booking_id, "confirmation", channel="push", principal=admin)
        assert caught.value.retryable is False
        assert "UNREGISTERED" in caught.value.reason
        (logged,) = core.communications.for_booking(booking_id, principal=admin)
        assert logged.status is CommunicationStatus.FAILED
        assert not any(d.active for d in core.devices.list(people.asha.id, principal=admin))

    def test_a_retryable_refusal_of_every_device_is_retryable(
        self,
        core: BookingCore,
        people: People,
        admin: Principal,
        notifier: RecordingNotifier,
        booking_id,  # type: ignore[no-untyped-def]
    ) -> None:
        self.devices(core, people)
        notifier.fail_next(2, "fcm 503: UNAVAILABLE")
        with pytest.raises(DeliveryError) as caught:
            core.communications.send(
                booking_id, "confirmation", channel="push", principal=admin, idempotency_key="k1"
            )
        assert caught.value.retryable is True
        assert all(d.active for d in core.devices.list(people.asha.id, principal=admin))
        # The same key sends the failed message again, now to both devices.
        again = core.communications.send(
            booking_id, "confirmation", channel="push", principal=admin, idempotency_key="k1"
        )
        assert again.status is CommunicationStatus.SENT
        assert [m.recipient for m in notifier.sent] == [PHONE_TOKEN, TABLET_TOKEN]

    def test_a_customer_without_an_active_device_gets_no_push_message(
        self,
        core: BookingCore,
        people: People,
        admin: Principal,
        booking_id,  # type: ignore[no-untyped-def]
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.communications.send(booking_id, "confirmation", channel="push", principal=admin)
        assert caught.value.errors[0].field == "channel"
        assert caught.value.errors[0].code == "no_address"
        assert core.communications.for_booking(booking_id, principal=admin) == []

    def test_merging_customers_moves_their_devices_and_erasing_removes_them(
        self, core: BookingCore, people: People, admin: Principal
    ) -> None:
        phone = core.devices.register(
            people.ravi.id, "android", PHONE_TOKEN, principal=people.as_ravi
        ).device
        core.customers.merge(people.asha.id, people.ravi.id, principal=admin)
        assert [d.id for d in core.devices.list(people.asha.id, principal=admin)] == [phone.id]
        exported = core.privacy.export_customer(people.asha.id, principal=people.as_asha)
        assert [d["token"] for d in exported["push_devices"]] == [PHONE_TOKEN]
        core.privacy.erase_customer(people.asha.id, principal=admin)
        assert core.devices.list(people.asha.id, principal=admin) == []


class TestPushAutomation:
    def make_core(
        self, store: MemoryStore, clock: FixedClock, notifier: RecordingNotifier, **rules: bool
    ) -> BookingCore:
        return BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", business_name="Trails"),
            notifier=notifier,
            automations=Automations(**rules),
        )

    def book(self, core: BookingCore, admin: Principal, clock: FixedClock, customer_id):  # type: ignore[no-untyped-def]
        code = f"C-{customer_id.hex[-6:]}"
        return book_on_a_new_slot(core, admin, clock, customer_id, code, "Guest")

    def test_with_push_messages_a_status_message_is_pushed_too_once(
        self, store: MemoryStore, clock: FixedClock, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        core = self.make_core(store, clock, notifier, push_messages=True)
        people = People(core, admin)
        core.devices.register(people.asha.id, "android", PHONE_TOKEN, principal=people.as_asha)
        mine = self.book(core, admin, clock, people.asha.id)
        theirs = self.book(core, admin, clock, people.ravi.id)  # Ravi has no device
        core.bookings.transition(mine.id, "confirmed", principal=admin)
        core.bookings.transition(theirs.id, "confirmed", principal=admin)
        core.events.run_pending()  # a redelivery pushes nothing more
        logged = core.communications.for_booking(mine.id, principal=admin)
        assert sorted((m.type.value, m.channel.value) for m in logged) == [
            ("confirmation", "push"),
            ("confirmation", "sms"),
        ]
        assert [m.recipient for m in notifier.sent if m.channel is Channel.PUSH] == [PHONE_TOKEN]
        ravi = core.communications.for_booking(theirs.id, principal=admin)
        assert [m.channel.value for m in ravi] == ["sms"]

    def test_without_push_messages_nothing_is_pushed(
        self, store: MemoryStore, clock: FixedClock, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        core = self.make_core(store, clock, notifier)
        people = People(core, admin)
        core.devices.register(people.asha.id, "android", PHONE_TOKEN, principal=people.as_asha)
        mine = self.book(core, admin, clock, people.asha.id)
        core.bookings.transition(mine.id, "confirmed", principal=admin)
        assert [m.channel for m in notifier.sent] == [Channel.SMS]

    def test_a_push_to_gone_devices_only_is_not_retried(
        self, store: MemoryStore, clock: FixedClock, notifier: RecordingNotifier, admin: Principal
    ) -> None:
        core = self.make_core(store, clock, notifier, push_messages=True)
        people = People(core, admin)
        core.devices.register(people.asha.id, "android", PHONE_TOKEN, principal=people.as_asha)
        notifier.gone.add(PHONE_TOKEN)
        mine = self.book(core, admin, clock, people.asha.id)
        core.bookings.transition(mine.id, "confirmed", principal=admin)
        clock.advance(hours=1)
        core.events.run_pending()
        pushes = [
            m
            for m in core.communications.for_booking(mine.id, principal=admin)
            if m.channel is Channel.PUSH
        ]
        assert [m.status for m in pushes] == [CommunicationStatus.FAILED]
        attempts = notifier.attempts
        core.events.run_pending()
        assert notifier.attempts == attempts  # nothing retried
        assert core.devices.list(people.asha.id, principal=admin)[0].active is False
