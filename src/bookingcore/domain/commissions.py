"""Partner commissions: what each partner is owed, kept on an append-only ledger.

When a captured payment pays a partner's booking, a :class:`CommissionEntry`
of kind ``accrual`` is written in the same transaction, with the partner's
commission rate *at that time*: a later change of the rate never rewrites
what was accrued. A settled refund or the cancellation of a paid booking
writes a ``reversal`` (a negative amount); nothing on the ledger is ever
changed or deleted, so the ledger is its own history.

The rules (pure functions, so they are checked without storage):

* **Part payments accrue in proportion to what is captured.** Each capture
  accrues commission on the part of the booking's total it pays
  (:func:`accrual_for`); captures above the total (an over payment, to be
  refunded) accrue nothing. Rounding is to the currency's minor unit and
  telescopes: a booking paid in three parts at one rate accrues exactly what
  one payment of its total would (``round(r x (a + b)) - round(r x a)`` for
  the second part), never a cent more or less. What refunds and a
  cancellation took back no longer counts towards the total, so a booking
  paid again after a refund accrues again.
* **A refund reverses in proportion** (:func:`reversal_for_refund`): the
  commission of a payment follows the part of its commissioned amount the
  business still keeps, so refunding half of a payment reverses half of its
  commission, and refunding all of it reverses exactly what it accrued. A
  refund of an over payment reverses nothing.
* **A cancellation reverses what is left** (:func:`reversals_for_cancellation`)
  of every payment of the booking; refunds that settle afterwards find nothing
  left to reverse. A payment captured after its booking was cancelled accrues
  nothing.
* **A refund that failed after it settled restores what it reversed**
  (:func:`restoration_for_reversed_refund`): the customer's bank returned the
  money, so the business keeps it again and the partner's commission on it is
  accrued again (an ``accrual`` naming the refund), though not for a booking
  closed to payment (cancelled, or ended ``refunded``), as the service decides.
  A later refund of that money reverses it again, in proportion.
* **A reactivated booking earns again** (:func:`accruals_for_reactivation`):
  a cancelled booking brought back to an active state (an appointment back to
  ``PENDING``) accrues each payment's commission again (an ``accrual`` keyed
  ``reactivation:<payment>:<status change>``, :attr:`CommissionEntry.is_reactivation`),
  at the payment's rate, up to its share of what the business still keeps
  (money refunded while the booking was cancelled earns nothing back). Cancelled
  again, it is reversed again; however often it goes back and forth, what is
  left is one payment's commission.
* **Once.** Every entry has a ``key`` unique on the ledger (``accrual:<payment>``,
  ``refund:<refund>``, ``refund_reversed:<refund>``,
  ``cancellation:<payment>:<status change>``,
  ``reactivation:<payment>:<status change>``), so a duplicate webhook or a
  retried transaction can never accrue or reverse twice.

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import clean_text, parse_choice, require_text
from bookingcore.domain.values import (
    BookingId,
    Money,
    PartnerId,
    PaymentId,
    RefundId,
    ensure_aware,
)
from bookingcore.errors import ValidationError

__all__ = [
    "CommissionEntry",
    "CommissionEntryId",
    "CommissionEntryKind",
    "CommissionSummary",
    "accrual_for",
    "accruals_for_reactivation",
    "restoration_for_reversed_refund",
    "reversal_for_refund",
    "reversals_for_cancellation",
    "summarise",
]

CommissionEntryId = NewType("CommissionEntryId", UUID)
CommissionEntryId.__doc__ = "The id of a commission ledger entry."

_HUNDRED = Decimal(100)
_REACTIVATION = "reactivation:"


class CommissionEntryKind(enum.StrEnum):
    """An accrual (the partner earned commission) or a reversal (it gave some back).

    .. versionadded:: 0.2
    """

    ACCRUAL = "accrual"
    REVERSAL = "reversal"


def _kind(value: object) -> CommissionEntryKind:
    return parse_choice(CommissionEntryKind, value, "kind", what="a commission entry kind")


def _key(value: object) -> str:
    return require_text(value, "key", max_length=200)


def _recorded_at(value: datetime) -> datetime:
    return ensure_aware(value, "recorded_at")


def _reason(value: object) -> str | None:
    return clean_text(value, "reason", max_length=500)


def _rate(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError.single("rate", "must be a Decimal percentage", "invalid_type")
    if not 0 <= value <= _HUNDRED:
        raise ValidationError.single("rate", "must be from 0 to 100", "out_of_range")
    return value


@attrs.frozen(kw_only=True)
class CommissionEntry:
    """One line of a partner's commission ledger; never changed once written.

    ``base`` is the amount of the booking the entry is about (what the capture
    paid towards the booking's total, or what a refund or cancellation took
    back), ``rate`` the partner's commission percentage when the payment was
    captured (``Decimal("15.00")``), and ``amount`` the commission itself:
    above zero for an accrual, below zero for a reversal, in the booking's
    currency, rounded to its minor unit. ``payment_id`` names the payment whose
    capture accrued it (reversals name the payment they reverse); ``refund_id``
    is set on a refund's reversal, and on the accrual that restores it when the
    refund failed after it settled (:attr:`is_restoration`). An accrual keyed
    ``reactivation:...`` earns a payment's commission again once its cancelled
    booking was reactivated (:attr:`is_reactivation`). ``key`` is unique on
    the ledger.

    Raises:
        ValidationError: naming the field that breaks an invariant (an
            accrual that is not above zero, a reversal that is not below zero,
            a base that is not above zero, amounts in two currencies, a rate
            outside 0-100, a naive ``recorded_at``).

    .. versionadded:: 0.2
    """

    id: CommissionEntryId
    key: str = attrs.field(converter=_key)
    kind: CommissionEntryKind = attrs.field(converter=_kind)
    partner_id: PartnerId
    booking_id: BookingId
    payment_id: PaymentId
    base: Money
    rate: Decimal = attrs.field(converter=_rate)
    amount: Money
    recorded_at: datetime = attrs.field(converter=_recorded_at)
    refund_id: RefundId | None = None
    reason: str | None = attrs.field(default=None, converter=_reason)

    def __attrs_post_init__(self) -> None:
        if self.base.currency != self.amount.currency:
            msg = f"is in {self.base.currency}; the amount is in {self.amount.currency}"
            raise ValidationError.single("base", msg, "currency_mismatch")
        if self.base.amount <= 0:
            raise ValidationError.single("base", "must be above zero", "not_positive")
        if self.kind is CommissionEntryKind.ACCRUAL and self.amount.amount <= 0:
            raise ValidationError.single("amount", "an accrual is above zero", "not_positive")
        if self.kind is CommissionEntryKind.REVERSAL and self.amount.amount >= 0:
            raise ValidationError.single("amount", "a reversal is below zero", "not_negative")

    @property
    def currency(self) -> str:
        """The currency of the entry (its booking's)."""
        return self.amount.currency

    @property
    def is_accrual(self) -> bool:
        """True for an accrual (a restoration too), False for a reversal."""
        return self.kind is CommissionEntryKind.ACCRUAL

    @property
    def is_restoration(self) -> bool:
        """True for the accrual that restores what a refund reversed, once the refund
        failed after it settled (an accrual naming a refund).

        .. versionadded:: 0.4
        """
        return self.kind is CommissionEntryKind.ACCRUAL and self.refund_id is not None

    @property
    def is_reactivation(self) -> bool:
        """True for the accrual that earns a payment's commission again once its
        cancelled booking was reactivated (key ``reactivation:<payment>:<status change>``).

        .. versionadded:: 0.4
        """
        return self.kind is CommissionEntryKind.ACCRUAL and self.key.startswith(_REACTIVATION)

    @property
    def is_capture_accrual(self) -> bool:
        """True for the accrual a payment's capture earned (not a restoration, not a
        reactivation's).

        .. versionadded:: 0.4
        """
        return (
            self.kind is CommissionEntryKind.ACCRUAL
            and self.refund_id is None
            and not self.is_reactivation
        )


def _commission(base: Money, rate: Decimal) -> Money:
    return Money(base.amount * rate / _HUNDRED, base.currency)


def _sum(amounts: Iterable[Money], currency: str) -> Money:
    return sum(amounts, Money.zero(currency))


def _summed(amounts: Iterable[Money], currency: str) -> Money:
    """What ``amounts`` add up to, not held to the bound of one amount (a period's total)."""
    return Money.summed(sum((money.amount for money in amounts), Decimal(0)), currency)


def accrual_for(
    entries: Sequence[CommissionEntry],
    *,
    entry_id: CommissionEntryId,
    partner_id: PartnerId,
    booking_id: BookingId,
    booking_total: Money,
    payment_id: PaymentId,
    captured: Money,
    rate: Decimal | None,
    now: datetime,
) -> CommissionEntry | None:
    """The accrual a capture of ``captured`` for a partner's booking earns, if any.

    ``entries`` are the booking's ledger entries so far. Nothing is accrued
    (None) without a rate above zero, for a payment that accrued before, in
    another currency than the booking's, or for money beyond the booking's
    total (what earlier captures paid is counted first).

    .. versionadded:: 0.2
    """
    key = f"accrual:{payment_id}"
    if rate is None or rate <= 0 or captured.currency != booking_total.currency:
        return None
    if any(entry.key == key for entry in entries):
        return None
    currency = booking_total.currency
    before = _sum((_kept_base(entries, e) for e in entries if e.is_capture_accrual), currency)
    room = booking_total - before
    base = captured if captured < room else room
    if base.amount <= 0:
        return None
    amount = _commission(before + base, rate) - _commission(before, rate)
    if amount.amount <= 0:
        return None  # too little to earn a minor unit
    return CommissionEntry(
        id=entry_id,
        key=key,
        kind=CommissionEntryKind.ACCRUAL,
        partner_id=partner_id,
        booking_id=booking_id,
        payment_id=payment_id,
        base=base,
        rate=rate,
        amount=amount,
        recorded_at=now,
    )


def _left(entries: Sequence[CommissionEntry], accrual: CommissionEntry) -> Money:
    """What is still accrued of ``accrual``'s payment: its accrual less its reversals so far,
    plus what restorations gave back."""
    others = (
        e.amount for e in entries if e.payment_id == accrual.payment_id and e.key != accrual.key
    )
    return accrual.amount + _sum(others, accrual.currency)


def _kept_base(entries: Sequence[CommissionEntry], accrual: CommissionEntry) -> Money:
    """What is still commissioned of ``accrual``'s payment: its base less what was reversed,
    plus what restorations and reactivations gave back."""
    mine = [e for e in entries if e.payment_id == accrual.payment_id]
    reversed_ = _sum((e.base for e in mine if not e.is_accrual), accrual.currency)
    restored = _sum(
        (e.base for e in mine if e.is_accrual and not e.is_capture_accrual), accrual.currency
    )
    kept = accrual.base - reversed_ + restored
    return kept if kept.amount > 0 else Money.zero(accrual.currency)


def _share_kept(accrual: CommissionEntry, captured: Money, refunded: Money) -> Money:
    """What of ``accrual`` should stay accrued while the business keeps
    ``captured - refunded`` of its payment: ``accrued x kept / base``."""
    base = accrual.base
    kept = _clamp(captured - refunded, base)
    return Money(accrual.amount.amount * kept.amount / base.amount, base.currency)


def _accrual_of(
    entries: Sequence[CommissionEntry], payment_id: PaymentId
) -> CommissionEntry | None:
    return next((e for e in entries if e.is_capture_accrual and e.payment_id == payment_id), None)


def reversal_for_refund(
    entries: Sequence[CommissionEntry],
    *,
    entry_id: CommissionEntryId,
    payment_id: PaymentId,
    refund_id: RefundId,
    refund_amount: Money,
    captured: Money,
    refunded: Money,
    now: datetime,
    reason: str | None = None,
) -> CommissionEntry | None:
    """The reversal a settled refund makes, given the payment's totals *after* it settled.

    The payment's commission follows the part of its commissioned ``base``
    the business keeps (``captured - refunded``, at most the base): what
    should stay accrued is ``accrued x kept / base``, and the reversal takes
    the difference from what stays now. Nothing (None) when the payment
    accrued nothing, the refund was reversed before, or nothing is left to
    reverse (the booking's cancellation reversed it all).

    .. versionadded:: 0.2
    """
    key = f"refund:{refund_id}"
    accrual = _accrual_of(entries, payment_id)
    if accrual is None or any(entry.key == key for entry in entries):
        return None
    left = _left(entries, accrual)
    if left.amount <= 0 or captured.currency != accrual.currency:
        return None
    base = accrual.base
    kept = _clamp(captured - refunded, base)
    kept_before = _clamp(captured - refunded + refund_amount, base)
    should_stay = Money(accrual.amount.amount * kept.amount / base.amount, base.currency)
    amount = left - should_stay
    if amount.amount <= 0:
        return None
    taken_back = _clamp(kept_before - kept, _kept_base(entries, accrual))
    return CommissionEntry(
        id=entry_id,
        key=key,
        kind=CommissionEntryKind.REVERSAL,
        partner_id=accrual.partner_id,
        booking_id=accrual.booking_id,
        payment_id=payment_id,
        refund_id=refund_id,
        base=taken_back if taken_back.amount > 0 else _clamp(refund_amount, base),
        rate=accrual.rate,
        amount=-amount,
        recorded_at=now,
        reason=reason,
    )


def restoration_for_reversed_refund(
    entries: Sequence[CommissionEntry],
    *,
    entry_id: CommissionEntryId,
    payment_id: PaymentId,
    refund_id: RefundId,
    captured: Money,
    refunded: Money,
    now: datetime,
    reason: str | None = None,
) -> CommissionEntry | None:
    """The accrual that restores what a settled refund reversed, once the provider
    reported the refund failed (the payment's totals are those *after* it was reversed).

    It gives back what the refund's reversal took, at most what brings the payment's
    commission to its share of what the business keeps now
    (``accrued x kept / base``, as :func:`reversal_for_refund` works it out).
    Nothing (None) when the refund reversed nothing, it was restored before, or
    the payment's commission is at its share already. A cancelled booking earns
    nothing back: the caller asks only for a booking open to payment (a
    cancellation reversed what was left; its reactivation earns it again).

    .. versionadded:: 0.4
    """
    key = f"refund_reversed:{refund_id}"
    accrual = _accrual_of(entries, payment_id)
    taken = next((e for e in entries if e.key == f"refund:{refund_id}"), None)
    if accrual is None or taken is None or any(entry.key == key for entry in entries):
        return None
    if captured.currency != accrual.currency:
        return None
    should_stay = _share_kept(accrual, captured, refunded)
    amount = min(-taken.amount, should_stay - _left(entries, accrual))
    if amount.amount <= 0:
        return None
    return CommissionEntry(
        id=entry_id,
        key=key,
        kind=CommissionEntryKind.ACCRUAL,
        partner_id=accrual.partner_id,
        booking_id=accrual.booking_id,
        payment_id=payment_id,
        refund_id=refund_id,
        base=taken.base,
        rate=accrual.rate,
        amount=amount,
        recorded_at=now,
        reason=reason,
    )


def _clamp(amount: Money, most: Money) -> Money:
    """``amount`` kept between nothing and ``most``."""
    if amount.is_negative():
        return Money.zero(amount.currency)
    return min(amount, most)


def reversals_for_cancellation(
    entries: Sequence[CommissionEntry],
    *,
    new_id: Callable[[], UUID],
    change_id: UUID,
    now: datetime,
    reason: str | None = None,
) -> list[CommissionEntry]:
    """The reversals cancelling a booking makes: what is left of each payment's commission.

    ``entries`` are the booking's ledger entries; ``change_id`` is the id of
    the status change that cancelled it, so a retry of that change reverses
    nothing twice. ``new_id`` makes the entries' ids.

    .. versionadded:: 0.2
    """
    made = []
    for accrual in (e for e in entries if e.is_capture_accrual):
        key = f"cancellation:{accrual.payment_id}:{change_id}"
        if any(entry.key == key for entry in entries):
            continue
        left = _left(entries, accrual)
        if left.amount <= 0:
            continue
        kept = _kept_base(entries, accrual)
        made.append(
            CommissionEntry(
                id=CommissionEntryId(new_id()),
                key=key,
                kind=CommissionEntryKind.REVERSAL,
                partner_id=accrual.partner_id,
                booking_id=accrual.booking_id,
                payment_id=accrual.payment_id,
                base=kept if kept.amount > 0 else accrual.base,
                rate=accrual.rate,
                amount=-left,
                recorded_at=now,
                reason=reason,
            )
        )
    return made


def accruals_for_reactivation(
    entries: Sequence[CommissionEntry],
    *,
    new_id: Callable[[], UUID],
    change_id: UUID,
    kept: Mapping[PaymentId, tuple[Money, Money]],
    now: datetime,
    reason: str | None = None,
) -> list[CommissionEntry]:
    """The accruals reactivating a cancelled booking makes: each payment's commission again.

    ``entries`` are the booking's ledger entries; ``kept`` gives, for each of its
    payments, what it captured and what was refunded of it (now). A payment that
    accrued earns again up to its share of what the business keeps
    (``accrued x kept / base``, as :func:`reversal_for_refund` works it out) at
    its accrual's rate, less what is still accrued of it: after a cancellation
    that is what the cancellation reversed, unless refunds settled meanwhile.
    ``change_id`` is the id of the status change that reactivated the booking,
    so a retry of that change accrues nothing twice; a payment that accrued
    nothing (a late payment) earns nothing. ``new_id`` makes the entries' ids.

    .. versionadded:: 0.4
    """
    made = []
    for accrual in (e for e in entries if e.is_capture_accrual):
        key = f"{_REACTIVATION}{accrual.payment_id}:{change_id}"
        totals = kept.get(accrual.payment_id)
        if totals is None or any(entry.key == key for entry in entries):
            continue
        captured, refunded = totals
        if captured.currency != accrual.currency:
            continue
        amount = _share_kept(accrual, captured, refunded) - _left(entries, accrual)
        if amount.amount <= 0:
            continue
        base = _clamp(captured - refunded, accrual.base) - _kept_base(entries, accrual)
        made.append(
            CommissionEntry(
                id=CommissionEntryId(new_id()),
                key=key,
                kind=CommissionEntryKind.ACCRUAL,
                partner_id=accrual.partner_id,
                booking_id=accrual.booking_id,
                payment_id=accrual.payment_id,
                base=base if base.amount > 0 else accrual.base,
                rate=accrual.rate,
                amount=amount,
                recorded_at=now,
                reason=reason,
            )
        )
    return made


@attrs.frozen
class CommissionSummary:
    """What one partner earned in one currency over a period.

    ``accrued`` sums the accruals recorded in the period, ``reversed`` the
    reversals (as a positive amount), ``net`` is ``accrued - reversed``: what
    the partner is owed for the period. A reversal counts in the period it was
    recorded in, so a period with more clawed back than earned has a negative
    ``net``.

    .. versionadded:: 0.2
    """

    partner_id: PartnerId
    currency: str
    accrued: Money
    reversed: Money
    net: Money
    entries: int

    @classmethod
    def from_sums(
        cls, partner_id: PartnerId, *, accrued: Money, reversed: Money, entries: int
    ) -> CommissionSummary:
        """The summary of ``entries`` entries whose accruals sum to ``accrued`` and whose
        reversals sum to ``reversed`` (a positive amount); ``net`` follows from them.

        .. versionadded:: 0.2
        """
        return cls(
            partner_id=partner_id,
            currency=accrued.currency,
            accrued=accrued,
            reversed=reversed,
            # A period's sums may pass the bound of one amount (Money.summed).
            net=Money.summed(accrued.amount - reversed.amount, accrued.currency),
            entries=entries,
        )


def summarise(entries: Iterable[CommissionEntry]) -> list[CommissionSummary]:
    """Per partner and currency: accrued, reversed and net; sorted by partner id, then currency.

    The sums are :meth:`~bookingcore.domain.values.Money.summed`: a period's total
    may pass the bound of one amount.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       Sums above :data:`~bookingcore.domain.values.MAX_AMOUNT` are given in full;
       they raised ``ValidationError``.
    """
    groups: dict[tuple[PartnerId, str], list[CommissionEntry]] = {}
    for entry in entries:
        groups.setdefault((entry.partner_id, entry.currency), []).append(entry)
    summaries = []
    for (partner_id, currency), group in sorted(
        groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
    ):
        accrued = _summed((e.amount for e in group if e.is_accrual), currency)
        reversed_ = _summed((-e.amount for e in group if not e.is_accrual), currency)
        summaries.append(
            CommissionSummary.from_sums(
                partner_id, accrued=accrued, reversed=reversed_, entries=len(group)
            )
        )
    return summaries
