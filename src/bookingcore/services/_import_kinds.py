"""What the import pipeline asks of one kind of row, and the customers and travelers kinds.

:class:`~bookingcore.services.imports.ImportService` reads, validates, chunks,
counts, resumes and reports the same way whatever a file holds; a
:class:`RowRules` is the part that differs: how a valid row is written
(:class:`RowWriter`), which rows repeat one another within the file, and how a
rule broken while writing is shown at the cell to blame. The bookings kind's
rules live beside the booking path in ``imports.py``; this module holds the
customers and travelers kinds, which write through the customers and travelers
services' own paths (:meth:`CustomerService.find_or_create`,
:meth:`CustomerService.fill_blanks`, :meth:`TravelerService.create`,
:meth:`TravelerService.revise`), never a second way to make a customer.

As with bookings, a real run writes a chunk a transaction (earlier chunks are
committed) with a fresh writer, and a dry run or a preview keeps one writer for
the whole file in transactions that are never committed: the writer remembers
which customer each id, phone and email names, and each customer's travelers,
including what earlier rows would have made or filled in. Either way a row
meets what every earlier row of the file made, so the dry run agrees with the
run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

import attrs

from bookingcore.domain import policy
from bookingcore.domain.customers import Customer, Traveler, TravelerDetails
from bookingcore.domain.import_people import CustomerRow, TravelerRow
from bookingcore.domain.import_rows import ColumnMapping
from bookingcore.domain.imports import CellProblem, SourceRow
from bookingcore.domain.policy import Principal
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import CustomerId, EmailAddress, PhoneNumber
from bookingcore.errors import BookingError, PermissionDeniedError, ValidationError
from bookingcore.services._context import Transaction
from bookingcore.services.customers import CustomerService
from bookingcore.services.travelers import TravelerService

__all__ = ["CustomerRules", "RowChecker", "RowRules", "RowWriter", "TravelerRules"]


class RowChecker(Protocol):
    """Validates the rows of one file (the bookings kind's ``RowValidator`` is one)."""

    mapping: ColumnMapping
    has_cells: bool

    def raw(self, row: SourceRow) -> dict[str, str]:
        """The row as the file's header name -> cell text."""
        ...

    def validate(self, row: SourceRow) -> Any:
        """The valid row, or the ``list`` of the row's :class:`CellProblem`."""
        ...


class RowWriter(Protocol):
    """Writes valid rows inside the transaction it was last loaded with."""

    def load(self, tx: Transaction, rows: Sequence[Any]) -> None:
        """Work in ``tx`` from now on; ``rows`` are the valid rows about to be applied."""
        ...

    def apply(self, row: Any) -> str:
        """Write ``row``: ``"create"``, ``"update"`` or ``"skip"``.

        Raises:
            ValidationError, ConflictError, InvalidTransitionError: the rule the row breaks.
        """
        ...


class RowRules(Protocol):
    """Everything about one kind of row that the pipeline does not decide itself."""

    def writer(self, *, lock: bool) -> RowWriter:
        """A writer; ``lock=False`` for a dry run or preview (nothing is committed)."""
        ...

    def in_file_duplicate(self, row: Any) -> tuple[CellProblem, ...]:
        """Why ``row`` may not be applied as a repeat of an earlier row of the file (or ``()``)."""
        ...

    def problems_of(self, exc: BookingError, row: Any) -> tuple[CellProblem, ...]:
        """``exc``, raised while writing ``row``, as the row's problems."""
        ...

    def raw_of(self, row: Any) -> dict[str, str]:
        """The cells of a valid row that a rule refused, for its error record."""
        ...


#: Which column a field named in a service's error is shown at.
_CUSTOMER_FIELDS = {
    "external_id": "customer_external_id",
    "customer_external_id": "customer_external_id",
    "phone": "customer_phone",
    "customer_phone": "customer_phone",
    "email": "customer_email",
    "customer_email": "customer_email",
    "name": "customer_name",
    "customer_name": "customer_name",
}
_TRAVELER_FIELDS = {
    "customer_external_id": "customer_external_id",
    "customer_phone": "customer_phone",
    "customer_email": "customer_email",
    "name": "traveler_name",
    "age": "age",
    "birth_date": "birth_date",
    "gender": "gender",
    "phone": "traveler_phone",
    "emergency_contact_name": "emergency_contact_name",
    "emergency_contact_phone": "emergency_contact_phone",
    "special_requirements": "special_requirements",
}


@attrs.define
class _PeopleRules:
    """The customers and travelers kinds: no in-file register, errors at the named field."""

    validator: Any
    principal: Principal
    customers: CustomerService
    travelers: TravelerService
    #: write the services' events (``CustomerRegistered``, ``TravelerChanged``)
    emit: bool = False
    #: service field -> the column its problems are shown at
    fields: ClassVar[Mapping[str, str]] = {}

    def in_file_duplicate(self, row: Any) -> tuple[CellProblem, ...]:
        # A repeated person finds what the earlier row made: it is filled in or skipped.
        return ()

    def problems_of(self, exc: BookingError, row: Any) -> tuple[CellProblem, ...]:
        source = SourceRow(row.number, row.cells)
        if isinstance(exc, ValidationError):
            return tuple(
                self.validator.problem_at(
                    source, self.fields.get(error.field, ""), error.message, error.code
                )
                for error in exc.errors
            )
        return (CellProblem(str(exc), exc.code),)

    def raw_of(self, row: Any) -> dict[str, str]:
        raw: dict[str, str] = self.validator.raw(SourceRow(row.number, row.cells))
        return raw


@attrs.define
class CustomerRules(_PeopleRules):
    """The customers kind: find each row's customer by phone, then email; fill or register."""

    fields: ClassVar[Mapping[str, str]] = _CUSTOMER_FIELDS

    def writer(self, *, lock: bool) -> RowWriter:
        return _CustomerWriter(self.customers, self.principal, emit=self.emit)


@attrs.define
class TravelerRules(_PeopleRules):
    """The travelers kind: save each row's traveler under the customer the row names."""

    fields: ClassVar[Mapping[str, str]] = _TRAVELER_FIELDS

    def writer(self, *, lock: bool) -> RowWriter:
        return _TravelerWriter(self.customers, self.travelers, self.principal, emit=self.emit)


class _Writer:
    """Finds each row's customer; remembers every customer it looked up or made.

    A real run makes one writer per chunk, in the chunk's transaction. A dry run
    or a preview keeps one writer for the whole file and never commits: the
    customers earlier rows would have made or filled in stay in the writer, so a
    later row meets what it will meet in the real run (whose earlier chunks
    are committed). Look-ups are batched per chunk (:meth:`load`).
    """

    def __init__(self, customers: CustomerService, principal: Principal, *, emit: bool) -> None:
        self._customers = customers
        self._principal = principal
        self._emit = emit
        self._tx: Transaction | None = None
        # What the store (plus this run) answers for each key; None: nobody.
        self._by_id: dict[str, Customer | None] = {}
        self._by_phone: dict[PhoneNumber, Customer | None] = {}
        # By EmailAddress.match_key: Ann@Example.com and ann@example.com are one customer.
        self._by_email: dict[str, Customer | None] = {}

    def load(self, tx: Transaction, rows: Sequence[Any]) -> None:
        self._tx = tx
        customers = tx.uow.customers
        for external_id in {self._external_id(r) for r in rows} - {None} - self._by_id.keys():
            assert external_id is not None
            self._by_id[external_id] = customers.get_by_external_id(external_id)
        phones = {p for r in rows if (p := self._phone(r)) is not None} - self._by_phone.keys()
        found_phones = customers.find_by_phones(phones) if phones else {}
        self._by_phone.update((phone, found_phones.get(phone)) for phone in phones)
        asked = (self._email(r) for r in rows)
        emails = {e for e in asked if e is not None and e.match_key not in self._by_email}
        found_emails = customers.find_by_emails(emails) if emails else {}
        self._by_email.update((email.match_key, found_emails.get(email)) for email in emails)

    @staticmethod
    def _external_id(row: Any) -> str | None:
        raise NotImplementedError

    @staticmethod
    def _phone(row: Any) -> PhoneNumber | None:
        raise NotImplementedError

    @staticmethod
    def _email(row: Any) -> EmailAddress | None:
        raise NotImplementedError

    @property
    def tx(self) -> Transaction:
        assert self._tx is not None, "load() a chunk first"
        return self._tx

    def _find(
        self,
        external_id: str | None,
        phone: PhoneNumber | None,
        email: EmailAddress | None,
        *,
        column: str,
    ) -> Customer | None:
        """The customer with ``external_id``, else with ``phone``, else with ``email`` (the
        oldest with it); one the import may change."""
        found = self._by_id.get(external_id) if external_id else None
        if found is None and phone is not None:
            found = self._by_phone.get(phone)
        if found is None and email is not None:
            found = self._by_email.get(email.match_key)
        if found is not None and not policy.can_change_customer(self._principal, found):
            msg = "belongs to a customer this import may not change"
            raise ValidationError.single(column, msg, "not_yours")
        return found

    def _remember(self, customer: Customer) -> None:
        """Answer later rows as the store will once ``customer`` is written."""
        self._by_phone[customer.phone] = customer
        if customer.external_id is not None:
            self._by_id[customer.external_id] = customer
        if customer.email is not None:
            holder = self._by_email.get(customer.email.match_key)
            if holder is None or _older(customer, holder):
                self._by_email[customer.email.match_key] = customer


def _older(one: Customer, other: Customer) -> bool:
    """Does ``one`` come first among customers sharing an email (oldest first)?"""
    return (one.created_at, one.id.bytes) < (other.created_at, other.id.bytes)


class _CustomerWriter(_Writer):
    @staticmethod
    def _external_id(row: CustomerRow) -> str | None:
        return row.external_id

    @staticmethod
    def _phone(row: CustomerRow) -> PhoneNumber | None:
        return row.phone

    @staticmethod
    def _email(row: CustomerRow) -> EmailAddress | None:
        return row.email

    def apply(self, row: CustomerRow) -> str:
        found = self._find(row.external_id, row.phone, row.email, column="customer_phone")
        if found is not None:
            if row.external_id and found.external_id not in (None, row.external_id):
                msg = (
                    f"the customer this row's phone or email finds has the external id "
                    f"{found.external_id!r}"
                )
                raise ValidationError.single("customer_external_id", msg, "external_id_mismatch")
            changed = self._customers.fill_blanks(
                self.tx,
                found,
                principal=self._principal,
                name=row.name,
                email=row.email,
                external_id=row.external_id,
            )
            if changed:
                self._remember(found)
            return "update" if changed else "skip"
        if row.phone is None:
            column = "customer_email" if row.email is not None else "customer_external_id"
            what = " or ".join(
                name
                for name, given in (("email", row.email), ("external id", row.external_id))
                if given is not None
            )
            msg = f"no customer has this {what}; a phone number is needed to register one"
            raise ValidationError.single(column, msg, "unknown_customer")
        match = self._customers.find_or_create(
            self.tx,
            row.phone,
            principal=self._principal,
            name=row.name,
            email=row.email,
            source=BookingSource.IMPORT,
            external_id=row.external_id,
            emit=self._emit,
        )
        if match.customer is None:  # pragma: no cover - _find refused it already
            msg = "belongs to a customer this import may not change"
            raise PermissionDeniedError(msg)
        self._remember(match.customer)
        return "create" if match.created else "skip"


class _TravelerWriter(_Writer):
    def __init__(
        self,
        customers: CustomerService,
        travelers: TravelerService,
        principal: Principal,
        *,
        emit: bool,
    ) -> None:
        super().__init__(customers, principal, emit=emit)
        self._travelers = travelers
        self._saved: dict[CustomerId, list[Traveler]] = {}

    @staticmethod
    def _external_id(row: TravelerRow) -> str | None:
        return row.customer_external_id

    @staticmethod
    def _phone(row: TravelerRow) -> PhoneNumber | None:
        return row.customer_phone

    @staticmethod
    def _email(row: TravelerRow) -> EmailAddress | None:
        return row.customer_email

    def load(self, tx: Transaction, rows: Sequence[Any]) -> None:
        super().load(tx, rows)
        owners = {
            c.id
            for known in (self._by_id, self._by_phone, self._by_email)
            for c in known.values()
            if c is not None
        } - self._saved.keys()
        found = tx.uow.travelers.list_for_customers(owners) if owners else {}
        self._saved.update((owner, list(found.get(owner, ()))) for owner in owners)

    def apply(self, row: TravelerRow) -> str:
        if row.customer_external_id is not None:
            column = "customer_external_id"
        elif row.customer_phone is not None:
            column = "customer_phone"
        else:
            column = "customer_email"
        customer = self._find(
            row.customer_external_id, row.customer_phone, row.customer_email, column=column
        )
        if customer is None:
            msg = "no customer has this id, phone or email; import the customers first"
            raise ValidationError.single(column, msg, "unknown_customer")
        details = row.details
        saved = self._saved.setdefault(customer.id, [])
        same = _same_traveler(saved, details)
        if same is None:
            made = self._travelers.create(
                self.tx, customer.id, details, principal=self._principal, emit=self._emit
            )
            saved.append(made)
            return "create"
        filled = _filled(same, details)
        if filled is None:
            return "skip"
        self._travelers.revise(self.tx, same, filled, principal=self._principal, emit=self._emit)
        return "update"


def _same_traveler(saved: Sequence[Traveler], details: TravelerDetails) -> Traveler | None:
    """The saved traveler ``details`` describe: the same name (any case) and, when both
    have one, the same birth date; the oldest such one."""
    wanted = details.name.casefold()
    for traveler in saved:
        if traveler.name.casefold() != wanted:
            continue
        if None not in (traveler.birth_date, details.birth_date) and (
            traveler.birth_date != details.birth_date
        ):
            continue
        return traveler
    return None


def _filled(traveler: Traveler, details: TravelerDetails) -> TravelerDetails | None:
    """``traveler``'s details with the fields it lacks taken from ``details``; ``None``
    when ``details`` fill in nothing (stored values always win)."""
    stored = TravelerDetails.of(traveler)
    blanks = {
        name: getattr(details, name)
        for name in (a.name for a in attrs.fields(TravelerDetails))
        if getattr(stored, name) is None and getattr(details, name) is not None
    }
    return attrs.evolve(stored, **blanks) if blanks else None
