"""Sharing a trip with friends, a social feature of the customer app.

A customer makes a share link for one of their bookings
(:meth:`TripSharingService.create_link`) and sends its token to friends, who
read the trip's small, fixed view with it (:meth:`TripSharingService.view`)
without signing in. See :mod:`bookingcore.domain.sharing` for what the view
holds and how the token is kept.

A link opens nothing once its booking is shared no more (cancelled, refunded, a
no-show, ended untravelled, archived), and each open it answers is counted on it
(``view_count``, ``last_opened_at``).

.. versionadded:: 0.4
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bookingcore.domain import policy
from bookingcore.domain._validation import clean_text
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.policy import Principal
from bookingcore.domain.sharing import (
    MAX_ACTIVE_SHARE_LINKS,
    MAX_SHARE_LABEL_LENGTH,
    SharedItineraryDay,
    SharedTrip,
    SharedTripNotFoundError,
    SharedTripStatus,
    ShareExpiryError,
    ShareLink,
    ShareLinkId,
    ShareLinkIssued,
    ShareLinkLimitError,
    first_name,
    hash_share_token,
    new_share_token,
    shared_booking_status,
    usable_token,
)
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_creation,
    fingerprint,
    principal_key,
)

__all__ = ["SHARE_LINK_ENTITY", "TripSharingService", "forget_share_links", "masked_link"]

#: The audit entity of a share link's changes.
SHARE_LINK_ENTITY = "share link"

#: How long a link to a trip that is over already works, unless the caller says.
_AFTER_THE_TRIP = timedelta(days=7)

#: A trip without an end of its own is taken to last one day.
_ONE_DAY = timedelta(days=1)

#: Compared against when no link holds the token, so an unknown token costs one hash and
#: one comparison as a known one does. Nobody knows its preimage.
_NO_LINK_HASH = hash_share_token(new_share_token())


def masked_link(link: ShareLink) -> dict[str, Any]:
    """A link as lists, exports and audit entries show it: the token masked, never
    its hash.

    .. versionadded:: 0.4
    """
    return {
        "id": str(link.id),
        "booking_id": str(link.booking_id),
        "token": link.masked_token(),
        "label": link.label,
        "show_first_names": link.show_first_names,
        "show_itinerary": link.show_itinerary,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(),
        "revoked_at": None if link.revoked_at is None else link.revoked_at.isoformat(),
        "view_count": link.view_count,
        "last_opened_at": None if link.last_opened_at is None else link.last_opened_at.isoformat(),
    }


class TripSharingService:
    """Make, list and revoke a booking's share links; read a shared trip by its token.

    The booking's customer, the partner whose booking it is, and staff who
    change everything make and revoke links; staff who see everything list
    them too. Every change leaves an audit entry on the link (entity
    ``"share link"``, with the booking), which shows the token masked. Opens are
    counted on the link (one ``UPDATE`` each), not audited.

    A link opens the trip only while its booking is shared, decided at every open
    from the booking as it is (:meth:`shared_booking_status`), rather than by
    revoking the links when the booking ends: one rule covers every path to a
    final state, and links follow a booking brought back (docs/sharing.md).

    .. versionadded:: 0.4
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def create_link(
        self,
        booking_id: BookingId,
        *,
        principal: Principal,
        expires_at: datetime | None = None,
        show_first_names: bool = False,
        show_itinerary: bool = True,
        label: str | None = None,
        idempotency_key: str | None = None,
    ) -> ShareLinkIssued:
        """Make a share link to the booking's trip view; the answer holds its token,
        shown this once.

        ``expires_at`` defaults to the trip's end (the slot's end, or a day after
        the start when the slot has none), capped by ``Settings.share_link_max_ttl``;
        a trip over already is shared for a week. ``show_first_names`` adds the
        travelers' first names to the view (off by default); ``show_itinerary``
        its day-by-day plan, when it has one (on by default).

        A retry with the same ``idempotency_key`` and the same request answers
        the link the first call made, as it is now, with ``token`` ``None``: only
        the first answer carries the token (the library keeps its hash alone).

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may see the booking but not share
                it (an advisor, a supplier user, staff who only view).
            ValidationError: on ``booking_id`` (code ``not_shareable``) for a
                booking shared no more (:meth:`shared_booking_status` is ``None``:
                cancelled, refunded, a no-show, ended untravelled, archived) or an
                erased customer's; on ``label``,
                ``show_first_names``, ``show_itinerary``; a malformed
                ``idempotency_key``.
            ShareExpiryError: ``expires_at`` not after now, or past the longest a
                link may live.
            ShareLinkLimitError: the booking has five working links already.
            IdempotencyConflictError: the key was used for another request.
        """
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        if expires_at is not None:
            given: object = expires_at
            if not isinstance(given, datetime) or given.tzinfo is None:
                msg = "must be a timezone-aware datetime"
                raise ValidationError.single("expires_at", msg, "invalid_type")
            expires_at = expires_at.astimezone(UTC)  # kept in UTC, as every store gives it back
        with self._ctx.transaction() as tx:
            uow = tx.uow
            booking = self._load(uow, booking_id, principal, for_update=True)
            policy.require(
                policy.can_share_booking(principal, booking),
                f"{principal} may not share booking {booking_id}",
            )
            made_id = None
            if key is not None:
                # The label as the link keeps it: a retry spacing it otherwise asks the same.
                label = clean_text(label, "label", max_length=MAX_SHARE_LABEL_LENGTH)
                asked = fingerprint(
                    "share_link",
                    principal,
                    booking_id=booking_id,
                    expires_at=expires_at,
                    show_first_names=show_first_names,
                    show_itinerary=show_itinerary,
                    label=label,
                )
                made_id, prior = claim_creation(
                    uow, key, "share_link", now, asked, as_id=ShareLinkId, load=uow.share_links.get
                )
                if prior is not None:
                    # A retry answers the first link, even once its expires_at has passed.
                    return ShareLinkIssued(prior, None)
            if expires_at is not None:
                self._check_expiry(expires_at, now)
            self._check_shareable(uow, booking)
            working = [x for x in uow.share_links.list_for_booking(booking.id) if x.is_active(now)]
            if len(working) >= MAX_ACTIVE_SHARE_LINKS:
                raise ShareLinkLimitError(booking.id)
            token = new_share_token()
            link = ShareLink.issue(
                link_id=made_id or ShareLinkId(self._ctx.ids.new_id()),
                booking_id=booking.id,
                customer_id=booking.customer_id,
                token=token,
                expires_at=expires_at or self._default_expiry(uow, booking, now),
                now=now,
                show_first_names=show_first_names,
                show_itinerary=show_itinerary,
                label=label,
            )
            uow.share_links.add(link)
            self._audit(tx, principal, link, AuditAction.CREATED, new=masked_link(link))
            tx.commit()
            return ShareLinkIssued(link, token)

    def list_links(self, booking_id: BookingId, *, principal: Principal) -> Sequence[ShareLink]:
        """The booking's share links, oldest first, working or not (see
        :meth:`ShareLink.is_active`; whether they open the trip also depends on the
        booking, :meth:`shared_booking_status`), each with its opens
        (``view_count``, ``last_opened_at``); show them with
        :meth:`ShareLink.masked_token`.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may see the booking but not its links.
        """
        with self._ctx.uow_factory() as uow:
            booking = self._load(uow, booking_id, principal)
            policy.require(
                policy.can_view_share_links(principal, booking),
                f"{principal} may not list the share links of booking {booking_id}",
            )
            return uow.share_links.list_for_booking(booking.id)

    def revoke_link(
        self, booking_id: BookingId, link_id: ShareLinkId, *, principal: Principal
    ) -> ShareLink:
        """Stop the link working at once. Revoking a revoked link answers it as it is
        and writes nothing, so a retry is harmless. The link is locked while it is
        revoked: of two revokes at once, the second waits, finds it revoked and writes
        nothing (one audit entry).

        .. versionchanged:: 0.4
           The link is locked (:meth:`~bookingcore.ports.ShareLinkRepository.get_for_update`).

        Raises:
            NotFoundError: no such booking visible to ``principal``, or no such link
                of that booking.
            PermissionDeniedError: ``principal`` may see the booking but not share it.
        """
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            booking = self._load(tx.uow, booking_id, principal)
            policy.require(
                policy.can_share_booking(principal, booking),
                f"{principal} may not revoke share links of booking {booking_id}",
            )
            link = tx.uow.share_links.get_for_update(link_id)
            if link is None or link.booking_id != booking.id:
                raise NotFoundError(SHARE_LINK_ENTITY, link_id)
            if link.revoke(now=now):
                self._audit(
                    tx,
                    principal,
                    link,
                    AuditAction.DEACTIVATED,
                    old={"revoked_at": None},
                    new={"revoked_at": now.isoformat()},
                )
                tx.commit()
            return link

    def view(self, token: str) -> SharedTrip:
        """The shared trip a token opens: anyone holding it may read it, signed in or not.

        The token is hashed and its link found by the hash through a unique index,
        then confirmed with a constant-time comparison; an unknown token costs the
        same hash and comparison. Whether the booking is still shared is decided
        here, at every open, from the booking as it is now (see
        :func:`~bookingcore.domain.sharing.shared_status`): a booking cancelled,
        refunded, a no-show, in a final state it was not travelled in, or
        archived opens nothing, whichever path brought it there. An open that
        shows the trip is counted on its link
        (:meth:`~bookingcore.ports.ShareLinkRepository.record_open`: ``view_count``
        and ``last_opened_at``, one ``UPDATE``) in the unit of work that reads it;
        a token that opens nothing writes nothing.

        Raises:
            SharedTripNotFoundError: for every token that opens nothing: malformed,
                unknown, expired, revoked, a booking shared no more (above) or an
                erased customer's. One error, one message, so a caller cannot tell
                a token that once worked from one that never did.

        .. versionchanged:: 0.4
           Opens are counted; a no-show, a final state not travelled in and an
           archived booking open nothing.
        """
        text = usable_token(token)
        given = hash_share_token(text or "")
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            link = uow.share_links.get_by_token_hash(given) if text is not None else None
            if link is None:
                hmac.compare_digest(given, _NO_LINK_HASH)
                raise SharedTripNotFoundError
            if not link.matches(given) or not link.is_active(now):
                raise SharedTripNotFoundError
            trip = self._shared(uow, link)
            uow.share_links.record_open(link.id, now)
            tx.commit()
            return trip

    def shared_booking_status(self, booking: Booking) -> SharedTripStatus | None:
        """What ``booking``'s share links show as its status, or ``None`` when they open
        nothing (see :func:`~bookingcore.domain.sharing.shared_booking_status`, with
        the booking's lifecycle from the settings). A host listing a booking's links
        shows with it whether they open the trip now.

        .. versionadded:: 0.4
        """
        lifecycle = self._ctx.settings.lifecycles.get(booking.lifecycle)
        return shared_booking_status(lifecycle, booking)

    # ------------------------------------------------------------------ helpers

    def _shared(self, uow: UnitOfWork, link: ShareLink) -> SharedTrip:
        booking = uow.bookings.get(link.booking_id)
        if booking is None:
            raise SharedTripNotFoundError
        customer = uow.customers.get(booking.customer_id)
        if customer is None or customer.is_erased or customer.merged_into is not None:
            raise SharedTripNotFoundError
        status = self.shared_booking_status(booking)
        if status is None:
            raise SharedTripNotFoundError
        slot = uow.slots.get(booking.slot_id)
        location = uow.locations.get(booking.location_id)
        product_id = booking.product_id or (slot.product_id if slot is not None else None)
        product = uow.products.get(product_id) if product_id is not None else None
        location_name = location.name if location is not None else ""
        trip_name = (
            (slot.name if slot is not None else None)
            or (product.name if product is not None else None)
            or location_name
        )
        names: tuple[str, ...] | None = None
        if link.show_first_names:
            found = []
            for seat in sorted(booking.travelers, key=lambda t: not t.is_primary):
                traveler = uow.travelers.get(seat.traveler_id)
                name = first_name(traveler.name) if traveler is not None else None
                if name is not None:
                    found.append(name)
            names = tuple(found)
        days: tuple[SharedItineraryDay, ...] = ()
        if link.show_itinerary:
            plan = uow.itineraries.get_for_booking(booking.id)
            if plan is not None:
                days = tuple(
                    SharedItineraryDay(day=d.day, title=d.title, entries=d.entries)
                    for d in plan.days
                )
        return SharedTrip(
            trip_name=trip_name,
            product_name=product.name if product is not None else None,
            location_name=location_name,
            meeting_point=location.address if location is not None else None,
            starts_at=booking.starts_at,
            ends_at=slot.ends_at if slot is not None else None,
            status=status,
            travelers=len(booking.travelers),
            first_names=names,
            itinerary=days,
            link_expires_at=link.expires_at,
        )

    @staticmethod
    def _load(
        uow: UnitOfWork, booking_id: BookingId, principal: Principal, *, for_update: bool = False
    ) -> Booking:
        read = uow.bookings.get_for_update if for_update else uow.bookings.get
        booking = read(booking_id)
        if booking is None or not policy.can_view_booking(principal, booking):
            raise NotFoundError("booking", booking_id)
        return booking

    def _check_shareable(self, uow: UnitOfWork, booking: Booking) -> None:
        customer = uow.customers.get(booking.customer_id)
        if self.shared_booking_status(booking) is None or customer is None or customer.is_erased:
            msg = f"booking {booking.id} is {booking.status}: it cannot be shared"
            raise ValidationError.single("booking_id", msg, "not_shareable")

    def _check_expiry(self, expires_at: datetime, now: datetime) -> None:
        if expires_at <= now:
            raise ShareExpiryError("must be in the future")
        longest = self._ctx.settings.share_link_max_ttl
        if expires_at > now + longest:
            raise ShareExpiryError(f"must be at most {longest.days} days from now")

    def _default_expiry(self, uow: UnitOfWork, booking: Booking, now: datetime) -> datetime:
        slot = uow.slots.get(booking.slot_id)
        ends = slot.ends_at if slot is not None and slot.ends_at is not None else None
        trip_end = ends or booking.starts_at + _ONE_DAY
        longest = self._ctx.settings.share_link_max_ttl
        if trip_end <= now:
            return now + min(_AFTER_THE_TRIP, longest)
        return min(trip_end, now + longest)

    @staticmethod
    def _audit(
        tx: Transaction,
        principal: Principal,
        link: ShareLink,
        action: AuditAction,
        *,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> None:
        tx.audit(
            principal,
            entity=SHARE_LINK_ENTITY,
            entity_id=link.id,
            action=action,
            old=old,
            new=new,
            booking_id=link.booking_id,
        )


def forget_share_links(uow: UnitOfWork, customer_id: CustomerId) -> int:
    """Inside ``uow``: delete every share link to the customer's bookings (erasure);
    how many went.

    .. versionadded:: 0.4
    """
    links = uow.share_links.list_for_customer(customer_id)
    for link in links:
        uow.share_links.remove(link.id)
    return len(links)
