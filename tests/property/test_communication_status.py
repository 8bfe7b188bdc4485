"""Delivery reports only move a message forward: whatever order the sent, failed,
delivered, opened and clicked reports arrive in (repeats included), a communication
ends at the highest-ranked status reported, keeps the time of the first report of
each status, and keeps the failure reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookingcore import CustomerId, ValidationError
from bookingcore.domain import Actor, Communication, CommunicationStatus
from bookingcore.domain.values import CommunicationId

S = CommunicationStatus
REPORTABLE = (S.SENT, S.FAILED, S.DELIVERED, S.OPENED, S.CLICKED)
STAMPS = {
    S.SENT: "sent_at",
    S.FAILED: "failed_at",
    S.DELIVERED: "delivered_at",
    S.OPENED: "opened_at",
    S.CLICKED: "clicked_at",
}
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

#: One report: a status and, for failures, maybe a reason.
reports = st.lists(
    st.tuples(
        st.sampled_from(REPORTABLE),
        st.none() | st.text(alphabet="abcdefghij ", min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=12,
)


def fresh() -> Communication:
    return Communication(
        id=CommunicationId(UUID(int=1)),
        customer_id=CustomerId(UUID(int=2)),
        type="confirmation",
        channel="sms",
        recipient="+919876543210",
        created_at=START,
        created_by=Actor.system("test"),
    )


def at(index: int) -> datetime:
    return START + timedelta(minutes=index + 1)


def apply_all(communication: Communication, sequence: Sequence[tuple[S, str | None]]) -> None:
    for index, (status, reason) in enumerate(sequence):
        communication.record(status, at(index), reason=reason)


def highest(sequence: Sequence[tuple[S, str | None]]) -> S:
    return max((status for status, _ in sequence), key=lambda s: s.rank)


def test_ranks_follow_the_forward_order() -> None:
    assert [s.rank for s in (S.PENDING, S.SENT, S.FAILED, S.DELIVERED, S.OPENED, S.CLICKED)] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]


@given(reports)
def test_the_final_status_is_the_highest_ranked_report(
    sequence: list[tuple[S, str | None]],
) -> None:
    communication = fresh()
    apply_all(communication, sequence)
    assert communication.status is highest(sequence)


@given(reports, st.data())
def test_the_final_status_does_not_depend_on_the_order_of_reports(
    sequence: list[tuple[S, str | None]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(sequence))
    one, other = fresh(), fresh()
    apply_all(one, sequence)
    apply_all(other, shuffled)
    assert one.status is other.status
    reported = {status for status, _ in sequence}
    for status, stamp in STAMPS.items():
        assert (getattr(one, stamp) is None) == (getattr(other, stamp) is None)
        assert (getattr(one, stamp) is not None) == (status in reported)


@given(reports)
def test_the_status_never_decreases_and_record_says_when_it_moved(
    sequence: list[tuple[S, str | None]],
) -> None:
    communication = fresh()
    best = S.PENDING
    for index, (status, reason) in enumerate(sequence):
        before = communication.status
        moved = communication.record(status, at(index), reason=reason)
        assert communication.status.rank >= before.rank
        assert moved == (status.rank > before.rank)
        best = max(best, status, key=lambda s: s.rank)
        assert communication.status is best


@given(reports)
def test_each_timestamp_is_the_time_of_the_first_report_of_its_status(
    sequence: list[tuple[S, str | None]],
) -> None:
    communication = fresh()
    apply_all(communication, sequence)
    for status, stamp in STAMPS.items():
        first = next((i for i, (s, _) in enumerate(sequence) if s is status), None)
        assert getattr(communication, stamp) == (None if first is None else at(first))


@given(reports)
def test_a_failure_reason_is_kept_whenever_a_failure_was_reported(
    sequence: list[tuple[S, str | None]],
) -> None:
    communication = fresh()
    apply_all(communication, sequence)
    reasons = [reason for status, reason in sequence if status is S.FAILED and reason]
    if reasons:
        assert communication.failed_reason == reasons[-1]
    else:
        assert communication.failed_reason is None
    if any(status is S.FAILED for status, _ in sequence):
        assert communication.failed_at is not None


@given(reports)
def test_reasons_on_other_statuses_are_ignored(sequence: list[tuple[S, str | None]]) -> None:
    communication = fresh()
    without_failures = [(s, r) for s, r in sequence if s is not S.FAILED]
    apply_all(communication, without_failures)
    assert communication.failed_reason is None
    assert communication.failed_at is None


def test_a_long_failure_reason_is_cut_to_2000_characters() -> None:
    communication = fresh()
    communication.record(S.FAILED, START, reason="x" * 3000)
    assert communication.failed_reason == "x" * 2000


def test_the_first_provider_message_id_is_kept() -> None:
    communication = fresh()
    communication.record(S.SENT, START, provider_message_id="gw-1")
    communication.record(S.DELIVERED, START, provider_message_id="gw-2")
    assert communication.provider_message_id == "gw-1"


def test_statuses_may_be_given_as_strings() -> None:
    communication = fresh()
    assert communication.record("delivered", START) is True
    assert communication.status is S.DELIVERED
    assert communication.delivered_at == START


def test_a_report_of_pending_is_refused_and_changes_nothing() -> None:
    communication = fresh()
    communication.record(S.SENT, START)
    with pytest.raises(ValidationError) as error:
        communication.record("pending", at(1))
    assert error.value.fields == ("status",)
    assert communication.status is S.SENT
    with pytest.raises(ValidationError) as again:
        communication.record(S.PENDING, at(1))
    assert again.value.fields == ("status",)


@given(st.text(max_size=20).filter(lambda t: t not in {s.value for s in S}))
def test_an_unknown_status_is_refused_and_changes_nothing(status: str) -> None:
    communication = fresh()
    with pytest.raises(ValidationError) as error:
        communication.record(status, START, reason="boom")
    assert error.value.fields == ("status",)
    assert error.value.errors[0].code == "invalid_choice"
    assert communication.status is S.PENDING
    assert communication.failed_reason is None
    assert all(getattr(communication, stamp) is None for stamp in STAMPS.values())
