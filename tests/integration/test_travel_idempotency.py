"""Idempotency keys on the travel calls that create things, on every backend.

A retry of ``core.leads.capture``, ``core.quotations.create``/``convert_lead``,
``core.quotations.revise`` and ``core.quotations.send`` with the same key and
the same request returns what the first call made and writes (or sends) nothing;
the same key with a different request is refused with
``IdempotencyConflictError``; keys are scoped to who sends them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import attrs
import pytest
from tests._threads import all_at_once

from bookingcore import (
    BookingCore,
    IdempotencyConflictError,
    Money,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    ValidationError,
)
from bookingcore.domain import CommunicationStatus, Quotation, QuotationStatus
from bookingcore.services import LeadRequest, QuotationRequest, QuoteLine
from bookingcore.services.communications import CommunicationService
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
WEB = Principal.system("web")
ENQUIRY = LeadRequest(source="web_form", phone="98765 43210", name="Asha Rao", destination="Leh")


class Desk:
    """A travel desk with a slot and a supplier to quote."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90")}),
            notifier=self.notifier,
        )
        location = core.catalog.add_location("LEH", "Leh", principal=ADMIN)
        self.slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=clock.now() + timedelta(days=20),
            price_per_traveler=Money("10000", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        self.supplier = core.catalog.add_supplier("H1", "Hotel Ésprit", principal=ADMIN)

    def request(self, nights: int = 2, travelers: int = 2) -> QuotationRequest:
        lead = self.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="enquiry-1")
        return QuotationRequest(
            customer_id=lead.customer_id,
            slot_id=self.slot.id,
            travelers=travelers,
            lines=[
                QuoteLine(
                    kind="hotel",
                    description="Lakeside hotel",
                    quantity=nights,
                    unit_price=Money("80", "EUR"),
                    supplier_id=self.supplier.id,
                )
            ],
            valid_until=self.clock.now().date() + timedelta(days=5),
            lead_id=lead.id,
        )

    def quotations(self) -> list[Quotation]:
        return list(self.core.quotations.list(principal=ADMIN))


@pytest.fixture
def desk(any_store: MemoryStore | SqlStore) -> Desk:
    return Desk(any_store)


class TestLeadCapture:
    def test_a_retry_returns_the_first_lead_and_writes_nothing(self, desk: Desk) -> None:
        first = desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="form-7")
        again = desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="form-7")
        assert again == first
        assert [lead.id for lead in desk.core.leads.list(principal=ADMIN)] == [first.id]

    def test_the_same_key_for_another_enquiry_conflicts(self, desk: Desk) -> None:
        desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="form-7")
        other = LeadRequest(source="web_form", phone="98765 43210", destination="Goa")
        with pytest.raises(IdempotencyConflictError):
            desk.core.leads.capture(other, principal=WEB, idempotency_key="form-7")
        assert len(desk.core.leads.list(principal=ADMIN)) == 1

    def test_keys_are_scoped_to_who_sends_them(self, desk: Desk) -> None:
        mine = desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="form-7")
        theirs = desk.core.leads.capture(ENQUIRY, principal=ADMIN, idempotency_key="form-7")
        assert theirs.id != mine.id

    def test_a_malformed_key_is_refused_on_its_field(self, desk: Desk) -> None:
        with pytest.raises(ValidationError) as caught:
            desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="x" * 1000)
        assert caught.value.fields == ("idempotency_key",)

    def test_a_retry_naming_the_source_in_another_case_is_the_same_request(
        self, desk: Desk
    ) -> None:
        first = desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="form-8")
        shouted = attrs.evolve(ENQUIRY, source=" Web-Form")
        again = desk.core.leads.capture(shouted, principal=WEB, idempotency_key="form-8")
        assert again == first

    def test_bad_dates_and_party_of_a_keyed_capture_are_named_never_a_type_error(
        self, desk: Desk
    ) -> None:
        naive = datetime(2030, 1, 1)  # noqa: DTZ001 - the bad input under test
        cases: list[tuple[str, dict[str, object]]] = [
            ("travelers", {"travelers": 2.5}),
            ("travel_starts_on", {"travel_starts_on": naive}),
            ("travel_ends_on", {"travel_ends_on": "2030-01-05"}),
            ("follow_up_on", {"follow_up_on": "tomorrow"}),
        ]
        for field, bad in cases:
            for key in ("bad-" + field, None):
                with pytest.raises(ValidationError) as refused:
                    desk.core.leads.capture(
                        attrs.evolve(ENQUIRY, **bad), principal=WEB, idempotency_key=key
                    )
                assert refused.value.fields == (field,)
        assert desk.core.leads.list(principal=ADMIN).items == []
        lead = desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="bad-travelers")
        with pytest.raises(ValidationError) as later:
            desk.core.leads.schedule_follow_up(lead.id, "tomorrow", principal=ADMIN)  # type: ignore[arg-type]
        assert later.value.fields == ("follow_up_on",)
        assert desk.core.leads.get(lead.id, principal=ADMIN) == lead
        for day in (None, "2030-01-02", naive):
            with pytest.raises(ValidationError) as due:
                desk.core.leads.follow_ups_due(day, principal=ADMIN)  # type: ignore[arg-type]
            assert due.value.fields == ("on",)


class TestQuotationCreate:
    def test_a_retry_returns_the_first_revision(self, desk: Desk) -> None:
        request = desk.request()
        first = desk.core.quotations.create(request, principal=ADMIN, idempotency_key="q-1")
        again = desk.core.quotations.create(request, principal=ADMIN, idempotency_key="q-1")
        assert again == first
        assert [q.id for q in desk.quotations()] == [first.id]

    def test_the_same_key_for_another_request_conflicts(self, desk: Desk) -> None:
        desk.core.quotations.create(desk.request(), principal=ADMIN, idempotency_key="q-1")
        with pytest.raises(IdempotencyConflictError):
            desk.core.quotations.create(
                desk.request(nights=3), principal=ADMIN, idempotency_key="q-1"
            )
        assert len(desk.quotations()) == 1

    def test_convert_lead_retries_too(self, desk: Desk) -> None:
        lead = desk.core.leads.capture(ENQUIRY, principal=WEB)
        until = desk.clock.now().date() + timedelta(days=5)

        def convert(travelers: int) -> Quotation:
            return desk.core.quotations.convert_lead(
                lead.id,
                slot_id=desk.slot.id,
                valid_until=until,
                travelers=travelers,
                principal=ADMIN,
                idempotency_key="convert-1",
            )

        first = convert(2)
        assert convert(2) == first
        with pytest.raises(IdempotencyConflictError):
            convert(3)
        assert [q.id for q in desk.quotations()] == [first.id]


class TestQuotationRevise:
    def test_a_retry_returns_the_first_revision_though_the_original_is_superseded(
        self, desk: Desk
    ) -> None:
        first = desk.core.quotations.create(desk.request(), principal=ADMIN)
        second = desk.core.quotations.revise(
            first.id, travelers=3, principal=ADMIN, idempotency_key="rev-1"
        )
        again = desk.core.quotations.revise(
            first.id, travelers=3, principal=ADMIN, idempotency_key="rev-1"
        )
        assert again == second
        assert second.revision == 2
        revisions = desk.core.quotations.revisions(first.reference, principal=ADMIN)
        assert [(q.revision, q.status) for q in revisions] == [
            (1, QuotationStatus.SUPERSEDED),
            (2, QuotationStatus.DRAFT),
        ]

    def test_keyed_lines_given_as_a_generator_are_all_revised_in(self, desk: Desk) -> None:
        first = desk.core.quotations.create(desk.request(), principal=ADMIN)
        lines = (attrs.evolve(line, quantity=3) for line in desk.request().lines)
        second = desk.core.quotations.revise(
            first.id, lines=lines, principal=ADMIN, idempotency_key="rev-gen"
        )
        assert [line.quantity for line in second.lines] == [3]

    def test_the_same_key_for_another_revision_conflicts(self, desk: Desk) -> None:
        first = desk.core.quotations.create(desk.request(), principal=ADMIN)
        desk.core.quotations.revise(first.id, travelers=3, principal=ADMIN, idempotency_key="r")
        with pytest.raises(IdempotencyConflictError):
            desk.core.quotations.revise(first.id, travelers=4, principal=ADMIN, idempotency_key="r")
        with pytest.raises(IdempotencyConflictError):
            desk.core.quotations.create(desk.request(), principal=ADMIN, idempotency_key="r")
        assert len(desk.core.quotations.revisions(first.reference, principal=ADMIN)) == 2


class TestQuotationSend:
    def test_a_retry_returns_the_first_send_and_sends_nothing(self, desk: Desk) -> None:
        quotation = desk.core.quotations.create(desk.request(), principal=ADMIN)
        first = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        again = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        assert again.communication == first.communication
        assert again.quotation.id == quotation.id
        assert again.quotation.status is QuotationStatus.SENT
        assert len(desk.notifier.sent) == 1
        trail = desk.core.audit.trail("quotation", quotation.id, principal=ADMIN)
        assert len(trail) == 2  # created, sent once

    def test_a_retry_sends_a_failed_message_again_as_the_same_record(self, desk: Desk) -> None:
        quotation = desk.core.quotations.create(desk.request(), principal=ADMIN)
        desk.notifier.fail_next()
        failed = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        assert failed.communication.status is CommunicationStatus.FAILED
        again = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        assert again.communication.id == failed.communication.id
        assert again.communication.status is CommunicationStatus.SENT
        assert len(desk.notifier.sent) == 1

    def test_a_retry_is_recognised_by_what_was_asked_not_the_rendered_text(
        self, desk: Desk
    ) -> None:
        """The text is rendered anew by every call (here the business was renamed
        meanwhile): the same quotation and channel with the key is still a retry."""
        quotation = desk.core.quotations.create(desk.request(), principal=ADMIN)
        first = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        renamed = BookingCore(
            uow_factory=desk.store.unit_of_work,
            clock=desk.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", business_name="Renamed Travels"),
            notifier=desk.notifier,
        )
        again = renamed.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        assert again.communication == first.communication
        assert "Renamed Travels" not in again.communication.content
        assert len(desk.notifier.sent) == 1
        with pytest.raises(IdempotencyConflictError):  # another channel is another request
            renamed.quotations.send(
                quotation.id, principal=ADMIN, channel="sms", idempotency_key="s-1"
            )
        assert len(desk.notifier.sent) == 1

    def test_without_a_key_a_second_send_sends_again(self, desk: Desk) -> None:
        quotation = desk.core.quotations.create(desk.request(), principal=ADMIN)
        desk.core.quotations.send(quotation.id, principal=ADMIN)
        desk.core.quotations.send(quotation.id, principal=ADMIN)
        assert len(desk.notifier.sent) == 2

    def test_the_same_key_for_another_quotation_conflicts(self, desk: Desk) -> None:
        one = desk.core.quotations.create(desk.request(), principal=ADMIN)
        two = desk.core.quotations.create(desk.request(nights=3), principal=ADMIN)
        desk.core.quotations.send(one.id, principal=ADMIN, idempotency_key="s-1")
        with pytest.raises(IdempotencyConflictError):
            desk.core.quotations.send(two.id, principal=ADMIN, idempotency_key="s-1")
        assert len(desk.notifier.sent) == 1
        assert desk.core.quotations.get(two.id, principal=ADMIN).status is QuotationStatus.DRAFT

    def test_a_key_of_another_kind_of_call_conflicts(self, desk: Desk) -> None:
        created = desk.core.quotations.create(desk.request(), principal=ADMIN, idempotency_key="k")
        with pytest.raises(IdempotencyConflictError):
            desk.core.quotations.send(created.id, principal=ADMIN, idempotency_key="k")
        assert desk.notifier.sent == []
        assert desk.core.quotations.get(created.id, principal=ADMIN).status is (
            QuotationStatus.DRAFT
        )
        sent = desk.core.quotations.create(desk.request(nights=3), principal=ADMIN)
        desk.core.quotations.send(sent.id, principal=ADMIN, idempotency_key="s-1")
        with pytest.raises(IdempotencyConflictError):
            desk.core.quotations.create(
                desk.request(nights=4), principal=ADMIN, idempotency_key="s-1"
            )

    def test_a_retry_after_a_crash_before_the_message_sends_it_once(
        self, desk: Desk, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        quotation = desk.core.quotations.create(desk.request(), principal=ADMIN)

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("worker died")

        with monkeypatch.context() as patched:
            patched.setattr(CommunicationService, "send_rendered_text", crash)
            with pytest.raises(RuntimeError):
                desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        assert desk.core.quotations.get(quotation.id, principal=ADMIN).status is (
            QuotationStatus.SENT
        )
        assert desk.notifier.sent == []
        first = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        again = desk.core.quotations.send(quotation.id, principal=ADMIN, idempotency_key="s-1")
        assert again.communication == first.communication
        assert len(desk.notifier.sent) == 1


@pytest.mark.postgres
class TestTwinsAtOnce:
    """Four callers with one key at once on PostgreSQL: one row, every caller gets it."""

    def test_four_captures_with_one_key_make_one_lead(self, pg_store: SqlStore) -> None:
        desk = Desk(pg_store)
        results = all_at_once(
            [lambda: desk.core.leads.capture(ENQUIRY, principal=WEB, idempotency_key="twin")] * 4
        )
        assert len({lead.id for lead in results}) == 1, results
        assert len(desk.core.leads.list(principal=ADMIN)) == 1

    def test_four_creates_with_one_key_make_one_quotation(self, pg_store: SqlStore) -> None:
        desk = Desk(pg_store)
        request = desk.request()
        results = all_at_once(
            [lambda: desk.core.quotations.create(request, principal=ADMIN, idempotency_key="twin")]
            * 4
        )
        assert len({quotation.id for quotation in results}) == 1, results
        assert len(desk.quotations()) == 1

    def test_four_sends_with_one_key_send_one_message(self, pg_store: SqlStore) -> None:
        desk = Desk(pg_store)
        quotation = desk.core.quotations.create(desk.request(), principal=ADMIN)
        results = all_at_once(
            [
                lambda: desk.core.quotations.send(
                    quotation.id, principal=ADMIN, idempotency_key="twin"
                )
            ]
            * 4
        )
        assert len({sent.communication.id for sent in results}) == 1, results
        assert len(desk.notifier.sent) == 1
