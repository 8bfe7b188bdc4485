"""Family accounts in the domain: invitations' statuses and answers, and the policy that
decides what a family link grants (both ways)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore.domain import policy
from bookingcore.domain.families import (
    FamilyId,
    FamilyInvitation,
    FamilyInvitationId,
    InvitationStatus,
    clean_relation,
)
from bookingcore.domain.policy import Principal, StaffRole
from bookingcore.domain.values import CustomerId, PartnerId, StaffId
from bookingcore.errors import ValidationError

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OWNER, MEMBER, OUTSIDER = (CustomerId(uuid4()) for _ in range(3))


def _invitation(**fields: object) -> FamilyInvitation:
    values: dict[str, object] = {
        "invitation_id": FamilyInvitationId(uuid4()),
        "family_id": FamilyId(uuid4()),
        "invited_by": OWNER,
        "customer_id": MEMBER,
        "relation": "daughter",
        "now": NOW,
        "expires_at": NOW + timedelta(days=7),
    }
    return FamilyInvitation.create(**(values | fields))  # type: ignore[arg-type]


class TestInvitation:
    def test_a_new_invitation_is_pending_until_it_expires(self) -> None:
        sent = _invitation()
        assert sent.status_at(NOW) is InvitationStatus.PENDING
        assert sent.status_at(NOW + timedelta(days=7)) is InvitationStatus.EXPIRED
        assert sent.is_open_at(NOW + timedelta(days=6))

    @pytest.mark.parametrize(
        ("fields", "field", "code"),
        [
            ({"relation": "  "}, "relation", "required"),
            ({"relation": "x" * 41}, "relation", None),
            ({"customer_id": OWNER}, "phone", "same_customer"),
            ({"expires_at": NOW}, "expires_at", "out_of_range"),
        ],
    )
    def test_bad_input_names_its_field(
        self, fields: dict[str, object], field: str, code: str | None
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _invitation(**fields)
        assert caught.value.fields == (field,)
        if code is not None:
            assert caught.value.errors[0].code == code

    def test_an_answer_moves_it_once_and_raises_its_version(self) -> None:
        sent = _invitation()
        sent.accept(now=NOW + timedelta(hours=1))
        assert (sent.status, sent.answered_at, sent.version) == (
            InvitationStatus.ACCEPTED,
            NOW + timedelta(hours=1),
            2,
        )
        for answer in (sent.decline, sent.cancel, sent.accept):
            with pytest.raises(ValidationError) as caught:
                answer(now=NOW + timedelta(hours=2))
            assert (caught.value.fields, caught.value.errors[0].code) == (
                ("invitation_id",),
                "not_pending",
            )

    def test_an_expired_invitation_cannot_be_answered(self) -> None:
        sent = _invitation()
        with pytest.raises(ValidationError) as caught:
            sent.accept(now=NOW + timedelta(days=8))
        assert caught.value.errors[0].code == "expired"
        assert sent.status is InvitationStatus.PENDING

    def test_relations_are_stripped(self) -> None:
        assert clean_relation("  son ") == "son"


class TestPolicy:
    family = (OWNER, MEMBER)

    def test_a_member_booking_for_themselves_may_book_the_familys_travelers(self) -> None:
        me = Principal.customer(OWNER)
        assert policy.can_book_family_traveler(
            me, booker=OWNER, traveler_owner=MEMBER, members=self.family
        )

    @pytest.mark.parametrize(
        "principal",
        [
            Principal.partner(PartnerId(uuid4())),
            Principal.customer(MEMBER),  # booking for someone else
            Principal.staff(StaffId(uuid4()), StaffRole.EDITOR),
            Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR),
        ],
    )
    def test_nobody_else_uses_a_family(self, principal: Principal) -> None:
        assert not policy.can_book_family_traveler(
            principal, booker=OWNER, traveler_owner=MEMBER, members=self.family
        )

    def test_staff_who_book_anywhere_may_book_for_the_member(self) -> None:
        admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        assert policy.can_book_family_traveler(
            admin, booker=OWNER, traveler_owner=MEMBER, members=self.family
        )

    def test_a_traveler_outside_the_family_is_never_bookable(self) -> None:
        me = Principal.customer(OWNER)
        assert not policy.can_book_family_traveler(
            me, booker=OWNER, traveler_owner=OUTSIDER, members=self.family
        )
        assert not policy.can_book_family_traveler(
            me, booker=OWNER, traveler_owner=MEMBER, members=(MEMBER, OUTSIDER)
        )

    def test_members_and_staff_who_see_everything_read_a_family(self) -> None:
        assert policy.can_view_family(Principal.customer(MEMBER), self.family)
        assert not policy.can_view_family(Principal.customer(OUTSIDER), self.family)
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert policy.can_view_family(editor, self.family)
        advisor = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
        assert not policy.can_view_family(advisor, self.family)

    def test_the_owner_and_staff_who_change_everything_manage_it(self) -> None:
        assert policy.can_manage_family(Principal.customer(OWNER), OWNER)
        assert not policy.can_manage_family(Principal.customer(MEMBER), OWNER)
        staff = Principal.staff(StaffId(uuid4()), StaffRole.STAFF)
        assert policy.can_manage_family(staff, OWNER)
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert not policy.can_manage_family(editor, OWNER)
