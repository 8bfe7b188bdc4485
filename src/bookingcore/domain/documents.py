"""Documents generated for a travel agency's booking: invoice, voucher, itinerary.

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

import base64
import enum
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from uuid import UUID

import attrs

from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product
from bookingcore.domain.communications import message_time
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.invoices import Invoice
from bookingcore.domain.values import BookingId, DocumentId, QuotationId

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
    #: the quotation a booking was made from
    #:
    #: .. versionadded:: 0.3
    QUOTATION = "quotation"
    #: a debit note: reverses a credit note whose refund failed afterwards
    #:
    #: .. versionadded:: 0.4
    DEBIT_NOTE = "debit_note"


def _lines(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class DocumentData:
    """Everything a renderer may put into a booking's document.

    ``invoice`` is the issued invoice, credit note or debit note the document
    shows (``kind`` is then ``invoice``, ``credit_note`` or ``debit_note``), and
    ``credited`` the invoice a credit note credits (the credit note a debit
    note reverses); both are None for a booking's own
    documents (a pro-forma invoice, a voucher, an itinerary).

    ``body`` is the text of a document the core worded itself, line by line
    (a quotation, a voucher or an itinerary made on demand by
    :class:`~bookingcore.services.TravelDocumentService`); a renderer prints
    those lines as they are under the document's title. It is empty for the
    other documents.

    ``zone`` is the business's clock (``Settings.timezone``): a renderer writes
    times with :meth:`time_text`, as messages do.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``invoice`` and ``credited``.
    .. versionchanged:: 0.3 ``body``.
    .. versionchanged:: 0.4 ``zone``.
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
    body: tuple[str, ...] = attrs.field(default=(), converter=_lines)
    zone: tzinfo = UTC

    def time_text(self, moment: datetime) -> str:
        """``moment`` as the document writes it: on :attr:`zone`, with its abbreviation.

        .. versionadded:: 0.4
        """
        return message_time(moment, self.zone)


@attrs.frozen
class RenderedDocument:
    """What a renderer produced: the content, its media type and a file name.

    Text media types (``text/...``) hold their text in ``content``; any other
    (a PDF) holds its bytes base64-encoded, so a document is stored as text.

    .. versionadded:: 0.1
    """

    content: str
    media_type: str
    filename: str

    def to_bytes(self) -> bytes:
        """The file's bytes: text UTF-8 encoded, other media types base64-decoded.

        .. versionadded:: 0.3
        """
        return _file_bytes(self.content, self.media_type)


@attrs.frozen(kw_only=True)
class Document:
    """A stored document of a booking.

    ``source_event_id`` is the event whose handler generated it (an automation);
    ``generated_by`` the staff member who generated it on demand
    (:meth:`TravelDocumentService.generate
    <bookingcore.services.TravelDocumentService.generate>`), None for a document
    an automation handler made.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``generated_by``.
    """

    id: DocumentId
    booking_id: BookingId
    kind: DocumentKind = attrs.field(converter=DocumentKind)
    filename: str
    media_type: str
    content: str
    created_at: datetime
    source_event_id: UUID | None = None
    generated_by: UUID | None = None
    #: The quotation revision a quotation document was generated from (None for
    #: every other document).
    #:
    #: .. versionadded:: 0.4
    quotation_id: QuotationId | None = None

    def erase(self, placeholder: str) -> bool:
        """Replace the content with ``placeholder`` (plain text), in place.

        The one change a stored document ever takes: erasing a person's data
        (GDPR). Returns whether anything changed; the unit of work that read the
        document stores the change on commit.

        .. versionadded:: 0.4
        """
        if self.content == placeholder and self.media_type == "text/plain":
            return False
        object.__setattr__(self, "content", placeholder)  # frozen: see the docstring
        object.__setattr__(self, "media_type", "text/plain")
        return True

    def to_bytes(self) -> bytes:
        """The file's bytes: text UTF-8 encoded, other media types (a PDF) base64-decoded.

        .. versionadded:: 0.3
        """
        return _file_bytes(self.content, self.media_type)


def _file_bytes(content: str, media_type: str) -> bytes:
    if media_type.startswith("text/"):
        return content.encode()
    return base64.b64decode(content, validate=True)
