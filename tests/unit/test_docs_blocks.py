"""Every python block of the covered documentation pages runs as written.

Each page's blocks run in order in one namespace (a later block uses what an
earlier one made), compiled with the page's path and the block's own line
numbers, so a failure names the line of the page to fix. The pages wire the
in-memory store (or an SQLite file) themselves; nothing is set up behind them.

A block that cannot run here (it needs a network server, a provider's
credentials, a PostgreSQL URL, or is a deliberately partial sketch) carries
``<!-- docs-test: skip (the reason) -->`` on the line before it; a marker
without a reason fails.

A page states outcomes two ways, and both are checked: ``# prints <line>`` after
a ``print`` (on its line or the next) must be a line the block printed, in
order (``...`` stands for any text, e.g. a random reference), and each page's
own test below checks the values its prose states.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import inspect
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bookingcore import AuthenticationError, BookingFilter, NotFoundError, ValidationError
from bookingcore.testing import contracts
from bookingcore_adapters.sms import read_twilio_status_callback

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_BLOCK = re.compile(
    r"^(?:[ ]*<!-- docs-test: (?P<marker>[^\n]*?) -->\n)?"
    r"(?P<indent>[ ]*)```python\n(?P<body>.*?)^(?P=indent)```",
    flags=re.MULTILINE | re.DOTALL,
)
_SKIP = re.compile(r"skip \((?P<reason>[^()]*\S[^()]*)\)")
_PRINTS = re.compile(r"#\s*prints (?P<line>.+)$")


@dataclass(frozen=True)
class Block:
    """One ``python`` block of a page: where it starts and what it says."""

    page: str
    line: int  # the page's line of the block's first code line, from 1
    code: str
    marker: str | None

    @property
    def skipped(self) -> bool:
        return self.marker is not None

    def expected_prints(self) -> list[str]:
        """The ``# prints ...`` lines the block states, in order."""
        return [
            found.group("line").strip()
            for found in map(_PRINTS.search, self.code.splitlines())
            if found
        ]


def blocks(page: str) -> list[Block]:
    """The python blocks of ``docs/<page>``, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        indent = len(match.group("indent"))
        code = "".join(line[indent:] for line in match.group("body").splitlines(keepends=True))
        line = text.count("\n", 0, match.start("body")) + 1
        found.append(Block(page, line, code, match.group("marker")))
    return found


def _matches(expected: str, printed: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, printed.strip()) is not None


def _check_prints(block: Block, out: str) -> None:
    lines = iter(out.splitlines())
    for expected in block.expected_prints():
        assert any(_matches(expected, printed) for printed in lines), (
            f"docs/{block.page}:{block.line}: the page says it prints {expected!r}, "
            f"it printed:\n{out}"
        )


@dataclass
class Run:
    """What running a page left: its namespace and each block's output."""

    namespace: dict[str, Any]
    printed: list[str]

    def __getitem__(self, name: str) -> Any:
        return self.namespace[name]

    @property
    def out(self) -> str:
        return "".join(self.printed)


def run_page(page: str) -> Run:
    """Run the page's blocks in order in one namespace, checking each ``# prints``."""
    page_blocks = blocks(page)
    assert page_blocks, f"docs/{page} has no python block"
    namespace: dict[str, Any] = {"__name__": "docs_" + re.sub(r"\W", "_", page)}
    printed = []
    for block in page_blocks:
        if block.skipped:
            continue
        out = io.StringIO()
        # pad so a traceback names the page's own line numbers
        code = compile("\n" * (block.line - 1) + block.code, f"docs/{page}", "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        _check_prints(block, out.getvalue())
        printed.append(out.getvalue())
    return Run(namespace, printed)


PAGES: dict[str, Callable[[Run], None]] = {}


def covers(page: str) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    def register(check: Callable[[Run], None]) -> Callable[[Run], None]:
        PAGES[page] = check
        return check

    return register


# --- what each covered page states -------------------------------------------------------


@covers("getting-started.md")
def _getting_started(run: Run) -> None:
    booking, core, admin = run["booking"], run["core"], run["admin"]
    assert booking.reference.startswith("TRK-")  # ids=RandomIds(reference_prefix="TRK")
    assert run["slot"].capacity == 12
    assert core.catalog.get_slot(run["slot"].id, principal=admin).seats_left == 9
    assert run["same"] == booking
    system, me = run["Principal"].system(), run["me"]
    # "False for '+91-98765-43210' later": the same number, written another way
    assert not core.customers.register("+91-98765-43210", principal=system).created
    saved = core.travelers.list(run["reg"].customer.id, principal=me)
    names = [t.name for t in saved]
    assert "Kabir Verma" in names
    assert "Kabir V." not in names  # soft-deleted: no longer listed
    with pytest.raises(ValidationError) as naive:  # "naive datetimes are refused"
        core.catalog.create_slot(
            location_id=run["camp"].id,
            starts_at=datetime(2030, 6, 1, 6, 0),  # noqa: DTZ001 - the point of the check
            price_per_traveler=run["Money"]("8500", "INR"),
            principal=admin,
        )
    assert "starts_at" in naive.value.fields


@covers("guides/trek-operator.md")
def _trek_operator(run: Run) -> None:
    core, admin, booking = run["core"], run["admin"], run["booking"]
    assert booking.total == run["Money"]("30600", "INR")  # 4 x 8,500 - 10 %
    assert core.bookings.get(booking.id, principal=admin).status == "cancelled"
    assert core.catalog.get_slot(run["batch"].id, principal=admin).seats_left == 6


@covers("guides/dive-centre.md")
def _dive_centre(run: Run) -> None:
    booking, hotel = run["booking"], run["hotel"]
    assert booking.partner_id == hotel.partner.id
    assert booking.external_id == "CORAL-ROOM-412"
    assert run["entry"].amount == run["Money"]("900", "INR")


@covers("guides/course-school.md")
def _course_school(run: Run) -> None:
    totals = run["totals"]
    assert (totals.bookings, totals.travelers) == (2, 2)
    assert totals.amount == run["Money"]("36000", "INR")


@covers("guides/travel-agency.md")
def _travel_agency(run: Run) -> None:
    core, agent, booking = run["core"], run["agent"], run["booking"]
    assert core.bookings.get(booking.id, principal=agent).status == "supplier_confirmed"
    assert booking.total == run["Money"]("64160", "INR")


@covers("guides/car-dealership.md")
def _car_dealership(run: Run) -> None:
    job = run["job"]
    assert (job.created, job.failed) == (2, 4)
    assert [error.row_number for error in run["errors"]] == [4, 5, 6, 7]


@covers("concepts/ports-and-adapters.md")
def _ports_and_adapters(run: Run) -> None:
    assert run.out == "BookingService\n"


@covers("concepts/unit-of-work.md")
def _unit_of_work(run: Run) -> None:
    assert run["rows"] == []
    assert run.printed[-1] == "[]\nread_only lock\n"


@covers("customers.md")
def _customers(run: Run) -> None:
    core, admin, customer_id = run["core"], run["admin"], run["customer_id"]
    assert run["survivor"].id == customer_id
    with pytest.raises(NotFoundError):  # a merged duplicate is never read again
        core.customers.get(run["duplicate_id"], principal=admin)
    assert "Asha Rao" in Path("bookings.csv").read_text(encoding="utf-8")
    assert Path("bookings.xlsx").stat().st_size > 0
    erased = core.customers.get(customer_id, principal=admin)
    assert erased.erased_at is not None
    assert erased.name is None
    assert core.bookings.list(BookingFilter(text="Asha"), principal=admin).items == []
    assert run["data"]["customer"]["name"] == "Asha Rao"  # exported before the erasure
    # The family section: Dev's traveler was booked by Kavya, on her booking.
    assert run["for_dev"].customer_id == run["kavya"].customer.id
    assert [t.traveler_id for t in run["for_dev"].travelers] == [run["devs_traveler"].id]


@covers("sharing.md")
def _sharing(run: Run) -> None:
    core, asha, booking = run["core"], run["asha"], run["booking"]
    # "a retry of the same request answers the same link, without its token"
    first = core.sharing.create_link(booking.id, principal=asha, idempotency_key="share-k")
    again = core.sharing.create_link(booking.id, principal=asha, idempotency_key="share-k")
    assert (again.link.id, again.token) == (first.link.id, None)
    # "a booking has at most five working links"
    for _ in range(3):
        core.sharing.create_link(booking.id, principal=asha)
    with pytest.raises(run["ShareLinkLimitError"]):
        core.sharing.create_link(booking.id, principal=asha)
    # "staff who see everything list but cannot make links"
    viewer = run["Principal"].staff(run["StaffId"](run["uuid4"]()), run["StaffRole"].EDITOR)
    assert len(core.sharing.list_links(booking.id, principal=viewer)) == 6
    # "erasing a customer deletes the links to their bookings"
    issued = run["issued"]
    core.privacy.erase_customer(booking.customer_id, principal=run["admin"])
    with pytest.raises(run["SharedTripNotFoundError"]):
        core.sharing.view(issued.token)
    assert core.sharing.list_links(booking.id, principal=run["admin"]) == []


@covers("partners.md")
def _partners(run: Run) -> None:
    core, registration, rotated = run["core"], run["registration"], run["rotated"]
    assert registration.api_key.startswith("pk_")
    assert registration.api_secret.startswith("sk_")
    assert registration.api_secret not in repr(registration)
    assert rotated.api_key == registration.api_key != rotated.api_secret
    assert core.partners.limits.requests == 120
    with pytest.raises(AuthenticationError):  # set_active(partner.id, False) ends its access
        core.partners.authenticate(rotated.api_key, rotated.api_secret, client_ip="203.0.113.7")
    outgoing, header = run["outgoing"], run["header"]
    assert run["is_genuine"](run["webhook_secret"], outgoing.body, header)
    assert not run["is_genuine"]("whsec_other", outgoing.body, header)


@covers("payments.md")
def _payments(run: Run) -> None:
    money = run["Money"]
    (line,) = run["report"].lines
    assert (line.accrued, line.reversed, line.net) == (
        money("1000", "INR"),
        money("250", "INR"),
        money("750", "INR"),
    )
    assert [mine.partner_name for mine in run["mine"].lines] == ["Trailhead"]
    assert run["document"].filename == "invoice-INV-2026-CAMP-000001.html"
    assert run["payment"].amount == money("4000", "INR")
    assert run["refund"].amount == money("500", "INR")


@covers("cancellations.md")
def _cancellations(run: Run) -> None:
    core, staff, money = run["core"], run["staff"], run["Money"]
    booking = core.bookings.get(run["booking"].id, principal=staff)
    assert booking.status == "cancelled"
    (entry,) = [
        e for e in core.bookings.history(booking.id, principal=staff) if e.to_status == "cancelled"
    ]
    assert entry.metadata["cancellation_refund_percent"] == "50"
    assert [refund.amount for refund in run["refunds"]] == [money("8500", "INR")]
    # asked again (a retry, a second worker): the same refunds, nothing given twice
    again = core.payments.refund_cancellation(booking.id, principal=staff)
    assert [r.id for r in again] == [r.id for r in run["refunds"]]
    # per product: the course is non-refundable, the fun dives free up to 48 hours
    desk, customer = run["desk"], run["customer"]
    assert run.printed[-1] == "0\n"
    dives = desk.catalog.search_products(principal=staff, text="FUN").items[0]
    assert dives.cancellation_policy.self_service_until == timedelta(hours=48)
    assert desk.bookings.cancellation_terms(run["course"].id, principal=customer).refundable == (
        money("0", "INR"),
    )


@covers("requirements.md")
def _requirements(run: Run) -> None:
    core, admin = run["core"], run["admin"]
    # "Kiran turns 10 on the course's first day, so he goes"
    assert [t.traveler_id for t in run["booking"].travelers] != []
    assert core.catalog.get_slot(run["course_slot"].id, principal=admin).seats_held == 1
    deep = core.catalog.search_products(principal=admin, text="DEEP").items[0]
    assert deep.requirements.certificates_rule.value == "any"
    # the override was noted by whoever overrode
    (note,) = core.bookings.notes(run["waived"].id, principal=admin)
    assert note.author == admin.actor
    assert "travelers[0].certificates: certificate_expired" in note.text


@covers("travel.md")
def _travel(run: Run) -> None:
    core, staff, money = run["core"], run["staff"], run["Money"]
    booking = core.bookings.get(run["booking"].id, principal=staff)
    # 2 seats x 20,000 + 2 nights x 80 EUR at 90.25 INR, the transfer revised away
    assert booking.total == money("54440", "INR")
    assert booking.items_total == money("14440", "INR")
    assert run["retried"].revision == 2
    assert run["again"].communication.id == run["sent"].communication.id
    # Recurring slots: the retry answers the same slots; the skipped start has one slot.
    again = core.catalog.create_slots(
        run["saturdays"],
        location_id=run["leh"].id,
        price_per_traveler=money("4500", "INR"),
        capacity=10,
        name="Reef trip",
        principal=staff,
        idempotency_key="march-saturdays",
    )
    assert [s.id for s in again.slots] == [s.id for s in run["made"].slots]
    (entry,) = core.audit.trail("slot", run["made"].slots[0].id, principal=staff)
    assert (entry.action, entry.reason) == ("created", "schedule")


@covers("events.md")
def _events(run: Run) -> None:
    core, admin, booking, other = run["core"], run["admin"], run["booking"], run["other"]
    assert run.printed[1] == f"cancelled: {other.reference}\n"  # the handler ran, once
    assert core.bookings.get(other.id, principal=admin).status == "cancelled"
    (message,) = core.communications.for_booking(booking.id, principal=admin)
    assert (message.type, message.recipient) == ("confirmation", "asha@example.com")
    assert core.bookings.get(booking.id, principal=admin).internal_notes == "VIP"


@covers("webhooks.md")
def _webhooks(run: Run) -> None:
    assert sorted(delivery.topic for delivery in run["mine"].items) == [
        "booking.cancelled",
        "booking.created",
    ]
    assert run["payload"]["data"]["booking"]["reference"] == run["booking"].reference
    headers = run["request_headers"]
    assert headers["webhook-id"] == run["webhook"].webhook_id
    assert headers["webhook-signature"].startswith("v1,")


@covers("notifications.md")
def _notifications(run: Run) -> None:
    assert run["smtp_password"] not in repr(run["email"])
    assert run["auth_token"] not in repr(run["sms"])
    assert run["mailgun_api_key"] not in repr(run["mailgun"])
    assert run["event"].at.tzinfo is not None  # the event's own time, aware
    # the signature as the page describes it: the URL, then each POST parameter's name
    # and value sorted by name, HMAC-SHA1 keyed with the auth token, base64
    url = "https://bookings.example.com/callbacks/twilio"
    form = {"MessageStatus": "undelivered", "MessageSid": "SM1", "ErrorCode": "30003"}
    signed = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(run["auth_token"].encode(), signed.encode(), hashlib.sha1).digest()
    report = read_twilio_status_callback(
        run["auth_token"], url, form, base64.b64encode(digest).decode()
    )
    assert (report.message_sid, report.status, report.reason) == (
        "SM1",
        "failed",
        "undelivered (30003)",
    )
    with pytest.raises(AuthenticationError):
        read_twilio_status_callback(run["auth_token"], url, form, "forged")
    # push: the tablet's gone token deactivated its device; the phone still gets pushes
    core, me = run["core"], run["me"]
    phone, tablet = core.devices.list(run["asha"].id, principal=me)
    assert (phone.active, tablet.active) == (True, False)
    assert run["pushed"].provider_message_id is not None


@covers("reports.md")
def _reports(run: Run) -> None:
    core, staff = run["core"], run["staff"]
    (line,) = core.reports.revenue(principal=staff, by="created_month")
    assert line.key == date(2026, 3, 1)  # 19:00 UTC on 28 February is March in India
    (cohort,) = core.reports.cohort_retention(principal=staff)  # the same calendar
    assert (cohort.cohort, cohort.customers, len(cohort.active)) == (date(2026, 3, 1), 1, 13)
    assert Path("reports.db").exists()  # the page's SQLite file, in the test's folder


@covers("certificates.md")
def _certificates(run: Run) -> None:
    core, admin, cert = run["core"], run["admin"], run["cert"]
    assert cert.number == "OW-2026-0042"
    assert cert.traveler_id == run["booking"].travelers[0].traveler_id
    (again,) = run["sent"]
    assert again.type == "certificate"
    # once per certificate per window: a second run sends nothing
    assert core.certificates.due_renewal_reminders(principal=admin) == []


@covers("vouchers.md")
def _vouchers(run: Run) -> None:
    core, admin, summer = run["core"], run["admin"], run["summer"]
    money = run["Money"]
    # the page: the voucher's ten percent comes off what the tier left
    assert run["booking"].voucher_code == "SUMMER10"
    assert run["booking"].total == money("3240", "INR")
    # "a retry answers the voucher the first call made"
    again = core.vouchers.create(
        code="summer10",
        percent_off="10",
        max_uses=100,
        valid_until=run["now"] + timedelta(days=90),
        principal=admin,
        idempotency_key="voucher-summer10",
    )
    assert again.id == summer.id
    # "a fixed amount larger than what is left takes it to zero"
    big = core.vouchers.create(code="HUGE", amount_off=money("5000", "INR"), principal=admin)
    assert run["book"](big.code, "+919800000009").total == money("0", "INR")
    # "a cancelled booking keeps its use"
    core.bookings.cancel(run["booking"].id, principal=admin)
    assert core.vouchers.get(summer.id, principal=admin).uses == 1


@covers("archiving.md")
def _archiving(run: Run) -> None:
    core, admin = run["core"], run["admin"]
    paid, gone, unpaid = run["paid"], run["gone"], run["unpaid"]
    # "archived only sets archived_at": the cancelled one keeps its status and reason
    stored = core.bookings.get(gone.id, principal=admin)
    assert stored.archived_at == datetime(2027, 3, 1, tzinfo=UTC)
    assert (stored.status, stored.cancellation_reason) == ("cancelled", "knee injury")
    # "kept in the customer's own bookings"
    mine = run["Principal"].customer(gone.customer_id)
    page = core.bookings.list(BookingFilter(), principal=mine)
    assert [b.id for b in page.items] == [gone.id]
    # "the next run archives it again once it qualifies", with one audit entry each time
    again = core.archive.archive_due(principal=admin)
    assert again.archived == 1
    trail = [e.action for e in core.bookings.audit_trail(paid.id, principal=admin)]
    assert (trail.count("archived"), trail.count("unarchived")) == (2, 1)
    assert core.bookings.get(unpaid.id, principal=admin).archived_at is None


@covers("loyalty.md")
def _loyalty(run: Run) -> None:
    core, admin, money = run["core"], run["admin"], run["Money"]
    silver = core.bookings.get(run["silver"].id, principal=admin)
    # the page: the tier, its percent then and the amount are recorded on the booking
    assert (silver.loyalty_tier, silver.loyalty_percent) == ("Silver", 5)
    assert silver.discount == money("580", "INR")
    # "a later tier change never reprices a booking"
    assert silver.total == money("3420", "INR")
    status = core.customers.loyalty(silver.customer_id, principal=admin)
    assert (status.completed_bookings, status.next_tier) == (3, None)
    # "without a program the answer is a ValidationError on loyalty"
    bare = run["BookingCore"](uow_factory=run["MemoryStore"]().unit_of_work)
    with pytest.raises(ValidationError) as refused:
        bare.customers.loyalty(silver.customer_id, principal=admin)
    assert refused.value.errors[0].code == "not_configured"


@covers("changing-bookings.md")
def _changing_bookings(run: Run) -> None:
    core, admin = run["core"], run["admin"]
    assert core.bookings.get(run["member"].id, principal=admin).status == "cancelled"
    group = core.groups.get(run["group"].id, principal=admin)
    assert (group.group_reference, group.status) == ("ACME-OFFSITE-2026", "cancelled")
    booking = core.bookings.get(run["booking"].id, principal=admin)
    assert booking.slot_id == run["later_batch"].id
    assert run["dropped_traveler_id"] not in {t.traveler_id for t in booking.travelers}
    assert booking.total == run["Money"]("18000", "INR")  # Asha and Kiran at 9,000
    assert booking.assignee_id == run["ana"].id
    rider = core.bookings.get(run["rider"].id, principal=admin)
    assert rider.total == run["Money"]("3000", "INR")  # booked before the new price
    assert rider.starts_at == run["moved"].slot.starts_at


@covers("attendance.md")
def _attendance(run: Run) -> None:
    core, admin, booking = run["core"], run["admin"], run["booking"]
    stored = core.bookings.get(booking.id, principal=admin)
    assert stored.status == "completed"  # the strict core moved it
    assert all(t.attendance.status == "attended" for t in stored.travelers)
    assert stored.travelers[1].attendance.note is None  # the correction took its own note
    trail = core.bookings.audit_trail(booking.id, principal=admin)
    assert sum(1 for e in trail if any(k.startswith("attendance.") for k in e.new_values)) == 2


@covers("waitlists.md")
def _waitlists(run: Run) -> None:
    core, admin = run["core"], run["admin"]
    assert run["booking"].customer_id == run["ravi"].id
    assert core.catalog.get_slot(run["batch"].id, principal=admin).seats_left == 0


@covers("lifecycles.md")
def _lifecycles(run: Run) -> None:
    # the check example's own comment line is what it prints (tests/unit/test_docs.py)
    assert "unknown_state transitions.out" in run.out
    assert run["rental"].holding == frozenset({"reserved", "out"})
    history = run["core"].bookings.history(run["booking"].id, principal=run["staff"])
    assert [(entry.to_status, entry.note) for entry in history][-1] == (
        "confirmed",
        "paid at the desk",
    )


@covers("security.md")
def _security(run: Run) -> None:
    assert run["signed_in"].created is True
    assert run["principal"].kind.value == "customer"


@covers("guides/existing-schema.md")
def _existing_schema(run: Run) -> None:
    assert run["booking"].customer_id == run["customer"].id  # found by phone, not made twice
    assert run["booking"].lifecycle == "appointment"
    assert run["job"].failed == 0


@covers("importing.md")
def _importing(run: Run) -> None:
    assert run["preview"].mapping["customer_phone"] == "Mobile"  # an alias of the column
    assert len(run["preview"].rows) == 2
    assert run["plan"].would_create == 1
    report = Path("errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 2
    assert "no location has the code 'DL09'" in report[1]
    (booking,) = run["core"].bookings.list(BookingFilter(text="CRM-1"), principal=run["admin"])
    assert booking.external_id == "CRM-1"
    purged = run["kept"].imports.get(run["imported"].id, principal=run["admin"])
    assert purged.file_purged_at == run["clock"].now()
    assert not Path("uploads", f"{purged.id}.import").exists()


@covers("importing-people.md")
def _importing_people(run: Run) -> None:
    core, admin = run["core"], run["admin"]
    zoya = core.customers.identify(principal=admin, phone="+919820022222")
    assert not zoya.created
    # one person twice in the file: the second row filled in the blank email
    assert (zoya.customer.external_id, str(zoya.customer.email)) == ("U-18", "zoya@example.com")
    kiran = core.customers.identify(principal=admin, phone="+919820011111").customer
    saved = {t.name: t for t in core.travelers.list(kiran.id, principal=admin)}
    assert sorted(saved) == ["Anya Patel", "Kiran Patel"]
    assert saved["Kiran Patel"].special_requirements == "Dietary: vegetarian"
    assert "password_hash" in run["preview"].extra_columns
    assert run["job"].kind == "customers"


@covers("jobs.md")
def _jobs(run: Run) -> None:
    catalog = run["core"].jobs.catalog
    every = {schedule.name: schedule.every for schedule in catalog.schedules()}
    assert every["crm.sync"] == timedelta(minutes=10)
    assert every["waitlists.expire_offers"] == timedelta(seconds=5)
    assert every["outbox.relay"] == timedelta(seconds=5)
    assert "imports.run" in catalog


@covers("observability.md")
def _observability(run: Run) -> None:
    names = [span.name for span in run["spans"].get_finished_spans()]
    assert names == ["bookingcore.book", "bookingcore.book"]
    private = {"+919876543210", "Asha", str(run["booking"].id), run["booking"].reference}
    values = [
        str(v) for span in run["spans"].get_finished_spans() for v in span.attributes.values()
    ]
    assert not [v for v in values if any(p in v for p in private)]
    assert run["counter"].refusals == {"not_found": 1}


@covers("deployment.md")
def _deployment(run: Run) -> None:
    catalog = run["core"].jobs.catalog
    assert {"outbox.relay", "imports.run", "outbox.prune"} <= set(catalog.names())


@covers("sql.md")
def _sql(run: Run) -> None:
    migrations, store = run["migrations"], run["store"]
    assert migrations.current(store) == migrations.head()  # the last example migrated again
    limiter = run["SqlRateLimiter"](store)
    now = datetime.now(UTC)
    key, minute = "otp:+919812345678", timedelta(minutes=1)
    allowed = [limiter.hit(key, limit=2, window=minute, now=now).allowed for _ in range(3)]
    assert allowed == [True, True, False]  # counted in the page's SQLite file
    store.dispose()


@covers("writing-an-adapter.md")
def _writing_an_adapter(run: Run) -> None:
    storage = run["TestMyStorage"]
    # StorageContract bundles the unit of work, version and persistence contracts
    for bundled in (
        contracts.UnitOfWorkContract,
        contracts.VersionContract,
        contracts.PersistenceContract,
    ):
        assert issubclass(storage, bundled)
    assert storage.capabilities.persistent
    assert any(name.startswith("test_") for name in dir(run["TestMyBucket"]))


@covers("http.md")
def _http(run: Run) -> None:
    parameters = inspect.signature(run["create_app"]).parameters
    assert {"trust_forwarded", "upload_dir"} <= set(parameters)
    assert callable(run["app_factory"])


@covers("api.md")
def _api(run: Run) -> None:
    def shape(path: str) -> str:  # the table writes every path parameter as {id}
        return re.sub(r"\{[^}]*\}", "{}", path)

    served = {
        (method.upper(), shape(path))
        for path, operations in run["app"].openapi()["paths"].items()
        for method in operations
    }
    table = (DOCS / "api.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`?]*)", table, flags=re.MULTILINE)
    assert len(listed) > 50
    missing = [f"{verb} {path}" for verb, path in listed if (verb, shape(path)) not in served]
    assert missing == [], f"docs/api.md lists endpoints the app does not serve: {missing}"


# --- the runner's own rules --------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_page_runs_as_written_and_shows_what_it_says(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the files a page writes, named relatively, land here
    run = run_page(page)
    PAGES[page](run)


def _all_pages() -> list[str]:
    return sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))


def test_every_page_with_python_examples_is_covered() -> None:
    with_examples = {page for page in _all_pages() if blocks(page)}
    assert with_examples == set(PAGES), "add the page to PAGES with what it states"


def test_every_skip_marker_gives_its_reason() -> None:
    for page in _all_pages():
        for block in blocks(page):
            if block.marker is not None:
                assert _SKIP.fullmatch(block.marker), (
                    f"docs/{page}:{block.line - 1}: {block.marker!r} is not "
                    "'skip (why this block cannot run in a test)'"
                )


def test_a_covered_page_skips_few_of_its_blocks() -> None:
    for page in PAGES:
        page_blocks = blocks(page)
        skipped = [block for block in page_blocks if block.skipped]
        assert len(skipped) <= len(page_blocks) // 2, (
            f"docs/{page} skips {len(skipped)} of its {len(page_blocks)} blocks"
        )


def test_the_runner_finds_each_block_and_reads_its_outcomes() -> None:
    found = blocks("getting-started.md")
    assert len(found) == 8
    text = (DOCS / "getting-started.md").read_text(encoding="utf-8").splitlines()
    for block in found:
        assert text[block.line - 2].endswith("```python")
        assert text[block.line - 1] == block.code.splitlines()[0]
    assert _matches("BK-... confirmed 30,600.00 INR", "BK-7KQ2M9XD confirmed 30,600.00 INR")
    assert not _matches("True None", "False None")
    with pytest.raises(AssertionError, match="says it prints"):
        _check_prints(Block("x.md", 1, "print(1)  # prints 2\n", None), "1\n")
