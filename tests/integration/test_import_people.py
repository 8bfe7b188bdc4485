"""Customers and travelers files through the import pipeline, on memory, SQLite and PostgreSQL.

A business moving from its old ``users`` and ``participants`` tables imports
them as a customers file and a travelers file: customers are found by phone,
then by email, filled in or registered; travelers are saved under the customer
their row names. Preview, dry run, per-cell errors, retry and re-runs behave as
for bookings.
"""

from __future__ import annotations

from datetime import date

import pytest
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    CustomerFilter,
    ImportSettings,
    PageRequest,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    AuditAction,
    BookingSource,
    Customer,
    CustomerRegistered,
    ImportKind,
    ImportStatus,
    TravelerChanged,
)
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
CUSTOMERS = ImportSettings(kind="customers")
TRAVELERS = ImportSettings(kind=ImportKind.TRAVELERS)
CUSTOMER_HEADER = ("Full Name", "Mobile", "E-mail", "Signed up")
TRAVELER_HEADER = ("participant_name", "customer_phone", "customer_email", "dob", "gender",
                   "dietary", "medical", "emergency_contact", "emergency_phone",
                   "passport")  # fmt: skip


def phone(n: int) -> str:
    return f"+9198{n:08d}"


def traveler(
    name: str,
    *,
    customer_phone: str = "",
    customer_email: str = "",
    born: str = "",
    gender: str = "",
    dietary: str = "",
    medical: str = "",
    contact: str = "",
    contact_phone: str = "",
) -> tuple[str, ...]:
    return (name, customer_phone, customer_email, born, gender, dietary, medical, contact,
            contact_phone, "P1234567")  # fmt: skip


@pytest.fixture
def core(any_store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(uow_factory=any_store.unit_of_work, clock=FixedClock(), ids=SequentialIds())


def customers(core: BookingCore) -> list[Customer]:
    page = core.customers.list(CustomerFilter(), PageRequest(limit=500), principal=ADMIN)
    return sorted(page.items, key=lambda c: c.phone.e164)


def errors(core: BookingCore, job_id: object) -> dict[int, tuple[str, str | None, str]]:
    """Row -> (code, column, message) of the first problem of each failed row."""
    found = core.imports.errors(job_id, principal=ADMIN)  # type: ignore[arg-type]
    return {
        e.row_number: (e.problems[0].code, e.problems[0].column, e.problems[0].message)
        for e in found
    }


class TestCustomersFile:
    def test_a_users_table_becomes_customers_registered_by_phone_through_the_one_path(
        self, core: BookingCore
    ) -> None:
        source = ListSource(
            CUSTOMER_HEADER,
            [(f"Customer {n}", phone(n), f"c{n}@example.com", str(n)) for n in range(5)],
        )
        job = core.imports.run_file(source, principal=ADMIN, settings=CUSTOMERS)

        assert job.kind is ImportKind.CUSTOMERS
        assert (job.status, job.created, job.updated, job.skipped, job.failed) == (
            ImportStatus.COMPLETED, 5, 0, 0, 0,
        )  # fmt: skip
        found = customers(core)
        assert [(c.name, c.phone.e164, str(c.email)) for c in found] == [
            (f"Customer {n}", phone(n), f"c{n}@example.com") for n in range(5)
        ]
        assert {c.source for c in found} == {BookingSource.IMPORT}
        trail = core.audit.trail("customer", found[0].id, principal=ADMIN)
        assert [entry.action for entry in trail] == [AuditAction.CREATED]

    def test_customers_on_file_are_found_by_phone_then_email_and_only_blank_fields_filled(
        self, core: BookingCore
    ) -> None:
        """A stored phone-only customer gets the file's name and email; one found by email
        keeps their phone and name; a full profile is left as it is (a skip)."""
        phone_only = core.customers.register(phone(1), principal=ADMIN).customer
        by_email = core.customers.register(
            phone(2), principal=ADMIN, name="Meera Iyer", email="meera@example.com"
        ).customer
        complete = core.customers.register(
            phone(3), principal=ADMIN, name="Ravi Kumar", email="ravi@example.com"
        ).customer
        source = ListSource(
            CUSTOMER_HEADER,
            [
                ("Asha Rao", "+91 98000 00001", "asha@example.com", "1"),  # phone, other notation
                ("M. Iyer", "+919899999999", "meera@example.com", "2"),  # another phone, her email
                ("Someone Else", phone(3), "else@example.com", "3"),  # full profile kept
            ],
        )
        job = core.imports.run_file(source, principal=ADMIN, settings=CUSTOMERS)

        assert (job.created, job.updated, job.skipped, job.failed) == (0, 1, 2, 0)
        assert len(customers(core)) == 3
        filled = core.customers.get(phone_only.id, principal=ADMIN)
        assert (filled.name, str(filled.email)) == ("Asha Rao", "asha@example.com")
        kept = core.customers.get(by_email.id, principal=ADMIN)
        assert (kept.phone.e164, kept.name) == (phone(2), "Meera Iyer")
        same = core.customers.get(complete.id, principal=ADMIN)
        assert (same.name, str(same.email)) == ("Ravi Kumar", "ravi@example.com")

    def test_a_person_twice_in_one_file_is_one_customer_and_a_rerun_creates_nothing(
        self, core: BookingCore
    ) -> None:
        source = ListSource(
            CUSTOMER_HEADER,
            [
                ("", phone(1), "", "1"),
                ("Asha Rao", "+91 98000-00001", "", "1b"),  # the same phone: fills the name
                ("Asha R.", "", "asha@example.com", "1c"),  # email unknown so far: no phone
                ("Asha Rao", phone(1), "asha@example.com", "1d"),  # fills the email
                ("Asha Rao", "", "asha@example.com", "1e"),  # now found by email
            ],
        )
        job = core.imports.run_file(
            source, principal=ADMIN, settings=ImportSettings(kind="customers", chunk_size=2)
        )

        assert (job.created, job.updated, job.skipped, job.failed) == (1, 2, 1, 1)
        assert errors(core, job.id) == {
            4: (
                "unknown_customer",
                "E-mail",
                "no customer has this email; a phone number is needed to register one",
            )
        }
        assert [(c.name, str(c.email)) for c in customers(core)] == [
            ("Asha Rao", "asha@example.com")
        ]
        again = core.imports.run_file(source, principal=ADMIN, settings=CUSTOMERS)
        assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 5, 0)
        assert len(customers(core)) == 1

    def test_every_bad_cell_is_reported_with_its_column_cell_and_value(
        self, core: BookingCore
    ) -> None:
        source = ListSource(
            CUSTOMER_HEADER,
            [
                ("Asha Rao", "12345", "not-an-email", "1"),
                ("A", phone(2), "", "2"),
                ("Nobody", "", "", "3"),
                ("Fine Person", phone(4), "", "4"),
            ],
            file_format="xlsx",
            has_cells=True,
        )
        job = core.imports.run_file(source, principal=ADMIN, settings=CUSTOMERS)

        assert (job.created, job.failed) == (1, 3)
        problems = {
            e.row_number: [(p.code, p.column, p.cell, p.value) for p in e.problems]
            for e in core.imports.errors(job.id, principal=ADMIN)
        }
        assert problems[2][0][1:] == ("Mobile", "B2", "12345")
        assert problems[2][1][1:] == ("E-mail", "C2", "not-an-email")
        assert problems[3] == [("invalid_length", "Full Name", "A3", "A")]
        assert problems[4] == [("required", "Mobile", "B4", "")]
        assert job.error_summary == {problems[2][0][0]: 1, "invalid_length": 1, "required": 1}

    def test_a_file_without_a_phone_or_email_column_is_refused_before_anything_starts(
        self, core: BookingCore
    ) -> None:
        source = ListSource(("Full Name", "Signed up"), [("Asha Rao", "2019")])
        with pytest.raises(ValidationError) as caught:
            core.imports.start(source, principal=ADMIN, settings=CUSTOMERS)
        assert (caught.value.errors[0].field, caught.value.errors[0].code) == (
            "file",
            "missing_column",
        )
        assert core.imports.list(principal=ADMIN).items == []
        wrong = ImportSettings(kind="customers", mapping={"Signed up": "signup"})
        with pytest.raises(ValidationError) as unknown:
            core.imports.preview(source, principal=ADMIN, settings=wrong)
        assert unknown.value.errors[0].code == "unknown_column"

    def test_preview_and_dry_run_promise_what_the_run_does_and_write_nothing(
        self, core: BookingCore
    ) -> None:
        core.customers.register(phone(1), principal=ADMIN)
        source = ListSource(
            CUSTOMER_HEADER,
            [
                ("Asha Rao", phone(1), "", "1"),
                ("Ravi Kumar", phone(2), "ravi@example.com", "2"),
                ("Ravi K", phone(2), "", "3"),
                ("Lost", "", "lost@example.com", "4"),
            ],
        )
        preview = core.imports.preview(source, principal=ADMIN, settings=CUSTOMERS)
        assert [row.action for row in preview.rows] == ["update", "create", "skip", "error"]
        assert preview.mapping == {
            "customer_name": "Full Name",
            "customer_phone": "Mobile",
            "customer_email": "E-mail",
        }
        assert preview.extra_columns == ("Signed up",)
        plan = core.imports.dry_run(source, principal=ADMIN, settings=CUSTOMERS)
        assert (plan.would_create, plan.would_update, plan.would_skip, plan.failed) == (1, 1, 1, 1)
        assert len(customers(core)) == 1
        assert core.customers.get(customers(core)[0].id, principal=ADMIN).name is None

        job = core.imports.confirm(plan, source, principal=ADMIN)
        assert (job.created, job.updated, job.skipped, job.failed) == (1, 1, 1, 1)
        assert job.kind is ImportKind.CUSTOMERS
        assert len(customers(core)) == 2

    def test_only_staff_who_may_import_bookings_import_customers(self, core: BookingCore) -> None:
        source = ListSource(CUSTOMER_HEADER, [("Asha Rao", phone(1), "", "1")])
        for who in (
            Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.STAFF),
            Principal.partner(SequentialIds().new_id()),  # type: ignore[arg-type]
        ):
            with pytest.raises(PermissionDeniedError):
                core.imports.dry_run(source, principal=who, settings=CUSTOMERS)
            with pytest.raises(PermissionDeniedError):
                core.imports.start(source, principal=who, settings=CUSTOMERS)
        assert customers(core) == []


class TestTravelersFile:
    def _owners(self, core: BookingCore) -> tuple[Customer, Customer]:
        asha = core.customers.register(phone(1), principal=ADMIN, name="Asha Rao").customer
        ravi = core.customers.register(
            phone(2), principal=ADMIN, name="Ravi Kumar", email="ravi@example.com"
        ).customer
        return asha, ravi

    def test_a_participants_table_becomes_travelers_under_the_customer_each_row_names(
        self, core: BookingCore
    ) -> None:
        asha, ravi = self._owners(core)
        source = ListSource(
            TRAVELER_HEADER,
            [
                traveler("Asha Rao", customer_phone=phone(1), born="12-04-1990", gender="F",
                         dietary="vegetarian", medical="asthma", contact="Vik Rao",
                         contact_phone="+919811111111"),
                traveler("Kiran Rao", customer_phone="+91 98000 00001", born="2015-06-01"),
                traveler("Ravi Kumar", customer_email="ravi@example.com", gender="male"),
            ],
        )  # fmt: skip
        job = core.imports.run_file(source, principal=ADMIN, settings=TRAVELERS)

        assert (job.created, job.failed) == (3, 0)
        saved = core.travelers.list(asha.id, principal=ADMIN)
        assert [t.name for t in saved] == ["Asha Rao", "Kiran Rao"]
        first = saved[0]
        assert first.birth_date == date(1990, 4, 12)
        assert first.gender == "female"
        assert first.special_requirements == "Dietary: vegetarian; Medical: asthma"
        assert first.emergency_contact_name == "Vik Rao"
        assert first.emergency_contact_phone is not None
        assert first.emergency_contact_phone.e164 == "+919811111111"
        assert [t.name for t in core.travelers.list(ravi.id, principal=ADMIN)] == ["Ravi Kumar"]
        trail = core.audit.trail("traveler", first.id, principal=ADMIN)
        assert [entry.action for entry in trail] == [AuditAction.CREATED]

    def test_a_rerun_creates_no_traveler_twice_and_fills_only_what_was_blank(
        self, core: BookingCore
    ) -> None:
        asha, _ = self._owners(core)
        core.travelers.add(
            asha.id, TravelerDetails(name="Kiran Rao", gender="male"), principal=ADMIN
        )
        source = ListSource(
            TRAVELER_HEADER,
            [
                traveler("KIRAN RAO", customer_phone=phone(1), born="2015-06-01", gender="f"),
                traveler("Asha Rao", customer_phone=phone(1), born="1990-04-12"),
                traveler("Asha Rao", customer_phone=phone(1), born="1990-04-12"),
                traveler("Asha Rao", customer_phone=phone(1), born="1960-01-01"),  # another Asha
            ],
        )
        job = core.imports.run_file(source, principal=ADMIN, settings=TRAVELERS)
        assert (job.created, job.updated, job.skipped, job.failed) == (2, 1, 1, 0)
        saved = core.travelers.list(asha.id, principal=ADMIN)
        assert [(t.name, t.birth_date) for t in saved] == [
            ("Kiran Rao", date(2015, 6, 1)),
            ("Asha Rao", date(1990, 4, 12)),
            ("Asha Rao", date(1960, 1, 1)),
        ]
        assert saved[0].gender == "male"  # the stored value wins

        again = core.imports.run_file(source, principal=ADMIN, settings=TRAVELERS)
        assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 4, 0)
        assert len(core.travelers.list(asha.id, principal=ADMIN)) == 3

    def test_bad_cells_and_unknown_customers_are_reported_at_their_column(
        self, core: BookingCore
    ) -> None:
        self._owners(core)
        source = ListSource(
            TRAVELER_HEADER,
            [
                traveler("Asha Rao", customer_phone=phone(1), born="31-02-1990", gender="robot"),
                traveler("Nobody Known", customer_phone=phone(9)),
                traveler("No Owner"),
                traveler("Future Kid", customer_phone=phone(1), born="2030-01-01"),
                traveler("X", customer_phone=phone(1), contact_phone="12"),
            ],
        )
        job = core.imports.run_file(source, principal=ADMIN, settings=TRAVELERS)
        assert (job.created, job.failed) == (0, 5)
        found = {
            e.row_number: {(p.code, p.column) for p in e.problems}
            for e in core.imports.errors(job.id, principal=ADMIN)
        }
        assert found[2] == {("invalid_date", "dob"), ("invalid_choice", "gender")}
        assert found[3] == {("unknown_customer", "customer_phone")}
        assert found[4] == {("required", "customer_phone")}
        assert found[5] == {("out_of_range", "dob")}
        assert {column for _, column in found[6]} == {"participant_name", "emergency_phone"}

    def test_travelers_whose_customers_were_missing_import_on_retry_once_they_exist(
        self, core: BookingCore
    ) -> None:
        """The participants file went first: its rows fail, the users file follows, and a
        retry of the travelers job imports exactly the rows that failed."""
        rows = [traveler(f"Traveler {n}", customer_phone=phone(n)) for n in range(3)]
        travelers_job = core.imports.run_file(
            ListSource(TRAVELER_HEADER, rows), principal=ADMIN, settings=TRAVELERS
        )
        assert (travelers_job.created, travelers_job.failed) == (0, 3)

        users = ListSource(CUSTOMER_HEADER, [(f"User {n}", phone(n), "", str(n)) for n in range(2)])
        core.imports.run_file(users, principal=ADMIN, settings=CUSTOMERS)
        retried = core.imports.retry(travelers_job.id, principal=ADMIN)

        assert retried.kind is ImportKind.TRAVELERS
        assert (retried.created, retried.failed) == (2, 1)
        assert list(errors(core, travelers_job.id)) == [4]
        owner = core.customers.find_by_phone(phone(0), principal=ADMIN)
        assert owner is not None
        assert [t.name for t in core.travelers.list(owner.id, principal=ADMIN)] == ["Traveler 0"]


class TestExternalIds:
    """The old system's ids: ``users.id`` on each customer, ``participants.user_id`` naming them."""

    HEADER = ("id", "name", "phone", "email")

    def test_participants_naming_only_their_users_id_find_the_imported_customer(
        self, core: BookingCore
    ) -> None:
        users = ListSource(
            self.HEADER,
            [("17", "Asha Rao", phone(1), ""), ("18", "Ravi Kumar", phone(2), "ravi@example.com")],
        )
        job = core.imports.run_file(users, principal=ADMIN, settings=CUSTOMERS)
        assert (job.created, job.failed) == (2, 0)
        participants = ListSource(
            ("user_id", "participant_name", "dob"),
            [("17", "Kiran Rao", "2015-06-01"), ("18", "Ravi Kumar", ""), ("99", "Nobody", "")],
        )
        job = core.imports.run_file(participants, principal=ADMIN, settings=TRAVELERS)

        assert (job.created, job.failed) == (2, 1)
        assert errors(core, job.id)[4][:2] == ("unknown_customer", "user_id")
        asha = core.customers.find_by_phone(phone(1), principal=ADMIN)
        assert asha is not None
        assert asha.external_id == "17"
        assert [t.name for t in core.travelers.list(asha.id, principal=ADMIN)] == ["Kiran Rao"]

    def test_the_id_finds_the_customer_first_fills_a_blank_one_and_never_overwrites_another(
        self, core: BookingCore
    ) -> None:
        """An id on file finds its customer even with a new phone; a customer found by
        phone gets the row's id if they have none; a different id on file is refused."""
        core.imports.run_file(
            ListSource(self.HEADER, [("17", "Asha Rao", phone(1), "")]),
            principal=ADMIN,
            settings=CUSTOMERS,
        )
        ravi = core.customers.register(phone(2), principal=ADMIN).customer
        source = ListSource(
            self.HEADER,
            [
                ("17", "", phone(5), "asha@example.com"),  # new phone: found by id, email filled
                ("18", "Ravi Kumar", phone(2), ""),  # found by phone: id and name filled
                ("19", "", phone(1), ""),  # Asha's phone with another id
            ],
        )
        job = core.imports.run_file(source, principal=ADMIN, settings=CUSTOMERS)

        assert (job.created, job.updated, job.failed) == (0, 2, 1)
        assert errors(core, job.id)[4][:2] == ("external_id_mismatch", "id")
        found = {c.external_id: c for c in customers(core)}
        assert sorted(found) == ["17", "18"]
        assert (found["17"].phone.e164, str(found["17"].email)) == (phone(1), "asha@example.com")
        assert (found["18"].id, found["18"].name) == (ravi.id, "Ravi Kumar")
        trail = core.audit.trail("customer", ravi.id, principal=ADMIN)
        assert trail[-1].new_values == {"name": "Ravi Kumar", "external_id": "18"}

        again = core.imports.run_file(source, principal=ADMIN, settings=CUSTOMERS)
        assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 2, 1)

    def test_an_erased_customer_is_no_longer_found_by_their_old_id(self, core: BookingCore) -> None:
        core.imports.run_file(
            ListSource(self.HEADER, [("17", "Asha Rao", phone(1), "")]),
            principal=ADMIN,
            settings=CUSTOMERS,
        )
        [asha] = customers(core)
        core.privacy.erase_customer(asha.id, principal=ADMIN)
        job = core.imports.run_file(
            ListSource(("user_id", "participant_name"), [("17", "Kiran Rao")]),
            principal=ADMIN,
            settings=TRAVELERS,
        )
        assert errors(core, job.id)[2][0] == "unknown_customer"


def test_a_settings_kind_that_names_no_kind_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ImportSettings(kind="users")
    assert caught.value.errors[0].field == "kind"
    assert ImportSettings.from_dict(CUSTOMERS.to_dict()) == CUSTOMERS
    assert CUSTOMERS.to_dict()["kind"] == "customers"


def test_events_are_written_only_when_the_import_is_told_to_emit(core: BookingCore) -> None:
    """An import records history (audit entries) but raises events only with
    ``emit_events=True``, as a bookings import does."""
    heard: list[object] = []
    core.events.subscribe(CustomerRegistered, lambda e, _: heard.append(e), name="test.c")
    core.events.subscribe(TravelerChanged, lambda e, _: heard.append(e), name="test.t")
    quiet = ListSource(CUSTOMER_HEADER, [("Asha Rao", phone(1), "", "")])
    core.imports.run_file(quiet, principal=ADMIN, settings=CUSTOMERS)
    core.imports.run_file(
        ListSource(TRAVELER_HEADER, [traveler("Kiran Rao", customer_phone=phone(1))]),
        principal=ADMIN,
        settings=TRAVELERS,
    )
    assert heard == []
    loud = ListSource(CUSTOMER_HEADER, [("Ravi Kumar", phone(2), "", "")])
    core.imports.run_file(
        loud, principal=ADMIN, settings=ImportSettings(kind="customers", emit_events=True)
    )
    core.imports.run_file(
        ListSource(TRAVELER_HEADER, [traveler("Dev Kumar", customer_phone=phone(2))]),
        principal=ADMIN,
        settings=ImportSettings(kind="travelers", emit_events=True),
    )
    assert [type(event) for event in heard] == [CustomerRegistered, TravelerChanged]


def test_worker_processes_validate_people_rows_as_this_process_does() -> None:
    """``workers=2`` pickles the travelers validator into fresh interpreters: same outcome."""
    outcomes = []
    for workers in (1, 2):
        core = BookingCore(
            uow_factory=MemoryStore().unit_of_work, clock=FixedClock(), ids=SequentialIds()
        )
        core.customers.register(phone(1), principal=ADMIN)
        source = ListSource(
            TRAVELER_HEADER,
            [traveler(f"Traveler {n}", customer_phone=phone(1 + n % 2), born="2001-02-03")
             for n in range(6)] + [traveler("Bad Date", customer_phone=phone(1), born="soon")],
        )  # fmt: skip
        chosen = ImportSettings(kind="travelers", workers=workers, chunk_size=2)
        job = core.imports.run_file(source, principal=ADMIN, settings=chosen)
        outcomes.append((job.created, job.failed, sorted(errors(core, job.id).items())))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == (3, 4)
