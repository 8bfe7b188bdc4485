"""Property: freed seats go to waiting entries in priority, then position, order, never over."""

from __future__ import annotations

from random import Random

from hypothesis import given
from hypothesis import strategies as st

from bookingcore.domain import WaitlistEntry, WaitlistStatus, offer_order, pick_offers
from bookingcore.testing import strategies as bst


def _entries() -> st.SearchStrategy[list[WaitlistEntry]]:
    return st.lists(bst.waitlist_entries(), max_size=12, unique_by=lambda e: e.id)


@given(_entries(), st.randoms())
def test_the_order_is_priority_then_position_whatever_the_input_order(
    entries: list[WaitlistEntry], random: Random
) -> None:
    ordered = offer_order(entries)
    assert {e.id for e in ordered} == {e.id for e in entries if e.status is WaitlistStatus.WAITING}
    keys = [(e.priority.rank, e.position) for e in ordered]
    assert keys == sorted(keys)
    shuffled = list(entries)
    random.shuffle(shuffled)
    assert offer_order(shuffled) == ordered


@given(_entries(), st.integers(0, 40), st.booleans())
def test_offers_never_exceed_the_free_seats_and_nobody_is_overtaken_needlessly(
    entries: list[WaitlistEntry], seats_free: int, strict: bool
) -> None:
    ordered = offer_order(entries)
    chosen = list(pick_offers(entries, seats_free, strict=strict))
    assert sum(e.seats for e in chosen) <= seats_free
    positions = [ordered.index(e) for e in chosen]
    assert positions == sorted(positions)  # in offer order, a subsequence of it
    if strict:
        assert chosen == ordered[: len(chosen)]
    left = seats_free
    for entry in ordered:  # everyone passed over needed more than was left when reached
        if entry in chosen:
            left -= entry.seats
        elif not strict:
            assert entry.seats > left
        else:
            assert entry.seats > left
            break


@given(_entries())
def test_an_unlimited_slot_offers_every_waiting_entry(entries: list[WaitlistEntry]) -> None:
    assert list(pick_offers(entries, None)) == offer_order(entries)
