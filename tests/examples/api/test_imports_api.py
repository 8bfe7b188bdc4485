"""Seed 004's bulk import over HTTP: streamed uploads, preview, dry run, import, errors, retry."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from anyio.from_thread import start_blocking_portal
from openpyxl import load_workbook
from tests.examples.api._client import ApiClient, CountedBody
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, CustomerId, StaffRole
from bookingcore.domain import Cursor
from examples.api import create_app

HEADER = "Customer Name,customer_phone,dealer_code,booking_date,external_id,Campaign"
ROWS = [
    "Asha Rao,+919812345601,DL01,2026-03-05,EXT-1,diwali",
    "Ravi Kumar,+919812345602,DL01,2026-03-06,EXT-2,diwali",
    "Meera Shah,+919812345603,NOPE,2026-03-07,EXT-3,diwali",
]
CSV = ("\n".join([HEADER, *ROWS]) + "\n").encode()


@pytest.fixture
def dealer(api_core: BookingCore) -> None:
    api_core.catalog.add_location("DL01", "Dealer One", principal=SETUP)


def _upload(
    content: bytes = CSV, name: str = "bookings.csv", media: str = "text/csv"
) -> dict[str, Any]:
    return {"files": {"file": (name, content, media)}}


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
@pytest.mark.usefixtures("dealer")
def test_preview_validate_import_then_read_the_errors(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    """The import story of seed 004 over HTTP: nothing is written until the import itself."""
    preview = client.post("/api/admin/bookings/preview", headers=staff_headers, **_upload())
    assert preview.status_code == 200, preview.text
    assert preview.json()["mapping"]["customer_phone"] == "customer_phone"
    assert [r["action"] for r in preview.json()["rows"]][:2] == ["create", "create"]
    assert preview.json()["rows"][2]["problems"][0]["column"] == "dealer_code"

    plan = client.post("/api/admin/bookings/validate", headers=staff_headers, **_upload())
    assert plan.status_code == 200, plan.text
    assert (plan.json()["would_create"], plan.json()["failed"]) == (2, 1)
    assert client.get("/api/admin/bookings", headers=staff_headers).json()["items"] == []

    made = client.post(
        "/api/admin/bookings/import",
        headers=staff_headers,
        data={"currency": "INR", "mapping": '{"Customer Name": "customer_name"}'},
        **_upload(),
    )
    assert made.status_code == 201, made.text
    job = made.json()
    assert (job["status"], job["created"], job["failed"]) == ("COMPLETED", 2, 1)
    assert job["settings"]["currency"] == "INR"
    booked = client.get("/api/admin/bookings", params={"source": "import"}, headers=staff_headers)
    assert len(booked.json()["items"]) == 2

    listed = client.get("/api/admin/bookings/imports", headers=staff_headers).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    status = client.get(f"/api/admin/bookings/imports/{job['id']}", headers=staff_headers)
    assert status.json()["processed_rows"] == 3

    errors_url = f"/api/admin/bookings/imports/{job['id']}/errors"
    as_json = client.walk(errors_url, staff_headers)
    assert [e["row_number"] for e in as_json] == [4]
    assert as_json[0]["raw_row"]["dealer_code"] == "NOPE"
    as_csv = client.get(errors_url, params={"format": "csv"}, headers=staff_headers)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "bookings-errors.csv" in as_csv.headers["content-disposition"]
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith(HEADER)
    assert lines[1].startswith("Meera Shah")
    as_xlsx = client.get(errors_url, params={"format": "xlsx"}, headers=staff_headers)
    assert as_xlsx.status_code == 200, as_xlsx.text
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).active
    assert sheet is not None
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[3][0] == "Meera Shah"
    assert "dealer" in str(cells[3][-1]).lower()

    retried = client.post(f"/api/admin/bookings/imports/{job['id']}/retry", headers=staff_headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["failed"] == 1
    finished = client.delete(f"/api/admin/bookings/imports/{job['id']}", headers=staff_headers)
    assert finished.status_code == 409


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
@pytest.mark.usefixtures("dealer")
def test_a_keyed_import_or_retry_runs_once(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    """The same upload with the same ``Idempotency-Key`` answers the first job and books
    nothing again; the key with another file answers 422. A keyed retry of the failed
    rows runs them once."""
    keyed = {**staff_headers, "Idempotency-Key": "import-1"}
    made, again = (
        client.post("/api/admin/bookings/import", headers=keyed, **_upload()) for _ in range(2)
    )
    assert (made.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["id"] == made.json()["id"]
    assert again.json()["created"] == 2
    listed = client.get("/api/admin/bookings/imports", headers=staff_headers).json()
    assert len(listed["items"]) == 1
    other = client.post("/api/admin/bookings/import", headers=keyed, **_upload(name="other.csv"))
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_conflict")

    retry_url = f"/api/admin/bookings/imports/{made.json()['id']}/retry"
    retry_keyed = {**staff_headers, "Idempotency-Key": "retry-1"}
    first, again = (client.post(retry_url, headers=retry_keyed) for _ in range(2))
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()  # ran once: the same job, counts and times
    reused = client.post(retry_url, headers=keyed)  # the upload's key: another kind of call
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_conflict")


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
@pytest.mark.usefixtures("dealer")
def test_the_failed_rows_are_paged_by_row_number_and_the_reports_hold_every_one(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    """Seven bad rows among good ones: the JSON list walks them by row number a page
    at a time; the CSV and XLSX reports, files to fix and re-upload, hold all seven
    whatever ``limit`` says."""
    rows = [
        f"Guest {n},+9198123456{n:02d},{'NOPE' if n % 3 == 0 else 'DL01'},2026-03-05,EXT-{n},x"
        for n in range(1, 22)
    ]
    made = client.post(
        "/api/admin/bookings/import",
        headers=staff_headers,
        **_upload(("\n".join([HEADER, *rows]) + "\n").encode()),
    )
    assert made.status_code == 201, made.text
    assert (made.json()["created"], made.json()["failed"]) == (14, 7)
    url = f"/api/admin/bookings/imports/{made.json()['id']}/errors"
    bad = [n + 1 for n in range(3, 22, 3)]  # row 1 is the header
    for limit in (1, 2, 3, 7):
        walked = client.walk(url, staff_headers, limit=limit)
        assert [e["row_number"] for e in walked] == bad, limit
    assert {e["raw_row"]["dealer_code"] for e in walked} == {"NOPE"}
    first = client.get(url, params={"limit": "2"}, headers=staff_headers).json()
    assert [e["row_number"] for e in first["items"]] == bad[:2]
    assert "limit=2" in first["next"]
    as_csv = client.get(url, params={"format": "csv", "limit": "2"}, headers=staff_headers)
    assert as_csv.status_code == 200, as_csv.text
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [f"Guest {n - 1}" for n in bad]
    as_xlsx = client.get(url, params={"format": "xlsx", "limit": "2"}, headers=staff_headers)
    assert as_xlsx.status_code == 200, as_xlsx.text
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).active
    assert sheet is not None
    marked = [row[0] for row in sheet.iter_rows(values_only=True) if "dealer" in str(row[-1])]
    assert marked == [f"Guest {n - 1}" for n in bad]
    # A cursor of a newest-first list (no row number in it) is refused too.
    other_list = Cursor(datetime(2026, 3, 5, tzinfo=UTC), uuid4()).encode()
    for cursor in ("not-a-cursor", other_list):
        refused = client.get(url, params={"cursor": cursor}, headers=staff_headers)
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "cursor")


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    api_core: BookingCore, staff_headers: dict[str, str], tmp_path: Path
) -> None:
    small = create_app(api_core, upload_dir=tmp_path / "small", max_upload_bytes=100_000)
    with start_blocking_portal() as portal:
        client = ApiClient(small, portal)
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n{HEADER}\n'
        ).encode()
        body = CountedBody(b"Asha,+919812345601,DL01,2026-03-05,E,x\n" * 1000, 200, first=head)
        headers = {**staff_headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        answer = client.post("/api/admin/bookings/import", content=body, headers=headers)
        assert answer.status_code == 413, answer.text
        assert answer.json()["errors"][0]["code"] == "file_too_large"
        assert body.pulled <= 5 < 200
        declared = client.post(
            "/api/admin/bookings/import",
            content=b"x",
            headers={**headers, "Content-Length": str(50 * 1024 * 1024)},
        )
        assert declared.status_code == 413
        client.close()
    assert list((tmp_path / "small").glob("*")) == []


def test_a_file_that_is_no_spreadsheet_is_refused_from_its_first_bytes(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    pdf = b"%PDF-1.7\n" + b"\x00" * 100_000
    answer = client.post(
        "/api/admin/bookings/import",
        headers=staff_headers,
        **_upload(pdf, "bookings.csv", "text/csv"),
    )
    assert answer.status_code == 415
    assert answer.json()["errors"][0]["code"] == "unsupported_file_type"
    image = client.post(
        "/api/admin/bookings/validate", headers=staff_headers, **_upload(CSV, "a.png", "image/png")
    )
    assert image.status_code == 415
    not_multipart = client.post("/api/admin/bookings/preview", headers=staff_headers, content=CSV)
    assert not_multipart.status_code == 422
    no_file = client.post(
        "/api/admin/bookings/preview",
        headers=staff_headers,
        data={"currency": "INR"},
        files={"other": ("x.txt", b"hello", "text/plain")},
    )
    assert no_file.status_code == 422
    assert no_file.json()["errors"][0]["field"] == "file"
    # a ZIP that is no workbook passes the sniff and is refused by the library's checks
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "hi")
    zipped = client.post(
        "/api/admin/bookings/preview",
        headers=staff_headers,
        **_upload(archive.getvalue(), "b.xlsx", "application/octet-stream"),
    )
    assert zipped.status_code == 422


def test_only_staff_who_may_import_use_the_import_routes(
    client: ApiClient, staff_sign_in: Callable[..., dict[str, str]]
) -> None:
    advisor = staff_sign_in("meera@example.com", StaffRole.ADVISOR)
    assert (
        client.post("/api/admin/bookings/preview", headers=advisor, **_upload()).status_code == 403
    )
    assert client.get("/api/admin/bookings/imports", headers=advisor).status_code == 403
    assert client.post("/api/admin/bookings/import", **_upload()).status_code == 401


def test_an_unknown_import_answers_404(client: ApiClient, staff_headers: dict[str, str]) -> None:
    nobody = "00000000-0000-4000-8000-000000000000"
    for url in (
        f"/api/admin/bookings/imports/{nobody}",
        f"/api/admin/bookings/imports/{nobody}/errors",
    ):
        assert client.get(url, headers=staff_headers).status_code == 404


@pytest.mark.usefixtures("dealer")
def test_import_statistics_add_up_every_job(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    empty = client.get("/api/admin/bookings/stats", headers=staff_headers)
    assert empty.status_code == 200, empty.text
    assert empty.json()["jobs"] == 0
    for _ in range(2):
        made = client.post("/api/admin/bookings/import", headers=staff_headers, **_upload())
        assert made.status_code == 201, made.text
    stats = client.get("/api/admin/bookings/stats", headers=staff_headers).json()
    # the second run finds the external ids of the first and skips or updates those rows
    assert stats["jobs"] == 2
    assert stats["by_status"] == {"COMPLETED": 2}
    assert stats["rows"] == 6
    assert stats["failed"] == 2
    assert stats["created"] == 2
    assert stats["created"] + stats["updated"] + stats["skipped"] + stats["failed"] == 6


CUSTOMERS_CSV = (
    b"customer_external_id,customer_name,customer_phone,customer_email\n"
    b"U-1,Asha Rao,+919812345611,asha@example.com\n"
    b"U-2,Ravi Kumar,+919812345612,\n"
)
TRAVELERS_CSV = (
    b"traveler_name,customer_external_id,birth_date,gender,dietary_requirements\n"
    b"Asha Rao,U-1,1990-03-05,female,vegetarian\n"
    b"Kabir Rao,U-1,2015-07-01,m,\n"
    b"Nobody Known,U-9,1990-01-01,f,\n"
)


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_customers_then_travelers_are_imported_by_kind(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str]
) -> None:
    """``kind`` picks the rows' meaning: users become customers, participants their travelers."""
    customers = {"data": {"kind": "customers"}, **_upload(CUSTOMERS_CSV, "users.csv")}
    preview = client.post("/api/admin/bookings/preview", headers=staff_headers, **customers)
    assert preview.status_code == 200, preview.text
    assert preview.json()["kind"] == "customers"
    assert [r["action"] for r in preview.json()["rows"]] == ["create", "create"]
    plan = client.post("/api/admin/bookings/validate", headers=staff_headers, **customers)
    assert plan.status_code == 200, plan.text
    assert (plan.json()["kind"], plan.json()["would_create"]) == ("customers", 2)
    made = client.post("/api/admin/bookings/import", headers=staff_headers, **customers)
    assert made.status_code == 201, made.text
    job = made.json()
    assert (job["kind"], job["status"], job["created"], job["failed"]) == (
        "customers",
        "COMPLETED",
        2,
        0,
    )
    listed = client.get(
        "/api/customers", params={"source": "import"}, headers=staff_headers
    ).json()["items"]
    by_phone = {c["phone"]: c for c in listed}
    assert set(by_phone) == {"+919812345611", "+919812345612"}
    assert by_phone["+919812345611"]["name"] == "Asha Rao"

    travelers = {"data": {"kind": "TRAVELERS"}, **_upload(TRAVELERS_CSV, "participants.csv")}
    made = client.post("/api/admin/bookings/import", headers=staff_headers, **travelers)
    assert made.status_code == 201, made.text
    job = made.json()
    assert (job["kind"], job["created"], job["failed"]) == ("travelers", 2, 1)
    assert job["settings"]["kind"] == "travelers"
    again = client.get(f"/api/admin/bookings/imports/{job['id']}", headers=staff_headers)
    assert again.json()["kind"] == "travelers"
    errors = client.walk(f"/api/admin/bookings/imports/{job['id']}/errors", staff_headers)
    assert errors[0]["problems"][0]["code"] == "unknown_customer"
    jobs = client.get("/api/admin/bookings/imports", headers=staff_headers).json()["items"]
    assert sorted(j["kind"] for j in jobs) == ["customers", "travelers"]
    saved = api_core.travelers.list(
        CustomerId(UUID(by_phone["+919812345611"]["id"])), principal=SETUP
    )
    assert sorted(t.name for t in saved) == ["Asha Rao", "Kabir Rao"]
    asha = next(t for t in saved if t.name == "Asha Rao")
    assert asha.special_requirements == "Dietary: vegetarian"

    # The statistics count booking imports unless asked for another kind (or all).
    stats = client.get("/api/admin/bookings/stats", headers=staff_headers).json()
    assert (stats["jobs"], stats["rows"], stats["by_status"]) == (0, 0, {})
    people = client.get(
        "/api/admin/bookings/stats", params={"kind": "travelers"}, headers=staff_headers
    ).json()
    assert (people["jobs"], people["rows"], people["created"], people["failed"]) == (1, 3, 2, 1)
    every = client.get(
        "/api/admin/bookings/stats", params={"kind": "all"}, headers=staff_headers
    ).json()
    assert (every["jobs"], every["rows"], every["by_status"]) == (2, 5, {"COMPLETED": 2})


def test_an_unknown_import_kind_answers_422_on_kind(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    for route in ("import", "preview", "validate"):
        answer = client.post(
            f"/api/admin/bookings/{route}",
            headers=staff_headers,
            data={"kind": "suppliers"},
            **_upload(CUSTOMERS_CSV, "users.csv"),
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == ["kind"]
    assert client.get("/api/admin/bookings/imports", headers=staff_headers).json()["items"] == []


@pytest.mark.parametrize("zone", ["America", "Etc", "x" * 300, "Not/A_Zone"])
def test_an_unknown_timezone_setting_is_a_422_on_timezone(
    client: ApiClient, staff_headers: dict[str, str], zone: str
) -> None:
    answer = client.post(
        "/api/admin/bookings/preview", headers=staff_headers, data={"timezone": zone}, **_upload()
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "timezone"


@pytest.mark.usefixtures("dealer")
def test_a_misspelt_setting_is_a_422_on_it_and_nothing_is_imported(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    """An upload's text fields are the import's settings: one that is none of them
    (``asignment``) is refused, as a JSON body's unknown field is, rather than ignored
    and the file imported with the default assignment."""
    for route in ("import", "preview", "validate"):
        answer = client.post(
            f"/api/admin/bookings/{route}",
            headers=staff_headers,
            data={"asignment": "round_robin", "currency": "INR"},
            **_upload(),
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == [
            {
                "field": "asignment",
                "message": "Extra inputs are not permitted",
                "code": "extra_forbidden",
            }
        ]
    assert client.get("/api/admin/bookings/imports", headers=staff_headers).json()["items"] == []


@pytest.mark.usefixtures("dealer")
def test_an_upload_of_two_files_is_a_422_on_file(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    """One file per upload: a second ``file`` part was written on after the first, its
    header row imported as a row of the first file."""
    second = (HEADER + "\n" + "Dev Patel,+919812345604,DL01,2026-03-08,EXT-4,diwali\n").encode()
    for route in ("import", "preview", "validate"):
        answer = client.post(
            f"/api/admin/bookings/{route}",
            headers=staff_headers,
            files=[
                ("file", ("bookings.csv", CSV, "text/csv")),
                ("file", ("more.csv", second, "text/csv")),
            ],
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "file"
        assert answer.json()["errors"][0]["code"] == "too_many_files"
    assert client.get("/api/admin/bookings/imports", headers=staff_headers).json()["items"] == []
