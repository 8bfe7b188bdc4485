"""The staff dashboard of a travel agency's operating system: what needs attention today.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from bookingcore.domain import policy
from bookingcore.domain.bookings import Booking
from bookingcore.domain.items import BookingItemStatus
from bookingcore.domain.leads import Lead, LeadFilter, LeadStatus
from bookingcore.domain.policy import Permission, Principal
from bookingcore.domain.queries import BookingFilter, PageRequest, every_item
from bookingcore.domain.quotations import Quotation, QuotationFilter, QuotationStatus
from bookingcore.domain.tallies import StatusSet
from bookingcore.errors import ValidationError
from bookingcore.services._context import ServiceContext

__all__ = ["DashboardService", "StaffDashboard"]

#: How many entries the dashboard's bounded lists (follow-ups due, departures,
#: awaiting payment) show at most.
_LIMIT = 200
#: The travel lifecycle's states of a booking whose payment is still to come.
_UNPAID = StatusSet({"booking_created", "payment_pending"})
#: The states of a supplier's line item that leave its booking waiting on them.
_WAITING_ON_SUPPLIER = frozenset({BookingItemStatus.PENDING, BookingItemStatus.REJECTED})


@attrs.frozen
class StaffDashboard:
    """What staff look at first.

    Args:
        day: the day it is for.
        leads_by_status: how many leads are in each status (every status listed).
        follow_ups_due: open leads whose follow-up date is ``day`` or earlier,
            earliest first, the first 200.
        quotations_awaiting_approval: sent revisions still valid on ``day``.
        bookings_waiting_for_supplier: active bookings (not archived) with items
            their suppliers have not confirmed (pending or rejected), with those
            items' count, soonest departure first.
        departures: bookings whose slot starts on ``day`` in ``Settings.timezone``,
            active ones only (each by its own lifecycle: a reservation ``completed``
            has ended, a travel one has not), the 200 departing first; ended and
            cancelled ones never take their places.
        awaiting_payment: bookings whose payment is still to come (``booking_created``
            or ``payment_pending``) departing on ``day`` or later, the 200 departing
            soonest, soonest first.

    Bookings departing at the same time are in the order of their references.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       ``awaiting_payment`` holds the 200 departing soonest from ``day`` (it held
       the 200 most recently made, past departures too); ``departures`` test each
       booking's status in its own lifecycle, in the storage.
    """

    day: date
    leads_by_status: Mapping[str, int]
    follow_ups_due: Sequence[Lead]
    quotations_awaiting_approval: Sequence[Quotation]
    bookings_waiting_for_supplier: Sequence[tuple[Booking, int]]
    departures: Sequence[Booking]
    awaiting_payment: Sequence[Booking] = ()


class DashboardService:
    """The staff dashboard query.

    .. versionadded:: 0.3
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def staff(self, *, principal: Principal, day: date | None = None) -> StaffDashboard:
        """The dashboard for ``day`` (the business's today when ``None``), its departures
        those from midnight to midnight in ``settings.timezone``.

        Raises:
            PermissionDeniedError: ``principal`` does not see everything.
            ValidationError: on ``day``, the calendar's last day (or its first, east
                of UTC).
        """
        policy.require(principal.has(Permission.VIEW_ALL), f"{principal} may not see the dashboard")
        day = day or self._ctx.today()
        # The business's calendar day (Settings.timezone), midnight to midnight.
        zone = self._ctx.settings.zone
        try:
            starts = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
            ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        except OverflowError:  # the calendar's first or last day, past its end in UTC
            msg = "must be a day whose midnights fall within the years 1-9999"
            raise ValidationError.single("day", msg, "out_of_range") from None
        with self._ctx.uow_factory() as uow:
            stored = uow.leads.count_by_status(LeadFilter())
            counts = {status.value: stored.get(status, 0) for status in LeadStatus}
            due = uow.leads.list_by_follow_up(
                LeadFilter(follow_up_due_on=day), PageRequest(limit=_LIMIT)
            ).items
            awaiting = list(
                every_item(
                    lambda page: uow.quotations.list(
                        QuotationFilter(status=QuotationStatus.SENT, valid_on=day), page
                    )
                )
            )
            # Each booking is tested in its own lifecycle, by the storage: cancelled and
            # ended bookings never take the places of active ones in the bounded list.
            under_way = StatusSet.of(
                self._ctx.settings.lifecycles.values(),
                lambda lifecycle, status: lifecycle.is_active(status),
            )
            departures = uow.bookings.list_by_start(
                BookingFilter(starts_from=starts, starts_before=ends), under_way, limit=_LIMIT
            )
            # Those departing soonest from the day, however long ago they were made.
            unpaid = uow.bookings.list_by_start(
                BookingFilter(starts_from=starts), _UNPAID, limit=_LIMIT
            )
            open_items = uow.booking_items.count_supplied_by_booking(_WAITING_ON_SUPPLIER)
            found = uow.bookings.find_by_ids(open_items.keys())
            waiting: list[tuple[Booking, int]] = []
            for booking_id, count in open_items.items():
                booking = found.get(booking_id)
                if booking is None or booking.archived_at is not None:
                    continue  # archived bookings are left out, as from every booking list
                lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
                if lifecycle.is_active(booking.status):
                    waiting.append((booking, count))
            waiting.sort(key=lambda pair: (pair[0].starts_at, pair[0].reference))
        return StaffDashboard(
            day=day,
            leads_by_status=counts,
            follow_ups_due=due,
            quotations_awaiting_approval=awaiting,
            bookings_waiting_for_supplier=waiting,
            departures=sorted(departures, key=lambda b: (b.starts_at, b.reference)),
            awaiting_payment=sorted(unpaid, key=lambda b: (b.starts_at, b.reference)),
        )
