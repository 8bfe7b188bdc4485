"""What the slots one call opens share, checked once: price, capacity, name, tiers."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID, uuid5

import attrs

from bookingcore.domain._validation import Problems, bounded_count, clean_text
from bookingcore.domain.audit import AuditAction, snapshot
from bookingcore.domain.catalog import Location
from bookingcore.domain.policy import Principal
from bookingcore.domain.pricing import DiscountTier, check_tiers
from bookingcore.domain.schedules import SlotSchedule
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import LocationId, Money, ProductId, SlotId
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import Transaction

_MICROSECOND = timedelta(microseconds=1)

#: The fields of a slot its audit entry records when it is opened.
SLOT_FIELDS = (
    "location_id",
    "product_id",
    "starts_at",
    "ends_at",
    "price_per_traveler",
    "capacity",
    "name",
    "group_discounts",
)


def audit_opened(
    tx: Transaction, principal: Principal, slot: Slot, reason: str | None = None
) -> None:
    """Audit that ``principal`` opened ``slot`` (entity ``"slot"``, action ``created``)."""
    tx.audit(
        principal,
        entity="slot",
        entity_id=slot.id,
        action=AuditAction.CREATED,
        new=snapshot(slot, SLOT_FIELDS),
        reason=reason,
    )


@attrs.frozen
class Offer:
    """What every slot a call opens shares (checked by :func:`check_offer`)."""

    price: Money
    capacity: int | None
    name: str | None
    tiers: tuple[DiscountTier, ...]

    def asked(self) -> dict[str, object]:
        """The offer as a request digest's fields."""
        return {
            "price_per_traveler": self.price,
            "capacity": self.capacity,
            "name": self.name,
            "group_discounts": self.tiers,
        }

    def slot(
        self,
        slot_id: SlotId,
        *,
        location_id: LocationId,
        product_id: ProductId | None,
        starts_at: datetime,
        ends_at: datetime | None,
        now: datetime,
    ) -> Slot:
        """A new slot of this offer."""
        return Slot(
            id=slot_id,
            location_id=location_id,
            product_id=product_id,
            starts_at=starts_at,
            ends_at=ends_at,
            price_per_traveler=self.price,
            capacity=self.capacity,
            name=self.name,
            group_discounts=self.tiers,
            created_at=now,
        )


def check_capacity(capacity: object, problems: Problems) -> None:
    """Refuse (into ``problems``) a capacity that is not None or a whole number from 1."""
    if capacity is None:
        return
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        problems.add("capacity", "must be a whole number or None for unlimited", "invalid_type")
    elif capacity <= 0:
        problems.add("capacity", "must be at least 1 (use None for unlimited)", "out_of_range")
    else:
        problems.capture(lambda: bounded_count(capacity, "capacity", minimum=1))


def check_offer(
    p: Problems,
    capacity: int | None,
    price_per_traveler: Money,
    group_discounts: Iterable[DiscountTier],
    name: str | None,
) -> Offer:
    """The checked offer; its problems go to ``p`` (then the offer is not to be used)."""
    check_capacity(capacity, p)
    if not isinstance(cast(object, price_per_traveler), Money):
        p.add("price_per_traveler", "must be Money", "invalid_type")
    elif price_per_traveler.is_negative():
        p.add("price_per_traveler", "cannot be negative", "out_of_range")
    tiers = p.capture(lambda: check_tiers(group_discounts))
    clean_name = p.capture(lambda: clean_text(name, "name"))
    return Offer(price_per_traveler, capacity, clean_name, tuple(tiers or ()))


def check_where(
    uow: UnitOfWork,
    location_id: LocationId,
    location: Location | None,
    product_id: ProductId | None,
    p: Problems,
) -> None:
    """Refuse (into ``p``) an unknown or inactive location (``location``, as read) or product."""
    if location is None:
        p.add("location_id", f"no location {location_id}", "unknown_reference")
    elif not location.is_active:
        p.add("location_id", f"location {location.code} is inactive", "inactive")
    if product_id is not None:
        product = uow.products.get(product_id)
        if product is None:
            p.add("product_id", f"no product {product_id}", "unknown_reference")
        elif not product.is_active:
            p.add("product_id", f"product {product.code} is inactive", "inactive")


def schedule_asked(schedule: SlotSchedule) -> dict[str, object]:
    """A schedule as a request digest's fields (times and durations have no canonical form)."""
    return {
        "weekdays": list(schedule.weekdays),
        "start_times": [t.isoformat() for t in schedule.start_times],
        "starts_on": schedule.starts_on,
        "ends_on": schedule.ends_on,
        "duration_us": None if schedule.duration is None else schedule.duration // _MICROSECOND,
        "exceptions": schedule.exceptions,
    }


def scheduled_ids(made: UUID, starts: Collection[datetime]) -> dict[datetime, SlotId]:
    """The ids of the slots a keyed schedule opens at ``starts``: derived from the id its
    claim made (:func:`~bookingcore.services._context.keyed_id`) and each start, so
    a retry finds them again."""
    return {start: SlotId(uuid5(made, start.isoformat())) for start in starts}
