"""Cancellation terms: until when customers cancel online, and how much goes back.

A :class:`CancellationPolicy` is data a host configures
(``Settings.cancellation``): ``self_service_until``, how long before a booking
starts customers and partners can no longer cancel it themselves, and refund
tiers, the share of what was paid that a cancellation gives back depending on
the notice it leaves. A tour operator's "full refund up to 7 days before, 50 %
up to 48 hours, nothing after" reads::

    CancellationPolicy(
        refund_tiers=(
            RefundTier(timedelta(days=7), Decimal(100)),
            RefundTier(timedelta(hours=48), Decimal(50)),
        ),
    )

A booking cancelled with at least a tier's ``notice`` left before its start
(exactly ``notice`` included) gets that tier's share back; the best tier that
applies wins; when none does, nothing. :meth:`CancellationPolicy.terms` works
out, for one booking at one moment, the :class:`CancellationTerms`: whether a
customer may still cancel online, the tier and percent that apply, the
refundable money (per currency, rounded to its minor unit) and until when
that percent holds ("free cancellation until 12 March 10:00").

The default policy is the library's behaviour before 0.4, stated: customers
and partners cancel online until the booking starts, and no refund terms are
stated (no tiers): terms then promise 0 % and the library records nothing on
the cancellation. The library never moves money by itself unless the host
asks for it (``PaymentSettings.refund_on_cancel``); staff refund through the
payment service as before.

Pure: times are passed in (timezone-aware, compared as instants, so daylight
saving does not matter), nothing reads a clock.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from bookingcore.domain.values import Money, ensure_aware
from bookingcore.errors import FieldError, ValidationError

__all__ = [
    "CANCELLATION_METADATA_KEYS",
    "POLICY_DATA_VERSION",
    "CancellationPolicy",
    "CancellationTerms",
    "RefundTier",
    "recorded_refund",
]

#: The metadata keys the history entry and ``booking.status_changed`` event of a
#: cancellation carry when its policy states refund terms: the refund percent
#: (``"50"``) and the refundable money, ``"<amount> <currency>"`` per currency
#: joined by ``"; "`` (``"1250.00 INR"``). Callers may not set them themselves.
CANCELLATION_METADATA_KEYS = ("cancellation_refund_percent", "cancellation_refundable")

_HUNDRED = Decimal(100)

#: The version of the shape :meth:`CancellationPolicy.as_data` writes (and
#: :meth:`CancellationPolicy.from_data` reads); a later shape gets a new number.
POLICY_DATA_VERSION = 1


def _percent(value: object) -> Decimal:
    if isinstance(value, bool | float):
        msg = "must be exact (a Decimal, an int or a numeric string)"
        raise ValidationError.single("refund_percent", msg, "inexact_amount")
    try:
        rate = Decimal(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (ArithmeticError, TypeError, ValueError):
        raise ValidationError.single(
            "refund_percent", f"{value!r} is not a number", "invalid_amount"
        ) from None
    if not rate.is_finite() or not 0 <= rate <= _HUNDRED:
        raise ValidationError.single("refund_percent", "must be between 0 and 100", "out_of_range")
    return rate


def _duration(value: object, field: str) -> timedelta:
    if not isinstance(value, timedelta):
        raise ValidationError.single(field, "must be a timedelta", "invalid_type")
    if value < timedelta(0):
        raise ValidationError.single(field, "must not be negative", "out_of_range")
    return value


@attrs.frozen
class RefundTier:
    """``refund_percent`` of what was paid goes back when a booking is cancelled with
    at least ``notice`` left before it starts (exactly ``notice`` included).

    ``RefundTier(timedelta(0), Decimal(100))`` refunds everything until the very
    start; ``RefundTier(timedelta(days=7), Decimal(100))`` up to a week before.

    Raises:
        ValidationError: on ``notice`` when it is negative or not a timedelta; on
            ``refund_percent`` when it is outside 0-100 or a float.

    .. versionadded:: 0.4
    """

    notice: timedelta
    refund_percent: Decimal = attrs.field(converter=_percent)

    def __attrs_post_init__(self) -> None:
        _duration(self.notice, "notice")


def _tiers(value: object) -> tuple[RefundTier, ...]:
    if isinstance(value, RefundTier) or not isinstance(value, Iterable):
        raise ValidationError.single(
            "refund_tiers", "must be a sequence of RefundTier", "invalid_type"
        )
    tiers = tuple(value)
    problems = [
        FieldError(f"refund_tiers.{i}", "must be a RefundTier", "invalid_type")
        for i, tier in enumerate(tiers)
        if not isinstance(tier, RefundTier)
    ]
    if problems:
        raise ValidationError(problems)
    return tuple(sorted(tiers, key=lambda t: t.notice, reverse=True))


@attrs.frozen
class CancellationPolicy:
    """Until when customers cancel online, and how much a cancellation gives back.

    Args:
        self_service_until: how long before a booking starts customers and
            partners can no longer cancel it themselves (staff who may change
            every booking, and its advisor, still can). Zero, the default: until
            the start, the rule before 0.4.
        refund_tiers: the shares of what was paid a cancellation gives back, by
            the notice it leaves (:class:`RefundTier`), in any order (kept
            longest notice first). The best tier that applies wins; none, 0 %.
            Empty, the default: the policy states no refund terms (terms say
            0 %, cancellations record nothing, staff refund by hand).

    A longer notice must give back strictly more: tiers whose percent rises
    (or stays) as the notice shrinks are refused, as the longer one could
    never apply ("100 % up to 2 days, 50 % up to 7 days" means 100 % up to 2
    days, so it is a mistake to report, not a policy to guess at).

    Raises:
        ValidationError: on ``self_service_until`` when negative; on
            ``refund_tiers`` (code ``duplicate``) for two tiers with one
            notice, (code ``not_decreasing``) for a tier that does not give back
            less than a tier of longer notice, on ``refund_tiers.<i>`` for an
            item that is no :class:`RefundTier`.

    .. versionadded:: 0.4
    """

    self_service_until: timedelta = timedelta(0)
    refund_tiers: tuple[RefundTier, ...] = attrs.field(default=(), converter=_tiers)

    def __attrs_post_init__(self) -> None:
        _duration(self.self_service_until, "self_service_until")
        for longer, shorter in zip(self.refund_tiers, self.refund_tiers[1:], strict=False):
            if longer.notice == shorter.notice:
                msg = f"two tiers share the notice {longer.notice}"
                raise ValidationError.single("refund_tiers", msg, "duplicate")
            if shorter.refund_percent >= longer.refund_percent:
                msg = (
                    f"the tier at {shorter.notice} notice gives back {shorter.refund_percent} %, "
                    f"not less than the {longer.refund_percent} % at {longer.notice}: "
                    "a longer notice must give back more"
                )
                raise ValidationError.single("refund_tiers", msg, "not_decreasing")

    def as_data(self) -> dict[str, object]:
        """The policy as plain data (JSON), the shape storage keeps (version 1)::

            {"version": 1, "self_service_until_seconds": 86400,
             "refund_tiers": [{"notice_seconds": 604800, "refund_percent": "100"},
                              {"notice_seconds": 172800, "refund_percent": "50"}]}

        Durations are whole seconds (ints), percents decimal strings, tiers longest
        notice first. :meth:`from_data` reads it back, checking it again.

        Raises:
            ValidationError: on ``self_service_until`` or ``refund_tiers.<i>.notice``
                (code ``precision``) for a duration that is not whole seconds.

        .. versionadded:: 0.4
        """
        return {
            "version": POLICY_DATA_VERSION,
            "self_service_until_seconds": _seconds(self.self_service_until, "self_service_until"),
            "refund_tiers": [
                {
                    "notice_seconds": _seconds(tier.notice, f"refund_tiers.{i}.notice"),
                    "refund_percent": _plain(tier.refund_percent),
                }
                for i, tier in enumerate(self.refund_tiers)
            ],
        }

    @classmethod
    def from_data(cls, data: object) -> CancellationPolicy:
        """The policy :meth:`as_data` wrote, checked again as if it were new.

        Stored data may have been edited by hand or written by a later version;
        nothing is guessed at: whatever does not read as a valid policy of a
        known shape version is refused.

        Raises:
            ValidationError: naming the part that is wrong: ``version`` (code
                ``unknown_version``), ``self_service_until_seconds``,
                ``refund_tiers``, ``refund_tiers.<i>.notice_seconds``,
                ``refund_tiers.<i>.refund_percent``, or what the policy itself
                refuses (``refund_tiers``, code ``not_decreasing`` ...).

        .. versionadded:: 0.4
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single("", "must be a mapping", "invalid_type")
        version = data.get("version")
        if isinstance(version, bool) or version != POLICY_DATA_VERSION:
            msg = f"{version!r} is not a known policy shape (expected {POLICY_DATA_VERSION})"
            raise ValidationError.single("version", msg, "unknown_version")
        problems: list[FieldError] = []
        unknown = sorted(set(data) - {"version", "self_service_until_seconds", "refund_tiers"})
        problems += [
            FieldError(str(k), "is not part of the shape", "unknown_field") for k in unknown
        ]
        until = _read_seconds(data.get("self_service_until_seconds"), "self_service_until_seconds")
        if isinstance(until, FieldError):
            problems.append(until)
        raw_tiers = data.get("refund_tiers")
        tiers: list[RefundTier] = []
        if not isinstance(raw_tiers, list):
            problems.append(FieldError("refund_tiers", "must be a list", "invalid_type"))
        else:
            for i, raw in enumerate(raw_tiers):
                tier = _read_tier(raw, f"refund_tiers.{i}")
                if isinstance(tier, RefundTier):
                    tiers.append(tier)
                else:
                    problems += tier
        if problems:
            raise ValidationError(problems)
        assert isinstance(until, timedelta)
        return cls(self_service_until=until, refund_tiers=tiers)

    @property
    def states_refunds(self) -> bool:
        """True when the policy names refund tiers (its terms are promises to record)."""
        return bool(self.refund_tiers)

    def self_service_deadline(self, starts_at: datetime) -> datetime:
        """The moment customers and partners can no longer cancel a booking starting
        at ``starts_at`` themselves (they may before it, not at it)."""
        return ensure_aware(starts_at, "starts_at") - self.self_service_until

    def tier_at(self, *, starts_at: datetime, now: datetime) -> RefundTier | None:
        """The tier a cancellation at ``now`` of a booking starting at ``starts_at``
        gets: the one of longest notice that is still left, or None."""
        left = ensure_aware(starts_at, "starts_at") - ensure_aware(now, "now")
        return next((t for t in self.refund_tiers if left >= t.notice), None)

    def terms(
        self, *, starts_at: datetime, now: datetime, paid: Iterable[Money] = ()
    ) -> CancellationTerms:
        """What cancelling at ``now`` a booking starting at ``starts_at`` gives.

        ``paid`` is what the booking's payments hold, in any number of amounts
        and currencies (added up per currency); the refundable money is the
        tier's share of each currency's sum, rounded to its minor unit (half up).

        Raises:
            ValidationError: ``starts_at`` or ``now`` is naive; on ``paid`` for an
                item that is no :class:`~bookingcore.Money`.
        """
        start = ensure_aware(starts_at, "starts_at")
        at = ensure_aware(now, "now")
        sums: dict[str, Money] = {}
        for amount in paid:
            if not isinstance(amount, Money):
                raise ValidationError.single("paid", "must hold Money", "invalid_type")
            sums[amount.currency] = sums.get(amount.currency, Money.zero(amount.currency)) + amount
        held = tuple(sums[c] for c in sorted(sums))
        tier = self.tier_at(starts_at=start, now=at)
        percent = Decimal(0) if tier is None else tier.refund_percent
        deadline = self.self_service_deadline(start)
        return CancellationTerms(
            starts_at=start,
            as_of=at,
            self_service=at < deadline,
            self_service_until=deadline,
            refunds_stated=self.states_refunds,
            tier=tier,
            refund_percent=percent,
            paid=held,
            refundable=tuple(
                Money.zero(m.currency) if m.is_negative() else m.percent(percent) for m in held
            ),
            refund_until=None if tier is None else start - tier.notice,
        )


@attrs.frozen(kw_only=True)
class CancellationTerms:
    """What cancelling one booking at one moment (``as_of``) gives.

    * ``self_service``: customers and partners may still cancel it themselves,
      which they may until (before) ``self_service_until``;
    * ``tier``: the :class:`RefundTier` that applies (None: none does);
    * ``refund_percent``: its share (0 without a tier);
    * ``paid``: what the booking's payments hold per currency (captured, less
      refunded and less refunds under way), sorted by currency;
    * ``refundable``: ``refund_percent`` of each, rounded to the currency's
      minor unit;
    * ``refund_until``: the last moment ``refund_percent`` holds (the booking's
      start less the tier's notice); after it the next tier, or nothing,
      applies. None when no tier applies (nothing changes any more);
    * ``refunds_stated``: False when the policy names no tiers: the 0 % is then
      no promise, refunds are left to staff.

    .. versionadded:: 0.4
    """

    starts_at: datetime
    as_of: datetime
    self_service: bool
    self_service_until: datetime
    refunds_stated: bool
    tier: RefundTier | None
    refund_percent: Decimal
    paid: tuple[Money, ...]
    refundable: tuple[Money, ...]
    refund_until: datetime | None

    def refundable_in(self, currency: str) -> Money:
        """``refundable`` in ``currency`` (zero when nothing was paid in it)."""
        return next((m for m in self.refundable if m.currency == currency), Money.zero(currency))

    def metadata(self) -> dict[str, str]:
        """The terms as recorded on a cancellation's history entry and event
        (:data:`CANCELLATION_METADATA_KEYS`); empty when no refunds are stated."""
        if not self.refunds_stated:
            return {}
        percent, refundable = CANCELLATION_METADATA_KEYS
        return {
            percent: _plain(self.refund_percent),
            refundable: "; ".join(f"{m.amount} {m.currency}" for m in self.refundable),
        }


def recorded_refund(metadata: Mapping[str, str]) -> tuple[Decimal, tuple[Money, ...]] | None:
    """The refund percent and refundable money a cancellation recorded in ``metadata``
    (:meth:`CancellationTerms.metadata`), or None when it recorded none.

    Parts that do not read as an amount and a currency are left out (metadata is
    text a storage or an import may have changed).

    .. versionadded:: 0.4
    """
    percent_key, refundable_key = CANCELLATION_METADATA_KEYS
    if percent_key not in metadata:
        return None
    try:
        percent = _percent(metadata[percent_key])
    except ValidationError:
        return None
    owed: list[Money] = []
    for part in metadata.get(refundable_key, "").split(";"):
        amount, _, currency = part.strip().partition(" ")
        try:
            owed.append(Money(amount, currency))
        except ValidationError:
            continue
    return percent, tuple(owed)


def _seconds(value: timedelta, field: str) -> int:
    """``value`` in whole seconds, or a ``precision`` error on ``field``."""
    if value.microseconds:
        raise ValidationError.single(field, "must be whole seconds", "precision")
    return value.days * 86_400 + value.seconds


def _read_seconds(value: object, field: str) -> timedelta | FieldError:
    if isinstance(value, bool) or not isinstance(value, int):
        return FieldError(field, "must be a whole number of seconds", "invalid_type")
    if value < 0:
        return FieldError(field, "must not be negative", "out_of_range")
    try:
        return timedelta(seconds=value)
    except OverflowError:
        return FieldError(field, "is too large", "out_of_range")


def _read_tier(raw: object, field: str) -> RefundTier | list[FieldError]:
    if not isinstance(raw, Mapping):
        return [FieldError(field, "must be a mapping", "invalid_type")]
    problems: list[FieldError] = []
    unknown = sorted(set(raw) - {"notice_seconds", "refund_percent"})
    problems += [
        FieldError(f"{field}.{k}", "is not part of the shape", "unknown_field") for k in unknown
    ]
    notice = _read_seconds(raw.get("notice_seconds"), f"{field}.notice_seconds")
    if isinstance(notice, FieldError):
        problems.append(notice)
    percent = raw.get("refund_percent")
    if not isinstance(percent, str):
        msg = "must be a decimal string"
        problems.append(FieldError(f"{field}.refund_percent", msg, "invalid_type"))
        percent = None
    else:
        try:
            _percent(percent)
        except ValidationError as error:
            problems += [e.prefixed(field) for e in error.errors]
    if problems:
        return problems
    assert isinstance(notice, timedelta)
    return RefundTier(notice, percent)  # the converter reads the string


def _plain(value: Decimal) -> str:
    """``value`` without exponent or trailing zeros (``50``, ``12.5``)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
