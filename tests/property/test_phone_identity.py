"""Property 4: phone normalisation is idempotent, and one number however written is one customer."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from bookingcore import BookingCore, PhoneNumber, Principal, Settings, StaffId, StaffRole
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing import strategies as bst
from bookingcore_adapters.memory import MemoryStore


@given(bst.phone_numbers())
def test_normalising_a_normalised_number_changes_nothing(phone: PhoneNumber) -> None:
    assert PhoneNumber(phone.e164) == phone
    assert PhoneNumber(str(phone)).e164 == phone.e164
    assert PhoneNumber.parse(phone.national(), region=phone.region) == phone


@given(st.data())
def test_every_spelling_of_a_number_registers_the_same_customer(data: st.DataObject) -> None:
    phone = data.draw(bst.phone_numbers())
    spellings = data.draw(st.lists(bst.phone_spellings(phone), min_size=2, max_size=5))
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    store = MemoryStore()
    customer_ids = set()
    for text, region in spellings:
        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=FixedClock(),
            ids=SequentialIds(),
            settings=Settings(default_region=region),
        )
        registration = core.customers.register(text, principal=admin)
        assert registration.customer.phone == phone
        customer_ids.add(registration.customer.id)
    assert len(customer_ids) == 1
    assert store.count("customers") == 1
