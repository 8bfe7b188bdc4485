"""Who may own a lead, and how the strategies share leads out: the booking rules, on
every backend (an active advisor; a strategy's picks at the same time take turns)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from tests._threads import at_once

from bookingcore import BookingCore, Principal, Settings, StaffId, StaffRole, ValidationError
from bookingcore.services import LeadRequest
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
    )


def _lead_request(n: int) -> LeadRequest:
    return LeadRequest(source="phone", phone=f"+9198765432{n:02d}")


def _advisors(core: BookingCore, *names: str) -> list[StaffId]:
    added = [core.staff.add(f"{n}@desk.example", n, principal=ADMIN).id for n in names]
    return sorted(added)


class TestWhoMayOwnALead:
    @pytest.mark.parametrize("how", ["assign", "capture"])
    @pytest.mark.parametrize("who", ["unknown", "inactive", "editor", "admin"])
    def test_only_an_active_advisor_is_given_a_lead(
        self, any_store: MemoryStore | SqlStore, how: str, who: str
    ) -> None:
        core = _core(any_store)
        if who == "unknown":
            staff_id = StaffId(uuid4())
        else:
            role = StaffRole.ADVISOR if who == "inactive" else StaffRole(who)
            staff_id = core.staff.add(f"{who}@desk.example", who, principal=ADMIN, role=role).id
            if who == "inactive":
                core.staff.set_active(staff_id, False, principal=ADMIN)
        if how == "assign":
            lead = core.leads.capture(_lead_request(1), principal=ADMIN)
            with pytest.raises(ValidationError) as caught:
                core.leads.assign(lead.id, staff_id, principal=ADMIN)
            assert core.leads.get(lead.id, principal=ADMIN).assignee_id is None
        else:
            with pytest.raises(ValidationError) as caught:
                core.leads.capture(_lead_request(1), principal=ADMIN, assign=staff_id)
            assert core.leads.list(principal=ADMIN).items == []
        assert caught.value.fields == ("assignee_id",)
        assert [e.code for e in caught.value.errors] == ["unknown_advisor"]

    def test_the_current_advisor_named_again_keeps_the_lead_after_deactivation(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        """As for bookings: naming the lead's own advisor again is no new assignment."""
        core = _core(any_store)
        (ana,) = _advisors(core, "ana")
        lead = core.leads.capture(_lead_request(1), principal=ADMIN, assign=ana)
        core.staff.set_active(ana, False, principal=ADMIN)
        again = core.leads.assign(lead.id, ana, principal=ADMIN)
        assert again.assignee_id == ana


class TestStrategiesForLeads:
    def test_round_robin_re_assigning_a_lead_takes_no_extra_turn(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        ids = _advisors(core, "ana", "ben")
        leads = [core.leads.capture(_lead_request(n), principal=ADMIN) for n in range(4)]
        picked = [
            core.leads.assign(lead.id, "round_robin", principal=ADMIN).assignee_id
            for lead in leads[:2]
        ]
        assert picked == ids
        again = core.leads.assign(leads[1].id, "round_robin", principal=ADMIN)
        assert again.assignee_id == ids[1]
        for lead in leads[2:]:
            core.leads.assign(lead.id, "round_robin", principal=ADMIN)
        owners = [core.leads.get(lead.id, principal=ADMIN).assignee_id for lead in leads]
        assert [owners.count(i) for i in ids] == [2, 2]

    def test_least_loaded_re_assigning_a_lead_does_not_count_it_against_its_advisor(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        first, second = _advisors(core, "ana", "ben")
        mine = core.leads.capture(_lead_request(1), principal=ADMIN, assign=second)
        core.leads.capture(_lead_request(2), principal=ADMIN, assign=first)
        again = core.leads.assign(mine.id, "least_loaded", principal=ADMIN)
        assert again.assignee_id == second


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["assign", "capture"])
def test_round_robin_lead_assignments_at_once_take_turns(pg_store: SqlStore, how: str) -> None:
    """Six leads given out by ``round_robin`` at the same moment go to three advisors
    two each: concurrent calls never take the same turn."""
    core = _core(pg_store)
    _advisors(core, "ana", "ben", "cyd")
    if how == "assign":
        leads = [core.leads.capture(_lead_request(n), principal=ADMIN) for n in range(6)]
        answers = at_once(
            6, lambda i: core.leads.assign(leads[i].id, "round_robin", principal=ADMIN)
        )
    else:
        answers = at_once(
            6,
            lambda i: core.leads.capture(_lead_request(i), principal=ADMIN, assign="round_robin"),
        )
    assert not [a for a in answers if isinstance(a, Exception)], answers
    picked = [a.assignee_id for a in answers]
    assert sorted(picked.count(x) for x in set(picked)) == [2, 2, 2]


def test_a_lead_with_a_new_phone_finds_its_customer_by_email(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Phone, then email, as ``customers.identify`` finds them: an unknown phone with a
    known email is that customer's lead, not a second customer's."""
    core = _core(any_store)
    first = core.leads.capture(
        LeadRequest(source="phone", phone="+919876543210", email="ann@example.com"),
        principal=ADMIN,
    )
    again = core.leads.capture(
        LeadRequest(source="web_form", phone="+919876543299", email="ANN@example.com"),
        principal=ADMIN,
    )
    assert again.customer_id == first.customer_id
    identified = core.customers.identify(
        principal=ADMIN, phone="+919876543299", email="ann@example.com"
    )
    assert identified.customer.id == again.customer_id
