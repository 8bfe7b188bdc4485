"""Invoice documents: an issued invoice or credit note, rendered for whoever may read it.

Invoices and credit notes are issued by :class:`~bookingcore.services.PaymentService`
with each capture and settled refund; this service turns one into a document
through the :class:`~bookingcore.ports.DocumentRenderer` port (the one wired
as ``BookingCore(renderer=...)``, or one passed to the call)::

    invoice = core.payments.invoices_for(booking.id, principal=me)[0]
    document = core.invoices.render(invoice.id, principal=me)
    document.content   # HTML with the lines, taxes, what was paid and what is due

The document's numbers are the issued invoice's, never worked out again: a
later change of prices or tax rates does not change what an invoice says.

.. versionadded:: 0.2
"""

from __future__ import annotations

from bookingcore.domain import policy
from bookingcore.domain.documents import DocumentData, DocumentKind, RenderedDocument
from bookingcore.domain.invoices import InvoiceId
from bookingcore.domain.policy import Permission, Principal
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.messaging import DocumentRenderer
from bookingcore.services._context import ServiceContext

__all__ = ["InvoiceService"]


class InvoiceService:
    """Renders issued invoices and credit notes, behind the policy.

    Who may read one: whoever may see its booking and the booking's customer
    (the customer themselves, the partner that booked for a customer it
    created, staff who see everything). Anyone else gets
    :class:`~bookingcore.errors.NotFoundError`, as for any record not theirs.

    .. versionadded:: 0.2
    """

    def __init__(self, context: ServiceContext, renderer: DocumentRenderer | None = None) -> None:
        self._ctx = context
        self._renderer = renderer

    def document_data(self, invoice_id: InvoiceId, *, principal: Principal) -> DocumentData:
        """What a renderer gets for the invoice or credit note ``invoice_id``.

        Raises:
            NotFoundError: no such invoice, or ``principal`` may not see its
                booking or the booking's customer.
        """
        with self._ctx.uow_factory() as uow:
            invoice = uow.invoices.get(invoice_id)
            booking = None if invoice is None else uow.bookings.get(invoice.booking_id)
            visible = booking is not None and policy.can_view_booking(principal, booking)
            if invoice is None or booking is None or not visible:
                raise NotFoundError("invoice", invoice_id)
            customer = uow.customers.get(booking.customer_id)
            sees_customer = (
                principal.has(Permission.VIEW_ALL)
                or principal.is_customer(booking.customer_id)
                or (customer is not None and policy.can_view_customer(principal, customer))
            )
            if customer is None or not sees_customer:
                raise NotFoundError("invoice", invoice_id)
            travelers = [uow.travelers.get(seat.traveler_id) for seat in booking.travelers]
            credited = None
            if invoice.credited_invoice_id is not None:
                credited = uow.invoices.get(invoice.credited_invoice_id)
            return DocumentData(
                kind=DocumentKind(invoice.kind.value),
                booking=booking,
                customer=customer,
                travelers=tuple(t for t in travelers if t is not None),
                location=uow.locations.get(booking.location_id),
                product=uow.products.get(booking.product_id) if booking.product_id else None,
                issued_at=invoice.issued_at,
                business_name=self._ctx.settings.business_name,
                zone=self._ctx.settings.zone,
                invoice=invoice,
                credited=credited,
            )

    def render(
        self,
        invoice_id: InvoiceId,
        *,
        principal: Principal,
        renderer: DocumentRenderer | None = None,
    ) -> RenderedDocument:
        """The invoice or credit note ``invoice_id`` as a document, by ``renderer``.

        ``renderer`` defaults to the one the core was wired with. Nothing is
        stored: render again whenever the document is wanted.

        Raises:
            NotFoundError: as :meth:`document_data`.
            ValidationError: on ``renderer`` when none is given or wired.
        """
        chosen = renderer or self._renderer
        if chosen is None:
            msg = "no document renderer is wired (BookingCore(renderer=...)) or given"
            raise ValidationError.single("renderer", msg, "not_configured")
        return chosen.render(self.document_data(invoice_id, principal=principal))
