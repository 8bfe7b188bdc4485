"""The built-in event handlers of seed 003's travel operating system.

* a booking reaching ``payment_confirmed`` gets an invoice document;
* ``supplier_confirmed`` gets a voucher and an itinerary;
* ``completed`` sends the customer a message (a follow-up by default).

Each is an ordinary handler on :class:`~bookingcore.services.EventDispatcher`,
behind a port (:class:`~bookingcore.ports.DocumentRenderer`,
:class:`~bookingcore.ports.Notifier`), and :class:`Automations` says which
statuses trigger which (status names match case-insensitively, so the
appointment lifecycle's ``COMPLETED`` counts too).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from bookingcore.domain.communications import CommunicationType
from bookingcore.domain.documents import Document, DocumentData, DocumentKind
from bookingcore.domain.events import BookingStatusChanged, DocumentGenerated
from bookingcore.domain.policy import Principal
from bookingcore.domain.values import DocumentId
from bookingcore.errors import NotFoundError
from bookingcore.ports.messaging import DocumentRenderer
from bookingcore.services._context import ServiceContext
from bookingcore.services.communications import CommunicationService
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = ["Automations", "DocumentHandler", "MessageHandler", "install"]


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@attrs.frozen
class Automations:
    """Which status triggers which automation.

    .. versionadded:: 0.1
    """

    invoice_on: frozenset[str] = attrs.field(
        default=frozenset({"payment_confirmed"}), converter=_folded
    )
    documents_on: frozenset[str] = attrs.field(
        default=frozenset({"supplier_confirmed"}), converter=_folded
    )
    message_on: frozenset[str] = attrs.field(default=frozenset({"completed"}), converter=_folded)
    message_type: CommunicationType = CommunicationType.FOLLOW_UP


class DocumentHandler:
    """Renders documents of ``kinds`` for the booking of a status change and stores them.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        context: ServiceContext,
        renderer: DocumentRenderer,
        kinds: Iterable[DocumentKind],
    ) -> None:
        self._ctx = context
        self._renderer = renderer
        self.kinds = tuple(kinds)

    def __call__(self, event: BookingStatusChanged, context: HandlerContext) -> None:
        """Render and store each document; raise (and be retried) if anything is missing."""
        uow = context.uow
        booking = uow.bookings.get(event.booking_id)
        if booking is None:
            raise NotFoundError("booking", event.booking_id)
        customer = uow.customers.get(booking.customer_id)
        if customer is None:
            raise NotFoundError("customer", booking.customer_id)
        travelers = []
        for entry in booking.travelers:
            traveler = uow.travelers.get(entry.traveler_id)
            if traveler is None:
                raise NotFoundError("traveler", entry.traveler_id)
            travelers.append(traveler)
        location = uow.locations.get(booking.location_id)
        product = uow.products.get(booking.product_id) if booking.product_id else None
        for kind in self.kinds:
            rendered = self._renderer.render(
                DocumentData(
                    kind=kind,
                    booking=booking,
                    customer=customer,
                    travelers=tuple(travelers),
                    location=location,
                    product=product,
                    issued_at=context.now,
                    business_name=self._ctx.settings.business_name,
                    zone=self._ctx.settings.zone,
                )
            )
            document = Document(
                id=DocumentId(self._ctx.ids.new_id()),
                booking_id=booking.id,
                kind=kind,
                filename=rendered.filename,
                media_type=rendered.media_type,
                content=rendered.content,
                created_at=context.now,
                source_event_id=event.id,
            )
            uow.documents.add(document)
            context.emit(
                DocumentGenerated(
                    id=self._ctx.ids.new_id(),
                    occurred_at=context.now,
                    document_id=document.id,
                    booking_id=booking.id,
                    kind=kind.value,
                )
            )


class MessageHandler:
    """Sends the customer a ``kind`` message about the booking of a status change.

    The event id is the send's idempotency key: a retried delivery does not
    message the customer twice, and a failed send is sent again.

    .. versionadded:: 0.1
    """

    def __init__(self, communications: CommunicationService, kind: CommunicationType) -> None:
        self._communications = communications
        self.kind = kind

    def __call__(self, event: BookingStatusChanged, context: HandlerContext) -> None:
        """Send (or resend) the message; a delivery error makes the dispatcher retry."""
        self._communications.send(
            event.booking_id,
            self.kind,
            principal=Principal.system("automations"),
            idempotency_key=f"event:{event.id}:{self.kind.value}",
        )


def install(
    dispatcher: EventDispatcher,
    context: ServiceContext,
    *,
    renderer: DocumentRenderer | None,
    communications: CommunicationService | None,
    automations: Automations | None = None,
) -> None:
    """Subscribe the built-in handlers whose port is wired.

    Handler names: ``documents.invoice``, ``documents.voucher_itinerary`` and
    ``messages.on_completed``.
    """
    rules = automations or Automations()

    if renderer is not None:
        dispatcher.subscribe(
            BookingStatusChanged,
            DocumentHandler(context, renderer, [DocumentKind.INVOICE]),
            name="documents.invoice",
            when=lambda event: event.to_status.casefold() in rules.invoice_on,
        )
        dispatcher.subscribe(
            BookingStatusChanged,
            DocumentHandler(context, renderer, [DocumentKind.VOUCHER, DocumentKind.ITINERARY]),
            name="documents.voucher_itinerary",
            when=lambda event: event.to_status.casefold() in rules.documents_on,
        )
    if communications is not None:
        dispatcher.subscribe(
            BookingStatusChanged,
            MessageHandler(communications, rules.message_type),
            name="messages.on_completed",
            when=lambda event: event.to_status.casefold() in rules.message_on,
        )
