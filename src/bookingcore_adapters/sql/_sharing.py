"""Share links in SQL: the table of links to bookings' trip views (revisions 0047, 0049)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Uuid

from bookingcore.domain.sharing import MAX_SHARE_LABEL_LENGTH, ShareLink, ShareLinkId
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored
from bookingcore_adapters.sql._repository import Repository, oldest_key
from bookingcore_adapters.sql._schema import metadata, ref, when

__all__ = ["SHARE_LINKS", "ShareLinkRepository", "share_links"]

#: Links to bookings' shared trip views (revision 0047): only each token's hash.
share_links = Table(
    "share_links",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", nullable=False),
    ref("customer_id", "customers.id", nullable=False),
    Column("token_hash", String(100), nullable=False, unique=True),
    Column("token_last4", String(4), nullable=False),
    Column("label", String(MAX_SHARE_LABEL_LENGTH)),
    Column("show_first_names", Boolean(), nullable=False),
    Column("show_itinerary", Boolean(), nullable=False),
    when("created_at"),
    when("updated_at"),
    when("expires_at"),
    when("revoked_at", nullable=True),
    # Opens (revision 0049): one UPDATE per open moves both.
    Column("view_count", Integer(), nullable=False, server_default="0"),
    when("last_opened_at", nullable=True),
    Index(None, "booking_id", "created_at"),
    Index(None, "customer_id", "created_at"),
)


def _dump(x: ShareLink) -> Row:
    return {
        "id": x.id,
        "booking_id": x.booking_id,
        "customer_id": x.customer_id,
        "token_hash": x.token_hash,
        "token_last4": x.token_last4,
        "label": x.label,
        "show_first_names": x.show_first_names,
        "show_itinerary": x.show_itinerary,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "expires_at": x.expires_at,
        "revoked_at": x.revoked_at,
        "view_count": x.view_count,
        "last_opened_at": x.last_opened_at,
    }


def _load(r: Stored, _: Sequence[Stored]) -> ShareLink:
    return ShareLink(
        id=r["id"],
        booking_id=r["booking_id"],
        customer_id=r["customer_id"],
        token_hash=r["token_hash"],
        token_last4=r["token_last4"],
        label=r["label"],
        show_first_names=r["show_first_names"],
        show_itinerary=r["show_itinerary"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        expires_at=r["expires_at"],
        revoked_at=r["revoked_at"],
        view_count=r["view_count"],
        last_opened_at=r["last_opened_at"],
    )


SHARE_LINKS = Mapper[ShareLink]("share link", share_links, _dump, _load)


class ShareLinkRepository(Repository[ShareLink]):
    """:class:`~bookingcore.ports.ShareLinkRepository` in SQL."""

    def get(self, link_id: ShareLinkId) -> ShareLink | None:
        return self._get(link_id)

    def get_by_token_hash(self, token_hash: str) -> ShareLink | None:
        return self._unique("token_hash", token_hash, lambda x: x.token_hash)

    def get_for_update(self, link_id: ShareLinkId) -> ShareLink | None:
        return self._session.lock(self._mapper, link_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[ShareLink]:
        return self._session.select_equal(self._mapper, {"booking_id": booking_id}, oldest_key)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[ShareLink]:
        return self._session.select_equal(self._mapper, {"customer_id": customer_id}, oldest_key)

    def record_open(self, link_id: ShareLinkId, at: datetime) -> ShareLink | None:
        # One UPDATE: the database adds one to what is stored, whatever was read.
        c = self._table.c
        values = {"view_count": c.view_count + 1, "last_opened_at": at}
        return self._session.update_if_now(self._mapper, link_id, [], values)

    def remove(self, link_id: ShareLinkId) -> bool:
        c = self._table.c
        removed = self._session.delete_now(
            self._mapper, [c.id == link_id], lambda x: x.id == link_id
        )
        return removed > 0
