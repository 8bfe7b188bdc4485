"""Revokes of one share link at once (two staff, a double click reaching two app
servers): the link is locked while it is revoked, so one revokes it and writes the
audit entry, and the other finds it revoked and writes nothing (docs/sharing.md)."""

from __future__ import annotations

import time
from typing import Any

from tests._threads import at_once
from tests.integration._worlds import ADMIN
from tests.integration.test_share_link_opens import Trip

from bookingcore import BookingCore
from bookingcore.domain.audit import AuditAction
from bookingcore_adapters.sql import SqlStore


class _SlowReads:
    """A unit of work's share links, each read of a link held a moment before it is
    answered: a second revoke comes along while the first holds what it read."""

    def __init__(self, links: Any) -> None:
        self._links = links

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._links, name)
        if name not in {"get", "get_for_update"}:
            return found

        def slowly(*args: Any) -> Any:
            answer = found(*args)
            time.sleep(0.3)
            return answer

        return slowly


class _SlowStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def unit_of_work(self) -> Any:
        uow = self._store.unit_of_work()
        uow.share_links = _SlowReads(uow.share_links)  # type: ignore[misc]
        return uow


def test_two_revokes_at_once_write_one_audit_entry(sql_store: SqlStore) -> None:
    trip = Trip(sql_store)
    # The same business, each read of a share link slowed down.
    core = BookingCore(
        uow_factory=_SlowStore(sql_store).unit_of_work,
        clock=trip.clock,
        ids=trip.core.context.ids,
        settings=trip.core.context.settings,
    )

    def revoke(_index: int) -> Any:
        return core.sharing.revoke_link(trip.booking.id, trip.link_id, principal=trip.asha)

    results = at_once(2, revoke)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[0].revoked_at == results[1].revoked_at is not None
    trail = trip.core.audit.trail("share link", trip.link_id, principal=ADMIN)
    revokes = [e for e in trail if e.action is AuditAction.DEACTIVATED]
    assert len(revokes) == 1, revokes
