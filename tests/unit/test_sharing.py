"""Sharing a trip with friends over the memory adapter: making, listing and revoking share
links, the policy both ways, the public view by token (what it shows and what it never
does), one answer for every token that opens nothing, and privacy (erase, merge, export)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingId,
    BookingRequest,
    CustomerDetails,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    SHARE_TOKEN_PREFIX,
    SharedTripNotFoundError,
    SharedTripStatus,
    ShareExpiryError,
    ShareLinkId,
    ShareLinkLimitError,
    policy,
    shared_status,
)
from bookingcore.domain.lifecycle import APPOINTMENT, RESERVATION, TRAVEL, Lifecycle
from bookingcore.domain.sharing import first_name, hash_share_token
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore


@pytest.fixture
def core(store: MemoryStore, clock: FixedClock) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", share_link_max_ttl=timedelta(days=60)),
    )


class Trip:
    """Asha's booking of the Hampta Pass trek for herself and Ravi; Ben is a stranger."""

    def __init__(self, core: BookingCore, admin: Principal, clock: FixedClock) -> None:
        self.asha = core.customers.register(
            "+919876543210", name="Asha Rao", email="asha@example.com", principal=admin
        ).customer
        self.ben = core.customers.register("+919812345678", name="Ben", principal=admin).customer
        self.as_asha = Principal.customer(self.asha.id)
        self.as_ben = Principal.customer(self.ben.id)
        camp = core.catalog.add_location(
            "MANALI", "Manali base camp", principal=admin, address="Near the bus stand, Manali"
        )
        self.starts_at = clock.now() + timedelta(days=10)
        self.ends_at = self.starts_at + timedelta(days=4)
        self.slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            name="Hampta Pass trek",
            price_per_traveler=Money("9500", "INR"),
            principal=admin,
        )
        self.booking = core.bookings.book(
            BookingRequest(
                self.slot.id,
                [
                    NewTraveler(
                        TravelerDetails("Asha Rao", phone="+919876543210"), is_primary=True
                    ),
                    NewTraveler(TravelerDetails("Ravi Kumar")),
                ],
                customer_id=self.asha.id,
                internal_notes="VIP: call before pickup",
            ),
            principal=admin,
        )


@pytest.fixture
def trip(core: BookingCore, admin: Principal, clock: FixedClock) -> Trip:
    return Trip(core, admin, clock)


class TestMakingLinks:
    def test_a_customer_shares_their_booking_and_the_token_opens_the_trip(
        self, core: BookingCore, trip: Trip
    ) -> None:
        issued = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert issued.token is not None
        assert issued.token.startswith(SHARE_TOKEN_PREFIX)
        assert len(issued.token) - len(SHARE_TOKEN_PREFIX) >= 43  # 256 bits, base64url
        link = issued.link
        assert link.token_hash == hash_share_token(issued.token)
        assert issued.token not in repr(issued)
        assert issued.token not in repr(link)
        assert link.masked_token() == f"{SHARE_TOKEN_PREFIX}…{issued.token[-4:]}"
        # By default the link works until the trip ends, and shows no names.
        assert link.expires_at == trip.ends_at
        shared = core.sharing.view(issued.token)
        assert shared.trip_name == "Hampta Pass trek"
        assert shared.location_name == "Manali base camp"
        assert shared.meeting_point == "Near the bus stand, Manali"
        assert (shared.starts_at, shared.ends_at) == (trip.starts_at, trip.ends_at)
        assert shared.status is SharedTripStatus.PENDING
        assert shared.status.label == "Awaiting confirmation"
        assert shared.travelers == 2
        assert shared.first_names is None

    def test_the_view_never_holds_contact_details_prices_notes_reference_or_ids(
        self, core: BookingCore, trip: Trip
    ) -> None:
        token = core.sharing.create_link(
            trip.booking.id, principal=trip.as_asha, show_first_names=True
        ).token
        assert token is not None
        shared = core.sharing.view(token)
        assert shared.first_names == ("Asha", "Ravi")
        text = repr(shared)
        for secret in (
            "9876543210",
            "asha@example.com",
            "9500",
            "19000",
            "VIP",
            "Rao",
            "Kumar",
            trip.booking.reference,
            str(trip.booking.id),
            str(trip.asha.id),
            str(trip.slot.id),
        ):
            assert secret not in text

    def test_the_status_follows_the_booking_in_customer_words(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        token = core.sharing.create_link(trip.booking.id, principal=trip.as_asha).token
        assert token is not None
        core.bookings.transition(trip.booking.id, "confirmed", principal=admin)
        assert core.sharing.view(token).status is SharedTripStatus.CONFIRMED

    def test_expiry_is_capped_and_checked_on_expires_at(
        self, core: BookingCore, trip: Trip, clock: FixedClock
    ) -> None:
        with pytest.raises(ShareExpiryError) as past:
            core.sharing.create_link(
                trip.booking.id, principal=trip.as_asha, expires_at=clock.now()
            )
        assert past.value.fields == ("expires_at",)
        with pytest.raises(ValidationError) as far:
            core.sharing.create_link(
                trip.booking.id,
                principal=trip.as_asha,
                expires_at=clock.now() + timedelta(days=61),
            )
        assert far.value.fields == ("expires_at",)
        chosen = clock.now() + timedelta(days=2)
        link = core.sharing.create_link(
            trip.booking.id, principal=trip.as_asha, expires_at=chosen
        ).link
        assert link.expires_at == chosen

    def test_a_trip_longer_than_the_cap_is_shared_until_the_cap(
        self, store: MemoryStore, clock: FixedClock, trip: Trip
    ) -> None:
        short = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            settings=Settings(default_region="IN", share_link_max_ttl=timedelta(days=3)),
        )
        link = short.sharing.create_link(trip.booking.id, principal=trip.as_asha).link
        assert link.expires_at == clock.now() + timedelta(days=3)

    def test_a_booking_has_at_most_five_working_links(
        self, core: BookingCore, trip: Trip, clock: FixedClock
    ) -> None:
        made = [
            core.sharing.create_link(
                trip.booking.id, principal=trip.as_asha, expires_at=clock.now() + timedelta(days=1)
            ).link
            for _ in range(5)
        ]
        with pytest.raises(ShareLinkLimitError) as refused:
            core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert refused.value.fields == ("booking_id",)
        core.sharing.revoke_link(trip.booking.id, made[0].id, principal=trip.as_asha)
        core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        # Expired links do not count either.
        clock.advance(days=2)
        core.sharing.create_link(trip.booking.id, principal=trip.as_asha)

    def test_a_label_that_is_too_long_is_named(self, core: BookingCore, trip: Trip) -> None:
        with pytest.raises(ValidationError) as refused:
            core.sharing.create_link(trip.booking.id, principal=trip.as_asha, label="x" * 101)
        assert refused.value.fields == ("label",)

    def test_a_cancelled_booking_cannot_be_shared(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        core.bookings.cancel(trip.booking.id, principal=admin)
        with pytest.raises(ValidationError) as refused:
            core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert refused.value.errors[0].code == "not_shareable"


class TestIdempotency:
    def test_a_retry_answers_the_same_link_without_the_token(
        self, core: BookingCore, trip: Trip, store: MemoryStore
    ) -> None:
        first = core.sharing.create_link(
            trip.booking.id, principal=trip.as_asha, label="friends", idempotency_key="share-1"
        )
        again = core.sharing.create_link(
            trip.booking.id, principal=trip.as_asha, label="friends", idempotency_key="share-1"
        )
        assert again.link == first.link
        assert (first.token is not None, again.token) == (True, None)
        assert len(core.sharing.list_links(trip.booking.id, principal=trip.as_asha)) == 1
        with pytest.raises(IdempotencyConflictError):
            core.sharing.create_link(
                trip.booking.id, principal=trip.as_asha, label="family", idempotency_key="share-1"
            )


class TestPolicy:
    def test_staff_who_change_everything_share_on_the_customers_behalf(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        issued = core.sharing.create_link(trip.booking.id, principal=admin)
        assert issued.link.customer_id == trip.asha.id
        listed = core.sharing.list_links(trip.booking.id, principal=trip.as_asha)
        assert [x.id for x in listed] == [issued.link.id]

    def test_another_customer_or_a_partner_cannot_see_the_booking_to_share_it(
        self, core: BookingCore, trip: Trip
    ) -> None:
        partner = Principal.partner(PartnerId(uuid4()))
        for stranger in (trip.as_ben, partner):
            with pytest.raises(NotFoundError):
                core.sharing.create_link(trip.booking.id, principal=stranger)
            with pytest.raises(NotFoundError):
                core.sharing.list_links(trip.booking.id, principal=stranger)
        link = core.sharing.create_link(trip.booking.id, principal=trip.as_asha).link
        with pytest.raises(NotFoundError):
            core.sharing.revoke_link(trip.booking.id, link.id, principal=trip.as_ben)

    def test_staff_who_only_view_list_links_but_cannot_make_them(
        self, core: BookingCore, trip: Trip
    ) -> None:
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert core.sharing.list_links(trip.booking.id, principal=editor) == []
        with pytest.raises(PermissionDeniedError):
            core.sharing.create_link(trip.booking.id, principal=editor)

    def test_a_partner_shares_only_the_bookings_it_made(self) -> None:
        make = Builder()
        customer = make.customer()
        slot = make.slot(make.location().id)
        mine, theirs = PartnerId(uuid4()), PartnerId(uuid4())
        traveler = make.traveler(customer.id)
        booking = make.booking(customer.id, slot, [traveler.id], partner_id=mine)
        assert policy.can_share_booking(Principal.partner(mine), booking)
        assert not policy.can_share_booking(Principal.partner(theirs), booking)
        assert not policy.can_share_booking(Principal.customer(make.customer().id), booking)
        advisor = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
        assert not policy.can_share_booking(advisor, booking)

    def test_a_link_of_another_booking_is_not_found_under_this_one(
        self, core: BookingCore, trip: Trip
    ) -> None:
        link = core.sharing.create_link(trip.booking.id, principal=trip.as_asha).link
        with pytest.raises(NotFoundError):
            core.sharing.revoke_link(BookingId(uuid4()), link.id, principal=trip.as_asha)
        with pytest.raises(NotFoundError):
            core.sharing.revoke_link(trip.booking.id, ShareLinkId(uuid4()), principal=trip.as_asha)


class TestTokensThatOpenNothing:
    def _same_error(self, core: BookingCore, token: object) -> str:
        with pytest.raises(SharedTripNotFoundError) as refused:
            core.sharing.view(token)  # type: ignore[arg-type]
        return refused.value.message

    def test_unknown_expired_revoked_and_cancelled_answer_alike(
        self, core: BookingCore, trip: Trip, admin: Principal, clock: FixedClock
    ) -> None:
        soon = core.sharing.create_link(
            trip.booking.id, principal=trip.as_asha, expires_at=clock.now() + timedelta(hours=1)
        )
        revoked = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        kept = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert soon.token is not None
        assert revoked.token is not None
        assert kept.token is not None
        again = core.sharing.revoke_link(trip.booking.id, revoked.link.id, principal=trip.as_asha)
        assert again.revoked_at == clock.now()
        # Revoking twice changes nothing.
        twice = core.sharing.revoke_link(trip.booking.id, revoked.link.id, principal=trip.as_asha)
        assert twice.revoked_at == again.revoked_at
        clock.advance(hours=2)
        answers = {
            self._same_error(core, token)
            for token in (
                soon.token,
                revoked.token,
                SHARE_TOKEN_PREFIX + "x" * 43,
                "",
                "x" * 10_000,
                None,
            )
        }
        assert core.sharing.view(kept.token).travelers == 2
        core.bookings.cancel(trip.booking.id, principal=admin)
        answers.add(self._same_error(core, kept.token))
        assert answers == {"no shared trip for this link"}

    def test_an_erased_customers_links_go_and_open_nothing(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        issued = core.sharing.create_link(trip.booking.id, principal=trip.as_asha, label="Sharma")
        core.privacy.erase_customer(trip.asha.id, principal=admin)
        with pytest.raises(SharedTripNotFoundError):
            core.sharing.view(issued.token or "")
        assert core.sharing.list_links(trip.booking.id, principal=admin) == []
        trail = core.audit.trail("share link", issued.link.id, principal=admin)
        assert all("Sharma" not in str(entry.new_values) for entry in trail)


class TestTheBookingsLife:
    """A link opens the trip only while the booking is shared: decided at every open from
    the booking as it is, whichever path moved it (docs/sharing.md)."""

    def test_a_no_show_opens_nothing_and_answers_as_an_unknown_token(
        self, core: BookingCore, trip: Trip, admin: Principal, clock: FixedClock
    ) -> None:
        issued = core.sharing.create_link(
            trip.booking.id, principal=trip.as_asha, expires_at=trip.ends_at + timedelta(days=7)
        )
        assert issued.token is not None
        core.bookings.transition(trip.booking.id, "confirmed", principal=admin)
        assert core.sharing.view(issued.token).status is SharedTripStatus.CONFIRMED
        clock.advance(days=11)
        core.bookings.transition(trip.booking.id, "no_show", principal=admin)
        with pytest.raises(SharedTripNotFoundError) as refused:
            core.sharing.view(issued.token)
        assert refused.value.message == "no shared trip for this link"
        (link,) = core.sharing.list_links(trip.booking.id, principal=trip.as_asha)
        assert link.is_active(clock.now())  # the link itself is untouched...
        booking = core.bookings.get(trip.booking.id, principal=trip.as_asha)
        assert core.sharing.shared_booking_status(booking) is None  # ...the booking is not
        assert link.view_count == 1  # the refused open is not counted
        with pytest.raises(ValidationError) as not_shareable:
            core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert not_shareable.value.errors[0].code == "not_shareable"

    def test_an_archived_trip_opens_nothing_until_it_is_brought_back(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        camp = core.catalog.add_location("LEH", "Leh", principal=admin)
        slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=clock.now() + timedelta(days=1),
            ends_at=clock.now() + timedelta(days=2),
            name="Stok Kangri",
            price_per_traveler=Money("0", "INR"),
            principal=admin,
        )
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Mira Shah"), is_primary=True)],
                customer=CustomerDetails("+919811111111"),
            ),
            principal=admin,
        )
        mira = Principal.customer(booking.customer_id)
        issued = core.sharing.create_link(
            booking.id, principal=mira, expires_at=clock.now() + timedelta(days=50)
        )
        assert issued.token is not None
        core.bookings.transition(booking.id, "confirmed", principal=admin)
        clock.advance(days=3)
        core.bookings.transition(booking.id, "completed", principal=admin)
        assert core.sharing.view(issued.token).status is SharedTripStatus.COMPLETED
        assert core.archive.archive_due(principal=admin, ended_before=clock.now()).archived == 1
        with pytest.raises(SharedTripNotFoundError):
            core.sharing.view(issued.token)
        core.archive.unarchive(booking.id, principal=admin)
        assert core.sharing.view(issued.token).trip_name == "Stok Kangri"

    def test_opens_are_counted_for_whoever_lists_the_links_never_in_the_view(
        self, core: BookingCore, trip: Trip, admin: Principal, clock: FixedClock
    ) -> None:
        opened = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        unopened = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert opened.token is not None
        assert (opened.link.view_count, opened.link.last_opened_at) == (0, None)
        first = core.sharing.view(opened.token)
        clock.advance(minutes=30)
        core.sharing.view(opened.token)
        assert "view_count" not in repr(first)
        assert "opened" not in repr(first)
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)  # views only
        for who in (trip.as_asha, admin, editor):
            links = core.sharing.list_links(trip.booking.id, principal=who)
            counts = {x.id: (x.view_count, x.last_opened_at) for x in links}
            assert counts == {opened.link.id: (2, clock.now()), unopened.link.id: (0, None)}
        core.sharing.revoke_link(trip.booking.id, opened.link.id, principal=trip.as_asha)
        with pytest.raises(SharedTripNotFoundError):
            core.sharing.view(opened.token)
        (revoked, _) = core.sharing.list_links(trip.booking.id, principal=trip.as_asha)
        assert revoked.view_count == 2  # a token that opens nothing writes nothing
        # Opens are counted, not audited: the trail holds the owner's changes only.
        trail = core.audit.trail("share link", opened.link.id, principal=admin)
        assert [e.action.value for e in trail] == ["created", "deactivated"]


class TestPrivacy:
    def test_export_lists_the_links_masked(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        issued = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert issued.token is not None
        exported = core.privacy.export_customer(trip.asha.id, principal=trip.as_asha)
        (row,) = exported["share_links"]
        assert row["id"] == str(issued.link.id)
        assert row["token"] == issued.link.masked_token()
        assert issued.token not in str(exported)
        assert issued.link.token_hash not in str(exported)

    def test_merge_moves_the_links_and_they_keep_working(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        issued = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        core.customers.merge(trip.ben.id, trip.asha.id, principal=admin)
        exported = core.privacy.export_customer(trip.ben.id, principal=admin)
        assert [row["id"] for row in exported["share_links"]] == [str(issued.link.id)]
        assert core.sharing.view(issued.token or "").travelers == 2


class TestAudit:
    def test_making_and_revoking_leave_entries_with_the_token_masked(
        self, core: BookingCore, trip: Trip, admin: Principal
    ) -> None:
        issued = core.sharing.create_link(trip.booking.id, principal=trip.as_asha)
        assert issued.token is not None
        core.sharing.revoke_link(trip.booking.id, issued.link.id, principal=trip.as_asha)
        trail = core.audit.trail("share link", issued.link.id, principal=admin)
        assert [e.action.value for e in trail] == ["created", "deactivated"]
        assert all(e.booking_id == trip.booking.id for e in trail)
        assert issued.token not in str([e.new_values for e in trail])


class TestStatusWords:
    def test_the_shipped_lifecycles_read_in_customer_words(self) -> None:
        assert shared_status(RESERVATION, "pending") is SharedTripStatus.PENDING
        # A no-show did not travel: shared no more, as a cancelled booking.
        assert shared_status(RESERVATION, "no_show") is None
        assert shared_status(RESERVATION, "completed") is SharedTripStatus.COMPLETED
        assert shared_status(RESERVATION, "cancelled") is None
        assert shared_status(APPOINTMENT, "IN_PROGRESS") is SharedTripStatus.CONFIRMED
        assert shared_status(APPOINTMENT, "CANCELLED") is None
        assert shared_status(TRAVEL, "payment_pending") is SharedTripStatus.PENDING
        assert shared_status(TRAVEL, "supplier_confirmed") is SharedTripStatus.CONFIRMED
        assert shared_status(TRAVEL, "completed") is SharedTripStatus.COMPLETED
        assert shared_status(TRAVEL, "refunded") is None

    def test_a_final_state_of_your_own_without_seats_is_shared_no_more(self) -> None:
        """A terminal state that holds no seats (a hold that expired) was never
        travelled in; one that holds seats ended after the trip."""
        rental = Lifecycle(
            name="rental",
            states=("held", "booked", "returned", "expired"),
            initial="held",
            transitions={"held": {"booked", "expired"}, "booked": {"returned"}},
            terminal={"returned", "expired"},
            holding={"held", "booked", "returned"},
        )
        assert shared_status(rental, "expired") is None
        assert shared_status(rental, "returned") is SharedTripStatus.ENDED
        assert shared_status(rental, "booked") is SharedTripStatus.CONFIRMED

    def test_first_names_skip_erased_travelers(self) -> None:
        assert first_name("Asha Rao") == "Asha"
        assert first_name("[erased]") is None
        assert first_name("  ") is None
