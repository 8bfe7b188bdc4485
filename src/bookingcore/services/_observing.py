"""The core's side of the observer port: hooks that never change what a use case does.

.. versionadded:: 0.4
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from bookingcore.domain.events import BookingCreated, BookingStatusChanged, DomainEvent
from bookingcore.errors import BookingError
from bookingcore.ports.observability import (
    BookingOutcome,
    JobOutcome,
    Observer,
    OtpRequestOutcome,
    OtpVerifyOutcome,
    RelayOutcome,
    UseCase,
    WebhookOutcome,
)

__all__ = ["GuardedObserver", "error_name"]

_log = logging.getLogger("bookingcore.observability")


def error_name(exc: BaseException) -> str:
    """What an observer is told of ``exc``: a ``BookingError``'s stable ``code``,
    else the exception's class name (both low-cardinality, neither carries data)."""
    return exc.code if isinstance(exc, BookingError) else type(exc).__name__


class GuardedObserver:
    """Calls the host's :class:`~bookingcore.ports.Observer`; one that raises is logged
    (logger ``bookingcore.observability``) and the use case goes on as if unobserved.

    The services hold one of these, or ``None`` when no observer is wired: the
    unobserved path is one attribute check.
    """

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def _call(self, hook: str, fields: dict[str, Any]) -> None:
        try:
            getattr(self.observer, hook)(**fields)
        except Exception:
            _log.exception("observer %r failed in %s", self.observer, hook)

    @contextmanager
    def use_case(self, name: UseCase) -> Iterator[None]:
        """The observer's context for use case ``name`` around the block.

        Entering or leaving it may raise or swallow an exception: either is logged
        and the block's own outcome (its return or its exception) goes on as is.
        """
        manager: AbstractContextManager[object] | None
        try:
            manager = self.observer.use_case(name)
            manager.__enter__()
        except Exception:
            _log.exception("observer %r failed in use_case(%r)", self.observer, name)
            manager = None
        try:
            yield
        except BaseException as exc:
            if manager is not None:
                self._leave(manager, name, exc)
            raise
        if manager is not None:
            self._leave(manager, name, None)

    def _leave(
        self, manager: AbstractContextManager[object], name: str, exc: BaseException | None
    ) -> None:
        try:
            if exc is None:
                manager.__exit__(None, None, None)
            else:
                manager.__exit__(type(exc), exc, exc.__traceback__)
        except Exception:
            _log.exception("observer %r failed leaving use_case(%r)", self.observer, name)

    def booking_requested(
        self,
        *,
        outcome: BookingOutcome,
        lifecycle: str | None,
        source: str | None,
        error: str | None,
        seconds: float,
    ) -> None:
        self._call(
            "booking_requested",
            {
                "outcome": outcome,
                "lifecycle": lifecycle,
                "source": source,
                "error": error,
                "seconds": seconds,
            },
        )

    def booking_created(self, *, lifecycle: str, source: str, status: str) -> None:
        self._call("booking_created", {"lifecycle": lifecycle, "source": source, "status": status})

    def booking_status_changed(self, *, lifecycle: str, from_status: str, to_status: str) -> None:
        fields = {"lifecycle": lifecycle, "from_status": from_status, "to_status": to_status}
        self._call("booking_status_changed", fields)

    def payment_webhook_handled(
        self, *, provider: str, outcome: WebhookOutcome, error: str | None, seconds: float
    ) -> None:
        fields = {"provider": provider, "outcome": outcome, "error": error, "seconds": seconds}
        self._call("payment_webhook_handled", fields)

    def otp_requested(
        self, *, channel: str, outcome: OtpRequestOutcome, error: str | None, seconds: float
    ) -> None:
        fields = {"channel": channel, "outcome": outcome, "error": error, "seconds": seconds}
        self._call("otp_requested", fields)

    def otp_verified(
        self, *, outcome: OtpVerifyOutcome, registered: bool, error: str | None, seconds: float
    ) -> None:
        fields = {"outcome": outcome, "registered": registered, "error": error, "seconds": seconds}
        self._call("otp_verified", fields)

    def import_finished(
        self, *, file_format: str, status: str, rows: int, failed_rows: int, seconds: float
    ) -> None:
        fields = {
            "file_format": file_format,
            "status": status,
            "rows": rows,
            "failed_rows": failed_rows,
            "seconds": seconds,
        }
        self._call("import_finished", fields)

    def job_finished(
        self, *, name: str, outcome: JobOutcome, error: str | None, seconds: float
    ) -> None:
        fields = {"name": name, "outcome": outcome, "error": error, "seconds": seconds}
        self._call("job_finished", fields)

    def outbox_relayed(self, *, outcome: RelayOutcome, messages: int, seconds: float) -> None:
        self._call("outbox_relayed", {"outcome": outcome, "messages": messages, "seconds": seconds})

    def committed(self, events: Sequence[DomainEvent]) -> None:
        """An after-commit listener: tells of the bookings made and moved in a transaction."""
        for event in events:
            if isinstance(event, BookingCreated):
                self.booking_created(
                    lifecycle=event.lifecycle, source=event.source.value, status=event.status
                )
            elif isinstance(event, BookingStatusChanged):
                self.booking_status_changed(
                    lifecycle=event.lifecycle,
                    from_status=event.from_status,
                    to_status=event.to_status,
                )
