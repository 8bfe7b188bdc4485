"""The columns and row rules of customers and travelers files (bringing existing data in).

A business moving from its old ``users`` and ``participants`` tables exports
them as two files and imports them through the same pipeline as bookings
(:class:`~bookingcore.domain.imports.ImportKind`):

- a **customers** file (:data:`CUSTOMER_COLUMNS`): one customer a row, found by
  their id in the old system (``customer_external_id``), then by phone, then by
  email;
- a **travelers** file (:data:`TRAVELER_COLUMNS`): one traveler a row, saved
  under the customer its ``customer_external_id``, ``customer_phone`` or
  ``customer_email`` names, with the fields a
  :class:`~bookingcore.domain.customers.Traveler` has.

:class:`CustomerRowValidator` and :class:`TravelerRowValidator` check one
:class:`~bookingcore.domain.imports.SourceRow` each and return a
:class:`CustomerRow` / :class:`TravelerRow` or the row's
:class:`~bookingcore.domain.imports.CellProblem` list, naming the column (and
the spreadsheet cell) of every bad value. Traveler fields are checked by
:meth:`TravelerDetails.validated <bookingcore.domain.customers.TravelerDetails.validated>`,
the one rule the travelers service applies too. Both validators are pure and
picklable, so validation can run in worker processes.

.. versionadded:: 0.3
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

from bookingcore.domain._validation import text_problem, without_control_characters
from bookingcore.domain.customers import TravelerDetails
from bookingcore.domain.import_rows import COLUMNS, ColumnMapping, ColumnSpec
from bookingcore.domain.imports import CellProblem, SourceRow, cell_name
from bookingcore.domain.values import EmailAddress, PhoneNumber
from bookingcore.errors import ValidationError

__all__ = [
    "CUSTOMER_COLUMNS",
    "TRAVELER_COLUMNS",
    "CustomerRow",
    "CustomerRowValidator",
    "TravelerRow",
    "TravelerRowValidator",
]

_BOOKING_SPEC = {spec.name: spec for spec in COLUMNS}

_EXTERNAL_ID = ColumnSpec(
    "customer_external_id",
    False,
    ("external_id", "id", "customer_id", "user_id", "legacy_id", "external_customer_id",
     "customer_reference", "customer_ref"),
    "the customer's id in the old system (at most 255 characters); unique among customers",
)  # fmt: skip

#: The columns of a customers file: a bookings file's customer columns and the old
#: system's id, none required on its own (each row needs a phone, an email or an id).
CUSTOMER_COLUMNS: tuple[ColumnSpec, ...] = (
    _EXTERNAL_ID,
    attrs.evolve(_BOOKING_SPEC["customer_name"], required=False, description="2-255 characters"),
    attrs.evolve(
        _BOOKING_SPEC["customer_phone"],
        description="international format (+country code); needed to register a new customer",
    ),
    attrs.evolve(
        _BOOKING_SPEC["customer_email"],
        description="a valid address; finds the customer when the phone does not",
    ),
)

#: The columns of a travelers file (a ``participants`` table): the traveler's own
#: fields and the customer they belong to.
TRAVELER_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "traveler_name",
        True,
        ("name", "traveller_name", "participant_name", "participant", "traveler", "full_name"),
        "2-255 characters",
    ),
    ColumnSpec(
        "customer_phone",
        False,
        ("customer_mobile", "booker_phone", "user_phone", "account_phone", "owner_phone"),
        "the phone of the customer the traveler belongs to",
    ),
    ColumnSpec(
        "customer_email",
        False,
        ("customer_e_mail", "booker_email", "user_email", "account_email", "owner_email"),
        "the email of the customer the traveler belongs to, when the phone does not find them",
    ),
    attrs.evolve(
        _EXTERNAL_ID,
        aliases=(
            "customer_id",
            "user_id",
            "owner_id",
            "booker_id",
            "external_customer_id",
            "customer_reference",
            "customer_ref",
        ),
        description="the old system's id of the customer the traveler belongs to (found first)",
    ),
    ColumnSpec(
        "birth_date",
        False,
        ("date_of_birth", "dob", "birthday", "birthdate", "born"),
        "ISO 8601 (1990-03-05) or DD-MM-YYYY, not in the future",
    ),
    ColumnSpec("age", False, ("years",), "a whole number, 0-130"),
    ColumnSpec("gender", False, ("sex",), "male, female, other or undisclosed (m and f read too)"),
    ColumnSpec(
        "traveler_phone",
        False,
        ("phone", "mobile", "traveller_phone", "participant_phone", "contact_number"),
        "the traveler's own phone",
    ),
    ColumnSpec(
        "emergency_contact_name",
        False,
        ("emergency_contact", "emergency_name", "emergency_person"),
        "2-255 characters",
    ),
    ColumnSpec(
        "emergency_contact_phone",
        False,
        ("emergency_phone", "emergency_number", "emergency_mobile"),
        "a phone number",
    ),
    ColumnSpec(
        "special_requirements",
        False,
        ("requirements", "special_needs", "needs", "notes", "remarks"),
        "free text; with the dietary and medical columns at most 2000 characters",
    ),
    ColumnSpec(
        "dietary_requirements",
        False,
        ("dietary", "diet", "meal_preference", "food_preference"),
        "free text, kept in special_requirements as 'Dietary: ...'",
    ),
    ColumnSpec(
        "medical_requirements",
        False,
        ("medical", "medical_conditions", "medical_notes", "health_conditions", "allergies"),
        "free text, kept in special_requirements as 'Medical: ...'",
    ),
)


@attrs.frozen(slots=True)
class CustomerRow:
    """A customers-file row that passed validation.

    ``cells`` are the row's cells as read (what an error record keeps if a rule
    refuses the row later).

    .. versionadded:: 0.3
    """

    number: int
    cells: tuple[str, ...]
    phone: PhoneNumber | None
    email: EmailAddress | None
    name: str | None = None
    external_id: str | None = None


@attrs.frozen(slots=True)
class TravelerRow:
    """A travelers-file row that passed validation.

    ``details`` hold the traveler's fields already checked (phones in E.164);
    ``customer_external_id``, ``customer_phone`` and ``customer_email`` name the
    customer they belong to (tried in that order).

    .. versionadded:: 0.3
    """

    number: int
    cells: tuple[str, ...]
    customer_phone: PhoneNumber | None
    customer_email: EmailAddress | None
    details: TravelerDetails
    customer_external_id: str | None = None


#: Which column a problem of a :class:`TravelerDetails` field is shown at.
_TRAVELER_FIELDS = {
    "name": "traveler_name",
    "age": "age",
    "birth_date": "birth_date",
    "gender": "gender",
    "phone": "traveler_phone",
    "emergency_contact_name": "emergency_contact_name",
    "emergency_contact_phone": "emergency_contact_phone",
}
_NEEDS = ("special_requirements", "dietary_requirements", "medical_requirements")
#: The columns that find a row's customer; a file needs at least one of them.
_CONTACT_COLUMNS = ("customer_phone", "customer_email", "customer_external_id")
_NEED_LABELS = {"dietary_requirements": "Dietary", "medical_requirements": "Medical"}
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_WHOLE = re.compile(r"\d{1,3}(?:\.0+)?")


class _PeopleValidator:
    """What both validators share: the mapping, cell problems and cached phone/email checks."""

    def __init__(self, mapping: ColumnMapping, *, region: str | None, has_cells: bool) -> None:
        if not set(_CONTACT_COLUMNS) & mapping.columns.keys():
            header = ", ".join(mapping.header)
            names = ", ".join(_CONTACT_COLUMNS)
            msg = f"the file has none of the columns {names} (header: {header})"
            raise ValidationError.single("file", msg, "missing_column")
        self.mapping = mapping
        self.region = region
        self.has_cells = has_cells
        self._phones: dict[str, PhoneNumber | CellProblem] = {}
        self._emails: dict[str, EmailAddress | CellProblem] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_phones"], state["_emails"] = {}, {}
        return state

    def raw(self, row: SourceRow) -> dict[str, str]:
        """The row as the file's header name -> cell text (what error rows keep)."""
        return {
            name: without_control_characters(row.values[index]) if index < len(row.values) else ""
            for index, name in enumerate(self.mapping.header)
        }

    def problem_at(self, row: SourceRow, column: str, message: str, code: str) -> CellProblem:
        """A problem at ``column`` of ``row`` (a row-level one when the file lacks the column)."""
        index = self.mapping.columns.get(column)
        if index is None:
            return CellProblem(message, code)
        values = row.values
        return CellProblem(
            message,
            code,
            column=self.mapping.header[index],
            cell=cell_name(index, row.number) if self.has_cells else None,
            value=without_control_characters(values[index]) if index < len(values) else "",
        )

    def _cell(self, row: SourceRow, column: str) -> str:
        index = self.mapping.columns.get(column)
        values = row.values
        return values[index].strip() if index is not None and index < len(values) else ""

    def _control_characters(self, row: SourceRow) -> list[CellProblem]:
        problems: list[CellProblem] = []
        for index, text in enumerate(row.values[: len(self.mapping.header)]):
            trouble = text_problem(text)
            if trouble is not None:
                problems.append(
                    CellProblem(
                        trouble,
                        "control_character",
                        column=self.mapping.header[index],
                        cell=cell_name(index, row.number) if self.has_cells else None,
                        value=without_control_characters(text),
                    )
                )
        return problems

    def _contact(
        self, row: SourceRow, phone_column: str, email_column: str, problems: list[CellProblem]
    ) -> tuple[PhoneNumber | None, EmailAddress | None, str | None]:
        """The row's phone, email and external id (any may be absent, not all three)."""
        phone: PhoneNumber | None = None
        raw_phone = self._cell(row, phone_column)
        if raw_phone:
            found = self._phone(raw_phone, phone_column)
            if isinstance(found, CellProblem):
                problems.append(self.problem_at(row, phone_column, found.message, found.code))
            else:
                phone = found
        email: EmailAddress | None = None
        raw_email = self._cell(row, email_column)
        if raw_email:
            address = self._email(raw_email, email_column)
            if isinstance(address, CellProblem):
                problems.append(self.problem_at(row, email_column, address.message, address.code))
            else:
                email = address
        external_id = " ".join(self._cell(row, "customer_external_id").split()) or None
        if external_id is not None and len(external_id) > 255:
            msg = "must be at most 255 characters"
            problems.append(self.problem_at(row, "customer_external_id", msg, "invalid_length"))
        if not raw_phone and not raw_email and external_id is None:
            column = next(c for c in _CONTACT_COLUMNS if c in self.mapping.columns)
            msg = "a phone number, an email or an external id is needed to find the customer"
            problems.append(self.problem_at(row, column, msg, "required"))
        return phone, email, external_id

    def _phone(self, raw: str, column: str) -> PhoneNumber | CellProblem:
        known = self._phones.get(raw)
        if known is None:
            try:
                known = PhoneNumber.parse(raw, region=self.region, field=column)
            except ValidationError as exc:
                known = CellProblem(exc.errors[0].message, exc.errors[0].code)
            self._phones[raw] = known
        return known

    def _email(self, raw: str, column: str) -> EmailAddress | CellProblem:
        known = self._emails.get(raw)
        if known is None:
            try:
                known = EmailAddress.parse(raw, field=column)
            except ValidationError as exc:
                known = CellProblem(exc.errors[0].message, exc.errors[0].code)
            self._emails[raw] = known
        return known


class CustomerRowValidator(_PeopleValidator):
    """Checks rows of a customers file: a phone or an email, and a 2-255 character name.

    Args:
        mapping: the file's header matched to :data:`CUSTOMER_COLUMNS`.
        region: phone region for numbers without a country code (``None``
            insists on international format).
        has_cells: True to name spreadsheet cells (``D17``) in problems.

    Raises:
        ValidationError: on ``file`` (code ``missing_column``) when the file has
            none of ``customer_phone``, ``customer_email`` and
            ``customer_external_id``.

    .. versionadded:: 0.3
    """

    def validate(self, row: SourceRow) -> CustomerRow | list[CellProblem]:
        """The row in the library's types, or every problem found in it."""
        problems = self._control_characters(row)
        if problems:
            return problems
        name = " ".join(self._cell(row, "customer_name").split()) or None
        if name is not None and not 2 <= len(name) <= 255:
            problems.append(
                self.problem_at(row, "customer_name", "must be 2-255 characters", "invalid_length")
            )
        phone, email, external_id = self._contact(row, "customer_phone", "customer_email", problems)
        if problems:
            return problems
        return CustomerRow(row.number, row.values, phone, email, name, external_id)


class TravelerRowValidator(_PeopleValidator):
    """Checks rows of a travelers file: the customer named, and the traveler's fields.

    Args:
        mapping: the file's header matched to :data:`TRAVELER_COLUMNS`.
        region: phone region for numbers without a country code.
        today: the date birth dates may not be after (the service's clock).
        has_cells: True to name spreadsheet cells (``D17``) in problems.

    Raises:
        ValidationError: on ``file`` (code ``missing_column``) when the file has
            none of ``customer_phone``, ``customer_email`` and
            ``customer_external_id``.

    .. versionadded:: 0.3
    """

    def __init__(
        self, mapping: ColumnMapping, *, region: str | None, today: date, has_cells: bool
    ) -> None:
        super().__init__(mapping, region=region, has_cells=has_cells)
        self.today = today

    def validate(self, row: SourceRow) -> TravelerRow | list[CellProblem]:
        """The row in the library's types, or every problem found in it."""
        problems = self._control_characters(row)
        if problems:
            return problems
        phone, email, external_id = self._contact(row, "customer_phone", "customer_email", problems)
        age: int | None = None
        raw_age = self._cell(row, "age")
        if raw_age:
            if _WHOLE.fullmatch(raw_age):
                age = int(float(raw_age))
            else:
                problems.append(self.problem_at(row, "age", "must be a whole number", "invalid"))
        born: date | None = None
        raw_born = self._cell(row, "birth_date")
        if raw_born:
            born = _birth_date(raw_born)
            if born is None:
                msg = "is not a date (use ISO 8601 such as 1990-03-05 or DD-MM-YYYY)"
                problems.append(self.problem_at(row, "birth_date", msg, "invalid_date"))
        needs = self._needs(row)
        details = TravelerDetails(
            name=" ".join(self._cell(row, "traveler_name").split()),
            age=age,
            birth_date=born,
            gender=self._cell(row, "gender") or None,
            phone=self._cell(row, "traveler_phone") or None,
            emergency_contact_name=self._cell(row, "emergency_contact_name") or None,
            emergency_contact_phone=self._cell(row, "emergency_contact_phone") or None,
            special_requirements=needs,
        )
        try:
            clean = details.validated(region=self.region, today=self.today)
        except ValidationError as exc:
            for error in exc.errors:
                column = _TRAVELER_FIELDS.get(error.field) or self._needs_column()
                problems.append(self.problem_at(row, column, error.message, error.code))
            return problems
        if problems:
            return problems
        checked = TravelerDetails.of(clean)
        return TravelerRow(row.number, row.values, phone, email, checked, external_id)

    def _needs(self, row: SourceRow) -> str | None:
        """Special, dietary and medical requirements as the one text a traveler keeps."""
        parts: list[str] = []
        for column in _NEEDS:
            text = self._cell(row, column)
            if text:
                label = _NEED_LABELS.get(column)
                parts.append(f"{label}: {text}" if label else text)
        return "; ".join(parts) or None

    def _needs_column(self) -> str:
        present: Mapping[str, int] = self.mapping.columns
        return next((column for column in _NEEDS if column in present), "special_requirements")


def _birth_date(text: str) -> date | None:
    match = _DMY.fullmatch(text)
    try:
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        return datetime.fromisoformat(text).date()
    except ValueError:
        return None
