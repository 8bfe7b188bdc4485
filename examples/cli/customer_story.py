"""The demo's customer chapter: the page staff open for a customer, and exporting bookings.

Kept apart from :mod:`examples.cli.demo` so each chapter reads on its own.
"""

from __future__ import annotations

import csv
import io

from rich.console import Console

from bookingcore import BookingCore, BookingFilter, CustomerId, PageRequest, Principal
from bookingcore_adapters.importers import write_rows_csv

__all__ = ["customer_view_story"]


def _money(amounts: object) -> str:
    shown = [f"{m.amount:,} {m.currency}" for m in amounts]  # type: ignore[attr-defined]
    return ", ".join(shown) or "nothing"


def customer_view_story(
    console: Console, core: BookingCore, admin: Principal, customer_id: CustomerId
) -> None:
    """The customer history view staff use, rebooking suggestions and a CSV export."""
    newest = core.bookings.list(
        BookingFilter(customer_id=customer_id), PageRequest(limit=1), principal=admin
    ).items[0]
    core.bookings.add_note(newest.id, "Lower bunk", principal=admin)
    view = core.customers.view(customer_id, principal=admin)
    stats = view.stats
    name = view.customer.name or str(view.customer.phone)
    console.print(
        f"  Customer view of {name}: {stats.total_bookings} booking(s), "
        f"{stats.upcoming_bookings} upcoming, {stats.cancelled_bookings} cancelled, "
        f"{stats.no_show_bookings} no-show"
    )
    console.print(
        f"  Lifetime value {_money(stats.lifetime_value)}; spent {_money(stats.total_spent)}"
    )
    if stats.first_booking_at and stats.last_booking_at:
        console.print(
            f"  First booked {stats.first_booking_at:%Y-%m-%d}, "
            f"last {stats.last_booking_at:%Y-%m-%d}; "
            f"{len(view.communications)} message(s) on file"
        )
    for need in view.requirements:
        console.print(f"  Needs: {need.name} - {need.requirements}")
    for note in view.notes:
        by = f"advisor note, {note.author.kind.value}" if note.author else "internal notes"
        console.print(
            f"  Note on {note.reference} ({by}, {note.written_at:%Y-%m-%d %H:%M}): {note.text}"
        )
    for suggestion in core.customers.rebooking_suggestions(customer_id, principal=admin)[:3]:
        slot = suggestion.slot
        console.print(
            f"  Book again? {slot.name or 'slot'} on {slot.starts_at:%Y-%m-%d}, "
            f"{slot.seats_left if slot.capacity is not None else 'open'} seat(s) left"
        )
    out = io.StringIO(newline="")
    rows = core.exports.booking_rows(BookingFilter(customer_id=customer_id), principal=admin)
    written = write_rows_csv(rows, out)
    header = next(csv.reader(io.StringIO(out.getvalue())))
    console.print(
        f"  Exported {written} booking(s) to CSV, streamed page by page; "
        f"columns: {', '.join(header[:5])}, ..."
    )
