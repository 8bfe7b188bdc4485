"""Planning a lead's follow-up is audited like the lead's other changes, on every backend."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from bookingcore import BookingCore, Principal, Settings, StaffId, StaffRole
from bookingcore.domain.audit import AuditAction
from bookingcore.services import LeadRequest
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


def test_scheduling_a_follow_up_writes_an_audit_entry_with_the_days_before_and_after(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
    )
    lead = core.leads.capture(LeadRequest(source="phone", phone="+919876543210"), principal=ADMIN)
    core.leads.schedule_follow_up(lead.id, date(2030, 1, 2), principal=ADMIN)
    core.leads.schedule_follow_up(lead.id, None, principal=ADMIN)
    trail = core.audit.trail("lead", lead.id, principal=ADMIN)
    planned, dropped = trail[-2:]
    assert (planned.action, planned.old_values, planned.new_values) == (
        AuditAction.UPDATED,
        {"follow_up_on": None},
        {"follow_up_on": "2030-01-02"},
    )
    assert (dropped.old_values, dropped.new_values) == (
        {"follow_up_on": "2030-01-02"},
        {"follow_up_on": None},
    )
    assert planned.actor.id == str(ADMIN.id)
