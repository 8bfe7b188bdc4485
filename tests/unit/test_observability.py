"""The observer port: told of the use cases' outcomes, never able to change them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CapacityError,
    Money,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.ports import NullObserver, Observer
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


class Recording(NullObserver):
    """Keeps every call as (hook, fields)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def booking_requested(self, **fields: Any) -> None:
        self.calls.append(("booking_requested", fields))

    def booking_created(self, **fields: Any) -> None:
        self.calls.append(("booking_created", fields))

    def booking_status_changed(self, **fields: Any) -> None:
        self.calls.append(("booking_status_changed", fields))

    def hooks(self) -> list[str]:
        return [hook for hook, _ in self.calls]


class Exploding(NullObserver):
    def booking_requested(self, **fields: Any) -> None:
        raise RuntimeError("the telemetry backend is down")

    def booking_created(self, **fields: Any) -> None:
        raise RuntimeError("the telemetry backend is down")


class Bracketing(Recording):
    """Records when each use case it opened is entered and left, and how it was left."""

    def use_case(self, name: Any) -> Any:
        calls = self.calls

        @contextmanager
        def opened() -> Iterator[None]:
            calls.append(("enter", {"name": name}))
            try:
                yield
            except BaseException as exc:
                calls.append(("leave", {"name": name, "error": type(exc).__name__}))
                raise
            calls.append(("leave", {"name": name, "error": None}))

        return opened()


class Misbehaving(NullObserver):
    """A use-case context that raises entering, raises leaving, or swallows the error."""

    def __init__(self, how: str) -> None:
        self.how = how

    def use_case(self, name: Any) -> Any:
        how = self.how

        @contextmanager
        def opened() -> Iterator[None]:
            if how == "enter":
                raise RuntimeError("cannot start a span")
            try:
                yield
            except Exception:
                if how == "swallow":
                    return
                raise
            if how == "leave":
                raise RuntimeError("cannot end a span")

        return opened()


class Shop:
    def __init__(self, observer: Observer | None) -> None:
        self.core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=FixedClock(),
            ids=SequentialIds(),
            observer=observer,
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.core.context.clock.now() + timedelta(days=30),
            price_per_traveler=Money("4000", "INR"),
            capacity=2,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)

    def book(self, travelers: int = 1) -> Booking:
        people = [
            NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=n == 0) for n in range(travelers)
        ]
        return self.core.bookings.book(BookingRequest(self.slot.id, people), principal=self.me)


class TestHooks:
    def test_a_booking_is_told_as_requested_then_created_after_its_commit(self) -> None:
        observer = Recording()
        booking = Shop(observer).book()
        assert observer.hooks() == ["booking_created", "booking_requested"]
        created = observer.calls[0][1]
        assert created == {
            "lifecycle": booking.lifecycle,
            "source": "direct",
            "status": booking.status,
        }
        requested = observer.calls[1][1]
        assert requested["outcome"] == "created"
        assert requested["error"] is None
        assert requested["seconds"] >= 0

    def test_a_refused_booking_is_told_with_its_error_code_and_nothing_is_created(self) -> None:
        observer = Recording()
        shop = Shop(observer)
        with pytest.raises(CapacityError):
            shop.book(travelers=3)
        assert observer.calls == [
            (
                "booking_requested",
                {
                    "outcome": "refused",
                    "lifecycle": None,
                    "source": None,
                    "error": "capacity_exceeded",
                    "seconds": observer.calls[0][1]["seconds"],
                },
            )
        ]

    def test_a_cancellation_is_told_as_a_status_change(self) -> None:
        observer = Recording()
        shop = Shop(observer)
        booking = shop.book()
        shop.core.bookings.cancel(booking.id, principal=shop.me)
        hook, fields = observer.calls[-1]
        assert hook == "booking_status_changed"
        assert fields == {
            "lifecycle": booking.lifecycle,
            "from_status": booking.status,
            "to_status": "cancelled",
        }


class TestAnObserverThatRaises:
    def test_does_not_break_a_booking_and_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        shop = Shop(Exploding())
        with caplog.at_level(logging.ERROR, logger="bookingcore.observability"):
            booking = shop.book()
        assert shop.core.bookings.get(booking.id, principal=ADMIN).status == booking.status
        assert [r.message for r in caplog.records if "booking_requested" in r.message]
        assert [r.message for r in caplog.records if "booking_created" in r.message]

    def test_does_not_change_a_refusal(self) -> None:
        with pytest.raises(CapacityError):
            Shop(Exploding()).book(travelers=3)


class TestUseCases:
    def test_a_booking_is_told_inside_the_use_case_it_opened(self) -> None:
        observer = Bracketing()
        Shop(observer).book()
        # the commit's booking_created too is told while the use case is open
        assert observer.hooks() == ["enter", "booking_created", "booking_requested", "leave"]
        assert observer.calls[0][1] == {"name": "book"}
        assert observer.calls[3][1] == {"name": "book", "error": None}

    def test_a_refusal_leaves_the_use_case_with_its_error(self) -> None:
        observer = Bracketing()
        with pytest.raises(CapacityError):
            Shop(observer).book(travelers=3)
        assert observer.hooks() == ["enter", "booking_requested", "leave"]
        assert observer.calls[2][1] == {"name": "book", "error": "CapacityError"}

    @pytest.mark.parametrize("how", ["enter", "leave", "swallow"])
    def test_a_misbehaving_context_changes_no_outcome_and_is_logged(
        self, how: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        shop = Shop(Misbehaving(how))
        with caplog.at_level(logging.ERROR, logger="bookingcore.observability"):
            booking = shop.book()
            with pytest.raises(CapacityError):  # a swallowing context swallows nothing
                shop.book(travelers=3)
        assert shop.core.bookings.get(booking.id, principal=ADMIN).status == booking.status
        logged = [r.message for r in caplog.records if "use_case('book')" in r.message]
        assert len(logged) == {"enter": 2, "leave": 1, "swallow": 0}[how]


class TestWiring:
    def test_without_an_observer_nothing_is_wired(self) -> None:
        core = Shop(None).core
        assert core.context.observer is None

    def test_an_object_without_the_hooks_is_refused_naming_the_argument(self) -> None:
        with pytest.raises(TypeError, match=r"^observer must provide the Observer port"):
            BookingCore(uow_factory=MemoryStore().unit_of_work, observer=object())  # type: ignore[arg-type]

    def test_the_null_observer_is_an_observer(self) -> None:
        Shop(NullObserver()).book()
