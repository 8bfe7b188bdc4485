"""Partners' contact emails are unique and found without regard to case, on every backend.

``Ops@Agency.example`` and ``ops@agency.example`` are one address to the partners service
(its duplicate check on registration and update) and to every store (its unique key and
``PartnerFilter.contact_email``); the address is kept as it was given.
"""

from __future__ import annotations

from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    DuplicateError,
    PageRequest,
    Principal,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.domain.partners import PartnerFilter
from bookingcore.domain.values import EmailAddress
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


def test_the_partners_service_refuses_an_address_differing_only_in_case(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
    )
    ops = core.partners.register(
        name="Agency",
        company_name="Agency Ltd",
        contact_email="Ops@agency.example",
        principal=ADMIN,
    ).partner
    with pytest.raises(DuplicateError) as caught:
        core.partners.register(
            name="Copy",
            company_name="Copy Ltd",
            contact_email="ops@agency.example",
            principal=ADMIN,
        )
    assert caught.value.existing_id == ops.id
    other = core.partners.register(
        name="Other", company_name="Other Ltd", contact_email="desk@agency.example", principal=ADMIN
    ).partner
    with pytest.raises(DuplicateError) as caught:
        core.partners.update(other.id, principal=ADMIN, contact_email="OPS@agency.example")
    assert caught.value.existing_id == ops.id
    recased = core.partners.update(ops.id, principal=ADMIN, contact_email="ops@agency.example")
    assert recased.contact_email.value == "ops@agency.example"
    with any_store.unit_of_work() as uow:
        query = PartnerFilter(contact_email=EmailAddress("OPS@Agency.example"))
        found = list(uow.partners.list(query, PageRequest()))
    assert [(p.id, p.contact_email.value) for p in found] == [(ops.id, "ops@agency.example")]
    assert sorted(p.name for p in core.partners.list(principal=ADMIN)) == ["Agency", "Other"]
