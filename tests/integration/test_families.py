"""Family accounts: invitations with consent, what a link grants (and refuses), erasure
and merging. Each test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bookingcore import (
    Automations,
    BookingCore,
    BookingRequest,
    Money,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    ProductRequirements,
    SavedTraveler,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain.communications import Channel, CommunicationType, MessageTemplate
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.events import FamilyChanged
from bookingcore.domain.families import FamilyRole, InvitationStatus
from bookingcore.domain.values import PartnerId
from bookingcore.errors import ConflictError, DuplicateError, IdempotencyConflictError
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
ADVISOR = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADVISOR)


class _Family:
    """Three customers with a traveler each, a partner's customer, and a slot a week away."""

    def __init__(self, store: MemoryStore | SqlStore, **options: Any) -> None:
        b = Builder()
        self.clock = FixedClock(T0)
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=self.notifier,
            **options,
        )
        self.location = b.location()
        self.partner = b.partner(allowed_location_ids=frozenset({self.location.id}))
        self.slot = b.slot(self.location.id)
        self.mum = b.customer(name="Asha Rao")
        self.son = b.customer(name="Ravi Rao")
        self.friend = b.customer(name="Meera Iyer")
        self.client = b.customer(name="Partner Client", partner_id=self.partner.id)
        self.mum_t = b.traveler(self.mum.id, name="Asha Rao", special_requirements="asthma")
        self.son_t = b.traveler(self.son.id, name="Ravi Rao", special_requirements="diabetic")
        self.friend_t = b.traveler(self.friend.id, name="Meera Iyer")
        self.client_t = b.traveler(self.client.id, name="Client Person")
        with store.unit_of_work() as uow:
            uow.partners.add(self.partner)
            uow.locations.add(self.location)
            uow.slots.add(self.slot)
            for c in (self.mum, self.son, self.friend, self.client):
                uow.customers.add(c)
            for t in (self.mum_t, self.son_t, self.friend_t, self.client_t):
                uow.travelers.add(t)
            uow.commit()
        self.as_mum = Principal.customer(self.mum.id)
        self.as_son = Principal.customer(self.son.id)
        self.as_friend = Principal.customer(self.friend.id)
        self.events: list[FamilyChanged] = []
        self.core.events.subscribe(
            FamilyChanged, lambda e, _: self.events.append(e), name="test.family"
        )

    def link_son(self) -> None:
        sent = self.core.families.invite(
            self.mum.id, self.son.phone.e164, relation="son", principal=self.as_mum
        )
        self.core.families.accept(sent.id, principal=self.as_son)

    def book(self, principal: Principal, customer_id: object, *travelers: object) -> object:
        chosen = [SavedTraveler(t, is_primary=n == 0) for n, t in enumerate(travelers)]  # type: ignore[arg-type]
        request = BookingRequest(self.slot.id, chosen, customer_id=customer_id)  # type: ignore[arg-type]
        return self.core.bookings.book(request, principal=principal)


@pytest.fixture
def fam(any_store: MemoryStore | SqlStore) -> _Family:
    return _Family(any_store)


class TestInvitations:
    def test_an_accepted_invitation_links_the_customer_with_their_relation(
        self, fam: _Family
    ) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation=" son ", principal=fam.as_mum
        )
        assert (sent.customer_id, sent.relation, sent.status) == (
            fam.son.id,
            "son",
            InvitationStatus.PENDING,
        )
        waiting = fam.core.families.received_invitations(fam.son.id, principal=fam.as_son)
        assert [(w.invitation.id, w.invited_by_name) for w in waiting] == [(sent.id, "Asha Rao")]
        member = fam.core.families.accept(sent.id, principal=fam.as_son)
        assert (member.customer_id, member.role, member.relation) == (
            fam.son.id,
            FamilyRole.MEMBER,
            "son",
        )
        view = fam.core.families.family(fam.son.id, principal=fam.as_son)
        assert [(m.name, m.role, m.relation) for m in view.members] == [
            ("Asha Rao", FamilyRole.OWNER, None),
            ("Ravi Rao", FamilyRole.MEMBER, "son"),
        ]
        assert view.pending_invitations == ()  # a member does not see the owner's invitations
        assert [e.action for e in fam.events] == ["invited", "joined"]
        trail = fam.core.audit.trail("family invitation", sent.id, principal=ADMIN)
        assert [e.action.value for e in trail] == ["created", "status_changed"]

    def test_only_the_invited_customer_answers(self, fam: _Family) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        for someone in (fam.as_friend, fam.as_mum, ADMIN):
            with pytest.raises(NotFoundError):
                fam.core.families.accept(sent.id, principal=someone)
        declined = fam.core.families.decline(sent.id, principal=fam.as_son)
        assert declined.status is InvitationStatus.DECLINED
        assert fam.core.families.decline(sent.id, principal=fam.as_son).status.value == "declined"
        with pytest.raises(ValidationError) as caught:
            fam.core.families.accept(sent.id, principal=fam.as_son)
        assert caught.value.errors[0].field == "invitation_id"
        assert caught.value.errors[0].code == "not_pending"

    def test_an_invitation_expires(self, fam: _Family) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        fam.clock.advance(days=7, seconds=1)
        assert fam.core.families.received_invitations(fam.son.id, principal=fam.as_son) == []
        with pytest.raises(ValidationError) as caught:
            fam.core.families.accept(sent.id, principal=fam.as_son)
        assert (caught.value.errors[0].field, caught.value.errors[0].code) == (
            "invitation_id",
            "expired",
        )

    def test_bad_input_names_its_field(self, fam: _Family) -> None:
        cases = [
            ("not a phone", "son", "phone"),
            (fam.mum.phone.e164, "son", "phone"),  # herself
            (fam.son.phone.e164, "", "relation"),
            (fam.son.phone.e164, "x" * 41, "relation"),
        ]
        for phone, relation, field in cases:
            with pytest.raises(ValidationError) as caught:
                fam.core.families.invite(fam.mum.id, phone, relation=relation, principal=fam.as_mum)
            assert caught.value.fields == (field,), (phone, relation)

    def test_an_unknown_number_is_registered_phone_only_and_can_accept(self, fam: _Family) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, "+91 98765 00011", relation="daughter", principal=fam.as_mum
        )
        newcomer = Principal.customer(sent.customer_id)
        member = fam.core.families.accept(sent.id, principal=newcomer)
        assert member.relation == "daughter"

    def test_a_keyed_retry_answers_the_first_invitation(self, fam: _Family) -> None:
        args = (fam.mum.id, fam.son.phone.e164)
        first = fam.core.families.invite(
            *args, relation="son", principal=fam.as_mum, idempotency_key="inv-1"
        )
        again = fam.core.families.invite(
            *args, relation="son", principal=fam.as_mum, idempotency_key="inv-1"
        )
        assert again.id == first.id
        with pytest.raises(IdempotencyConflictError):
            fam.core.families.invite(
                *args, relation="nephew", principal=fam.as_mum, idempotency_key="inv-1"
            )
        member = fam.core.families.accept(first.id, principal=fam.as_son, idempotency_key="a-1")
        assert (
            fam.core.families.accept(first.id, principal=fam.as_son, idempotency_key="a-1")
            == member
        )
        assert [e.action for e in fam.events] == ["invited", "joined"]

    def test_a_customer_is_in_one_family_at_most(self, fam: _Family) -> None:
        fam.link_son()
        other = fam.core.families.invite(
            fam.friend.id, fam.son.phone.e164, relation="friend", principal=fam.as_friend
        )
        with pytest.raises(ConflictError):
            fam.core.families.accept(other.id, principal=fam.as_son)
        fam.core.families.leave(fam.son.id, principal=fam.as_son)
        fam.core.families.accept(other.id, principal=fam.as_son)
        view = fam.core.families.family(fam.son.id, principal=fam.as_son)
        assert view.owner_id == fam.friend.id

    def test_only_the_owner_invites_and_removes(self, fam: _Family) -> None:
        fam.link_son()
        with pytest.raises(PermissionDeniedError):
            fam.core.families.invite(
                fam.son.id, fam.friend.phone.e164, relation="friend", principal=fam.as_son
            )
        with pytest.raises(PermissionDeniedError):
            fam.core.families.remove_member(fam.mum.id, principal=fam.as_son)
        with pytest.raises(NotFoundError):  # outsiders cannot probe for families
            fam.core.families.remove_member(fam.son.id, principal=fam.as_friend)
        with pytest.raises(ValidationError) as caught:
            fam.core.families.remove_member(fam.mum.id, principal=fam.as_mum)
        assert caught.value.fields == ("customer_id",)
        fam.core.families.remove_member(fam.son.id, principal=fam.as_mum)
        with pytest.raises(NotFoundError):
            fam.core.families.family(fam.son.id, principal=fam.as_son)
        assert [e.action for e in fam.events][-1] == "removed"

    def test_the_owner_leaving_ends_the_family(self, fam: _Family) -> None:
        fam.link_son()
        pending = fam.core.families.invite(
            fam.mum.id, fam.friend.phone.e164, relation="friend", principal=fam.as_mum
        )
        owner_view = fam.core.families.family(fam.mum.id, principal=fam.as_mum)
        assert [i.id for i in owner_view.pending_invitations] == [pending.id]
        fam.core.families.leave(fam.mum.id, principal=fam.as_mum)
        for who, principal in ((fam.mum, fam.as_mum), (fam.son, fam.as_son)):
            with pytest.raises(NotFoundError):
                fam.core.families.family(who.id, principal=principal)
        with pytest.raises(NotFoundError):
            fam.core.families.accept(pending.id, principal=fam.as_friend)
        assert [e.action for e in fam.events][-2:] == ["dissolved", "dissolved"]


class TestWhatALinkGrants:
    def test_a_member_books_another_members_traveler_through_the_booking_path(
        self, fam: _Family
    ) -> None:
        fam.link_son()
        travelers = fam.core.families.travelers(fam.mum.id, principal=fam.as_mum)
        assert [(t.name, t.is_own) for t in travelers] == [
            ("Asha Rao", True),
            ("Ravi Rao", False),
        ]
        booking = fam.book(fam.as_mum, fam.mum.id, fam.mum_t.id, fam.son_t.id)
        assert booking.customer_id == fam.mum.id  # type: ignore[attr-defined]
        kept = {t.traveler_id: t.special_requirements for t in booking.travelers}  # type: ignore[attr-defined]
        # Mum's own saved requirements apply; her son's stay his.
        assert kept == {fam.mum_t.id: "asthma", fam.son_t.id: None}
        seen = fam.core.families.bookings(fam.son.id, principal=fam.as_son)
        assert [(b.reference, b.booked_by) for b in seen] == [
            (booking.reference, fam.mum.id)  # type: ignore[attr-defined]
        ]
        assert [t.traveler_id for t in seen[0].travelers] == [fam.son_t.id]
        # Nothing more: the booking itself stays the booker's.
        with pytest.raises(NotFoundError):
            fam.core.bookings.get(booking.id, principal=fam.as_son)  # type: ignore[attr-defined]
        assert fam.core.families.bookings(fam.mum.id, principal=fam.as_mum) == []

    def test_a_member_does_not_list_the_bookings_made_for_another_members_travelers(
        self, fam: _Family
    ) -> None:
        fam.link_son()
        sent = fam.core.families.invite(
            fam.mum.id, fam.friend.phone.e164, relation="friend", principal=fam.as_mum
        )
        fam.core.families.accept(sent.id, principal=fam.as_friend)
        fam.book(fam.as_mum, fam.mum.id, fam.son_t.id)
        assert len(fam.core.families.bookings(fam.son.id, principal=fam.as_son)) == 1
        # The friend may not read the mother's booking through the son's list.
        with pytest.raises(PermissionDeniedError):
            fam.core.families.bookings(fam.son.id, principal=fam.as_friend)
        assert len(fam.core.families.bookings(fam.son.id, principal=ADMIN)) == 1

    def test_a_traveler_is_not_booked_onto_one_slot_twice_by_two_members(
        self, fam: _Family
    ) -> None:
        fam.link_son()
        fam.book(fam.as_son, fam.son.id, fam.son_t.id)
        with pytest.raises(DuplicateError) as caught:
            fam.book(fam.as_mum, fam.mum.id, fam.son_t.id)
        assert caught.value.existing_id is None  # the son's booking is not hers to name

    def test_a_cancelled_booking_leaves_the_family_list(self, fam: _Family) -> None:
        fam.link_son()
        booking = fam.book(fam.as_mum, fam.mum.id, fam.son_t.id)
        fam.core.bookings.cancel(booking.id, principal=fam.as_mum)  # type: ignore[attr-defined]
        assert fam.core.families.bookings(fam.son.id, principal=fam.as_son) == []

    def test_outside_a_family_another_customers_traveler_is_unknown(self, fam: _Family) -> None:
        fam.link_son()
        with pytest.raises(ValidationError) as caught:
            fam.book(fam.as_mum, fam.mum.id, fam.friend_t.id)
        assert caught.value.errors[0].code == "unknown_traveler"
        fam.core.families.leave(fam.son.id, principal=fam.as_son)
        with pytest.raises(ValidationError):
            fam.book(fam.as_mum, fam.mum.id, fam.son_t.id)

    def test_a_partner_may_not_book_its_customers_family_travelers(
        self, fam: _Family, any_store: MemoryStore | SqlStore
    ) -> None:
        sent = fam.core.families.invite(
            fam.client.id,
            fam.son.phone.e164,
            relation="cousin",
            principal=Principal.customer(fam.client.id),
        )
        fam.core.families.accept(sent.id, principal=fam.as_son)
        partner = Principal.partner(PartnerId(fam.partner.id))
        fam.book(partner, fam.client.id, fam.client_t.id)  # its customer's own: fine
        with pytest.raises(PermissionDeniedError):
            fam.book(partner, fam.client.id, fam.son_t.id)

    def test_staff_who_book_anywhere_may_use_the_family_for_the_customer(
        self, fam: _Family
    ) -> None:
        fam.link_son()
        booking = fam.book(ADMIN, fam.mum.id, fam.son_t.id)
        assert booking.customer_id == fam.mum.id  # type: ignore[attr-defined]

    def test_reads_are_for_members_and_staff_who_see_everything(self, fam: _Family) -> None:
        fam.link_son()
        for read in (fam.core.families.family, fam.core.families.travelers):
            with pytest.raises(NotFoundError):
                read(fam.mum.id, principal=fam.as_friend)
            with pytest.raises(PermissionDeniedError):
                read(fam.mum.id, principal=ADVISOR)
        staff_view = fam.core.families.family(fam.son.id, principal=ADMIN)
        assert {m.customer_id for m in staff_view.members} == {fam.mum.id, fam.son.id}


class TestPrivacy:
    def test_a_customers_export_holds_their_family_link_and_invitations(self, fam: _Family) -> None:
        fam.link_son()
        data = fam.core.privacy.export_customer(fam.son.id, principal=fam.as_son)
        assert data["family"]["membership"]["relation"] == "son"
        assert [i["status"] for i in data["family"]["invitations"]] == ["accepted"]

    def test_erasing_a_member_removes_their_links(self, fam: _Family) -> None:
        fam.link_son()
        to_friend = fam.core.families.invite(
            fam.mum.id, fam.friend.phone.e164, relation="friend", principal=fam.as_mum
        )
        family_id = fam.core.families.family(fam.mum.id, principal=fam.as_mum).family_id
        fam.core.privacy.erase_customer(fam.son.id, principal=ADMIN, reason="request 7")
        trail = fam.core.audit.trail("family", family_id, principal=ADMIN)
        joined = [e for e in trail if e.new_values.get("joined") == str(fam.son.id)]
        assert [e.new_values["relation"] for e in joined] == ["[erased]"]
        assert all("relation" not in e.old_values for e in trail)
        view = fam.core.families.family(fam.mum.id, principal=fam.as_mum)
        assert [m.customer_id for m in view.members] == [fam.mum.id]
        with pytest.raises(ValidationError):
            fam.book(fam.as_mum, fam.mum.id, fam.son_t.id)
        fam.core.privacy.erase_customer(fam.mum.id, principal=ADMIN)
        assert fam.core.families.received_invitations(fam.friend.id, principal=fam.as_friend) == []
        # The owner's pending invitation went with her family: its trail and message too.
        sent = fam.core.audit.trail("family invitation", to_friend.id, principal=ADMIN)
        assert [e.new_values["relation"] for e in sent] == ["[erased]"]
        (told,) = fam.core.communications.for_customer(fam.friend.id, principal=fam.as_friend)
        assert (told.type.value, told.content) == ("family_invitation", "")
        with pytest.raises(NotFoundError):
            fam.core.families.family(fam.mum.id, principal=ADMIN)

    def test_merging_moves_the_duplicates_links_to_the_survivor(self, fam: _Family) -> None:
        fam.link_son()
        fam.core.customers.merge(fam.friend.id, fam.son.id, principal=ADMIN)
        view = fam.core.families.family(fam.mum.id, principal=fam.as_mum)
        assert [(m.customer_id, m.relation) for m in view.members] == [
            (fam.mum.id, None),
            (fam.friend.id, "son"),
        ]
        # The survivor now holds the moved traveler and books as a member.
        booking = fam.book(fam.as_friend, fam.friend.id, fam.mum_t.id)
        assert booking.customer_id == fam.friend.id  # type: ignore[attr-defined]

    def test_merging_the_owner_into_a_member_of_the_same_family_keeps_it(
        self, fam: _Family
    ) -> None:
        fam.link_son()
        fam.core.customers.merge(fam.son.id, fam.mum.id, principal=ADMIN)
        view = fam.core.families.family(fam.son.id, principal=fam.as_son)
        assert view.owner_id == fam.son.id
        assert [(m.customer_id, m.role) for m in view.members] == [(fam.son.id, FamilyRole.OWNER)]

    def test_a_pending_invitation_follows_a_merge(self, fam: _Family) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        fam.core.customers.merge(fam.friend.id, fam.son.id, principal=ADMIN)
        member = fam.core.families.accept(sent.id, principal=fam.as_friend)
        assert member.customer_id == fam.friend.id

    def test_an_invitation_into_the_family_the_merge_put_the_survivor_in_is_withdrawn(
        self, fam: _Family
    ) -> None:
        fam.link_son()
        sent = fam.core.families.invite(
            fam.mum.id, fam.friend.phone.e164, relation="friend", principal=fam.as_mum
        )
        fam.core.customers.merge(fam.friend.id, fam.son.id, principal=ADMIN)
        assert fam.core.families.received_invitations(fam.friend.id, principal=fam.as_friend) == []
        view = fam.core.families.family(fam.mum.id, principal=fam.as_mum)
        assert sent.id not in [i.id for i in view.pending_invitations]
        assert view.pending_invitations == ()

    def test_time_moves_on(self, fam: _Family) -> None:
        """A sanity check of the fixture's clock: invitations expire a week after sending."""
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        assert sent.expires_at - sent.created_at == timedelta(days=7)


AOW = "PADI Advanced Open Water"


class _Dives:
    """A deep dive needing Advanced Open Water, on the family's location, and
    certificates earned on completed bookings of the family's own slot."""

    def __init__(self, fam: _Family) -> None:
        self.fam = fam
        catalog = fam.core.catalog
        deep = catalog.add_product(
            "DEEP", "Deep dive", "dive", principal=ADMIN,
            requirements=ProductRequirements(certificates=[AOW]),
        )  # fmt: skip
        self.deep_slot = catalog.create_slot(
            location_id=fam.location.id,
            starts_at=fam.clock.now() + timedelta(days=30),
            price_per_traveler=Money("1000", "INR"),
            capacity=20,
            product_id=deep.id,
            principal=ADMIN,
        )
        self._n = 0

    def certify(
        self, customer: Customer, traveler: Traveler, *, named: bool, expired: bool = False
    ) -> str:
        """``customer`` books ``traveler`` on the family's slot, completes it and earns
        Advanced Open Water: issued to ``traveler`` when ``named``, else to the customer
        naming no traveler. Returns the certificate's number."""
        self._n += 1
        done = self.fam.book(ADMIN, customer.id, traveler.id)
        for status in ("confirmed", "completed"):
            self.fam.core.bookings.transition(done.id, status, principal=ADMIN)  # type: ignore[attr-defined]
        start = self.deep_slot.starts_at
        number = f"AOW-{self._n:04d}"
        self.fam.core.certificates.issue(
            done.id,  # type: ignore[attr-defined]
            kind=AOW,
            number=number,
            traveler_id=traveler.id if named else None,
            issued_at=self.fam.clock.now() - timedelta(days=400),
            expires_at=start - timedelta(days=1) if expired else start + timedelta(days=365),
            principal=ADMIN,
        )
        return number

    def book_deep(self, principal: Principal, customer: Customer, *travelers: Traveler) -> object:
        chosen = [SavedTraveler(t.id, is_primary=n == 0) for n, t in enumerate(travelers)]
        request = BookingRequest(self.deep_slot.id, chosen, customer_id=customer.id)
        return self.fam.core.bookings.book(request, principal=principal)


def _problems(caught: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in caught.value.errors]


class TestAFamilyTravelersCertificates:
    """A certificate belongs to the traveler who holds it, whoever books them; the
    member who books learns whether the requirement is met, and nothing more."""

    def test_a_members_own_certificate_counts_when_another_member_books_him(
        self, fam: _Family
    ) -> None:
        dives = _Dives(fam)
        dives.certify(fam.son, fam.son_t, named=False)  # the son's own, naming no traveler
        fam.link_son()
        booked = dives.book_deep(fam.as_mum, fam.mum, fam.son_t)
        assert [t.traveler_id for t in booked.travelers] == [fam.son_t.id]  # type: ignore[attr-defined]
        assert booked.customer_id == fam.mum.id  # type: ignore[attr-defined]

    def test_a_certificate_issued_to_a_members_traveler_counts_too(self, fam: _Family) -> None:
        dives = _Dives(fam)
        dives.certify(fam.son, fam.son_t, named=True)
        fam.link_son()
        assert dives.book_deep(fam.as_mum, fam.mum, fam.son_t)

    def test_a_certificate_counts_for_the_person_who_holds_it_only(self, fam: _Family) -> None:
        dives = _Dives(fam)
        dives.certify(fam.mum, fam.mum_t, named=False)  # the mother's own
        daughter = fam.core.travelers.add(fam.son.id, TravelerDetails("Priya Rao"), principal=ADMIN)
        dives.certify(fam.son, daughter, named=False)  # the son's own, on his daughter's dive
        fam.link_son()
        with pytest.raises(ValidationError) as caught:
            dives.book_deep(fam.as_mum, fam.mum, fam.mum_t, fam.son_t, daughter)
        # Each own certificate counts for its holder; the son's daughter holds none.
        assert _problems(caught) == [("travelers[2].certificates", "certificate_missing")]
        assert dives.book_deep(fam.as_son, fam.son, fam.mum_t, fam.son_t)

    def test_a_namesake_does_not_borrow_a_certificate(self, fam: _Family) -> None:
        dives = _Dives(fam)
        dives.certify(fam.mum, fam.mum_t, named=False)
        # The son saved a traveler with his mother's name: not her (not her traveler).
        namesake = fam.core.travelers.add(fam.son.id, TravelerDetails("Asha Rao"), principal=ADMIN)
        fam.link_son()
        for principal, booker in ((fam.as_son, fam.son), (fam.as_mum, fam.mum)):
            with pytest.raises(ValidationError) as caught:
                dives.book_deep(principal, booker, namesake)
            assert _problems(caught) == [("travelers[0].certificates", "certificate_missing")]

    def test_an_expired_certificate_is_named_without_its_details(self, fam: _Family) -> None:
        dives = _Dives(fam)
        number = dives.certify(fam.son, fam.son_t, named=False, expired=True)
        fam.link_son()
        with pytest.raises(ValidationError) as caught:
            dives.book_deep(fam.as_mum, fam.mum, fam.son_t)
        assert _problems(caught) == [("travelers[0].certificates", "certificate_expired")]
        told = str(caught.value) + " ".join(e.message for e in caught.value.errors)
        expiry = (dives.deep_slot.starts_at - timedelta(days=1)).date().isoformat()
        assert number not in told
        assert expiry not in told

    def test_a_member_cannot_read_another_members_certificates(self, fam: _Family) -> None:
        dives = _Dives(fam)
        dives.certify(fam.son, fam.son_t, named=False)
        dives.certify(fam.son, fam.son_t, named=True)
        fam.link_son()
        dives.book_deep(fam.as_mum, fam.mum, fam.son_t)
        assert len(fam.core.certificates.for_customer(fam.son.id, principal=fam.as_son)) == 2
        with pytest.raises(NotFoundError):
            fam.core.certificates.for_customer(fam.son.id, principal=fam.as_mum)
        with pytest.raises(NotFoundError):
            fam.core.customers.get(fam.son.id, principal=fam.as_mum)
        with pytest.raises(NotFoundError):
            fam.core.travelers.get(fam.son_t.id, principal=fam.as_mum)
        # Her own list holds nothing of his; the family shows his traveler by name only.
        assert fam.core.certificates.for_customer(fam.mum.id, principal=fam.as_mum) == []
        shared = fam.core.families.travelers(fam.mum.id, principal=fam.as_mum)
        assert {(t.name, t.is_own) for t in shared} == {("Asha Rao", True), ("Ravi Rao", False)}
        with pytest.raises(PermissionDeniedError):
            fam.core.certificates.compliance_report(principal=fam.as_mum)


class TestTheInvitationMessage:
    """The invited customer is told by SMS, once per invitation: who invited them and
    as what, nothing else."""

    @staticmethod
    def texts(fam: _Family, recipient: str) -> list[str]:
        return [m.body for m in fam.notifier.sent if m.recipient == recipient]

    def test_the_invited_customer_gets_one_sms_naming_the_inviter_and_relation(
        self, fam: _Family
    ) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        (message,) = fam.notifier.sent
        assert (message.channel.value, message.recipient) == ("sms", fam.son.phone.e164)
        assert message.body == (
            "bookingcore: Asha Rao invited you into their family account as their son. "
            "Sign in to accept or decline."
        )
        logged = fam.core.communications.for_customer(fam.son.id, principal=fam.as_son)
        assert [(c.type.value, c.status.value, c.booking_id) for c in logged] == [
            ("family_invitation", "sent", None)
        ]
        assert logged[0].dedupe_key == f"family-invitation:{sent.id}"
        # Asking again, a keyed retry, a redelivery: nothing more.
        fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        fam.core.events.retry(fam.events[0].id, "messages.family_invitation")
        fam.clock.advance(days=1)
        fam.core.events.run_pending()
        assert len(fam.notifier.sent) == 1
        # The inviter reads none of it.
        with pytest.raises(NotFoundError):
            fam.core.communications.for_customer(fam.son.id, principal=fam.as_mum)
        with pytest.raises(NotFoundError):
            fam.core.communications.get(logged[0].id, principal=fam.as_mum)

    def test_a_new_number_learns_nothing_but_who_invited_and_as_what(self, fam: _Family) -> None:
        fam.core.customers.complete_profile(fam.mum.id, email="asha@example.com", principal=ADMIN)
        fam.core.families.invite(
            fam.mum.id, "+91 98765 00011", relation="daughter", principal=fam.as_mum
        )
        (message,) = fam.notifier.sent
        assert message.recipient == "+919876500011"
        told = f"{message.subject or ''} {message.body}"
        assert "Asha Rao" in told
        assert "daughter" in told
        for secret in (
            fam.mum.phone.e164,
            "asha@example.com",
            "Ravi Rao",
            "asthma",
            str(fam.mum.id),
            "2026",  # no expiry date, no booking
        ):
            assert secret not in told

    def test_a_refused_sms_is_retried_and_sent_once(self, fam: _Family) -> None:
        fam.notifier.fail_next(1)
        fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        (failed,) = fam.core.communications.for_customer(fam.son.id, principal=ADMIN)
        assert failed.status.value == "failed"
        fam.clock.advance(seconds=10)
        fam.core.events.run_pending()
        (sent,) = fam.core.communications.for_customer(fam.son.id, principal=ADMIN)
        assert (sent.id, sent.status.value) == (failed.id, "sent")
        assert (fam.notifier.attempts, len(fam.notifier.sent)) == (2, 1)

    def test_an_invitation_withdrawn_before_the_retry_is_not_sent(self, fam: _Family) -> None:
        fam.notifier.fail_next(1)
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        fam.core.families.cancel_invitation(sent.id, principal=fam.as_mum)
        fam.clock.advance(seconds=10)
        fam.core.events.run_pending()
        assert fam.notifier.sent == []
        (logged,) = fam.core.communications.for_customer(fam.son.id, principal=ADMIN)
        assert logged.status.value == "failed"

    def test_a_partner_does_not_read_its_customers_invitation(self, fam: _Family) -> None:
        fam.core.families.invite(
            fam.son.id, fam.client.phone.e164, relation="cousin", principal=fam.as_son
        )
        partner = Principal.partner(PartnerId(fam.partner.id))
        as_client = Principal.customer(fam.client.id)
        (logged,) = fam.core.communications.for_customer(fam.client.id, principal=as_client)
        assert "Ravi Rao" in logged.content
        assert fam.core.communications.for_customer(fam.client.id, principal=partner) == []
        with pytest.raises(NotFoundError):
            fam.core.communications.get(logged.id, principal=partner)
        assert fam.core.communications.get(logged.id, principal=as_client) == logged

    def test_a_partner_does_not_read_its_customers_invitation_in_their_history(
        self, fam: _Family
    ) -> None:
        fam.core.families.invite(
            fam.son.id, fam.client.phone.e164, relation="cousin", principal=fam.as_son
        )
        partner = Principal.partner(PartnerId(fam.partner.id))
        as_client = Principal.customer(fam.client.id)
        assert fam.core.customers.history(fam.client.id, principal=partner).communications == []
        (own,) = fam.core.customers.history(fam.client.id, principal=as_client).communications
        assert own.type is CommunicationType.FAMILY_INVITATION

    def test_a_partner_does_not_list_its_customers_received_invitations(self, fam: _Family) -> None:
        fam.core.families.invite(
            fam.son.id, fam.client.phone.e164, relation="cousin", principal=fam.as_son
        )
        partner = Principal.partner(PartnerId(fam.partner.id))
        with pytest.raises(PermissionDeniedError):
            fam.core.families.received_invitations(fam.client.id, principal=partner)
        as_client = Principal.customer(fam.client.id)
        (waiting,) = fam.core.families.received_invitations(fam.client.id, principal=as_client)
        assert waiting.invited_by_name == "Ravi Rao"

    def test_every_invitation_gets_its_own_message(self, fam: _Family) -> None:
        first = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        fam.core.families.decline(first.id, principal=fam.as_son)
        fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        assert len(self.texts(fam, fam.son.phone.e164)) == 2

    def test_erasing_the_inviter_erases_the_text_naming_them(self, fam: _Family) -> None:
        fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        fam.core.privacy.erase_customer(fam.mum.id, principal=ADMIN)
        (logged,) = fam.core.communications.for_customer(fam.son.id, principal=fam.as_son)
        assert (logged.subject, logged.content, logged.status.value) == (None, "", "sent")

    def test_the_host_may_turn_it_off(self, any_store: MemoryStore | SqlStore) -> None:
        fam = _Family(any_store, automations=Automations(family_invitations=False))
        fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        assert fam.notifier.sent == []
        assert "messages.family_invitation" not in {s.name for s in fam.core.events.subscriptions}

    def test_templates_may_use_the_inviter_and_relation_only(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        sms = (CommunicationType.FAMILY_INVITATION, Channel.SMS)
        own = MessageTemplate("mine", body="$inviter_name asks you in as $relation ($business)")
        fam = _Family(any_store, settings=Settings(templates={sms: own}))
        fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        assert fam.notifier.sent[0].body == "Asha Rao asks you in as son (bookingcore)"
        for body in ("Hi $customer_name", "$reference"):
            with pytest.raises(ValidationError) as caught:
                Settings(templates={sms: MessageTemplate("bad", body=body)})
            assert caught.value.errors[0].code == "invalid_template"
        booking_sms = (CommunicationType.CONFIRMATION, Channel.SMS)
        with pytest.raises(ValidationError):
            Settings(templates={booking_sms: MessageTemplate("bad", body="$relation")})

    def test_staff_may_send_it_on_another_channel(self, fam: _Family) -> None:
        sent = fam.core.families.invite(
            fam.mum.id, fam.son.phone.e164, relation="son", principal=fam.as_mum
        )
        with pytest.raises(PermissionDeniedError):
            fam.core.communications.send_family_invitation(sent.id, principal=fam.as_mum)
        again = fam.core.communications.send_family_invitation(sent.id, principal=ADMIN)
        assert again is not None
        assert again.channel.value == "sms"  # once per invitation, whatever is asked
        assert len(fam.notifier.sent) == 1
