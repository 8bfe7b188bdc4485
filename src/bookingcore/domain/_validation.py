"""Collect every field problem of one request before raising once; refuse illegal status moves."""

from __future__ import annotations

import enum
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar, cast

from bookingcore.domain.values import ensure_aware
from bookingcore.errors import FieldError, InvalidTransitionError, ValidationError

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)

#: The limits every backend enforces alike (docs/security.md, "Limits").
#: The longest idempotency key a caller may send.
MAX_IDEMPOTENCY_KEY = 255
#: Metadata: at most this many pairs, keys 1-100 characters, values up to 1000.
MAX_METADATA_PAIRS = 50
MAX_METADATA_KEY = 100
MAX_METADATA_VALUE = 1000
#: The largest count (capacity, seats, quantities) any integer field accepts.
MAX_COUNT = 1_000_000
#: The longest search text a filter accepts.
MAX_SEARCH_TEXT = 200


# Python's lower() maps capital I with a dot (U+0130) to two letters, an i and a
# combining dot, and a word-final capital sigma to the final small sigma.
_ONE_LETTER_EACH = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def fold_case(text: str) -> str:
    """``text`` in lower case letter by letter: how every store compares text in searches.

    Each letter becomes its Unicode (simple) lower case, one letter for one: the
    Turkish capital I with a dot (U+0130) is ``i``, a capital sigma is the small
    sigma (U+03C3) wherever it stands, and the German sharp s and the Greek final
    sigma stay themselves. So ``"strasse"`` does not find ``"Stra\u00dfe"``, and a
    name in capitals ending in a sigma does not find the same name written in
    small letters with a final sigma. It is what PostgreSQL's ``lower()`` does
    under a UTF-8 libc locale (the SQL store's search compares ``lower(column)``),
    so the memory, SQLite and PostgreSQL stores find the same rows.

    .. versionadded:: 0.4
    """
    return text.translate(_ONE_LETTER_EACH).lower()


#: What :func:`check_text` refuses: Unicode's control characters (category Cc:
#: U+0000-U+001F and U+007F-U+009F) except tab, newline and carriage return, and
#: lone surrogates (category Cs), which no UTF-8 database can store.
_REFUSED_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(value: object, field: str) -> None:
    """Refuse text holding a control character other than tab, newline or carriage
    return (NUL included), or a lone surrogate: the one rule for all text.

    Raises:
        ValidationError: on ``field`` with code ``control_character``
            (``invalid_type`` when ``value`` is not text).
    """
    if not isinstance(value, str):
        raise ValidationError.single(field, "must be text", "invalid_type")
    found = _REFUSED_CHARACTERS.search(value)
    if found is not None:
        char, position = found.group(), found.start()
        msg = f"must not contain control characters (U+{ord(char):04X} at {position})"
        raise ValidationError.single(field, msg, "control_character")


def without_control_characters(value: str) -> str:
    """``value`` with every character :func:`check_text` refuses replaced by U+FFFD.

    For copies kept to show people what was refused (an import's error rows),
    never for values the library acts on.
    """
    return _REFUSED_CHARACTERS.sub("\ufffd", value)


def text_problem(value: str) -> str | None:
    """The message :func:`check_text` would raise for ``value``, or None when it is clean."""
    try:
        check_text(value, "text")
    except ValidationError as exc:
        return exc.errors[0].message
    return None


def bounded_count(value: object, field: str, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """``value`` as a whole number within ``minimum``-``maximum``.

    Raises:
        ValidationError: on ``field``: ``invalid_type`` for a non-integer (bools and
            floats included), ``out_of_range`` outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single(field, "must be a whole number", "invalid_type")
    if not minimum <= value <= maximum:
        msg = f"must be between {minimum:,} and {maximum:,}"
        raise ValidationError.single(field, msg, "out_of_range")
    return value


def check_idempotency_key(value: object, field: str = "idempotency_key") -> str | None:
    """A caller's idempotency key, checked: None or empty means no key.

    Raises:
        ValidationError: on ``field``: not text, over
            :data:`MAX_IDEMPOTENCY_KEY` characters, or holding control characters.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError.single(field, "must be text", "invalid_type")
    if len(value) > MAX_IDEMPOTENCY_KEY:
        msg = f"must be at most {MAX_IDEMPOTENCY_KEY} characters"
        raise ValidationError.single(field, msg, "too_long")
    check_text(value, field)
    return value


def check_metadata(
    value: object, field: str = "metadata", *, pairs: bool = False
) -> dict[str, str]:
    """Metadata, the one rule for every kind (bookings, transitions, import rows,
    items, payments): at most :data:`MAX_METADATA_PAIRS` pairs of text, keys of
    1-:data:`MAX_METADATA_KEY` characters, values of at most
    :data:`MAX_METADATA_VALUE`, no control characters. ``None`` is empty.

    ``pairs=True`` also accepts a sequence of (key, value) pairs, the form
    request objects keep metadata in. Returns the pairs as a dict sorted by key.

    Raises:
        ValidationError: one field error per bad pair, on ``<field>.<key>``
            (``<field>`` itself for a non-mapping or too many pairs).
    """
    if value is None:
        return {}
    if type(value) is dict and len(value) <= MAX_METADATA_PAIRS:
        # The common case, a dict of clean text (as every booking's metadata is checked
        # again on the way in): one pass with no error bookkeeping; anything else takes
        # the full check below, which says what is wrong.
        search = _REFUSED_CHARACTERS.search
        for key, item in value.items():
            if not (
                type(key) is str
                and type(item) is str
                and 1 <= len(key) <= MAX_METADATA_KEY
                and len(item) <= MAX_METADATA_VALUE
                and search(key) is None
                and search(item) is None
            ):
                break
        else:
            return dict(sorted(value.items()))
    if isinstance(value, Mapping):
        entries: list[tuple[object, object]] = list(cast("Mapping[object, object]", value).items())
    elif pairs and isinstance(value, list | tuple):
        try:
            entries = [(k, v) for k, v in value]
        except (TypeError, ValueError):
            raise ValidationError.single(field, "must map text to text", "invalid_type") from None
    else:
        raise ValidationError.single(field, "must map text to text", "invalid_type")
    p = Problems(prefix=field)
    if len(entries) > MAX_METADATA_PAIRS:
        p.add("", f"at most {MAX_METADATA_PAIRS} entries", "too_many")
        p.raise_if_any()
    result: dict[str, str] = {}
    for key, item in entries:
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_METADATA_KEY:
            shown = key[:MAX_METADATA_KEY] if isinstance(key, str) else type(key).__name__
            msg = f"keys are text of 1 to {MAX_METADATA_KEY} characters"
            p.add(shown, msg, "invalid_key")
            continue
        if text_problem(key) is not None:
            p.add("", "keys must not contain control characters", "control_character")
            continue
        if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE:
            msg = f"values are text of at most {MAX_METADATA_VALUE} characters"
            p.add(key, msg, "invalid_value")
            continue
        problem = text_problem(item)
        if problem is not None:
            p.add(key, problem, "control_character")
            continue
        result[key] = item
    p.raise_if_any()
    return dict(sorted(result.items()))


class Problems:
    """Accumulates :class:`FieldError` s so a caller hears about all of them at once."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        """Record one problem on ``field``."""
        self.errors.append(FieldError(field, message, code).prefixed(self.prefix))

    def capture(self, build: Callable[[], T]) -> T | None:
        """Run ``build``; on :class:`ValidationError` keep its errors and return None."""
        try:
            return build()
        except ValidationError as exc:
            self.errors.extend(e.prefixed(self.prefix) for e in exc.errors)
            return None

    def extend(self, other: Problems) -> None:
        """Take over the problems another collector found."""
        self.errors.extend(e.prefixed(self.prefix) for e in other.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise one :class:`ValidationError` carrying every recorded problem."""
        if self.errors:
            raise ValidationError(self.errors)


def clean_text(
    value: object,
    field: str,
    *,
    required: bool = False,
    min_length: int = 1,
    max_length: int = 255,
) -> str | None:
    """Strip ``value``; None or blank becomes None unless ``required``.

    Every text goes through :func:`check_text` first.

    Raises:
        ValidationError: wrong type, missing when required, outside the length
            bounds, or holding a control character.
    """
    if isinstance(value, str):
        check_text(value, field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError.single(field, "is required", "required")
        return None
    if not isinstance(value, str):
        raise ValidationError.single(field, "must be text", "invalid_type")
    text = " ".join(value.split()) if "\n" not in value else value.strip()
    if len(text) < min_length:
        msg = f"must be at least {min_length} characters"
        raise ValidationError.single(field, msg, "too_short")
    if len(text) > max_length:
        msg = f"must be at most {max_length} characters"
        raise ValidationError.single(field, msg, "too_long")
    return text


def require_text(value: object, field: str, *, min_length: int = 1, max_length: int = 255) -> str:
    """Like :func:`clean_text` with ``required=True``, typed as always returning text."""
    text = clean_text(value, field, required=True, min_length=min_length, max_length=max_length)
    assert text is not None
    return text


def parse_timezone(value: object, field: str = "timezone") -> zoneinfo.ZoneInfo:
    """The IANA time zone named ``value`` (``"Asia/Kolkata"``).

    Raises:
        ValidationError: on ``field`` with code ``invalid_timezone`` for anything
            else: no string, an unknown name, a folder of zones (``"America"``),
            a path or too long a name.
    """
    if not isinstance(value, str):
        msg = f"{value!r} is not an IANA time zone name"
        raise ValidationError.single(field, msg, "invalid_timezone")
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a long name
        msg = f"{value!r} is not an IANA time zone"
        raise ValidationError.single(field, msg, "invalid_timezone") from None


def parse_choice(
    choices: type[E],
    value: object,
    field: str,
    *,
    aliases: Mapping[str, str] | None = None,
    what: str = "",
) -> E:
    """Read ``value`` as a member of ``choices``: case-, space- and dash-insensitive.

    Raises:
        ValidationError: on ``field`` with code ``invalid_choice``, listing the choices.
    """
    if isinstance(value, choices):
        return value
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    key = (aliases or {}).get(key, key)
    try:
        return choices(key)
    except ValueError:
        known = ", ".join(member.value for member in choices)
        msg = (
            f"{value!r} is not {what} (one of {known})"
            if what
            else f"{value!r} is not one of {known}"
        )
        raise ValidationError.single(field, msg, "invalid_choice") from None


def check_move(
    machine: str,
    subject: str,
    moves: Mapping[E, frozenset[E]],
    current: E,
    target: E,
) -> None:
    """Refuse a status move that ``moves`` (state -> states it may become) does not list.

    ``machine`` names the state machine on the error (``"waitlist"``), ``subject``
    the thing that would move (``"waitlist entry 1b4e..."``) in its message.

    Raises:
        InvalidTransitionError: ``target`` is not among the moves of ``current``.
    """
    if target in moves.get(current, frozenset()):
        return
    allowed = sorted(state.value for state in moves.get(current, frozenset()))
    could = f"; it can become {', '.join(allowed)}" if allowed else " and cannot change any more"
    msg = f"{subject} is {current.value}, it cannot become {target.value}{could}"
    raise InvalidTransitionError(machine, current.value, target.value, message=msg)


def text_mapping(value: Mapping[Any, Any], field: str = "metadata") -> dict[str, str]:
    """``value`` as metadata: :func:`check_metadata` (kept for attrs converters).

    Raises:
        ValidationError: see :func:`check_metadata`.
    """
    return check_metadata(value, field)


def positive_money_amount(value: object, field: str) -> None:
    """Refuse anything but an amount above zero.

    Raises:
        ValidationError: on ``field`` when ``value`` is not money above zero.
    """
    amount = getattr(value, "amount", None)
    if amount is None or amount <= 0:
        raise ValidationError.single(field, "must be above zero", "not_positive")


def calendar_day(value: object, field: str) -> date:
    """``value`` when it is a calendar day: a ``date``, never a datetime, text or ``None``.

    Raises:
        ValidationError: on ``field`` (``invalid_type``) for anything else.
    """
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError.single(field, "must be a date", "invalid_type")
    return value


def aware_bound(_instance: object, attribute: Any, value: object) -> None:
    """attrs validator of a filter's time bound: ``None`` or a timezone-aware datetime.

    Raises:
        ValidationError: on the field: not a datetime (``invalid_type``), or
            naive (``naive_datetime``), as every other time input.
    """
    if value is None:
        return
    if not isinstance(value, datetime):
        raise ValidationError.single(attribute.name, "must be a date and time", "invalid_type")
    ensure_aware(value, attribute.name)


def check_range(
    start: datetime | None, end: datetime | None, start_field: str, end_field: str
) -> None:
    """Refuse a period whose upper bound comes before its lower bound.

    An empty period (both bounds equal) is allowed: it matches nothing. Either
    bound left ``None`` is open.

    Raises:
        ValidationError: on ``end_field`` (code ``invalid_range``) when ``end``
            is before ``start``.
    """
    if start is not None and end is not None and end < start:
        msg = f"must not be before {start_field}"
        raise ValidationError.single(end_field, msg, "invalid_range")
