"""`BookingCore` needs only its storage: the clock and ids default to the system's; a
port it is given is checked for its Protocol's methods when the core is built."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    RandomIds,
    StaffId,
    StaffRole,
    SystemClock,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.ports import ProviderCapabilities, SendReceipt
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore

REFERENCE = re.compile(r"^BK-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{8}$")


def _book_one(core: BookingCore) -> Booking:
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=core.context.clock.now() + timedelta(days=30),
        price_per_traveler=Money("8500", "INR"),
        capacity=4,
        principal=admin,
    )
    customer = core.customers.register("+919876543210", principal=admin).customer
    return core.bookings.book(
        BookingRequest(slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)]),
        principal=Principal.customer(customer.id),
    )


class TestDefaults:
    def test_a_core_with_only_storage_uses_the_system_clock_and_random_ids(self) -> None:
        core = BookingCore(uow_factory=MemoryStore().unit_of_work)
        assert isinstance(core.context.clock, SystemClock)
        assert isinstance(core.context.ids, RandomIds)

    def test_a_core_with_only_storage_books_at_the_current_time_with_random_ids(self) -> None:
        before = datetime.now(UTC)
        booking = _book_one(BookingCore(uow_factory=MemoryStore().unit_of_work))
        after = datetime.now(UTC)
        assert before <= booking.created_at <= after
        assert booking.created_at.tzinfo is not None
        assert REFERENCE.match(booking.reference), booking.reference
        assert booking.id.version == 7

    def test_storage_has_no_default(self) -> None:
        with pytest.raises(TypeError, match="uow_factory"):
            BookingCore()  # type: ignore[call-arg]

    def test_explicit_wiring_still_wins(self) -> None:
        clock = FixedClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
        core = BookingCore(uow_factory=MemoryStore().unit_of_work, clock=clock, ids=SequentialIds())
        booking = _book_one(core)
        assert booking.created_at == clock.now()
        assert isinstance(core.context.ids, SequentialIds)


#: Each port argument and the first (by name) method its Protocol declares.
PORT_ARGUMENTS = [
    ("clock", "now"),
    ("ids", "new_id"),
    ("notifier", "send"),
    ("renderer", "render"),
    ("rate_limiter", "hit"),
    ("otp_store", "consume"),
    ("sms", "send_sms"),
    ("token_signer", "decode"),
    ("password_hasher", "hash"),
    ("webhook_sender", "send"),
    ("jobs", "bind"),
    ("exchange_rates", "rate"),
    ("document_store", "get"),
    ("observer", "booking_created"),
]


class DuckNotifier:
    """A notifier that subclasses nothing: it only has the method."""

    def send(self, message: object) -> SendReceipt:
        return SendReceipt()


class DuckProvider:
    """A payment provider whose name and capabilities are plain attributes."""

    def __init__(self) -> None:
        self.name = "duck"
        self.capabilities = ProviderCapabilities(
            refunds=False,
            partial_refunds=False,
            needs_redirect=False,
            capture_later=False,
            webhooks=False,
        )

    def create_intent(self, request: object) -> object: ...
    def fetch(self, reference: str) -> object: ...
    def refund(self, *args: object, **kwargs: object) -> object: ...
    def parse_webhook(self, headers: object, raw_body: bytes) -> object: ...


class TestPortsAreCheckedWhenTheCoreIsBuilt:
    def test_an_object_that_is_no_notifier_is_refused_naming_the_argument_and_method(
        self,
    ) -> None:
        with pytest.raises(TypeError, match=r"^notifier .*Notifier.*Ellipsis has no method 'send'"):
            BookingCore(uow_factory=MemoryStore().unit_of_work, notifier=...)  # type: ignore[arg-type]

    @pytest.mark.parametrize(("argument", "method"), PORT_ARGUMENTS)
    def test_every_port_argument_is_checked(self, argument: str, method: str) -> None:
        """``method`` is the first (by name) of the methods its Protocol declares."""
        with pytest.raises(TypeError) as caught:
            BookingCore(uow_factory=MemoryStore().unit_of_work, **{argument: object()})
        assert str(caught.value).startswith(f"{argument} must provide the ")
        assert str(caught.value).endswith(f" has no method '{method}'")

    def test_a_fake_missing_one_method_is_refused_for_that_method(self) -> None:
        class HalfLimiter:
            def hit(self, *args: object, **kwargs: object) -> object: ...

        with pytest.raises(TypeError, match=r"rate_limiter .* has no method 'reset'"):
            BookingCore(uow_factory=MemoryStore().unit_of_work, rate_limiter=HalfLimiter())  # type: ignore[arg-type]

    def test_a_method_that_is_not_callable_counts_as_missing(self) -> None:
        class TextNotifier:
            send = "not a method"

        with pytest.raises(TypeError, match=r"notifier .* has no method 'send'"):
            BookingCore(uow_factory=MemoryStore().unit_of_work, notifier=TextNotifier())  # type: ignore[arg-type]

    def test_each_payment_provider_is_checked_by_its_place(self) -> None:
        with pytest.raises(TypeError, match=r"^payment_providers\[1\] .* has no"):
            BookingCore(
                uow_factory=MemoryStore().unit_of_work,
                payment_providers=[DuckProvider(), object()],  # type: ignore[list-item]
            )

    def test_storage_must_be_callable(self) -> None:
        with pytest.raises(TypeError, match="uow_factory must be a callable"):
            BookingCore(uow_factory=MemoryStore())  # type: ignore[arg-type]

    def test_duck_typed_ports_with_the_methods_are_accepted(self) -> None:
        core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            notifier=DuckNotifier(),  # type: ignore[arg-type]
            payment_providers=[DuckProvider()],  # type: ignore[list-item]
            clock=FixedClock(),
            ids=SequentialIds(),
        )
        assert core.payments is not None
        assert BookingCore(uow_factory=MemoryStore().unit_of_work, notifier=RecordingNotifier())


class TestSystemClock:
    def test_tells_the_current_time_in_utc(self) -> None:
        before = datetime.now(UTC)
        now = SystemClock().now()
        assert before <= now <= datetime.now(UTC)
        assert now.utcoffset() == timedelta(0)


class TestRandomIds:
    def test_ids_are_uuid7_in_the_order_they_were_made(self) -> None:
        ids = RandomIds()
        made = [ids.new_id() for _ in range(200)]
        assert len(set(made)) == len(made)
        assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in made)
        # the leading 48 bits are Unix milliseconds: never decreasing
        millis = [i.int >> 80 for i in made]
        assert millis == sorted(millis)
        assert abs(millis[-1] - datetime.now(UTC).timestamp() * 1000) < 60_000

    def test_an_id_is_its_milliseconds_then_the_random_bits_around_version_and_variant(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """RFC 9562's layout: 48 bits of milliseconds, version 7, 12 random bits
        (``rand_a``), the variant, 62 random bits (``rand_b``)."""
        import bookingcore._ids as ids_module  # noqa: PLC0415

        rand = bytes(range(0xA0, 0xAA))  # 80 bits: a0 a1 ... a9
        monkeypatch.setattr(ids_module.os, "urandom", lambda size: rand[:size])
        monkeypatch.setattr(ids_module.time, "time_ns", lambda: 1_767_225_600_123_456_789)
        made = ids_module.uuid7()
        millis, random = 1_767_225_600_123, int.from_bytes(rand, "big")
        assert made.int >> 80 == millis
        assert (made.version, made.variant) == (7, "specified in RFC 4122")
        assert (made.int >> 64) & 0xFFF == (random >> 64) & 0xFFF
        assert made.int & ((1 << 62) - 1) == random & ((1 << 62) - 1)
        assert made.int == (
            millis << 80
            | 0x7 << 76
            | ((random >> 64) & 0xFFF) << 64
            | 0b10 << 62
            | random & ((1 << 62) - 1)
        )

    def test_references_take_the_prefix_and_tokens_are_long_and_distinct(self) -> None:
        ids = RandomIds(reference_prefix="TRK")
        assert ids.new_reference().startswith("TRK-")
        tokens = {ids.new_token("bk_live_") for _ in range(100)}
        assert len(tokens) == 100
        assert all(t.startswith("bk_live_") and len(t) == len("bk_live_") + 32 for t in tokens)
