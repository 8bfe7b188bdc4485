"""The shipped Alembic migrations build exactly the schema the SQL adapter maps, and undo it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import attrs
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, delete, inspect, select, text

from bookingcore import (
    BookingCore,
    BookingRequest,
    CancellationPolicy,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    ProductRequirements,
    RefundTier,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain.attendance import Attendance, AttendanceMark, AttendanceRecord
from bookingcore.domain.bookings import Author, Booking
from bookingcore.domain.catalog import Location, Product
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.devices import PushDevice, PushDeviceId
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.idempotency import key_claim_id
from bookingcore.domain.lifecycle import RESERVATION
from bookingcore.domain.partner_webhooks import WebhookAttempt, WebhookDelivery, WebhookTopic
from bookingcore.domain.partners import PartnerFilter
from bookingcore.domain.payments import RefundStatus
from bookingcore.domain.queries import PageRequest
from bookingcore.domain.sharing import ShareLinkId
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import Actor, ActorKind, CommunicationId, DocumentId, EmailAddress
from bookingcore.domain.waitlist import WaitlistStatus
from bookingcore.errors import ConflictError, DuplicateError
from bookingcore.services.leads import LeadRequest
from bookingcore.services.quotations import QuotationRequest
from bookingcore.testing import FakePaymentProvider, FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.sql import SqlStore, metadata, migrations


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on each backend (PostgreSQL: a fresh schema, dropped afterwards)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("postgres_schema")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()


def _differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the mapping."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "version_table": migrations.VERSION_TABLE},
        )
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


class _Booked(NamedTuple):
    """A booking of one traveler and what it stands on, as the Builder makes them."""

    location: Location
    slot: Slot
    customer: Customer
    traveler: Traveler
    booking: Booking


def _store_a_booking(
    store: SqlStore,
    make: Builder,
    *,
    location: dict[str, Any] | None = None,
    slot: dict[str, Any] | None = None,
    traveler: dict[str, Any] | None = None,
    booking: dict[str, Any] | None = None,
    booking_too: bool = True,
) -> _Booked:
    """Stores a location, a slot there, a customer and a traveler (each built with the
    given fields), and the booking of that traveler on that slot unless ``booking_too``
    is false (a test at an older revision then inserts the booking's rows itself)."""
    place = make.location(**(location or {}))
    trip = make.slot(place.id, **(slot or {}))
    customer = make.customer()
    person = make.traveler(customer.id, **(traveler or {}))
    booked = _Booked(
        place,
        trip,
        customer,
        person,
        make.booking(customer.id, trip, [person.id], **(booking or {})),
    )
    with store.unit_of_work() as uow:
        uow.locations.add(place)
        uow.slots.add(trip)
        uow.customers.add(customer)
        uow.travelers.add(person)
        if booking_too:
            uow.bookings.add(booked.booking)
        uow.commit()
    return booked


def _insert_booking_rows(engine: Engine, booked: _Booked) -> None:
    """Inserts ``booked.booking`` and its traveler as plain rows holding only the columns
    every revision since 0037 has: the columns a later revision adds are left out, so
    the rows fit a database migrated to an older revision."""
    booking, traveler, slot = booked.booking, booked.traveler, booked.slot
    row = {
        "id": booking.id,
        "reference": booking.reference,
        "customer_id": booked.customer.id,
        "slot_id": slot.id,
        "location_id": booked.location.id,
        "starts_at": slot.starts_at,
        "lifecycle": booking.lifecycle,
        "status": booking.status,
        "source": booking.source.value,
        "total_travelers": 1,
        "primary_contact_traveler_id": traveler.id,
        "subtotal_amount": booking.subtotal.amount,
        "discount_amount": booking.discount.amount,
        "total_amount": booking.total.amount,
        "currency": booking.currency,
        "created_by_kind": booking.created_by.kind.value,
        "created_by_id": booking.created_by.id,
        "metadata": {},
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
        "version": 1,
    }
    with engine.begin() as connection:
        connection.execute(metadata.tables["bookings"].insert().values(**row))
        connection.execute(
            metadata.tables["booking_travelers"]
            .insert()
            .values(
                booking_id=booking.id,
                traveler_id=traveler.id,
                position=0,
                price_amount=booking.subtotal.amount,
                price_currency=booking.currency,
                is_primary=True,
            )
        )


def _insert_product_row(engine: Engine, product: Product) -> None:
    """Inserts ``product`` as a plain row holding only the columns every revision since
    0035 has (no ``cancellation_policy``, no ``requirements``)."""
    row = {
        "id": product.id,
        "code": product.code,
        "name": product.name,
        "kind": product.kind.value,
        "is_active": True,
        "created_at": product.created_at,
    }
    with engine.begin() as connection:
        connection.execute(metadata.tables["products"].insert().values(**row))


def _uuid_parameters(engine: Engine, values: dict[str, UUID]) -> dict[str, Any]:
    """Ids as a plain ``text()`` statement binds them: UUIDs on PostgreSQL, hex on SQLite."""
    postgres = engine.dialect.name == "postgresql"
    return {name: value if postgres else value.hex for name, value in values.items()}


def test_upgrade_downgrade_and_upgrade_again_match_the_mapping(database: Engine) -> None:
    assert migrations.current(database) is None

    migrations.upgrade(database)
    assert migrations.current(database) == migrations.head()
    assert _tables(database) == set(metadata.tables) | {migrations.VERSION_TABLE}
    assert _differences(database) == []

    migrations.downgrade(database, "base")
    assert migrations.current(database) is None
    assert _tables(database) == {migrations.VERSION_TABLE}

    migrations.upgrade(database)
    assert _differences(database) == []


def test_a_store_on_a_migrated_database_works(database: Engine) -> None:
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    location = make.location()
    slot = make.slot(location.id, capacity=4)
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.commit()
    with store.unit_of_work() as uow:
        locked = uow.slots.get_for_update(slot.id)
        assert locked is not None
        locked.hold(3)
        uow.commit()
    with store.unit_of_work() as uow:
        stored = uow.slots.get(slot.id)
        assert stored is not None
        assert stored.seats_held == 3


def test_customers_stored_before_the_email_key_are_found_by_any_case(database: Engine) -> None:
    """0026 gives the addresses already stored their match key (Python's case folding)."""
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    ann = make.customer(email=EmailAddress("Ann@Example.com"))
    jose = make.customer(email=EmailAddress("JOSÉ@example.com"))
    with store.unit_of_work() as uow:
        uow.customers.add(ann)
        uow.customers.add(jose)
        uow.commit()
    migrations.downgrade(database, "0025")  # before the key: the column goes
    assert "email_key" not in _columns(database, "customers")
    migrations.upgrade(database)  # ... and comes back filled in
    asked = [EmailAddress("ann@example.com"), EmailAddress("josé@Example.com")]
    with store.unit_of_work() as uow:
        found = uow.customers.find_by_emails(asked)
    assert {a.value: c.id for a, c in found.items()} == {
        "ann@example.com": ann.id,
        "josé@example.com": jose.id,
    }
    with store.unit_of_work() as uow:
        stored = uow.customers.get(ann.id)
    assert stored is not None
    assert stored.email == EmailAddress("Ann@Example.com")  # kept as given


def _insert_staff_before_0029(engine: Engine, make: Builder, emails: list[str]) -> None:
    """Staff rows as a database at 0028 holds them: no ``email_key``."""
    table = metadata.tables["staff_members"]
    rows = []
    for email in emails:
        member = make.staff_member()
        rows.append(
            {
                "id": member.id,
                "email": email,
                "name": member.name,
                "role": member.role.value,
                "locations": [],
                "is_active": True,
                "created_at": member.created_at,
                "updated_at": member.updated_at,
                "version": member.version,
            }
        )
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)


def test_staff_stored_before_the_email_key_are_found_by_any_case(database: Engine) -> None:
    """0029 gives the staff already stored their match key (Python's case folding)."""
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    ann = make.staff_member(email=EmailAddress("Ann@Example.com"))
    jose = make.staff_member(email=EmailAddress("JOSÉ@example.com"))
    with store.unit_of_work() as uow:
        uow.staff.add(ann)
        uow.staff.add(jose)
        uow.commit()
    migrations.downgrade(database, "0028")  # before the key: the column goes
    assert "email_key" not in _columns(database, "staff_members")
    # More rows than one batch of keys, so the last batch has to be written too.
    _insert_staff_before_0029(database, make, [f"Desk{n}@example.com" for n in range(1001)])
    migrations.upgrade(database)  # ... and the key comes back filled in
    assert migrations.current(database) == migrations.head()
    assert _differences(database) == []
    with store.unit_of_work() as uow:
        found_ann = uow.staff.get_by_email(EmailAddress("ann@example.com"))
        found_jose = uow.staff.get_by_email(EmailAddress("josé@Example.com"))
        last_desk = uow.staff.get_by_email(EmailAddress("DESK1000@example.com"))
    assert found_ann is not None
    assert found_ann.id == ann.id
    assert found_ann.email == EmailAddress("Ann@Example.com")  # kept as given
    assert found_jose is not None
    assert found_jose.id == jose.id
    assert last_desk is not None
    assert last_desk.email.value == "Desk1000@example.com"
    with store.unit_of_work() as uow:  # the key is unique now
        uow.staff.add(make.staff_member(email=EmailAddress("ANN@example.com")))
        with pytest.raises(DuplicateError):
            uow.commit()


def test_staff_emails_that_differ_only_in_case_stop_the_upgrade(database: Engine) -> None:
    """0029 names the clashing addresses and changes nothing: no account is merged."""
    migrations.upgrade(database, "0028")
    make = Builder()
    emails = ["Ann@example.com", "bob@example.com", "ann@example.com", "ANN@example.com"]
    _insert_staff_before_0029(database, make, emails)
    with pytest.raises(RuntimeError, match="differ only in case") as refused:
        migrations.upgrade(database)
    assert "'ANN@example.com', 'Ann@example.com', 'ann@example.com'" in str(refused.value)
    assert "bob@example.com" not in str(refused.value)
    assert migrations.current(database) == "0028"
    assert "email_key" not in _columns(database, "staff_members")
    staff = metadata.tables["staff_members"]
    with database.connect() as connection:
        stored = connection.execute(select(staff.c.email)).scalars().all()
    assert sorted(stored) == sorted(emails)
    with database.begin() as connection:  # someone decides which accounts stay ...
        connection.execute(delete(staff).where(staff.c.email != "Ann@example.com"))
    migrations.upgrade(database)  # ... and the upgrade goes through
    assert migrations.current(database) == migrations.head()


def test_the_migrated_waiting_list_holds_one_active_entry_per_customer_and_slot(
    database: Engine,
) -> None:
    """The partial unique index is partial after migrating: ended entries do not count."""
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    location = make.location()
    slot = make.slot(location.id)
    customer = make.customer()
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        for position in (1, 2):
            uow.waitlist.add(
                make.waitlist_entry(
                    slot.id, customer.id, position=position, status=WaitlistStatus.EXPIRED
                )
            )
        uow.waitlist.add(make.waitlist_entry(slot.id, customer.id, position=3))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.waitlist.add(make.waitlist_entry(slot.id, customer.id, position=4))
        with pytest.raises(DuplicateError):
            uow.commit()


def test_slots_with_waiting_list_entries_are_marked_when_migrated(database: Engine) -> None:
    """0031 marks the slots someone already waits on (any status), and only those."""
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    location = make.location()
    waited, ended, quiet = (make.slot(location.id) for _ in range(3))
    customer = make.customer()
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        for slot in (waited, ended, quiet):
            uow.slots.add(slot)
        uow.customers.add(customer)
        uow.waitlist.add(make.waitlist_entry(waited.id, customer.id, position=1))
        uow.waitlist.add(
            make.waitlist_entry(ended.id, customer.id, position=1, status=WaitlistStatus.EXPIRED)
        )
        uow.commit()
    migrations.downgrade(database, "0030")
    assert "has_waitlist" not in _columns(database, "slots")
    migrations.upgrade(database)
    with store.unit_of_work() as uow:
        marked = {
            s.id: s.has_waitlist for s in (uow.slots.get(x.id) for x in (waited, ended, quiet)) if s
        }
    assert marked == {waited.id: True, ended.id: True, quiet.id: False}


def test_payments_flagged_in_their_metadata_get_attention_items_when_migrated(
    database: Engine,
) -> None:
    """0033 moves ``metadata.needs_attention`` into an open item (its code read from the
    library's words, ``since`` the payment's creation) and back on downgrade."""
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    booking = _store_a_booking(store, make).booking
    made = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    refund_words = "stripe reports refund re_1 of 500.00 INR that the payment cannot hold: x"
    late, refunded, odd, calm = (
        make.payment(booking, created_at=made + timedelta(minutes=n), updated_at=made)
        for n in range(4)
    )
    with store.unit_of_work() as uow:
        for payment in (late, refunded, odd, calm):
            uow.payments.add(payment)
        uow.commit()
    migrations.downgrade(database, "0032")
    assert "attention" not in _columns(database, "payments")
    payments = metadata.tables["payments"]
    flags = {
        late.id: "payment captured after booking BK-1 was cancelled",
        refunded.id: refund_words,
        odd.id: "looked wrong to the desk",
    }
    with database.begin() as connection:
        for ident, words in flags.items():
            connection.execute(
                payments.update()
                .where(payments.c.id == ident)
                .values(metadata={"checkout": "hosted", "needs_attention": words})
            )
    migrations.upgrade(database)
    assert _differences(database) == []
    with store.unit_of_work() as uow:
        listed = uow.payments.list_needing_attention(10)
        stored = uow.payments.get(calm.id)
    assert [p.id for p in listed] == [late.id, refunded.id, odd.id]
    assert [[(i.code.value, i.text, i.since) for i in p.attention] for p in listed] == [
        [("late_payment", flags[late.id], late.created_at)],
        [("unreconciled_refund", refund_words, refunded.created_at)],
        [("other", flags[odd.id], odd.created_at)],
    ]
    assert [p.metadata for p in listed] == [{"checkout": "hosted"}] * 3
    assert stored is not None
    assert stored.attention == ()

    with store.unit_of_work() as uow:  # two reasons on one payment go back as one text
        locked = uow.payments.get_for_update(late.id)
        assert locked is not None
        locked.flag("overpaid", "captured 10.00 INR more", now=made + timedelta(days=1))
        locked.touch(made + timedelta(days=1))
        uow.commit()
    migrations.downgrade(database, "0032")
    with database.connect() as connection:
        kept = dict(connection.execute(select(payments.c.id, payments.c.metadata)).all())
    assert kept[late.id]["needs_attention"] == (f"{flags[late.id]}; captured 10.00 INR more")
    assert kept[odd.id] == {"checkout": "hosted", "needs_attention": flags[odd.id]}
    assert "needs_attention" not in kept[calm.id]


class _KeyedWorld:
    """One request of every kind that keeps its key, made through the library."""

    def __init__(self, store: SqlStore) -> None:
        clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
            payment_providers=[FakePaymentProvider("fake", secret="s")],
            automations=False,  # only the requests below keep keys (no automatic messages)
        )
        admin = Principal.staff(StaffId(UUID(int=0xAD)), StaffRole.ADMIN)
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=admin)
        slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=admin,
        )
        customer = self.core.customers.register("+919876543210", principal=admin).customer
        self.me = Principal.customer(customer.id)
        self.request = BookingRequest(
            slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)]
        )
        core = self.core
        self.booking = core.bookings.book(self.request, principal=self.me, idempotency_key="k-b")
        core.bookings.transition(
            self.booking.id, "confirmed", principal=admin, idempotency_key="k-t"
        )
        core.communications.send(
            self.booking.id, "reminder", principal=admin, idempotency_key="k-m"
        )
        core.payments.create_intent(
            self.booking.id, "fake", principal=self.me, idempotency_key="k-p"
        )
        core.leads.capture(LeadRequest(source="web_form"), principal=self.me, idempotency_key="k-l")
        valid_until = clock.now().date() + timedelta(days=10)
        quote = QuotationRequest(
            customer_id=customer.id, slot_id=slot.id, travelers=2, valid_until=valid_until
        )
        core.quotations.create(quote, principal=admin, idempotency_key="k-q")
        mine, staff = f"customer:{customer.id}:", f"staff:{admin.id}:"
        #: The stored key of each request, by the operation it was made for.
        self.keys = {
            "booking": f"{mine}k-b",
            "transition": f"{staff}k-t",
            "message": f"{staff}k-m",
            "payment": f"{mine}k-p",
            "lead": f"{mine}k-l",
            "quotation": f"{staff}k-q",
        }


def _registry(engine: Engine) -> dict[str, tuple[str, UUID]]:
    keys = metadata.tables["idempotency_keys"]
    with engine.connect() as connection:
        rows = connection.execute(select(keys.c.key, keys.c.operation, keys.c.id)).all()
    return {key: (operation, ident) for key, operation, ident in rows}


def test_keys_stored_before_the_registry_are_registered_when_migrated(database: Engine) -> None:
    """0032 registers every key the stores kept, under the kind that kept it (the first
    kind listed when two did), with the ids the library derives: keys stay refused to
    other kinds of request, and retries still replay."""
    migrations.upgrade(database)
    world = _KeyedWorld(SqlStore(database))
    made = dict(world.keys)
    assert _registry(database) == {k: (op, key_claim_id(k)) for op, k in made.items()}
    migrations.downgrade(database, "0031")
    assert "idempotency_keys" not in _tables(database)
    communications, leads = (metadata.tables[t] for t in ("booking_communications", "leads"))
    sent_at = datetime(2026, 1, 1, tzinfo=UTC)
    with database.begin() as connection:
        # A key a lead and a booking share (a race of the old check could do that) ...
        connection.execute(leads.update().values(idempotency_key=made.pop("lead")))
        connection.execute(leads.update().values(idempotency_key=made["booking"]))
        # ... and more messages than one batch of the backfill holds.
        customer_id = connection.execute(select(communications.c.customer_id)).scalar_one()
        message = {
            "customer_id": customer_id,
            "type": "reminder",
            "channel": "sms",
            "status": "sent",
            "recipient": "+919876543210",
            "content": "see you",
            "created_by_kind": "system",
            "created_at": sent_at,
        }
        connection.execute(
            communications.insert(),
            [{**message, "id": UUID(int=2**100 + n), "dedupe_key": f"r:{n}"} for n in range(1001)],
        )
    migrations.upgrade(database)
    assert migrations.current(database) == migrations.head()
    assert _differences(database) == []
    registry = _registry(database)
    for operation, key in made.items():
        assert registry.pop(key) == (operation, key_claim_id(key)), operation
    assert registry == {f"r:{n}": ("message", key_claim_id(f"r:{n}")) for n in range(1001)}
    with SqlStore(database).unit_of_work() as uow:
        last = uow.idempotency_keys.get("r:1000")
    assert last is not None
    assert last.created_at == sent_at  # the time of the row that kept the key

    core, me = world.core, world.me
    again = core.bookings.book(world.request, principal=me, idempotency_key="k-b")
    assert again.id == world.booking.id  # a retry replays
    with pytest.raises(IdempotencyConflictError):  # another kind of request is refused
        core.leads.capture(LeadRequest(source="web_form"), principal=me, idempotency_key="k-p")
    with pytest.raises(IdempotencyConflictError):
        core.bookings.book(world.request, principal=me, idempotency_key="k-p")


def test_claims_stored_before_made_id_survive_the_migration(database: Engine) -> None:
    """0034 adds ``made_id`` to the key registry: a claim stored before keeps its key,
    kind, time and id, remembers nothing made, and still refuses another kind of request."""
    migrations.upgrade(database, "0033")
    keys = metadata.tables["idempotency_keys"]
    claimed_at = datetime(2026, 1, 1, tzinfo=UTC)
    row = {"key": "customer:-:k-1", "operation": "lead", "created_at": claimed_at}
    with database.begin() as connection:
        # Only the columns 0033 has: the live table's made_id is left out of the insert.
        connection.execute(keys.insert().values(id=key_claim_id(row["key"]), **row))
    migrations.upgrade(database)
    assert "made_id" in _columns(database, "idempotency_keys")
    assert _differences(database) == []
    with SqlStore(database).unit_of_work() as uow:
        claim = uow.idempotency_keys.get("customer:-:k-1")
    assert claim is not None
    assert (claim.operation, claim.created_at) == ("lead", claimed_at)
    assert claim.id == key_claim_id("customer:-:k-1")
    assert claim.made_id is None
    migrations.downgrade(database, "0033")
    assert "made_id" not in _columns(database, "idempotency_keys")
    assert _registry(database) == {"customer:-:k-1": ("lead", key_claim_id("customer:-:k-1"))}


def test_documents_gain_a_nullable_generated_by_and_lose_it_on_downgrade(
    database: Engine,
) -> None:
    """0035 adds ``booking_documents.generated_by`` (nullable, no foreign key: staff ids
    are actors); the upgraded schema is the mapping's, and a downgrade drops it."""
    migrations.upgrade(database, "0034")
    assert "generated_by" not in _columns(database, "booking_documents")
    migrations.upgrade(database)
    assert "generated_by" in _columns(database, "booking_documents")
    assert _differences(database) == []
    keys = inspect(database).get_foreign_keys("booking_documents")
    assert all("generated_by" not in key["constrained_columns"] for key in keys)
    migrations.downgrade(database, "0034")
    assert "generated_by" not in _columns(database, "booking_documents")


def test_products_gain_a_nullable_cancellation_policy_read_back_checked(
    database: Engine,
) -> None:
    """0036 adds ``products.cancellation_policy`` (nullable JSON): a product stored
    before reads back without one (it follows the settings), a stored policy reads
    back equal, a row edited into a policy the library refuses is a typed error
    naming the part, and a downgrade drops the column."""
    migrations.upgrade(database, "0035")
    assert "cancellation_policy" not in _columns(database, "products")
    products = metadata.tables["products"]
    old = Builder().product()
    _insert_product_row(database, old)  # the live table's cancellation_policy is left out
    migrations.upgrade(database)
    assert "cancellation_policy" in _columns(database, "products")
    assert _differences(database) == []
    strict = CancellationPolicy(
        self_service_until=timedelta(hours=48),
        refund_tiers=[RefundTier(timedelta(days=7), Decimal("12.5"))],
    )
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        found = uow.products.get(old.id)
        assert found is not None
        assert found.cancellation_policy is None
        found.cancellation_policy = strict
        uow.commit()
    with database.connect() as connection:
        stored = connection.execute(
            select(products.c.cancellation_policy).where(products.c.id == old.id)
        ).scalar_one()
    assert stored == {
        "version": 1,
        "self_service_until_seconds": 172_800,
        "refund_tiers": [{"notice_seconds": 604_800, "refund_percent": "12.5"}],
    }
    with store.unit_of_work() as uow:
        assert uow.products.get(old.id).cancellation_policy == strict  # type: ignore[union-attr]
    edited = {**stored, "refund_tiers": [{"notice_seconds": 604_800, "refund_percent": "150"}]}
    with database.begin() as connection:
        connection.execute(
            products.update().where(products.c.id == old.id).values(cancellation_policy=edited)
        )
    with store.unit_of_work() as uow, pytest.raises(ValidationError) as caught:
        uow.products.get(old.id)
    assert caught.value.fields == ("cancellation_policy.refund_tiers.0.refund_percent",)
    migrations.downgrade(database, "0035")
    assert "cancellation_policy" not in _columns(database, "products")


def test_the_differences_check_notices_a_missing_index(database: Engine) -> None:
    migrations.upgrade(database)
    with database.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_bookings_status_created_at_id")
    assert [d[0] for d in _differences(database)] == ["add_index"]


def test_upgrading_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    migrations.upgrade(url)
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.head()


#: Where the shipped revisions live.
REVISIONS = Path(migrations.__file__).parent / "versions"

#: Packages whose code may change under an old revision, so no revision may import them.
LIVE_PACKAGES = frozenset({"bookingcore", "bookingcore_adapters"})


def _live_imports(source: str) -> list[str]:
    """The modules of bookingcore (or relative ones) that ``source`` imports, wherever it does."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        found += [n for n in names if n.startswith(".") or n.split(".")[0] in LIVE_PACKAGES]
    return found


class TestRevisionsStateTheirOwnDdl:
    """An old revision means the same thing after the live tables change."""

    def test_every_shipped_revision_is_scanned(self) -> None:
        assert len(sorted(REVISIONS.glob("*.py"))) >= 6

    @pytest.mark.parametrize("revision", sorted(REVISIONS.glob("*.py")), ids=lambda p: p.stem)
    def test_no_revision_imports_bookingcore(self, revision: Path) -> None:
        assert _live_imports(revision.read_text(encoding="utf-8")) == []

    def test_the_scan_finds_an_import_of_the_live_tables(self) -> None:
        source = (
            "import sqlalchemy as sa\n"
            "def upgrade():\n"
            "    from bookingcore_adapters.sql._tables import UtcDateTime\n"
            "    import bookingcore.domain\n"
            "from . import helpers\n"
        )
        assert sorted(_live_imports(source)) == [
            ".",
            "bookingcore.domain",
            "bookingcore_adapters.sql._tables",
        ]


class TestCommandLine:
    def test_upgrade_current_and_downgrade(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        assert migrations.main(["--url", url, "upgrade"]) == 0
        assert f"bookingcore schema at {migrations.head()}" in capsys.readouterr().out
        assert migrations.main(["--url", url, "current"]) == 0
        assert capsys.readouterr().out.strip() == migrations.head()
        assert migrations.main(["--url", url, "downgrade", "base"]) == 0
        assert "base (no tables)" in capsys.readouterr().out
        assert _tables(create_engine(url)) == {migrations.VERSION_TABLE}

    def test_the_url_may_follow_the_command_as_the_docs_write_it(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"sqlite:///{tmp_path / 'after.db'}"
        assert migrations.main(["upgrade", "--url", url]) == 0
        assert migrations.main(["current", "--url", url]) == 0
        assert capsys.readouterr().out.strip().endswith(migrations.head())
        assert migrations.main(["downgrade", "base", "--url", url]) == 0
        assert _tables(create_engine(url)) == {migrations.VERSION_TABLE}

    def test_the_url_comes_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv(migrations.URL_VARIABLE, f"sqlite:///{tmp_path / 'env.db'}")
        assert migrations.main(["upgrade"]) == 0
        assert (tmp_path / "env.db").exists()
        capsys.readouterr()

    def test_upgrade_sql_prints_the_ddl_without_touching_the_database(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = "postgresql+psycopg://nobody@127.0.0.1:1/never"  # never connected to
        assert migrations.main(["--url", url, "upgrade", "--sql"]) == 0
        ddl = capsys.readouterr().out
        assert "CREATE TABLE bookings" in ddl
        assert "CREATE UNIQUE INDEX" in ddl or "UNIQUE (idempotency_key)" in ddl

    def test_history_lists_the_shipped_revisions(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert migrations.main(["history"]) == 0
        assert "initial schema" in capsys.readouterr().out

    def test_without_a_url_it_says_what_to_set(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.delenv(migrations.URL_VARIABLE, raising=False)
        with pytest.raises(SystemExit) as exit_info:
            migrations.main(["current"])
        assert exit_info.value.code == 2
        assert migrations.URL_VARIABLE in capsys.readouterr().err


#: The booking indexes that hold only rows with a value (revision 0006).
PARTIAL_BOOKING_INDEXES = {
    "ix_bookings_assignee_id_created_at_id": "assignee_id",
    "ix_bookings_group_id": "group_id",
    "ix_bookings_partner_id_created_at_id": "partner_id",
    "ix_bookings_product_id_created_at_id": "product_id",
    "ix_bookings_supplier_id_created_at_id": "supplier_id",
}


def _index_definitions(engine: Engine) -> dict[str, str]:
    """Each index on ``bookings`` as the database prints it, in lower case."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'bookings' AND sql IS NOT NULL"
            )
        else:
            rows = connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bookings'"
                " AND schemaname = current_schema()"
            )
        return {name: definition.lower() for name, definition in rows}


def test_optional_booking_columns_index_only_the_bookings_that_have_a_value(
    database: Engine, tmp_path: Path
) -> None:
    migrations.upgrade(database)
    migrated = _index_definitions(database)
    made = create_engine(f"sqlite:///{tmp_path / 'made.db'}")
    SqlStore(made).create_schema()
    for definitions in (migrated, _index_definitions(made)):
        for name, column in PARTIAL_BOOKING_INDEXES.items():
            assert "where" in definitions[name], definitions[name]
            assert f"{column} is not null" in definitions[name].replace('"', "")
        assert "where" not in definitions["ix_bookings_status_created_at_id"]
    made.dispose()
    migrations.downgrade(database, "0005")
    for name in PARTIAL_BOOKING_INDEXES:
        assert "where" not in _index_definitions(database)[name]


def test_sqlite_lists_a_partners_bookings_from_the_partial_index(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    SqlStore(engine).create_schema()
    with engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM bookings WHERE partner_id = ?"
                " AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 20",
                ("p", "2026-01-01", "x"),
            )
        )
    engine.dispose()
    assert "ix_bookings_partner_id_created_at_id" in plan
    assert "TEMP B-TREE" not in plan  # read in order from the index, not sorted


def test_sqlite_lists_payments_needing_attention_from_the_partial_index(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    SqlStore(engine).create_schema()
    with engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM payments WHERE attention_since IS NOT NULL"
                " ORDER BY attention_since, id LIMIT 20"
            )
        )
    engine.dispose()
    assert "ix_payments_attention_since_id" in plan
    assert "TEMP B-TREE" not in plan  # read in order from the index, not sorted


def _outbox_options(engine: Engine) -> list[str] | None:
    with engine.connect() as connection:
        options: list[str] | None = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE oid = 'outbox'::regclass")
        ).scalar_one()
    return options


@pytest.mark.postgres
def test_outbox_pages_keep_room_for_the_updates_of_each_message(pg_store: SqlStore) -> None:
    """fillfactor 70 on PostgreSQL, from ``create_schema`` and from revision 0019."""
    engine = pg_store.engine
    assert _outbox_options(engine) == ["fillfactor=70"]
    metadata.drop_all(engine)
    migrations.upgrade(engine)
    assert _outbox_options(engine) == ["fillfactor=70"]
    migrations.downgrade(engine, "0017")
    assert _outbox_options(engine) is None


def _period_statistics(engine: Engine) -> dict[str, str]:
    """The bookings' statistics objects: name -> the expression they describe, as deparsed."""
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT stxname, (pg_get_statisticsobjdef_expressions(oid))[1]"
                " FROM pg_statistic_ext WHERE stxrelid = 'bookings'::regclass"
            )
        )
        return {str(name): str(expression) for name, expression in found}


@pytest.mark.postgres
def test_the_periods_reports_group_bookings_by_have_statistics(pg_store: SqlStore) -> None:
    """From ``create_schema`` and from revision 0025, the same; gone on a downgrade."""
    engine = pg_store.engine
    created = _period_statistics(engine)
    assert set(created) == {
        "st_bookings_created_day",
        "st_bookings_created_month",
        "st_bookings_starts_month",
    }
    starts_month = created["st_bookings_starts_month"]
    assert "date_trunc('month'::text, timezone('UTC'::text, starts_at))" in starts_month
    metadata.drop_all(engine)
    migrations.upgrade(engine)
    assert _period_statistics(engine) == created
    migrations.downgrade(engine, "0022")
    assert _period_statistics(engine) == {}


@pytest.mark.postgres
def test_a_business_zone_gets_statistics_on_its_own_periods(pg_store: SqlStore) -> None:
    """``describe_report_periods`` adds the zone's three, once; the UTC ones stay."""
    engine = pg_store.engine
    utc = _period_statistics(engine)
    pg_store.describe_report_periods(ZoneInfo("Asia/Kolkata"))
    pg_store.describe_report_periods(ZoneInfo("Asia/Kolkata"))  # already there: nothing to do
    pg_store.describe_report_periods(ZoneInfo("UTC"))  # revision 0025's
    found = _period_statistics(engine)
    added = {name: found[name] for name in set(found) - set(utc)}
    assert {name.rsplit("_", 1)[0] for name in added} == {
        "st_bookings_created_day_asia_kolkata",
        "st_bookings_created_month_asia_kolkata",
        "st_bookings_starts_month_asia_kolkata",
    }
    assert all("timezone('Asia/Kolkata'::text" in expression for expression in added.values())
    assert {name: found[name] for name in utc} == utc


def test_describing_report_periods_does_nothing_on_sqlite(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.create_schema()
    store.describe_report_periods(ZoneInfo("Europe/Berlin"))
    store.dispose()


def test_slots_gain_when_and_why_the_operator_called_them_off(database: Engine) -> None:
    """0037 adds ``slots.cancelled_at`` and ``slots.cancellation_reason`` (nullable):
    a slot stored before reads back not cancelled; a downgrade drops both."""
    migrations.upgrade(database, "0036")
    assert "cancelled_at" not in _columns(database, "slots")
    migrations.upgrade(database)
    assert {"cancelled_at", "cancellation_reason"} <= set(_columns(database, "slots"))
    assert _differences(database) == []
    migrations.downgrade(database, "0036")
    assert not {"cancelled_at", "cancellation_reason"} & set(_columns(database, "slots"))


def test_vouchers_and_their_redemptions_come_with_the_booking_columns(database: Engine) -> None:
    """0038 adds ``vouchers`` and ``voucher_redemptions`` and, on ``bookings``, the
    nullable ``voucher_code`` and ``voucher_discount_amount``: a booking stored before
    reads back without a voucher; a downgrade drops the tables and the columns."""
    migrations.upgrade(database, "0037")
    assert not {"vouchers", "voucher_redemptions"} & _tables(database)
    store = SqlStore(database)
    booked = _store_a_booking(store, Builder(), booking_too=False)
    booking = booked.booking
    _insert_booking_rows(database, booked)  # the live table's voucher columns are left out
    migrations.upgrade(database)
    assert {"vouchers", "voucher_redemptions"} <= _tables(database)
    assert {"voucher_code", "voucher_discount_amount"} <= _columns(database, "bookings")
    assert _differences(database) == []
    with store.unit_of_work() as uow:
        stored = uow.bookings.get(booking.id)
        assert stored is not None
        assert (stored.voucher_code, stored.voucher_discount) == (None, None)
    migrations.downgrade(database, "0037")
    assert not {"vouchers", "voucher_redemptions"} & _tables(database)
    assert not {"voucher_code", "voucher_discount_amount"} & _columns(database, "bookings")


#: The revision before 0039 (product requirements).
BEFORE_0039 = "0038"


def test_products_gain_nullable_requirements_read_back_checked(database: Engine) -> None:
    """0039 adds ``products.requirements`` (nullable JSON): a product stored before
    reads back without any (anyone may be booked), stored requirements read back
    equal, a row edited into requirements the library refuses is a typed error
    naming the part, and a downgrade drops the column."""
    migrations.upgrade(database, BEFORE_0039)
    assert "requirements" not in _columns(database, "products")
    products = metadata.tables["products"]
    old = Builder().product()
    _insert_product_row(database, old)  # the live table's requirements are left out
    migrations.upgrade(database)
    assert "requirements" in _columns(database, "products")
    assert _differences(database) == []
    rules = ProductRequirements(min_age=10, certificates=["PADI Open Water"])
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        found = uow.products.get(old.id)
        assert found is not None
        assert found.requirements is None
        found.requirements = rules
        uow.commit()
    with database.connect() as connection:
        stored = connection.execute(
            select(products.c.requirements).where(products.c.id == old.id)
        ).scalar_one()
    assert stored == {
        "version": 1,
        "min_age": 10,
        "max_age": None,
        "certificates": ["PADI Open Water"],
        "certificates_rule": "all",
    }
    with store.unit_of_work() as uow:
        assert uow.products.get(old.id).requirements == rules  # type: ignore[union-attr]
    edited = {**stored, "min_age": 12, "max_age": 8}
    with database.begin() as connection:
        connection.execute(
            products.update().where(products.c.id == old.id).values(requirements=edited)
        )
    with store.unit_of_work() as uow, pytest.raises(ValidationError) as caught:
        uow.products.get(old.id)
    assert caught.value.fields == ("requirements.max_age",)
    migrations.downgrade(database, BEFORE_0039)
    assert "requirements" not in _columns(database, "products")


#: The revision before 0040 (traveler attendance).
BEFORE_0040 = "0039"
_ATTENDANCE_COLUMNS = {
    "attendance",
    "attendance_recorded_at",
    "attendance_recorded_by_kind",
    "attendance_recorded_by_id",
    "attendance_note",
}


def test_booked_travelers_gain_nullable_attendance(database: Engine) -> None:
    """0040 adds the attendance columns to ``booking_travelers`` (all nullable): a
    traveler stored before reads back with no attendance, one recorded after reads
    back what was recorded, and a downgrade drops the columns."""
    migrations.upgrade(database, BEFORE_0040)
    assert not _ATTENDANCE_COLUMNS & _columns(database, "booking_travelers")
    store = SqlStore(database)
    booked = _store_a_booking(store, Builder(), booking_too=False)
    booking, traveler, slot = booked.booking, booked.traveler, booked.slot
    _insert_booking_rows(database, booked)  # the live table's attendance columns are left out
    migrations.upgrade(database)
    assert _columns(database, "booking_travelers") >= _ATTENDANCE_COLUMNS
    assert _differences(database) == []
    with store.unit_of_work() as uow:
        stored = uow.bookings.get_for_update(booking.id)
        assert stored is not None
        assert stored.travelers[0].attendance is None
        stored.record_attendance(
            {traveler.id: AttendanceMark(Attendance.NO_SHOW, "no answer")},
            lifecycle=RESERVATION,
            author=Author(Actor(ActorKind.STAFF, "7"), slot.starts_at, uuid4),
        )
        uow.commit()
    with store.unit_of_work() as uow:
        record = uow.bookings.get(booking.id).travelers[0].attendance  # type: ignore[union-attr]
    assert record == AttendanceRecord(
        Attendance.NO_SHOW, slot.starts_at, Actor(ActorKind.STAFF, "7"), "no answer"
    )
    store.dispose()
    migrations.downgrade(database, BEFORE_0040)
    assert not _ATTENDANCE_COLUMNS & _columns(database, "booking_travelers")


#: The revision before 0041 (loyalty tiers).
BEFORE_0041 = "0040"


def test_bookings_gain_nullable_loyalty_columns_and_lose_them_on_downgrade(
    database: Engine,
) -> None:
    """0041 adds ``bookings.loyalty_tier``, ``loyalty_percent`` and
    ``loyalty_discount_amount`` (nullable): a booking stored before reads back
    without a loyalty discount, one stored after keeps it, and a downgrade drops
    the columns."""
    loyalty = {"loyalty_tier", "loyalty_percent", "loyalty_discount_amount"}
    migrations.upgrade(database, BEFORE_0041)
    assert not loyalty & _columns(database, "bookings")
    store = SqlStore(database)
    booked = _store_a_booking(store, Builder(), booking_too=False)
    booking = booked.booking
    _insert_booking_rows(database, booked)  # the live table's loyalty columns are left out
    migrations.upgrade(database)
    assert loyalty <= _columns(database, "bookings")
    assert _differences(database) == []
    with store.unit_of_work() as uow:
        stored = uow.bookings.get(booking.id)
        assert stored is not None
        assert (stored.loyalty_tier, stored.loyalty_percent, stored.loyalty_discount) == (
            None,
            None,
            None,
        )
        stored.loyalty_tier, stored.loyalty_percent = "Gold", Decimal("12.5")
        stored.loyalty_discount = Money("12.50", stored.currency)
        stored.discount += stored.loyalty_discount
        stored.total -= stored.loyalty_discount
        uow.commit()
    with store.unit_of_work() as uow:
        again = uow.bookings.get(booking.id)
        assert again is not None
        assert (again.loyalty_tier, again.loyalty_percent, again.loyalty_discount) == (
            "Gold",
            Decimal("12.5"),
            Money("12.50", again.currency),
        )
    migrations.downgrade(database, BEFORE_0041)
    assert not loyalty & _columns(database, "bookings")


#: The revision before 0042 (alternative-date offers).
BEFORE_0042 = "0041"


def _indexes(engine: Engine, table: str) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes(table) if index["name"]}


def test_waiting_lists_gain_the_offered_slot_and_the_alternative_dates_index(
    database: Engine,
) -> None:
    """0042 adds ``waiting_lists.offered_slot_id`` (nullable) and the index that finds
    who waits for a day (GIN on PostgreSQL); a downgrade drops both."""
    migrations.upgrade(database, BEFORE_0042)
    assert "offered_slot_id" not in _columns(database, "waiting_lists")
    assert "ix_waiting_lists_alternative_dates" not in _indexes(database, "waiting_lists")
    make = Builder()
    location, product = make.location(), make.product()
    own = make.slot(location.id, product_id=product.id)
    other = make.slot(location.id, product_id=product.id, starts_at=own.starts_at + timedelta(1))
    customer = make.customer()
    day = own.starts_at.date() + timedelta(days=1)
    entry = make.waitlist_entry(own.id, customer.id, alternative_dates=[day])
    store = SqlStore(database)
    migrations.upgrade(database)
    assert "offered_slot_id" in _columns(database, "waiting_lists")
    assert "ix_waiting_lists_alternative_dates" in _indexes(database, "waiting_lists")
    assert _differences(database) == []
    if database.dialect.name == "postgresql":
        (gin,) = (
            i
            for i in inspect(database).get_indexes("waiting_lists")
            if i["name"] == "ix_waiting_lists_alternative_dates"
        )
        assert gin.get("dialect_options", {}).get("postgresql_using") == "gin"
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.products.add(product)
        uow.slots.add(own)
        uow.slots.add(other)
        uow.customers.add(customer)
        uow.waitlist.add(entry)
        uow.commit()
    with store.unit_of_work() as uow:
        found = uow.waitlist.list_waiting_for_day(product.id, location.id, day, other_than=other.id)
        assert [e.id for e in found] == [entry.id]
        assert found[0].offered_slot_id is None
        found[0].offer(now=T0, expires_at=T0 + timedelta(hours=1), slot_id=other.id)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.waitlist.get(entry.id).offered_slot_id == other.id  # type: ignore[union-attr]
    store.dispose()
    migrations.downgrade(database, BEFORE_0042)
    assert "offered_slot_id" not in _columns(database, "waiting_lists")
    assert "ix_waiting_lists_alternative_dates" not in _indexes(database, "waiting_lists")


#: The revision before 0043 (communication engagement indexes).
BEFORE_0043 = "0042"


def test_communications_gain_the_engagement_report_indexes(database: Engine) -> None:
    """0043 indexes ``booking_communications`` on ``sent_at`` and on ``failed_at`` (the
    engagement report's period); the upgraded schema is the mapping's, and a downgrade
    drops both."""

    def indexed() -> set[tuple[str, ...]]:
        found = inspect(database).get_indexes("booking_communications")
        return {tuple(str(name) for name in index["column_names"]) for index in found}

    migrations.upgrade(database, BEFORE_0043)
    assert not {("sent_at",), ("failed_at",)} & indexed()
    migrations.upgrade(database)
    assert {("sent_at",), ("failed_at",), ("type", "status")} <= indexed()
    assert _differences(database) == []
    migrations.downgrade(database, BEFORE_0043)
    assert not {("sent_at",), ("failed_at",)} & indexed()
    assert ("type", "status") in indexed()


#: The revision before 0044 (push devices).
BEFORE_0044 = "0043"


def test_push_devices_table_holds_one_row_per_token(database: Engine) -> None:
    """0044 adds ``push_devices`` (a token is unique; a customer's devices read back
    oldest first); the upgraded schema is the mapping's, and a downgrade drops it."""
    migrations.upgrade(database, BEFORE_0044)
    assert "push_devices" not in _tables(database)
    migrations.upgrade(database)
    assert "push_devices" in _tables(database)
    assert "ix_push_devices_customer_id_created_at" in _indexes(database, "push_devices")
    assert _differences(database) == []
    make = Builder()
    customer = make.customer()
    phone = PushDevice.register(
        device_id=PushDeviceId(uuid4()),
        customer_id=customer.id,
        platform="android",
        token="fcm-token-" + "a" * 150,
        label="Asha's phone",
        now=T0,
    )
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.push_devices.add(phone)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.push_devices.list_for_customer(customer.id) == [phone]
        uow.push_devices.add(
            PushDevice.register(
                device_id=PushDeviceId(uuid4()),
                customer_id=customer.id,
                platform="ios",
                token=phone.token,
                now=T0,
            )
        )
        with pytest.raises(DuplicateError):
            uow.commit()
    store.dispose()
    migrations.downgrade(database, BEFORE_0044)
    assert "push_devices" not in _tables(database)


#: The revision before 0045 (family accounts).
BEFORE_0045 = "0044"


def test_family_accounts_come_with_their_tables_and_go_on_downgrade(database: Engine) -> None:
    """0045 adds ``families``, ``family_members`` (one family per customer: a unique
    ``customer_id``) and ``family_invitations``; customers stored before stay in no
    family; the upgraded schema is the mapping's, and a downgrade drops the three."""
    family_tables = {"families", "family_members", "family_invitations"}
    migrations.upgrade(database, BEFORE_0045)
    assert not family_tables & _tables(database)
    store = SqlStore(database)
    make = Builder()
    owner, son = make.customer(), make.customer()
    with store.unit_of_work() as uow:
        uow.customers.add(owner)
        uow.customers.add(son)
        uow.commit()
    migrations.upgrade(database)
    assert family_tables <= _tables(database)
    assert _differences(database) == []
    unique = {
        tuple(index["column_names"])
        for index in inspect(database).get_indexes("family_members")
        if index["unique"]
    }
    assert ("customer_id",) in unique
    core = BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(T0),
        ids=SequentialIds(),
        notifier=RecordingNotifier(),
    )
    with pytest.raises(NotFoundError):
        core.families.family(owner.id, principal=Principal.customer(owner.id))
    sent = core.families.invite(
        owner.id, son.phone.e164, relation="son", principal=Principal.customer(owner.id)
    )
    core.families.accept(sent.id, principal=Principal.customer(son.id))
    view = core.families.family(son.id, principal=Principal.customer(son.id))
    assert [m.customer_id for m in view.members] == [owner.id, son.id]
    store.dispose()
    migrations.downgrade(database, BEFORE_0045)
    assert not family_tables & _tables(database)


#: The revision before 0046 (booking archive).
BEFORE_0046 = "0045"


def test_bookings_gain_archived_at_and_the_live_bookings_index(database: Engine) -> None:
    """0046 adds ``bookings.archived_at`` (nullable: every booking stored before is
    live) and ``ix_bookings_live_starts_at_id``, which holds the live bookings only
    (``WHERE archived_at IS NULL``); the upgraded schema is the mapping's, and a
    downgrade drops both."""
    migrations.upgrade(database)
    store = SqlStore(database)
    booking = _store_a_booking(store, Builder(), booking={"status": "completed"}).booking
    store.dispose()
    migrations.downgrade(database, BEFORE_0046)
    assert "archived_at" not in _columns(database, "bookings")
    assert "ix_bookings_live_starts_at_id" not in _indexes(database, "bookings")
    migrations.upgrade(database)
    assert "archived_at" in _columns(database, "bookings")
    definition = _index_definitions(database)["ix_bookings_live_starts_at_id"]
    assert "archived_at is null" in definition.replace('"', "")
    assert _differences(database) == []
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        stored = uow.bookings.get_for_update(booking.id)
        assert stored is not None
        assert stored.archived_at is None  # stored before the revision: live
        stored.archive(author=Author(Actor.system("tests"), T0, uuid4))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.bookings.get(booking.id).archived_at == T0  # type: ignore[union-attr]
    store.dispose()
    migrations.downgrade(database, BEFORE_0046)
    assert "archived_at" not in _columns(database, "bookings")


class TestSqliteForeignKeys:
    """SQLite rebuilds a table to change its columns (Alembic's batch mode); with the
    store's engine, which enforces foreign keys, dropping the old copy must neither
    delete the rows that refer to it nor be refused."""

    def _store_with_a_booking(self, tmp_path: Path) -> tuple[SqlStore, Any]:
        store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
        store.migrate()
        make = Builder()
        location = make.location()
        slot = make.slot(location.id)
        customer = make.customer()
        travelers = [make.traveler(customer.id), make.traveler(customer.id)]
        booking = make.booking(customer.id, slot, [t.id for t in travelers])
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.slots.add(slot)
            uow.customers.add(customer)
            for traveler in travelers:
                uow.travelers.add(traveler)
            uow.bookings.add(booking)
            uow.commit()
        return store, booking

    def _count(self, store: SqlStore, table: str) -> int:
        with store.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    def test_a_downgrade_rebuilding_bookings_keeps_their_travelers(self, tmp_path: Path) -> None:
        store, booking = self._store_with_a_booking(tmp_path)
        assert self._count(store, "booking_travelers") == 2
        # 0041's downgrade drops the loyalty columns: SQLite copies `bookings` anew
        migrations.downgrade(store, "0039")
        assert self._count(store, "booking_travelers") == 2
        migrations.upgrade(store)
        with store.unit_of_work() as uow:
            stored = uow.bookings.get(booking.id)
            assert stored is not None
            assert len(stored.travelers) == 2
        # the store's connections enforce foreign keys again afterwards
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        store.dispose()

    def test_a_migration_leaving_a_broken_reference_commits_nothing(self, tmp_path: Path) -> None:
        store, _ = self._store_with_a_booking(tmp_path)
        migrations.downgrade(store, "0045")
        with store.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA foreign_keys = OFF")
            driver.execute("UPDATE booking_travelers SET booking_id = 'no such booking'")
            driver.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(RuntimeError, match="references are broken"):
            migrations.upgrade(store)
        assert migrations.current(store) == "0045"
        assert "archived_at" not in _columns(store.engine, "bookings")
        store.dispose()


#: The revision before 0047 (share links): booking archive.
BEFORE_0047 = "0046"


def test_share_links_table_comes_with_0047_and_goes_on_downgrade(database: Engine) -> None:
    """0047 adds ``share_links`` (a token hash is unique; a booking's and a customer's
    links are indexed oldest first); a booking stored before can be shared and read
    by its token; the upgraded schema is the mapping's, and a downgrade drops it."""
    migrations.upgrade(database, BEFORE_0047)
    assert "share_links" not in _tables(database)
    store = SqlStore(database)
    booked = _store_a_booking(
        store,
        Builder(),
        location={"name": "Base camp", "address": "Manali bus stand"},
        slot={"name": "Hampta Pass trek"},
        traveler={"name": "Asha Rao"},
        booking_too=False,
    )
    _insert_booking_rows(database, booked)
    booking, customer = booked.booking, booked.customer
    migrations.upgrade(database)
    assert "share_links" in _tables(database)
    indexes = _indexes(database, "share_links")
    assert {"ix_share_links_booking_id_created_at", "ix_share_links_customer_id_created_at"} <= set(
        indexes
    )
    assert _differences(database) == []
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(T0), ids=SequentialIds())
    issued = core.sharing.create_link(
        booking.id, principal=Principal.customer(customer.id), show_first_names=True
    )
    assert issued.token is not None
    shared = core.sharing.view(issued.token)
    assert (shared.trip_name, shared.meeting_point) == ("Hampta Pass trek", "Manali bus stand")
    assert shared.first_names == ("Asha",)
    with store.unit_of_work() as uow:
        uow.share_links.add(attrs.evolve(issued.link, id=ShareLinkId(uuid4())))
        with pytest.raises(DuplicateError):
            uow.commit()
    store.dispose()
    migrations.downgrade(database, BEFORE_0047)
    assert "share_links" not in _tables(database)


#: The revision before 0048 (stalled messages).
BEFORE_0048 = "0047"


def test_communications_gain_sending_since_and_its_partial_index(database: Engine) -> None:
    """0048 adds ``booking_communications.sending_since`` (nullable: a message logged
    before is not the stalled-message job's) and ``ix_booking_communications_sending_since``
    over the messages that have one; the upgraded schema is the mapping's, and a
    downgrade drops both and keeps the messages."""
    migrations.upgrade(database, BEFORE_0048)
    assert "sending_since" not in _columns(database, "booking_communications")
    store = SqlStore(database)
    booked = _store_a_booking(store, Builder(), booking_too=False)
    _insert_booking_rows(database, booked)
    booking, customer = booked.booking, booked.customer
    with database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO booking_communications (id, booking_id, customer_id, type, channel,"
                " status, recipient, content, created_by_kind, created_at)"
                " VALUES (:id, :booking, :customer, 'confirmation', 'email', 'pending',"
                " 'mira@example.com', 'Hello', 'system', :at)"
            ),
            _uuid_parameters(
                database, {"id": uuid4(), "booking": booking.id, "customer": customer.id}
            )
            | {"at": T0},
        )
    store.dispose()
    migrations.upgrade(database)
    assert "sending_since" in _columns(database, "booking_communications")
    with database.connect() as connection:
        if database.dialect.name == "sqlite":
            query = "SELECT sql FROM sqlite_master WHERE name = :name"
        else:
            query = (
                "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
                " AND schemaname = current_schema()"
            )
        definition = connection.execute(
            text(query), {"name": "ix_booking_communications_sending_since"}
        ).scalar_one()
    assert "sending_since is not null" in definition.replace('"', "").lower()
    assert _differences(database) == []
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        (old,) = uow.communications.list_for_booking(booking.id)
        assert (old.status.value, old.sending_since) == ("pending", None)
        assert list(uow.communications.list_stalled(T0 + timedelta(days=1), 10)) == []
    store.dispose()
    migrations.downgrade(database, BEFORE_0048)
    assert "sending_since" not in _columns(database, "booking_communications")
    assert "ix_booking_communications_sending_since" not in _indexes(
        database, "booking_communications"
    )
    with database.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM booking_communications"))
        assert count.scalar_one() == 1


#: The revision before 0049 (message claims, share link opens).
BEFORE_0049 = "0048"


def test_messages_gain_a_claim_and_share_links_count_their_opens(database: Engine) -> None:
    """0049 adds ``booking_communications.sending_claim`` (nullable: a message stored
    before is held by nobody, so its first sender claims it) and
    ``share_links.view_count`` (0 for a link stored before) and ``last_opened_at``;
    the upgraded schema is the mapping's, and a downgrade drops the three columns and
    keeps the rows."""
    migrations.upgrade(database, BEFORE_0049)
    assert "sending_claim" not in _columns(database, "booking_communications")
    assert not {"view_count", "last_opened_at"} & _columns(database, "share_links")
    store = SqlStore(database)
    booked = _store_a_booking(
        store,
        Builder(),
        location={"name": "Base camp"},
        slot={"name": "Hampta Pass trek"},
        booking_too=False,
    )
    _insert_booking_rows(database, booked)
    booking, customer = booked.booking, booked.customer
    message_id = uuid4()
    link_id = uuid4()
    values = {"message": message_id, "link": link_id, "booking": booking.id}
    values |= {"customer": customer.id}
    with database.begin() as connection:
        params = _uuid_parameters(database, values)
        connection.execute(
            text(
                "INSERT INTO booking_communications (id, booking_id, customer_id, type, channel,"
                " status, recipient, content, created_by_kind, created_at, sending_since)"
                " VALUES (:message, :booking, :customer, 'confirmation', 'email', 'pending',"
                " 'mira@example.com', 'Hello', 'system', :at, :at)"
            ),
            params | {"at": T0},
        )
        connection.execute(
            text(
                "INSERT INTO share_links (id, booking_id, customer_id, token_hash, token_last4,"
                " show_first_names, show_itinerary, created_at, updated_at, expires_at)"
                " VALUES (:link, :booking, :customer, :hash, 'abcd', false, true, :at, :at,"
                " :until)"
            ),
            params | {"hash": "sha256$" + "0" * 64, "at": T0, "until": T0 + timedelta(days=30)},
        )
    store.dispose()
    migrations.upgrade(database)
    assert "sending_claim" in _columns(database, "booking_communications")
    assert {"view_count", "last_opened_at"} <= _columns(database, "share_links")
    assert _differences(database) == []
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        old = uow.communications.get(CommunicationId(message_id))
        assert old is not None
        assert (old.status.value, old.sending_claim) == ("pending", None)
        assert uow.communications.claim_for_sending(old.id, claim=uuid4(), at=T0)
        link = uow.share_links.get(ShareLinkId(link_id))
        assert link is not None
        assert (link.view_count, link.last_opened_at) == (0, None)
        opened = uow.share_links.record_open(link.id, T0)
        assert opened is not None
        assert opened.view_count == 1
        uow.commit()
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(T0), ids=SequentialIds())
    issued = core.sharing.create_link(booking.id, principal=Principal.customer(customer.id))
    assert issued.token is not None
    core.sharing.view(issued.token)
    listed = core.sharing.list_links(booking.id, principal=Principal.customer(customer.id))
    counts = {x.id: (x.view_count, x.last_opened_at) for x in listed}
    assert counts == {issued.link.id: (1, T0), link_id: (1, T0)}
    store.dispose()
    migrations.downgrade(database, BEFORE_0049)
    assert "sending_claim" not in _columns(database, "booking_communications")
    assert not {"view_count", "last_opened_at"} & _columns(database, "share_links")
    with database.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM share_links")).scalar_one() == 2
        messages = connection.execute(text("SELECT count(*) FROM booking_communications"))
        assert messages.scalar_one() == 1


#: The revision before 0050 (message attempts).
BEFORE_0050 = "0049"


def test_messages_gain_their_attempts_and_whether_their_failure_may_work_later(
    database: Engine,
) -> None:
    """0050 adds ``booking_communications.attempts`` (0 for a message stored before)
    and ``retryable`` (``NULL``: unknown, so a reminder that failed before the upgrade
    is not tried again); the upgraded schema is the mapping's, and a downgrade drops
    both columns and keeps the messages."""
    migrations.upgrade(database, BEFORE_0050)
    assert not {"attempts", "retryable"} & _columns(database, "booking_communications")
    store = SqlStore(database)
    booked = _store_a_booking(store, Builder(), booking_too=False)
    _insert_booking_rows(database, booked)
    booking, customer = booked.booking, booked.customer
    message_id = uuid4()
    with database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO booking_communications (id, booking_id, customer_id, type, channel,"
                " status, recipient, content, created_by_kind, created_at, failed_at,"
                " failed_reason, dedupe_key)"
                " VALUES (:id, :booking, :customer, 'reminder', 'email', 'failed',"
                " 'mira@example.com', 'Hello', 'system', :at, :at, 'HTTP 503', :key)"
            ),
            _uuid_parameters(
                database, {"id": message_id, "booking": booking.id, "customer": customer.id}
            )
            | {"at": T0, "key": f"reminder:{booking.id}"},
        )
    store.dispose()
    migrations.upgrade(database)
    assert {"attempts", "retryable"} <= _columns(database, "booking_communications")
    assert _differences(database) == []
    store = SqlStore(database)
    later = T0 + timedelta(hours=1)
    with store.unit_of_work() as uow:
        old = uow.communications.get(CommunicationId(message_id))
        assert old is not None
        assert (old.status.value, old.attempts, old.retryable) == ("failed", 0, None)
        assert not old.retry_due(failed_by=later, attempts_below=3)
        assert not uow.communications.requeue_for_retry(
            old.id, at=later, failed_by=later, attempts_below=3
        )
        assert uow.communications.requeue_failed(old.id, at=later)
        assert uow.communications.claim_for_sending(old.id, claim=uuid4(), at=later)
        uow.commit()
    with store.unit_of_work() as uow:
        claimed = uow.communications.get(CommunicationId(message_id))
        assert claimed is not None
        assert (claimed.status.value, claimed.attempts) == ("pending", 1)
    store.dispose()
    migrations.downgrade(database, BEFORE_0050)
    assert not {"attempts", "retryable"} & _columns(database, "booking_communications")
    with database.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM booking_communications"))
        assert count.scalar_one() == 1


#: The revision before 0051 (what a refund's provider reported).
BEFORE_0051 = "0050"


def test_refunds_gain_what_their_provider_reported(database: Engine) -> None:
    """0051 adds ``payment_refunds.provider_status`` (``NULL`` for a refund stored before:
    what its provider reported was not kept); the upgraded schema is the mapping's, a
    refund that ended stays as it ended, and a downgrade drops the column and keeps the
    refunds."""
    migrations.upgrade(database, BEFORE_0051)
    assert "provider_status" not in _columns(database, "payment_refunds")
    store = SqlStore(database)
    make = Builder()
    booked = _store_a_booking(store, make, booking_too=False)
    _insert_booking_rows(database, booked)
    booking = booked.booking
    payment = make.payment(booking, amount=Money("1000", "INR"))
    payment.capture(now=T0)
    with store.unit_of_work() as uow:
        uow.payments.add(payment)
        uow.commit()
    ended, early = uuid4(), uuid4()
    with database.begin() as connection:
        for ident, status, reference, minutes in (
            (ended, "succeeded", "re_ended", 1),
            (early, "unreconciled", "re_early", 2),
        ):
            connection.execute(
                text(
                    "INSERT INTO payment_refunds (id, payment_id, amount, currency, status,"
                    " provider_reference, created_at, updated_at, completed_at, version)"
                    " VALUES (:id, :payment, 100.00, 'INR', :status, :reference, :at, :at,"
                    " :completed, 1)"
                ),
                _uuid_parameters(database, {"id": ident, "payment": payment.id})
                | {
                    "status": status,
                    "reference": reference,
                    "at": T0 + timedelta(minutes=minutes),
                    "completed": T0 if status == "succeeded" else None,
                },
            )
    store.dispose()
    migrations.upgrade(database)
    assert "provider_status" in _columns(database, "payment_refunds")
    assert _differences(database) == []
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        refunds = uow.refunds.list_for_payment(payment.id)
        assert [(r.status.value, r.provider_status) for r in refunds] == [
            ("succeeded", None),
            ("unreconciled", None),
        ]
        locked = uow.payments.get_for_update(payment.id)
        assert locked is not None
        settled, unreconciled = refunds
        # A refund that ended before reports were kept goes back on nothing (its bank
        # returning it later, a failed report, is news: tests/unit/test_payments.py).
        assert not locked.report_refund(settled, "pending", now=T0 + timedelta(hours=1))
        assert locked.report_refund(unreconciled, "pending", now=T0 + timedelta(hours=1))
        uow.commit()
    with store.unit_of_work() as uow:
        stored = uow.refunds.get_by_provider_reference("re_early")
        assert stored is not None
        assert stored.provider_status is RefundStatus.PENDING
    store.dispose()
    migrations.downgrade(database, BEFORE_0051)
    assert "provider_status" not in _columns(database, "payment_refunds")
    with database.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM payment_refunds"))
        assert count.scalar_one() == 2


#: The revision before 0052 (partners matched by contact email without regard to case).
BEFORE_0052 = "0051"


def _insert_partners_before_0052(engine: Engine, make: Builder, emails: list[str]) -> list[UUID]:
    """Partner rows as a database at 0051 holds them: no ``contact_email_key``; their ids."""
    table = metadata.tables["partners"]
    rows = []
    for email in emails:
        partner = make.partner()
        rows.append(
            {
                "id": partner.id,
                "name": partner.name,
                "company_name": partner.company_name,
                "contact_email": email,
                "api_key": partner.api_key,
                "allowed_locations": [],
                "is_active": True,
                "settings": {},
                "created_at": partner.created_at,
                "updated_at": partner.updated_at,
                "version": partner.version,
            }
        )
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    return [row["id"] for row in rows]


def test_partners_stored_before_the_contact_email_key_are_found_by_any_case(
    database: Engine,
) -> None:
    """0052 gives the partners already stored their contact email's match key (Python's
    case folding), moves the unique constraint to it and keeps what refers to them; a
    downgrade drops the key and makes ``contact_email`` unique again."""
    migrations.upgrade(database, BEFORE_0052)
    assert "contact_email_key" not in _columns(database, "partners")
    make = Builder()
    # More rows than one batch of keys, so the last batch has to be written too.
    emails = ["Ops@agency.example", "JOSÉ@partner.example"]
    emails += [f"Desk{n}@partner.example" for n in range(1000)]
    ops, jose, *_ = _insert_partners_before_0052(database, make, emails)
    store = SqlStore(database)  # foreign keys enforced on SQLite from here on
    customer = make.customer(partner_id=ops, created_by_partner_id=ops)
    with store.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.commit()
    store.dispose()
    migrations.upgrade(database)
    assert migrations.current(database) == migrations.head()
    assert _differences(database) == []
    store = SqlStore(database)

    def by_email(address: str) -> list[Any]:
        query = PartnerFilter(contact_email=EmailAddress(address))
        with store.unit_of_work() as uow:
            return list(uow.partners.list(query, PageRequest()))

    found_ops = by_email("ops@agency.example")
    assert [p.id for p in found_ops] == [ops]
    assert found_ops[0].contact_email.value == "Ops@agency.example"  # kept as given
    assert [p.id for p in by_email("josé@Partner.example")] == [jose]
    assert [p.contact_email.value for p in by_email("DESK999@partner.example")] == [
        "Desk999@partner.example"
    ]
    with store.unit_of_work() as uow:  # the partner's customer is still its own
        stored = uow.customers.get(customer.id)
    assert stored is not None
    assert stored.partner_id == ops
    with store.unit_of_work() as uow:  # the key is unique now
        uow.partners.add(make.partner(contact_email=EmailAddress("OPS@agency.example")))
        with pytest.raises(DuplicateError):
            uow.commit()
    store.dispose()
    migrations.downgrade(database, BEFORE_0052)
    assert "contact_email_key" not in _columns(database, "partners")
    unique = inspect(database).get_unique_constraints("partners")
    assert ["contact_email"] in [u["column_names"] for u in unique]
    with database.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM partners"))
        assert count.scalar_one() == len(emails)
        owner = connection.execute(text("SELECT count(*) FROM customers WHERE partner_id IS NULL"))
        assert owner.scalar_one() == 0


def test_partner_contact_emails_that_differ_only_in_case_stop_the_upgrade(
    database: Engine,
) -> None:
    """0052 names the clashing addresses and changes nothing: no partner is merged."""
    migrations.upgrade(database, BEFORE_0052)
    make = Builder()
    emails = [
        "Ops@agency.example",
        "desk@agency.example",
        "ops@agency.example",
        "OPS@agency.example",
    ]
    _insert_partners_before_0052(database, make, emails)
    with pytest.raises(RuntimeError, match="differ only in case") as refused:
        migrations.upgrade(database)
    named = "'OPS@agency.example', 'Ops@agency.example', 'ops@agency.example'"
    assert named in str(refused.value)
    assert "desk@agency.example" not in str(refused.value)
    assert migrations.current(database) == BEFORE_0052
    assert "contact_email_key" not in _columns(database, "partners")
    partners = metadata.tables["partners"]
    with database.connect() as connection:
        stored = connection.execute(select(partners.c.contact_email)).scalars().all()
    assert sorted(stored) == sorted(emails)
    with database.begin() as connection:  # someone decides which partner keeps it ...
        connection.execute(
            delete(partners).where(
                partners.c.contact_email.in_(["ops@agency.example", "OPS@agency.example"])
            )
        )
    migrations.upgrade(database)  # ... and the upgrade goes through
    assert migrations.current(database) == migrations.head()


def test_upgrade_sql_fills_the_partner_email_key_with_lower(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Printed for a DBA (``upgrade --sql``), 0052 fills the key with SQL's ``lower()``:
    no rows to read."""
    url = "postgresql+psycopg://nobody@127.0.0.1:1/never"  # never connected to
    assert migrations.main(["--url", url, "upgrade", f"{BEFORE_0052}:0052", "--sql"]) == 0
    ddl = capsys.readouterr().out
    assert "SET contact_email_key=lower(partners.contact_email)" in ddl
    assert "DROP CONSTRAINT uq_partners_contact_email" in ddl
    assert "uq_partners_contact_email_key UNIQUE (contact_email_key)" in ddl


#: The revision before 0053 (a partner's webhook endpoint can be disabled; attempt logs
#: written before URL passwords were masked are masked).
BEFORE_0053 = "0052"


def test_webhook_attempts_logged_before_masking_lose_their_passwords(
    database: Engine,
) -> None:
    """0053 masks the password of every URL in the stored attempt log (its URL, error and
    excerpt) and in the delivery's last error, also where an error quotes it bare, and
    leaves other text alone; partners get ``webhook_disabled_at`` and ``_reason``, NULL.
    A downgrade drops the two columns."""
    migrations.upgrade(database, BEFORE_0053)
    assert "webhook_disabled_at" not in _columns(database, "partners")
    make = Builder()
    partner = make.partner()
    with database.begin() as connection:
        connection.execute(
            metadata.tables["partners"].insert(),
            {
                "id": partner.id,
                "name": partner.name,
                "company_name": partner.company_name,
                "contact_email": partner.contact_email.value,
                "contact_email_key": partner.contact_email.match_key,
                "api_key": partner.api_key,
                "webhook_url": "https://hooks:s3cr%40t!@partner.example/in",
                "allowed_locations": [],
                "is_active": True,
                "settings": {},
                "created_at": partner.created_at,
                "updated_at": partner.updated_at,
                "version": partner.version,
            },
        )
    secret_url = "https://hooks:s3cr%40t!@partner.example/in"
    plain_url = "https://partner.example/other"
    delivery = WebhookDelivery.schedule(
        event_id=uuid4(),
        partner_id=partner.id,
        topic=WebhookTopic.BOOKING_CREATED,
        payload={"type": "booking.created"},
        now=T0,
    )
    delivery.last_error = "ConnectError: cannot reach hooks:s3cr@t!@partner.example"
    other = WebhookDelivery.schedule(
        event_id=uuid4(),
        partner_id=partner.id,
        topic=WebhookTopic.BOOKING_PAID,
        payload={"type": "booking.paid"},
        now=T0,
    )
    other.last_error = "HTTP 500: write to ops@partner.example"

    def attempt(of: WebhookDelivery, number: int, url: str, **fields: Any) -> WebhookAttempt:
        return WebhookAttempt(
            id=WebhookAttempt.key(of.id, number),
            delivery_id=of.id,
            number=number,
            started_at=T0,
            url=url,
            succeeded=False,
            latency_ms=5,
            **fields,
        )

    store = SqlStore(database)
    with store.unit_of_work() as uow:
        uow.webhook_deliveries.add(delivery)
        uow.webhook_deliveries.add(other)
        uow.webhook_attempts.add(
            attempt(
                delivery,
                1,
                secret_url,
                error=f"InvalidURL: {secret_url} is odd; password s3cr@t! refused",
                response_excerpt="see ftp://u:pw@mirror.example/x",
            )
        )
        uow.webhook_attempts.add(attempt(delivery, 2, secret_url, status_code=500))
        uow.webhook_attempts.add(
            attempt(other, 1, plain_url, error="mail ops@partner.example", status_code=500)
        )
        uow.commit()
    store.dispose()
    migrations.upgrade(database)
    assert migrations.current(database) == migrations.head()
    assert _differences(database) == []
    masked_url = "https://hooks:***@partner.example/in"
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        first, second = uow.webhook_attempts.list_for_delivery(delivery.id)
        [untouched] = uow.webhook_attempts.list_for_delivery(other.id)
        stored = uow.webhook_deliveries.get(delivery.id)
        stored_other = uow.webhook_deliveries.get(other.id)
        migrated = uow.partners.get(partner.id)
    store.dispose()
    assert (first.url, second.url) == (masked_url, masked_url)
    assert first.error == f"InvalidURL: {masked_url} is odd; password *** refused"
    assert first.response_excerpt == "see ftp://u:***@mirror.example/x"
    assert (untouched.url, untouched.error) == (plain_url, "mail ops@partner.example")
    assert stored is not None
    assert stored_other is not None
    assert stored.last_error == "ConnectError: cannot reach hooks:***@partner.example"
    assert stored_other.last_error == "HTTP 500: write to ops@partner.example"
    assert migrated is not None
    assert (migrated.webhook_disabled_at, migrated.webhook_disabled_reason) == (None, None)
    assert migrated.webhook_url == secret_url  # the partner's own URL is sent to as it is
    migrations.downgrade(database, BEFORE_0053)
    columns = _columns(database, "partners")
    assert "webhook_disabled_at" not in columns
    assert "webhook_disabled_reason" not in columns
    with database.connect() as connection:
        urls = connection.execute(text("SELECT url FROM webhook_attempts")).scalars().all()
    assert sorted(urls) == sorted([masked_url, masked_url, plain_url])


#: The revision before 0054 (bookings name their trip, documents their quotation).
BEFORE_0054 = "0053"


def test_bookings_gain_their_trip_from_the_trips_lists_and_documents_their_quotation(
    database: Engine,
) -> None:
    """0054 adds ``bookings.trip_id`` and ``booking_documents.quotation_id`` (nullable,
    referencing ``trips`` and ``quotations``, indexed) and fills each stored booking's
    trip from the trip listing it; documents stored before keep NULL. The upgraded
    schema is the mapping's; a downgrade drops both columns and their indexes."""
    migrations.upgrade(database)
    store = SqlStore(database)
    make = Builder()
    booked = _store_a_booking(store, make)
    booking = booked.booking
    loose = make.booking(booked.customer.id, booked.slot, [booked.traveler.id])
    trip = make.trip(booked.customer.id, booking_ids=(booking.id,))
    empty = make.trip(booked.customer.id)
    quotation = make.quotation(booked.customer.id, booked.slot.id)
    document = Document(
        id=DocumentId(uuid4()),
        booking_id=booking.id,
        kind=DocumentKind.QUOTATION,
        filename="quotation-v1.txt",
        media_type="text/plain; charset=utf-8",
        content="Quotation",
        created_at=T0,
    )
    with store.unit_of_work() as uow:
        uow.bookings.add(loose)
        uow.trips.add(trip)
        uow.trips.add(empty)
        uow.quotations.add(quotation)
        uow.documents.add(document)
        uow.commit()
    store.dispose()
    migrations.downgrade(database, BEFORE_0054)
    assert "trip_id" not in _columns(database, "bookings")
    assert "ix_bookings_trip_id" not in _indexes(database, "bookings")
    assert "quotation_id" not in _columns(database, "booking_documents")
    assert "ix_booking_documents_quotation_id" not in _indexes(database, "booking_documents")
    migrations.upgrade(database)
    assert migrations.current(database) == migrations.head()
    assert _differences(database) == []
    assert "ix_bookings_trip_id" in _indexes(database, "bookings")
    assert "ix_booking_documents_quotation_id" in _indexes(database, "booking_documents")
    store = SqlStore(database)
    with store.unit_of_work() as uow:
        on_trip = uow.bookings.get(booking.id)
        off_trip = uow.bookings.get(loose.id)
        stored = uow.documents.get(document.id)
    assert on_trip is not None
    assert (on_trip.trip_id, on_trip.version) == (trip.id, booking.version)
    assert off_trip is not None
    assert off_trip.trip_id is None
    assert stored is not None
    assert stored.quotation_id is None
    with store.unit_of_work() as uow:
        uow.documents.add(attrs.evolve(document, id=DocumentId(uuid4()), quotation_id=uuid4()))
        with pytest.raises(ConflictError):
            uow.commit()  # the reference holds in the database
    store.dispose()
    migrations.downgrade(database, BEFORE_0054)
    assert "trip_id" not in _columns(database, "bookings")
    assert "quotation_id" not in _columns(database, "booking_documents")
