"""Shared test configuration: Hypothesis profiles and the wired-up core fixtures."""

from __future__ import annotations

import os
from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, settings

from bookingcore import BookingCore, Principal, Settings, StaffId, StaffRole
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fast", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 2026-01-01 09:00 UTC."""
    return FixedClock()


@pytest.fixture
def store() -> MemoryStore:
    """An empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock) -> BookingCore:
    """A core over the memory store, reading national phone numbers as Indian."""
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
    )


@pytest.fixture
def admin() -> Principal:
    """A staff member with every permission."""
    return Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def in_a_week(clock: FixedClock) -> timedelta:
    """How far ahead test slots start."""
    return timedelta(days=7)
