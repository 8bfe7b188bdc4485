"""The import file's columns and the rules each row must follow.

:data:`COLUMNS` is the column spec: the canonical names, which are required, and
the aliases a header may use instead. :func:`map_header` matches a file's
header to it (case-, space- and dash-insensitively, a user mapping first);
columns it does not know go to the booking's metadata. :class:`RowValidator`
checks one :class:`~bookingcore.domain.imports.SourceRow` against the rules and
the reference data it was given (locations, products, advisors, lifecycle
states), returning either a :class:`ValidRow` or the row's
:class:`~bookingcore.domain.imports.CellProblem` list. It is pure and picklable,
so validation can run in worker processes.

.. versionadded:: 0.1
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain._validation import (
    check_metadata,
    text_problem,
    without_control_characters,
)
from bookingcore.domain.imports import CellProblem, SourceRow, cell_name
from bookingcore.domain.lifecycle import Lifecycle
from bookingcore.domain.slots import check_slot_times
from bookingcore.domain.values import (
    EmailAddress,
    LocationId,
    PhoneNumber,
    ProductId,
    SlotId,
    StaffId,
)
from bookingcore.errors import FieldError, ValidationError

__all__ = [
    "COLUMNS",
    "ColumnMapping",
    "ColumnSpec",
    "ReferenceData",
    "RowValidator",
    "ValidRow",
    "map_header",
    "normalise_header",
]


@attrs.frozen
class ColumnSpec:
    """One column the importer understands.

    .. versionadded:: 0.1
    """

    name: str
    required: bool
    aliases: tuple[str, ...]
    description: str


#: The column spec of a bookings file, in the order the docs list it.
COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "customer_name",
        True,
        ("name", "customer", "full_name", "client_name", "client"),
        "2-255 characters",
    ),
    ColumnSpec(
        "customer_phone",
        False,
        ("phone", "mobile", "phone_number", "mobile_number", "contact_number", "telephone"),
        "international format (+country code); needed to create a new customer",
    ),
    ColumnSpec(
        "customer_email",
        False,
        ("email", "e_mail", "email_address", "customer_e_mail"),
        "a valid address, when present",
    ),
    ColumnSpec(
        "dealer_code",
        True,
        ("dealer", "location", "location_code", "centre", "center", "branch", "dealer_id"),
        "the code of an existing location",
    ),
    ColumnSpec(
        "booking_date",
        True,
        ("date", "appointment_date", "booked_for", "starts_at", "booking_datetime"),
        "ISO 8601 (2026-03-05, 2026-03-05T10:30) or DD-MM-YYYY",
    ),
    ColumnSpec(
        "external_id",
        False,
        ("external_reference", "reference_id", "booking_id", "external_ref", "source_id"),
        "unique in the file; updates the booking that already has it",
    ),
    ColumnSpec(
        "car_variant",
        False,
        ("variant", "product", "product_code", "model", "car_model"),
        "a product code or name; kept in metadata when no product matches",
    ),
    ColumnSpec(
        "advisor_email",
        False,
        ("advisor", "assignee", "assigned_to", "advisor_mail"),
        "the email of an active advisor",
    ),
    ColumnSpec(
        "status",
        False,
        ("booking_status", "state"),
        "a state of the import's lifecycle, any case (defaults to its initial state)",
    ),
    ColumnSpec("notes", False, ("note", "comments", "comment", "remarks"), "free text"),
    ColumnSpec(
        "slot_id",
        False,
        ("slot",),
        "the id of a slot at the row's location; its capacity then applies",
    ),
)

_SPEC = {spec.name: spec for spec in COLUMNS}
_SEPARATORS = re.compile(r"[\s\-./]+")


def normalise_header(text: str) -> str:
    """How header cells are compared: ``" Customer-Name "`` becomes ``"customer_name"``."""
    return _SEPARATORS.sub("_", text.strip().casefold()).strip("_")


def _aliases(columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """Normalised header text -> column name, for every name and alias of ``columns``."""
    aliases: dict[str, str] = {}
    for spec in columns:
        aliases[spec.name] = spec.name
        for alias in spec.aliases:
            aliases[normalise_header(alias)] = spec.name
    return aliases


_ALIASES = _aliases(COLUMNS)


@attrs.frozen
class ColumnMapping:
    """Which header position holds each known column, and which are extra.

    ``columns`` maps a :data:`COLUMNS` name to its 0-based position;
    ``extra`` maps the file's other header names to theirs (they go to metadata).

    .. versionadded:: 0.1
    """

    header: tuple[str, ...]
    columns: Mapping[str, int]
    extra: Mapping[str, int]

    def header_of(self, column: str) -> str:
        """The file's own name for a known column."""
        return self.header[self.columns[column]]

    def describe(self) -> dict[str, str]:
        """Known column -> the file's header cell, for previews and job settings."""
        return {name: self.header[index] for name, index in self.columns.items()}


def map_header(
    header: Sequence[str],
    overrides: Mapping[str, str] | None = None,
    *,
    columns: Sequence[ColumnSpec] = COLUMNS,
) -> ColumnMapping:
    """Match a file's header to ``columns`` (a bookings file's :data:`COLUMNS` by default).

    ``overrides`` maps the file's header cells to column names (``{"Mobile No":
    "customer_phone"}``) and wins over aliases; map a cell to ``""`` to ignore it.

    Raises:
        ValidationError: on field ``mapping`` for an override naming an unknown
            column or a header cell the file does not have; on field ``file``
            (code ``missing_column``) when required columns are missing, naming
            every one of them, and (code ``duplicate_column``) when two header
            cells map to one column.

    .. versionchanged:: 0.3 ``columns``, for the customers and travelers kinds.
    """
    spec = _SPEC if columns is COLUMNS else {column.name: column for column in columns}
    aliases = _ALIASES if columns is COLUMNS else _aliases(columns)
    problems: list[FieldError] = []
    for index, cell in enumerate(header):
        trouble = text_problem(cell)
        if trouble is not None:
            problems.append(FieldError(f"file.header[{index}]", trouble, "control_character"))
    for key, chosen in (overrides or {}).items():
        for text in (key, chosen):
            trouble = text_problem(text) if isinstance(text, str) else "must be text"  # type: ignore[redundant-expr]
            if trouble is not None:
                problems.append(FieldError("mapping", trouble, "invalid"))
    if problems:
        raise ValidationError(problems, "the file's header has problems")
    wanted = {normalise_header(k): v for k, v in (overrides or {}).items()}
    present = {normalise_header(cell) for cell in header}
    for key, chosen in (overrides or {}).items():
        if normalise_header(key) not in present:
            problems.append(
                FieldError(f"mapping.{key}", "is not a column of the file", "unknown_header")
            )
        if chosen and chosen not in spec:
            known = ", ".join(spec)
            msg = f"{chosen!r} is not a known column (one of {known})"
            problems.append(FieldError(f"mapping.{key}", msg, "unknown_column"))
    if problems:
        raise ValidationError(problems, "the column mapping has problems")
    found: dict[str, int] = {}
    extra: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = normalise_header(cell)
        target: str | None = wanted[key] if key in wanted else aliases.get(key)
        if target == "":
            continue
        if target is None:
            if cell.strip():
                extra[cell.strip()] = index
            continue
        if target in found:
            first = header[found[target]]
            msg = f"columns {first!r} and {cell!r} both map to {target}"
            raise ValidationError.single("file", msg, "duplicate_column")
        found[target] = index
    missing = [column.name for column in columns if column.required and column.name not in found]
    if missing:
        msg = f"the file has no {', '.join(missing)} column (header: {', '.join(header)})"
        raise ValidationError.single("file", msg, "missing_column")
    return ColumnMapping(tuple(header), found, extra)


@attrs.frozen(slots=True)
class ValidRow:
    """A row that passed validation, in the library's own types.

    ``fingerprint`` digests every value, so importing the same row twice is
    recognised (the second time it is skipped).

    ``status_given`` is ``False`` when the row's status cell is blank (or the file
    has no status column): a new booking then starts in ``status``, the
    lifecycle's initial state, and a row updating a booking by ``external_id``
    keeps the booking's status, as a blank ``notes`` or ``advisor_email`` cell
    keeps those.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``status_given``.
    """

    number: int
    name: str
    phone: PhoneNumber | None
    email: EmailAddress | None
    location_id: LocationId
    starts_at: datetime
    status: str
    fingerprint: str
    external_id: str | None = None
    product_id: ProductId | None = None
    advisor_id: StaffId | None = None
    slot_id: SlotId | None = None
    notes: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    status_given: bool = True

    def __reduce__(self) -> tuple[type[ValidRow], tuple[Any, ...]]:
        # Pickled as its fields, rebuilt by the constructor (every field plain): an
        # import's validation workers send each row back to the importing process,
        # where unpickling attrs' default state (a dict, set back field by field)
        # cost twice as much.
        return type(self), _VALID_ROW_FIELDS(self)


_VALID_ROW_FIELDS = operator.attrgetter(*(a.name for a in attrs.fields(ValidRow)))


@attrs.frozen
class ReferenceData:
    """What validation checks codes and names against, read once per import.

    ``locations`` maps upper-cased codes to ids; ``products`` maps upper-cased
    codes and case-folded names to ids; ``advisors`` maps normalised emails of
    active advisors to ids.

    .. versionadded:: 0.1
    """

    locations: Mapping[str, LocationId]
    products: Mapping[str, ProductId] = attrs.Factory(dict)
    advisors: Mapping[str, StaffId] = attrs.Factory(dict)


_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_MAX_METADATA_VALUE = 1000
_CACHE_LIMIT = 20_000


class RowValidator:
    """Checks rows of one file against the import rules.

    Results of the expensive checks (phone, email, date) are cached by raw
    text, so a value repeated across rows is validated once.

    Args:
        mapping: the file's :class:`ColumnMapping`.
        reference: codes, names and advisors to check against.
        lifecycle: the lifecycle whose states ``status`` must name.
        region: phone region for numbers without a country code (``None``
            insists on international format).
        timezone: the zone of dates and times written without an offset.
        has_cells: True to name spreadsheet cells (``D17``) in problems.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        mapping: ColumnMapping,
        reference: ReferenceData,
        lifecycle: Lifecycle,
        *,
        region: str | None = None,
        timezone: tzinfo = UTC,
        has_cells: bool = False,
    ) -> None:
        self.mapping = mapping
        self.reference = reference
        self.lifecycle = lifecycle
        self.region = region
        self.timezone = timezone
        self.has_cells = has_cells
        self._states = {state.casefold(): state for state in lifecycle.states}
        self._phones: dict[str, PhoneNumber | CellProblem] = {}
        self._emails: dict[str, EmailAddress | CellProblem] = {}
        self._dates: dict[str, datetime | CellProblem] = {}
        self._columns = [(name, index) for name, index in mapping.columns.items()]
        self._width = len(mapping.header)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_phones"], state["_emails"], state["_dates"] = {}, {}, {}
        return state

    # ------------------------------------------------------------------ rows

    def raw(self, row: SourceRow) -> dict[str, str]:
        """The row as the file's header name -> cell text (what error rows keep)."""
        # A kept copy: characters the text rule refuses are shown as U+FFFD (a NUL
        # cannot even be stored in PostgreSQL's JSON).
        return {
            name: without_control_characters(row.values[index]) if index < len(row.values) else ""
            for index, name in enumerate(self.mapping.header)
        }

    def validate(self, row: SourceRow) -> ValidRow | list[CellProblem]:  # noqa: PLR0915
        """The row in the library's types, or every problem found in it."""
        values = row.values
        cols = self.mapping.columns
        problems: list[CellProblem] = []

        def cell(column: str) -> str:
            index = cols.get(column)
            return values[index].strip() if index is not None and index < len(values) else ""

        def problem(column: str, message: str, code: str) -> None:
            index = cols[column]
            problems.append(
                CellProblem(
                    message,
                    code,
                    column=self.mapping.header[index],
                    cell=cell_name(index, row.number) if self.has_cells else None,
                    value=without_control_characters(values[index]) if index < len(values) else "",
                )
            )

        for index, text in enumerate(values[: self._width]):
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
        if problems:
            return problems

        name = " ".join(cell("customer_name").split())
        if not name:
            problem("customer_name", "is required", "required")
        elif not 2 <= len(name) <= 255:
            problem("customer_name", "must be 2-255 characters", "invalid_length")

        phone: PhoneNumber | None = None
        raw_phone = cell("customer_phone")
        if raw_phone:
            found_phone = self._phone(raw_phone)
            if isinstance(found_phone, CellProblem):
                problem("customer_phone", found_phone.message, found_phone.code)
            else:
                phone = found_phone

        email: EmailAddress | None = None
        raw_email = cell("customer_email")
        if raw_email:
            found_email = self._email(raw_email)
            if isinstance(found_email, CellProblem):
                problem("customer_email", found_email.message, found_email.code)
            else:
                email = found_email

        if phone is None and email is None and not raw_phone and not raw_email:
            column = "customer_phone" if "customer_phone" in cols else "customer_name"
            problem(column, "a phone number or an email is needed to find the customer", "required")

        location_id: LocationId | None = None
        code = cell("dealer_code")
        if not code:
            problem("dealer_code", "is required", "required")
        else:
            location_id = self.reference.locations.get(code.upper())
            if location_id is None:
                problem("dealer_code", f"no location has the code {code!r}", "unknown_dealer")

        starts_at: datetime | None = None
        raw_date = cell("booking_date")
        if not raw_date:
            problem("booking_date", "is required", "required")
        else:
            found_date = self._date(raw_date)
            if isinstance(found_date, CellProblem):
                problem("booking_date", found_date.message, found_date.code)
            else:
                starts_at = found_date

        status = self.lifecycle.initial
        raw_status = cell("status")
        if raw_status:
            resolved = self._states.get(raw_status.casefold())
            if resolved is None:
                known = ", ".join(self.lifecycle.states)
                msg = f"is not a state of the {self.lifecycle.name} lifecycle ({known})"
                problem("status", msg, "invalid_status")
            else:
                status = resolved

        advisor_id: StaffId | None = None
        raw_advisor = cell("advisor_email")
        if raw_advisor:
            advisor_id = self.reference.advisors.get(raw_advisor.casefold())
            if advisor_id is None:
                problem("advisor_email", "is not the email of an active advisor", "unknown_advisor")

        slot_id: SlotId | None = None
        raw_slot = cell("slot_id")
        if raw_slot:
            try:
                slot_id = SlotId(UUID(raw_slot))
            except ValueError:
                problem("slot_id", "is not a slot id", "invalid_slot")

        external_id = cell("external_id") or None
        if external_id is not None and len(external_id) > 255:
            problem("external_id", "must be at most 255 characters", "invalid_length")
        notes = cell("notes") or None
        if notes is not None and len(notes) > 5000:
            problem("notes", "must be at most 5000 characters", "invalid_length")

        metadata: list[tuple[str, str]] = []
        variant = cell("car_variant")
        product_id: ProductId | None = None
        if variant:
            product_id = self.reference.products.get(variant.upper()) or (
                self.reference.products.get(variant.casefold())
            )
            if product_id is None:
                metadata.append(("car_variant", variant))
        for header_name, index in self.mapping.extra.items():
            value = values[index].strip() if index < len(values) else ""
            if value:
                metadata.append((header_name, value[:_MAX_METADATA_VALUE]))

        try:
            check_metadata(metadata, pairs=True)  # the one rule; the row keeps the file's order
        except ValidationError as exc:
            problems += [CellProblem(f"{e.field}: {e.message}", e.code) for e in exc.errors]
        if problems:
            return problems
        assert location_id is not None
        assert starts_at is not None
        digest = hashlib.sha256(
            repr(
                (
                    name,
                    phone,
                    email,
                    location_id,
                    starts_at.isoformat(),
                    status,
                    external_id,
                    product_id,
                    advisor_id,
                    slot_id,
                    notes,
                    metadata,
                )
            ).encode()
        ).hexdigest()
        return ValidRow(
            number=row.number,
            name=name,
            phone=phone,
            email=email,
            location_id=location_id,
            starts_at=starts_at,
            status=status,
            fingerprint=digest,
            external_id=external_id,
            product_id=product_id,
            advisor_id=advisor_id,
            slot_id=slot_id,
            notes=notes,
            metadata=tuple(metadata),
            status_given=bool(raw_status),
        )

    # ------------------------------------------------------------------ cached checks

    def _phone(self, raw: str) -> PhoneNumber | CellProblem:
        known = self._phones.get(raw)
        if known is None:
            try:
                known = PhoneNumber.parse(raw, region=self.region, field="customer_phone")
            except ValidationError as exc:
                error = exc.errors[0]
                known = CellProblem(error.message, error.code)
            _remember(self._phones, raw, known)
        return known

    def _email(self, raw: str) -> EmailAddress | CellProblem:
        known = self._emails.get(raw)
        if known is None:
            try:
                known = EmailAddress.parse(raw, field="customer_email")
            except ValidationError as exc:
                error = exc.errors[0]
                known = CellProblem(error.message, error.code)
            _remember(self._emails, raw, known)
        return known

    def _date(self, raw: str) -> datetime | CellProblem:
        known = self._dates.get(raw)
        if known is None:
            known = self._parse_date(raw)
            _remember(self._dates, raw, known)
        return known

    def _parse_date(self, raw: str) -> datetime | CellProblem:
        text = raw.strip()
        parsed: datetime | None = None
        match = _DMY.fullmatch(text)
        try:
            if match:
                day, month, year, hour, minute, second = match.groups()
                parsed = datetime(  # noqa: DTZ001 - the zone is applied below
                    int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                    int(second or 0),
                )  # fmt: skip
            elif len(text) == 10:
                parsed = datetime.combine(date.fromisoformat(text), time())
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None:
            msg = "is not a date (use ISO 8601 such as 2026-03-05 or DD-MM-YYYY)"
            return CellProblem(msg, "invalid_date")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.timezone)
        try:
            check_slot_times(parsed, None)
        except ValidationError as exc:
            return CellProblem(exc.errors[0].message, exc.errors[0].code)
        return parsed.astimezone(UTC)


def _remember(cache: dict[str, Any], key: str, value: object) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
