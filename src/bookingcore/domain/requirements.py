"""Who may be booked on what: a product's age limits and required certificates.

A dive centre refuses a 9-year-old on an Open Water course (10 and over) and a
diver without an Advanced Open Water certificate on a deep dive; a trek
operator takes 12-60 year olds up a high-altitude trek; a course school wants
the beginner course done before the advanced one. :class:`ProductRequirements`
says so for one product::

    ProductRequirements(min_age=10)
    ProductRequirements(min_age=12, max_age=60)
    ProductRequirements(certificates=["PADI Advanced Open Water", "SSI Advanced Adventurer"],
                        certificates_rule="any")

:func:`check` holds the travelers of one booking against them at the slot's
start and returns every problem at once, one
:class:`~bookingcore.errors.FieldError` per traveler and rule, so a form shows
them all:

* ``travelers[i].age``: ``too_young``, ``too_old``, or ``age_unknown`` (an age
  limit is set and the traveler has neither a date of birth nor an age);
* ``travelers[i].certificates``: ``certificate_missing`` (no certificate of a
  required kind) or ``certificate_expired`` (held, but expired by the start).

**Ages** are whole years on the day the slot starts (on the business's
calendar). A date of birth gives the exact age: the birthday itself counts (a
traveler born 2016-03-15 is 10 on a slot starting 2026-03-15); a 29 February
birthday comes on 1 March in common years. A traveler known only by an ``age``
ages from the day it was stated (:attr:`TravelerInfo.age_as_of`, the day the
traveler's details were last saved): whole years from that day are added, so a
stated age is never counted older than it can be (a 9-year-old recorded in
March is still 9 in December; give a date of birth to be exact).

**Certificates** count by their ``kind``, compared exactly as written. One
counts when it was issued to that traveler, or (issued to no traveler) to the
customer who saved the traveler and the traveler is that customer themselves:
their traveler whose name is the customer's (letter case and outer spaces
aside). It belongs to whoever holds it, whoever books them: a family member
booking another member's traveler is held against that member's certificates. It must not
have expired by the slot's start: one expiring at the start or the day before
does not count.

The requirements are data a host stores on the product
(:attr:`~bookingcore.domain.catalog.Product.requirements`), in a versioned
shape (:meth:`ProductRequirements.as_data`) read back and checked again by
:meth:`ProductRequirements.from_data`.

Pure: the slot's start and time zone are passed in, nothing reads a clock.

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo

import attrs

from bookingcore.domain._validation import parse_choice
from bookingcore.domain.certificates import Certificate
from bookingcore.domain.customers import MAX_AGE, Traveler
from bookingcore.domain.values import ensure_aware
from bookingcore.errors import FieldError, ValidationError

__all__ = [
    "REQUIREMENTS_DATA_VERSION",
    "CertificateRule",
    "HeldCertificate",
    "ProductRequirements",
    "TravelerInfo",
    "age_on",
    "check",
]

#: The version of the shape :meth:`ProductRequirements.as_data` writes; a later
#: shape gets a new number.
REQUIREMENTS_DATA_VERSION = 1

_MAX_KIND = 100
_MAX_KINDS = 20
_SHAPE = frozenset({"version", "min_age", "max_age", "certificates", "certificates_rule"})


class CertificateRule(enum.StrEnum):
    """How a product's certificate kinds combine: a traveler needs ``all`` of them,
    or ``any`` one (equivalent certificates of different agencies).

    .. versionadded:: 0.4
    """

    ALL = "all"
    ANY = "any"

    @classmethod
    def parse(
        cls, value: str | CertificateRule, *, field: str = "certificates_rule"
    ) -> CertificateRule:
        """Read a rule name case-insensitively.

        Raises:
            ValidationError: on ``field``: neither ``all`` nor ``any``.
        """
        return parse_choice(cls, value, field)


def _age(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single(field, "must be a whole number of years", "invalid_type")
    if not 0 <= value <= MAX_AGE:
        raise ValidationError.single(field, f"must be between 0 and {MAX_AGE}", "out_of_range")
    return value


def _kinds(value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        msg = "must be a list of certificate kinds"
        raise ValidationError.single("certificates", msg, "invalid_type")
    kinds: list[str] = []
    problems: list[FieldError] = []
    for i, raw in enumerate(value):
        field = f"certificates[{i}]"
        if not isinstance(raw, str):
            problems.append(FieldError(field, "must be a certificate kind (text)", "invalid_type"))
            continue
        kind = raw.strip()
        if not kind:
            problems.append(FieldError(field, "is required", "required"))
        elif len(kind) > _MAX_KIND:
            msg = f"must be at most {_MAX_KIND} characters"
            problems.append(FieldError(field, msg, "too_long"))
        elif kind in kinds:
            problems.append(FieldError(field, f"{kind!r} is listed twice", "duplicate"))
        else:
            kinds.append(kind)
    if len(kinds) > _MAX_KINDS:
        msg = f"at most {_MAX_KINDS} certificate kinds"
        problems.append(FieldError("certificates", msg, "too_many"))
    if problems:
        raise ValidationError(problems)
    return tuple(kinds)


def _rule(value: object) -> CertificateRule:
    if not isinstance(value, str):
        raise ValidationError.single("certificates_rule", "must be 'all' or 'any'", "invalid_type")
    return CertificateRule.parse(value)


@attrs.frozen(kw_only=True)
class ProductRequirements:
    """Who may be booked on a product.

    Args:
        min_age: the youngest a traveler may be, in whole years on the slot's
            start day (inclusive: 10 lets a 10-year-old on); None: no lower limit.
        max_age: the oldest, inclusive (60 lets a 60-year-old on); None: no upper limit.
        certificates: the certificate kinds a traveler must hold (``"PADI Open
            Water"``), compared exactly as written after trimming; empty: none.
        certificates_rule: ``"all"`` (the default) of them, or ``"any"`` one.

    Raises:
        ValidationError: on ``min_age`` / ``max_age`` (codes ``invalid_type``,
            ``out_of_range``; ``max_age`` also when below ``min_age``), on
            ``certificates`` or ``certificates[i]`` (``invalid_type``,
            ``required``, ``too_long``, ``duplicate``, ``too_many``), on
            ``certificates_rule`` (neither ``all`` nor ``any``).

    .. versionadded:: 0.4
    """

    min_age: int | None = None
    max_age: int | None = None
    certificates: tuple[str, ...] = attrs.field(default=(), converter=_kinds)
    certificates_rule: CertificateRule = attrs.field(default=CertificateRule.ALL, converter=_rule)

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        for field in ("min_age", "max_age"):
            try:
                _age(getattr(self, field), field)
            except ValidationError as error:
                problems += error.errors
        if problems:
            raise ValidationError(problems)
        if self.min_age is not None and self.max_age is not None and self.max_age < self.min_age:
            msg = f"must not be below min_age ({self.min_age})"
            raise ValidationError.single("max_age", msg, "out_of_range")

    @property
    def limits_age(self) -> bool:
        """True when a lower or upper age limit is set."""
        return self.min_age is not None or self.max_age is not None

    def as_data(self) -> dict[str, object]:
        """The requirements as plain data (JSON), the shape storage keeps (version 1)::

            {"version": 1, "min_age": 10, "max_age": null,
             "certificates": ["PADI Open Water"], "certificates_rule": "all"}

        :meth:`from_data` reads it back, checking it again.
        """
        return {
            "version": REQUIREMENTS_DATA_VERSION,
            "min_age": self.min_age,
            "max_age": self.max_age,
            "certificates": list(self.certificates),
            "certificates_rule": self.certificates_rule.value,
        }

    @classmethod
    def from_data(cls, data: object) -> ProductRequirements:
        """The requirements :meth:`as_data` wrote, checked again as if they were new.

        Whatever does not read as valid requirements of a known shape version is
        refused; nothing is guessed at.

        Raises:
            ValidationError: naming the part that is wrong: ``version`` (code
                ``unknown_version``), an unknown key (``unknown_field``),
                ``min_age``, ``max_age``, ``certificates``, ``certificates[i]``,
                ``certificates_rule``.
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single("", "must be a mapping", "invalid_type")
        version = data.get("version")
        if isinstance(version, bool) or version != REQUIREMENTS_DATA_VERSION:
            msg = f"{version!r} is not a known shape (expected {REQUIREMENTS_DATA_VERSION})"
            raise ValidationError.single("version", msg, "unknown_version")
        problems = [
            FieldError(str(k), "is not part of the shape", "unknown_field")
            for k in sorted(set(data) - _SHAPE, key=str)
        ]
        if not isinstance(data.get("certificates"), list):
            problems.append(FieldError("certificates", "must be a list", "invalid_type"))
        if problems:
            raise ValidationError(problems)
        return cls(
            min_age=data.get("min_age"),
            max_age=data.get("max_age"),
            certificates=data["certificates"],
            certificates_rule=data.get("certificates_rule"),
        )


def age_on(birth_date: date, day: date) -> int:
    """Whole years from ``birth_date`` to ``day``: the birthday itself counts; a
    29 February birthday comes on 1 March in common years. Negative before birth.

    .. versionadded:: 0.4
    """
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


@attrs.frozen(kw_only=True)
class HeldCertificate:
    """A certificate as :func:`check` needs it: its kind and expiry (None: never).

    .. versionadded:: 0.4
    """

    kind: str
    expires_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.expires_at is not None:
            ensure_aware(self.expires_at, "expires_at")


def _held(value: Iterable[HeldCertificate]) -> tuple[HeldCertificate, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class TravelerInfo:
    """What :func:`check` knows of one traveler.

    ``birth_date`` wins over ``age``; ``age`` was true on ``age_as_of`` (None:
    take it as the age on the slot's day). ``certificates`` are those that
    count for the traveler (see the module's notes).

    .. versionadded:: 0.4
    """

    birth_date: date | None = None
    age: int | None = None
    age_as_of: date | None = None
    certificates: tuple[HeldCertificate, ...] = attrs.field(default=(), converter=_held)

    @classmethod
    def of(
        cls,
        traveler: Traveler,
        certificates: Iterable[Certificate | HeldCertificate] = (),
        *,
        zone: tzinfo = UTC,
    ) -> TravelerInfo:
        """A stored traveler's info: its age as of the day its details were last
        saved (``updated_at`` on the calendar of ``zone``)."""
        return cls(
            birth_date=traveler.birth_date,
            age=traveler.age,
            age_as_of=traveler.updated_at.astimezone(zone).date(),
            certificates=tuple(
                HeldCertificate(kind=c.kind, expires_at=c.expires_at) for c in certificates
            ),
        )

    def age_on(self, day: date) -> int | None:
        """Whole years on ``day``, or None when neither a date of birth nor an age is known."""
        if self.birth_date is not None:
            return age_on(self.birth_date, day)
        if self.age is None:
            return None
        if self.age_as_of is None:
            return self.age
        return self.age + max(0, age_on(self.age_as_of, day))


def check(
    requirements: ProductRequirements | None,
    travelers: Sequence[TravelerInfo],
    starts_at: datetime,
    *,
    zone: tzinfo = UTC,
    field: str = "travelers",
) -> list[FieldError]:
    """Every way ``travelers`` fall short of ``requirements`` on a slot starting at
    ``starts_at`` (ages on its day in ``zone``); empty when they all may go.

    Each problem is a :class:`~bookingcore.errors.FieldError` on
    ``<field>[i].age`` (``too_young``, ``too_old``, ``age_unknown``) or
    ``<field>[i].certificates`` (``certificate_missing``, ``certificate_expired``:
    one per kind for ``all``, one for the set for ``any``), ``i`` the traveler's
    position in ``travelers``.

    Raises:
        ValidationError: on ``starts_at`` when it is naive.

    .. versionadded:: 0.4
    """
    start = ensure_aware(starts_at, "starts_at")
    if requirements is None:
        return []
    day = start.astimezone(zone).date()
    low, high = requirements.min_age, requirements.max_age
    problems: list[FieldError] = []
    for i, traveler in enumerate(travelers):
        at = f"{field}[{i}]"
        if requirements.limits_age:
            years = traveler.age_on(day)
            if years is None:
                msg = "an age limit applies: give the traveler's date of birth or age"
                problems.append(FieldError(f"{at}.age", msg, "age_unknown"))
            elif low is not None and years < low:
                msg = f"is {years} on {day.isoformat()}; this product takes {low} and over"
                problems.append(FieldError(f"{at}.age", msg, "too_young"))
            elif high is not None and years > high:
                msg = f"is {years} on {day.isoformat()}; this product takes up to {high}"
                problems.append(FieldError(f"{at}.age", msg, "too_old"))
        problems += _certificate_problems(requirements, traveler, start, f"{at}.certificates")
    return problems


def _certificate_problems(
    requirements: ProductRequirements, traveler: TravelerInfo, start: datetime, field: str
) -> list[FieldError]:
    kinds = requirements.certificates
    if not kinds:
        return []
    held = {c.kind for c in traveler.certificates}
    valid = {c.kind for c in traveler.certificates if c.expires_at is None or c.expires_at > start}
    if requirements.certificates_rule is CertificateRule.ANY:
        if valid & set(kinds):
            return []
        listed = ", ".join(repr(k) for k in kinds)
        if held & set(kinds):
            msg = f"every certificate of {listed} the traveler holds has expired by the start"
            return [FieldError(field, msg, "certificate_expired")]
        return [FieldError(field, f"needs one of {listed}", "certificate_missing")]
    problems: list[FieldError] = []
    for kind in kinds:
        if kind in valid:
            continue
        if kind in held:
            msg = f"the traveler's {kind!r} has expired by the start"
            problems.append(FieldError(field, msg, "certificate_expired"))
        else:
            problems.append(FieldError(field, f"needs {kind!r}", "certificate_missing"))
    return problems
