"""Documents generated for a booking (seed 003): invoice, voucher, itinerary.

The core decides when a document is due and what goes into it
(:class:`DocumentData`); a :class:`~bookingcore.ports.DocumentRenderer` adapter
turns that into text, HTML or PDF. The result is stored with its booking.

An invoice or credit note issued for a payment carries the issued
:class:`~bookingcore.domain.Invoice` in :attr:`DocumentData.invoice`: its
numbered lines (description, quantity, unit price, discount, tax rate, tax,
total), its totals, what was paid and what is due. A renderer prints those
numbers as they are; it never works them out again.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.invoices import Invoice
from bookingcore.domain.values import BookingId, DocumentId

__all__ = ["Document", "DocumentData", "DocumentKind", "RenderedDocument"]


class DocumentKind(enum.StrEnum):
    """What a document is.

    .. versionadded:: 0.1
    """

    INVOICE = "invoice"
    VOUCHER = "voucher"
    ITINERARY = "itinerary"
    CERTIFICATE = "certificate"
    #: .. versionadded:: 0.2
    CREDIT_NOTE = "credit_note"
    #: the quotation a booking was made from (seed 003)
    #:
    #: .. versionadded:: 0.3
    QUOTATION = "quotation"


@attrs.frozen
class DocumentData:
    """Everything a renderer may put into a booking's document.

    ``invoice`` is the issued invoice or credit note the document shows
    (``kind`` is then ``invoice`` or ``credit_note``), and ``credited`` the
    invoice a credit note credits; both are None for a booking's own
    documents (a pro-forma invoice, a voucher, an itinerary).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``invoice`` and ``credited``.
    """

    kind: DocumentKind
    booking: Booking
    customer: Customer
    travelers: Sequence[Traveler]
    location: Location | None
    product: Product | None
    issued_at: datetime
    business_name: str = "bookingcore"
    invoice: Invoice | None = None
    credited: Invoice | None = None


@attrs.frozen
class RenderedDocument:
    """What a renderer produced: the content, its media type and a file name.

    .. versionadded:: 0.1
    """

    content: str
    media_type: str
    filename: str


@attrs.frozen(kw_only=True)
class Document:
    """A stored document of a booking.

    ``source_event_id`` is the event whose handler generated it.

    .. versionadded:: 0.1
    """

    id: DocumentId
    booking_id: BookingId
    kind: DocumentKind = attrs.field(converter=DocumentKind)
    filename: str
    media_type: str
    content: str
    created_at: datetime
    source_event_id: UUID | None = None
