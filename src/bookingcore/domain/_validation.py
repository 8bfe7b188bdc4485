"""Collect every field problem of one request before raising once; refuse illegal status moves."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bookingcore.errors import FieldError, InvalidTransitionError, ValidationError

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)


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

    Raises:
        ValidationError: wrong type, missing when required, or outside the length bounds.
    """
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
    """``value`` as a plain dict of text to text.

    Raises:
        ValidationError: on ``field`` when a key or a value is not text.
    """
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValidationError.single(field, "keys and values must be text", "invalid")
        result[key] = item
    return result


def positive_money_amount(value: object, field: str) -> None:
    """Refuse anything but an amount above zero.

    Raises:
        ValidationError: on ``field`` when ``value`` is not money above zero.
    """
    amount = getattr(value, "amount", None)
    if amount is None or amount <= 0:
        raise ValidationError.single(field, "must be above zero", "not_positive")
