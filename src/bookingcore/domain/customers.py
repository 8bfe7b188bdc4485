"""Customers (who book and pay) and the travelers they book for.

The booker is kept apart from the participants: a :class:`Customer` is a
phone-first account (one per normalised number), and each :class:`Traveler`
belongs to exactly one customer, is reused across bookings and is only ever
soft-deleted so past bookings keep their participants.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from uuid import UUID

import attrs

from bookingcore.domain._validation import (
    Problems,
    calendar_day,
    clean_text,
    parse_choice,
    require_text,
)
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    CustomerId,
    EmailAddress,
    PartnerId,
    PhoneNumber,
    TravelerId,
    Versioned,
)
from bookingcore.errors import ValidationError

__all__ = ["ERASED_NAME", "Customer", "Gender", "Traveler", "TravelerDetails", "erased_phone"]

#: The name an erased traveler keeps (a traveler must have one).
ERASED_NAME = "[erased]"


def erased_phone(customer_id: UUID) -> PhoneNumber:
    """The placeholder phone of an erased customer: unique, and no real number.

    ``+0`` starts no country code, so no number a person types ever equals it.

    .. versionadded:: 0.3
    """
    return PhoneNumber.from_stored(f"+0{customer_id.int % 10**18:018d}")


MAX_AGE = 130
_GENDER_ALIASES = {"m": "male", "f": "female", "prefer_not_to_say": "undisclosed"}


class Gender(enum.StrEnum):
    """A traveler's gender as they state it.

    .. versionadded:: 0.1
    """

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"

    @classmethod
    def parse(cls, value: str | Gender, *, field: str = "gender") -> Gender:
        """Read a gender name case-insensitively (``m``/``f`` accepted).

        Raises:
            ValidationError: the value is not one of the names.
        """
        return parse_choice(cls, value, field, aliases=_GENDER_ALIASES)


@attrs.define(slots=False)
class Customer(Versioned):
    """The person who books and pays, identified by phone.

    ``partner_id`` is the partner the customer belongs to (``None`` for the
    business's own customers); ``created_by_partner_id`` keeps who created it
    even if the customer is later reassigned. ``external_id`` is the customer's
    id in another system (the ``users`` table they were imported from), unique
    when set.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 ``external_id``.
    """

    id: CustomerId
    phone: PhoneNumber
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    email: EmailAddress | None = None
    source: BookingSource = BookingSource.DIRECT
    partner_id: PartnerId | None = None
    created_by_partner_id: PartnerId | None = None
    created_by: Actor | None = None
    version: int = 1
    merged_into: CustomerId | None = None
    erased_at: datetime | None = None
    external_id: str | None = None

    entity_name = "customer"

    @property
    def is_merged(self) -> bool:
        """True once this customer was merged into another one (reads skip them).

        .. versionadded:: 0.3
        """
        return self.merged_into is not None

    @property
    def is_erased(self) -> bool:
        """True once the customer's personal data was erased (GDPR).

        .. versionadded:: 0.3
        """
        return self.erased_at is not None

    def merge_into(self, survivor: CustomerId, *, now: datetime) -> None:
        """Mark this customer as merged into ``survivor``.

        Raises:
            ValidationError: ``survivor`` is this customer, or it is merged already.

        .. versionadded:: 0.3
        """
        if survivor == self.id:
            msg = "a customer cannot be merged into itself"
            raise ValidationError.single("merged_into", msg, "same_customer")
        if self.merged_into is not None:
            msg = f"customer {self.id} was already merged into {self.merged_into}"
            raise ValidationError.single("merged_into", msg, "already_merged")
        self.merged_into = survivor
        self.updated_at = now
        self.version += 1

    def erase(self, *, now: datetime) -> None:
        """Anonymise the personal fields; the customer stays, so bookings and money add up.

        The phone becomes :func:`erased_phone` (no real number: nobody can find,
        register or sign in with it), name, email and external id are dropped.

        .. versionadded:: 0.3
        """
        self.phone = erased_phone(self.id)
        self.name = None
        self.email = None
        self.external_id = None
        self.erased_at = now
        self.updated_at = now
        self.version += 1

    @property
    def is_profile_complete(self) -> bool:
        """True once the customer has given both a name and an email."""
        return self.name is not None and self.email is not None

    def complete_profile(
        self,
        *,
        now: datetime,
        name: str | None = None,
        email: str | EmailAddress | None = None,
        external_id: str | None = None,
    ) -> None:
        """Set the optional profile fields a phone-only registration left empty.

        Only the fields passed are changed.

        Raises:
            ValidationError: ``name`` is not 2-255 characters, ``email`` is
                malformed or ``external_id`` is not 1-255 characters.

        .. versionchanged:: 0.3 ``external_id``.
        """
        problems = Problems()
        clean_name = problems.capture(lambda: clean_text(name, "name", min_length=2))
        clean_email = problems.capture(
            lambda: None if email is None else EmailAddress.parse(str(email))
        )
        clean_id = problems.capture(lambda: clean_text(external_id, "external_id"))
        problems.raise_if_any()
        if clean_name is not None:
            self.name = clean_name
        if clean_email is not None:
            self.email = clean_email
        if clean_id is not None:
            self.external_id = clean_id
        self.updated_at = now
        self.version += 1


@attrs.frozen
class TravelerDetails:
    """A traveler's details as a person typed them, not yet validated.

    :meth:`validated` checks every field at once and reports each problem with its
    field name. ``phone`` numbers without a country code are read in ``region``.

    .. versionadded:: 0.1
    """

    name: str
    age: int | None = None
    birth_date: date | None = None
    gender: str | None = None
    phone: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_phone: str | None = None
    special_requirements: str | None = None

    @classmethod
    def of(cls, person: Traveler | _CleanTraveler) -> TravelerDetails:
        """The details of a stored traveler (or of validated details) written out again:
        phones in E.164, the gender by its name; ``validated`` gives the same back."""
        return cls(
            name=person.name,
            age=person.age,
            birth_date=person.birth_date,
            gender=None if person.gender is None else person.gender.value,
            phone=None if person.phone is None else person.phone.e164,
            emergency_contact_name=person.emergency_contact_name,
            emergency_contact_phone=(
                None
                if person.emergency_contact_phone is None
                else person.emergency_contact_phone.e164
            ),
            special_requirements=person.special_requirements,
        )

    def validated(self, *, region: str | None, today: date) -> _CleanTraveler:
        """Return the cleaned fields, or raise one error naming every bad field.

        Raises:
            ValidationError: with one :class:`~bookingcore.errors.FieldError` per bad field.
        """
        p = Problems()
        name = p.capture(lambda: require_text(self.name, "name", min_length=2))
        age = self.age
        if age is not None and (isinstance(age, bool) or not isinstance(age, int)):
            p.add("age", "must be a whole number", "invalid_type")
        elif age is not None and not 0 <= age <= MAX_AGE:
            p.add("age", f"must be between 0 and {MAX_AGE}", "out_of_range")
        born = p.capture(
            lambda: None if self.birth_date is None else calendar_day(self.birth_date, "birth_date")
        )
        if born is not None and born > today:
            p.add("birth_date", "cannot be in the future", "out_of_range")
        gender = p.capture(
            lambda: None if self.gender in (None, "") else Gender.parse(str(self.gender))
        )
        phone = p.capture(
            lambda: (
                None
                if not self.phone
                else PhoneNumber.parse(self.phone, region=region, field="phone")
            )
        )
        ec_name = p.capture(
            lambda: clean_text(self.emergency_contact_name, "emergency_contact_name", min_length=2)
        )
        ec_phone = p.capture(
            lambda: (
                None
                if not self.emergency_contact_phone
                else PhoneNumber.parse(
                    self.emergency_contact_phone, region=region, field="emergency_contact_phone"
                )
            )
        )
        needs = p.capture(
            lambda: clean_text(self.special_requirements, "special_requirements", max_length=2000)
        )
        p.raise_if_any()
        assert name is not None
        return _CleanTraveler(name, age, self.birth_date, gender, phone, ec_name, ec_phone, needs)


@attrs.frozen
class _CleanTraveler:
    name: str
    age: int | None
    birth_date: date | None
    gender: Gender | None
    phone: PhoneNumber | None
    emergency_contact_name: str | None
    emergency_contact_phone: PhoneNumber | None
    special_requirements: str | None


@attrs.define(slots=False)
class Traveler(Versioned):
    """A person who takes part in bookings, saved under one customer for reuse.

    .. versionadded:: 0.1
    """

    id: TravelerId
    customer_id: CustomerId
    name: str
    created_at: datetime
    updated_at: datetime
    age: int | None = None
    birth_date: date | None = None
    gender: Gender | None = None
    phone: PhoneNumber | None = None
    emergency_contact_name: str | None = None
    emergency_contact_phone: PhoneNumber | None = None
    special_requirements: str | None = None
    deleted_at: datetime | None = None
    version: int = 1

    entity_name = "traveler"

    @classmethod
    def create(
        cls,
        *,
        traveler_id: TravelerId,
        customer_id: CustomerId,
        details: TravelerDetails,
        region: str | None,
        now: datetime,
        today: date | None = None,
    ) -> Traveler:
        """Validate ``details`` and build a traveler owned by ``customer_id``.

        ``today`` is the business's calendar day at ``now`` (a birth date may not
        fall after it); ``now``'s own date when not given.

        Raises:
            ValidationError: naming every bad field of ``details``.

        .. versionchanged:: 0.4 ``today``.
        """
        clean = details.validated(region=region, today=now.date() if today is None else today)
        return cls(
            id=traveler_id,
            customer_id=customer_id,
            created_at=now,
            updated_at=now,
            **attrs.asdict(clean, recurse=False),
        )

    def update(
        self,
        details: TravelerDetails,
        *,
        region: str | None,
        now: datetime,
        today: date | None = None,
    ) -> None:
        """Replace the traveler's details with ``details`` (validated first).

        ``today`` is the business's calendar day at ``now``, as for :meth:`create`.

        Raises:
            ValidationError: naming every bad field; nothing is changed.

        .. versionchanged:: 0.4 ``today``.
        """
        clean = details.validated(region=region, today=now.date() if today is None else today)
        for name, value in attrs.asdict(clean, recurse=False).items():
            setattr(self, name, value)
        self.updated_at = now
        self.version += 1

    @property
    def is_deleted(self) -> bool:
        """True once the traveler was soft-deleted."""
        return self.deleted_at is not None

    def move_to(self, customer_id: CustomerId, *, now: datetime) -> None:
        """Put the traveler under ``customer_id`` (when two customers are merged).

        .. versionadded:: 0.3
        """
        self.customer_id = customer_id
        self.updated_at = now
        self.version += 1

    def erase(self, *, now: datetime) -> None:
        """Anonymise every personal field; the traveler stays so bookings keep their counts.

        .. versionadded:: 0.3
        """
        self.name = ERASED_NAME
        self.age = None
        self.birth_date = None
        self.gender = None
        self.phone = None
        self.emergency_contact_name = None
        self.emergency_contact_phone = None
        self.special_requirements = None
        self.updated_at = now
        self.version += 1

    def soft_delete(self, *, now: datetime) -> None:
        """Hide the traveler from lists and new bookings; past bookings keep them."""
        if self.deleted_at is None:
            self.deleted_at = now
            self.updated_at = now
            self.version += 1
