"""A reversed period (upper bound before lower bound) is a ValidationError naming the
upper bound, in every list filter as in the reports; equal bounds stay an empty period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookingcore import BookingFilter, CustomerFilter, SlotFilter, ValidationError
from bookingcore.domain.certificates import CertificateFilter

LATER = datetime(2026, 5, 2, tzinfo=UTC)
EARLIER = LATER - timedelta(days=1)


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [
        (BookingFilter, "starts_from", "starts_before"),
        (BookingFilter, "created_from", "created_before"),
        (CustomerFilter, "created_from", "created_before"),
        (SlotFilter, "starts_from", "starts_before"),
        (CertificateFilter, "expires_from", "expires_before"),
    ],
)
def test_a_reversed_filter_period_is_refused_on_its_upper_bound(
    kind: Any, low: str, high: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        kind(**{low: LATER, high: EARLIER})
    assert caught.value.errors[0].field == high
    assert caught.value.errors[0].code == "invalid_range"
    kind(**{low: LATER, high: LATER})  # empty, still valid
    kind(**{low: EARLIER, high: LATER})
