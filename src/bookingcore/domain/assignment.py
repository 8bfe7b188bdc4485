"""Advisor assignment (car dealerships): who takes a booking when nobody named one.

Four strategies:

``manual``
    Nobody is picked; the booking stays unassigned until an admin assigns it,
    unless the row names an advisor.
``round_robin``
    Active advisors take turns in a stable order (sorted by id), whatever their load.
``least_loaded``
    The active advisor with the fewest open bookings; ties go to the smallest id.
``dealer_based``
    The least loaded active advisor whose territory covers the booking's location
    (dealer); nobody outside the territory, ever.

The pure functions (:func:`round_robin`, :func:`least_loaded`, :func:`dealer_based`)
decide one assignment from the state they are given. :class:`Assigner` keeps that
state across the rows of an import, counting each booking it assigns in its
advisor's load so that successive rows spread out.

Inactive advisors are never picked. When no active advisor can be picked at all,
:func:`round_robin` and :func:`least_loaded` raise
:class:`~bookingcore.errors.ValidationError` on the field ``advisors`` (the
import is misconfigured: every row would fail alike), while :func:`dealer_based`
returns ``None`` (nobody covers *this* location; the booking stays unassigned).

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from bookingcore.domain._validation import parse_choice
from bookingcore.domain.values import LocationId, StaffId
from bookingcore.errors import ValidationError

__all__ = [
    "Advisor",
    "Assigner",
    "AssignmentStrategy",
    "dealer_based",
    "least_loaded",
    "round_robin",
]


class AssignmentStrategy(enum.StrEnum):
    """How an import picks the advisor of a booking whose row names none.

    .. versionadded:: 0.1
    """

    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    DEALER_BASED = "dealer_based"


def _location_set(values: Iterable[LocationId]) -> frozenset[LocationId]:
    return frozenset(values)


def _check_load(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"must be a whole number of bookings, zero or more (got {value!r})"
        raise ValidationError.single(attribute.name, msg, "invalid_load")


@attrs.frozen
class Advisor:
    """A staff member who can be assigned bookings.

    ``open_bookings`` is the advisor's current load (bookings assigned and not
    finished); ``location_ids`` is the territory: the locations (dealers, dive
    centres, base camps) the advisor covers. Any iterable of ids is accepted
    and kept as a frozenset.

    Raises:
        ValidationError: on ``open_bookings`` when it is negative or not an int.

    .. versionadded:: 0.1
    """

    id: StaffId
    open_bookings: int = attrs.field(default=0, validator=_check_load)
    location_ids: frozenset[LocationId] = attrs.field(converter=_location_set, factory=frozenset)
    is_active: bool = True

    def covers(self, location_id: LocationId) -> bool:
        """True when ``location_id`` is in this advisor's territory."""
        return location_id in self.location_ids


def _active_by_id(advisors: Iterable[Advisor]) -> list[Advisor]:
    return sorted((a for a in advisors if a.is_active), key=lambda a: a.id)


def _no_active_advisor(strategy: AssignmentStrategy) -> ValidationError:
    msg = f"{strategy.value} assignment needs at least one active advisor"
    return ValidationError.single("advisors", msg, "no_active_advisor")


def _load(advisor: Advisor, loads: Mapping[StaffId, int] | None) -> int:
    if loads is None:
        return advisor.open_bookings
    return loads.get(advisor.id, advisor.open_bookings)


def _least_loaded_of(
    candidates: Iterable[Advisor], loads: Mapping[StaffId, int] | None
) -> StaffId | None:
    best = min(
        (a for a in candidates if a.is_active),
        key=lambda a: (_load(a, loads), a.id),
        default=None,
    )
    return None if best is None else best.id


def round_robin(advisors: Iterable[Advisor], cursor: int) -> tuple[StaffId, int]:
    """The advisor whose turn it is, and the cursor for the next turn.

    Active advisors are ordered by id; the one at position ``cursor`` (taken
    modulo their number) is picked and the returned cursor points at the next.
    Start from ``0`` and feed each returned cursor back in: over any number of
    calls with the same advisors, no advisor gets more than one assignment more
    than any other. Loads are ignored.

    Args:
        advisors: the advisors to choose from; inactive ones are skipped.
        cursor: the cursor returned by the previous call (``0`` at first).

    Raises:
        ValidationError: on ``advisors`` when none is active.

    .. versionadded:: 0.1
    """
    active = _active_by_id(advisors)
    if not active:
        raise _no_active_advisor(AssignmentStrategy.ROUND_ROBIN)
    position = cursor % len(active)
    return active[position].id, (position + 1) % len(active)


def least_loaded(
    advisors: Iterable[Advisor], loads: Mapping[StaffId, int] | None = None
) -> StaffId:
    """The active advisor with the fewest open bookings; ties go to the smallest id.

    Args:
        advisors: the advisors to choose from; inactive ones are skipped.
        loads: current loads by advisor id; an advisor missing from it (or all
            of them, when ``loads`` is None) counts its ``open_bookings``.

    Raises:
        ValidationError: on ``advisors`` when none is active.

    .. versionadded:: 0.1
    """
    picked = _least_loaded_of(advisors, loads)
    if picked is None:
        raise _no_active_advisor(AssignmentStrategy.LEAST_LOADED)
    return picked


def dealer_based(
    advisors: Iterable[Advisor],
    location_id: LocationId,
    loads: Mapping[StaffId, int] | None = None,
) -> StaffId | None:
    """The least loaded active advisor whose territory covers ``location_id``.

    Never an advisor outside the territory: when no active advisor covers the
    location the answer is ``None`` and the booking stays unassigned. Ties go
    to the smallest id.

    Args:
        advisors: the advisors to choose from; inactive ones are skipped.
        location_id: the booking's location (the dealer, for a car dealership).
        loads: current loads by advisor id, as for :func:`least_loaded`.

    .. versionadded:: 0.1
    """
    return _least_loaded_of((a for a in advisors if a.covers(location_id)), loads)


class Assigner:
    """Assigns the bookings of an import, row after row, by one strategy.

    Every booking it assigns counts in its advisor's load (:attr:`loads`), so
    ``least_loaded`` and ``dealer_based`` spread successive rows, and
    ``round_robin`` keeps its turn between rows.

    A row that names an advisor explicitly (``requested``, e.g. resolved from
    its ``advisor_email`` column) keeps that advisor under *every* strategy,
    territory or load notwithstanding: the file is the admin's decision. The
    advisor must be one of ``advisors`` and active.

    Not thread-safe: one assigner serves one import run.

    Args:
        strategy: how to pick when a row names no advisor.
        advisors: every advisor the import may assign, active or not.

    Raises:
        ValidationError: on ``advisors`` when two advisors share an id, or when
            the strategy is ``round_robin`` or ``least_loaded`` and none is active;
            on ``strategy`` when it is not an :class:`AssignmentStrategy` value.

    .. versionadded:: 0.1
    """

    def __init__(self, strategy: AssignmentStrategy | str, advisors: Iterable[Advisor]) -> None:
        self._strategy = parse_choice(
            AssignmentStrategy, strategy, "strategy", what="an assignment strategy"
        )
        self._advisors: dict[StaffId, Advisor] = {}
        for advisor in advisors:
            if advisor.id in self._advisors:
                msg = f"advisor {advisor.id} is listed twice"
                raise ValidationError.single("advisors", msg, "duplicate_advisor")
            self._advisors[advisor.id] = advisor
        needs_someone = self._strategy in {
            AssignmentStrategy.ROUND_ROBIN,
            AssignmentStrategy.LEAST_LOADED,
        }
        if needs_someone and not any(a.is_active for a in self._advisors.values()):
            raise _no_active_advisor(self._strategy)
        self._loads = {a.id: a.open_bookings for a in self._advisors.values()}
        self._cursor = 0

    @property
    def strategy(self) -> AssignmentStrategy:
        """The strategy used for rows that name no advisor."""
        return self._strategy

    @property
    def loads(self) -> dict[StaffId, int]:
        """Each advisor's load now: its ``open_bookings`` plus what this assigner gave it.

        A copy; changing it does not change the assigner.
        """
        return dict(self._loads)

    def state(self) -> dict[str, Any]:
        """What the assigner has decided so far, as JSON data: the round-robin turn and
        each advisor's load (see :meth:`restore`).

        .. versionadded:: 0.4
        """
        return {"cursor": self._cursor, "loads": {str(k): v for k, v in self._loads.items()}}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Go on from a :meth:`state` taken earlier (by this run before it stopped, say).

        Advisors the state does not name keep their load; advisors it names that this
        assigner does not know are ignored.

        .. versionadded:: 0.4
        """
        self._cursor = int(state.get("cursor", 0))
        loads = state.get("loads", {})
        for advisor_id in self._loads:
            if str(advisor_id) in loads:
                self._loads[advisor_id] = int(loads[str(advisor_id)])

    def pick(self, location_id: LocationId, *, requested: StaffId | None = None) -> StaffId | None:
        """The advisor :meth:`assign` would pick now, without counting it.

        Raises:
            ValidationError: as :meth:`assign`.

        .. versionadded:: 0.2
        """
        return self._choose(location_id, requested)[0]

    def assign(
        self, location_id: LocationId, *, requested: StaffId | None = None
    ) -> StaffId | None:
        """Pick the advisor of one booking at ``location_id`` and count it in their load.

        Args:
            location_id: where the booking takes place (used by ``dealer_based``).
            requested: the advisor the row names, if any; kept under every strategy.

        Returns:
            The advisor, or ``None`` when the booking stays unassigned: under
            ``manual`` with no advisor requested, or under ``dealer_based`` when
            no active advisor covers ``location_id``.

        Raises:
            ValidationError: on ``advisor_email`` when ``requested`` is not one of
                the advisors or is inactive.
        """
        picked, self._cursor = self._choose(location_id, requested)
        if picked is not None:
            self._loads[picked] += 1
        return picked

    def _choose(
        self, location_id: LocationId, requested: StaffId | None
    ) -> tuple[StaffId | None, int]:
        cursor = self._cursor
        if requested is not None:
            picked: StaffId | None = self._check_requested(requested)
        elif self._strategy is AssignmentStrategy.MANUAL:
            picked = None
        elif self._strategy is AssignmentStrategy.ROUND_ROBIN:
            picked, cursor = round_robin(self._advisors.values(), self._cursor)
        elif self._strategy is AssignmentStrategy.LEAST_LOADED:
            picked = least_loaded(self._advisors.values(), self._loads)
        else:
            picked = dealer_based(self._advisors.values(), location_id, self._loads)
        return picked, cursor

    def _check_requested(self, requested: StaffId) -> StaffId:
        advisor = self._advisors.get(requested)
        if advisor is None:
            msg = f"advisor {requested} is not one of the advisors of this import"
            raise ValidationError.single("advisor_email", msg, "unknown_advisor")
        if not advisor.is_active:
            msg = f"advisor {requested} is inactive and cannot take bookings"
            raise ValidationError.single("advisor_email", msg, "inactive_advisor")
        return advisor.id
