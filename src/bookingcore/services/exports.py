"""Exporting a booking list as rows of text, page by page, for staff who export booking data.

:meth:`ExportService.booking_rows` streams any :class:`BookingFilter`, scoped
like every list, as a header then one row per booking, newest first. It walks
the list by keyset pages, each read in a short unit of work of its own, so
memory stays flat however many bookings match. Writers that turn the rows into
files (CSV, XLSX, with formula injection escaped) live with the file adapters::

    from bookingcore_adapters.importers import write_rows_csv, write_rows_xlsx

    rows = core.exports.booking_rows(BookingFilter(statuses={"confirmed"}), principal=staff)
    with open("bookings.csv", "w", newline="", encoding="utf-8") as out:
        write_rows_csv(rows, out)

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from bookingcore.domain import policy
from bookingcore.domain.bookings import Booking
from bookingcore.domain.customers import Customer
from bookingcore.domain.policy import Principal
from bookingcore.domain.queries import MAX_PAGE_SIZE, BookingFilter, PageRequest
from bookingcore.domain.values import CustomerId
from bookingcore.services._context import ServiceContext

__all__ = ["BOOKING_EXPORT_COLUMNS", "ExportService"]

#: The columns of a booking export, in order.
BOOKING_EXPORT_COLUMNS: Final = (
    "reference",
    "status",
    "lifecycle",
    "source",
    "starts_at",
    "created_at",
    "customer_id",
    "customer_name",
    "customer_phone",
    "customer_email",
    "travelers",
    "total",
    "currency",
    "partner_id",
    "location_id",
    "product_id",
    "external_id",
    "referral_source",
)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def booking_row(booking: Booking, customer: Customer | None) -> tuple[str, ...]:
    """One booking as the cells of :data:`BOOKING_EXPORT_COLUMNS` (``customer`` may be
    None when the reader may not see them: the customer columns stay empty)."""
    return (
        booking.reference,
        booking.status,
        booking.lifecycle,
        booking.source.value,
        booking.starts_at.isoformat(),
        booking.created_at.isoformat(),
        str(booking.customer_id),
        _text(customer and customer.name),
        "" if customer is None or customer.is_erased else customer.phone.e164,
        _text(customer and customer.email),
        str(len(booking.travelers)),
        str(booking.total.amount),
        booking.total.currency,
        _text(booking.partner_id),
        str(booking.location_id),
        _text(booking.product_id),
        _text(booking.external_id),
        _text(booking.referral_source),
    )


class ExportService:
    """Booking lists as rows for files, streamed page by page.

    .. versionadded:: 0.3
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def booking_rows(
        self,
        query: BookingFilter | None = None,
        *,
        principal: Principal,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Sequence[str]]:
        """The header, then one row per booking matching ``query`` that ``principal``
        may see, newest first.

        Each page of ``page_size`` bookings is read in its own unit of work (three
        queries on SQL: the bookings, their travelers, their customers), so an
        export of a million bookings holds one page at a time. Customer columns
        are filled only where ``principal`` may read the customer.

        Raises:
            PermissionDeniedError: as :meth:`~bookingcore.services.BookingService.list`
                (raised when the iteration starts).
        """
        scoped = policy.scope_bookings(principal, query or BookingFilter())
        yield BOOKING_EXPORT_COLUMNS
        request = PageRequest(limit=page_size)
        while True:
            with self._ctx.uow_factory() as uow:
                page = uow.bookings.list(scoped, request)
                customers: Mapping[CustomerId, Customer] = uow.customers.get_many(
                    {b.customer_id for b in page.items}
                )
            for booking in page.items:
                customer = customers.get(booking.customer_id)
                readable = customer is not None and policy.can_view_customer(principal, customer)
                yield booking_row(booking, customer if readable else None)
            if page.next_cursor is None:
                return
            request = PageRequest(limit=page_size, cursor=page.next_cursor)
