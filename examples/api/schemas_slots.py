"""The pydantic models of the slot-opening routes: one slot, or a recurring schedule's.

Same conventions as :mod:`examples.api.schemas`: shapes here, rules in the library
(a bad schedule is the library's ``ValidationError``, 422 on the field it names).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from bookingcore import SlotSchedule
from bookingcore.domain import SlotsCreated
from examples.api.schemas import MoneyIn, SlotOut, StrictIn

__all__ = ["SlotIn", "SlotScheduleIn", "SlotsCreatedOut"]


class SlotIn(StrictIn):
    """One slot to open: where, when, at what price per traveler, for how many."""

    location_id: UUID
    product_id: UUID | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    price_per_traveler: MoneyIn
    capacity: int | None = Field(default=None, description="None: unlimited")
    name: str | None = Field(default=None, max_length=255)


class SlotScheduleIn(StrictIn):
    """The slots of a weekly schedule: on ``weekdays`` (ISO numbers, 1 = Monday ...
    7 = Sunday) at each of ``start_times`` (local wall-clock times in the business's
    time zone, without an offset), from ``starts_on`` to ``ends_on`` (both included,
    at most 731 days), except on ``exceptions``."""

    location_id: UUID
    product_id: UUID | None = None
    weekdays: list[int] = Field(max_length=7, examples=[[6]])
    start_times: list[time] = Field(max_length=96, examples=[["07:00", "13:00"]])
    starts_on: date
    ends_on: date
    duration: timedelta | None = Field(
        default=None, description="How long each slot lasts (ISO 8601, e.g. PT3H)"
    )
    exceptions: list[date] = Field(default_factory=list, max_length=731)
    price_per_traveler: MoneyIn
    capacity: int | None = Field(default=None, description="None: unlimited")
    name: str | None = Field(default=None, max_length=255)

    def to_schedule(self) -> SlotSchedule:
        """The library's schedule (it checks every field)."""
        return SlotSchedule(
            weekdays=self.weekdays,
            start_times=self.start_times,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            duration=self.duration,
            exceptions=self.exceptions,
        )


class SlotsCreatedOut(BaseModel):
    """The slots a schedule opened, and the starts it skipped because a slot of the
    same location and product already starts there."""

    slots: list[SlotOut]
    skipped: list[datetime]

    @classmethod
    def of(cls, made: SlotsCreated) -> SlotsCreatedOut:
        """The result's fields."""
        return cls(slots=[SlotOut.of(s) for s in made.slots], skipped=list(made.skipped))
