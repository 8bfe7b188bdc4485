"""Import uploads over HTTP: scanned before they are read, rate limited per staff member,
and their kept files purged after the retention (the XLSX report then answers 410)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from tests.adapters._fake_clamd import SIGNATURE, fake_clamd
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP, STAFF_PASSWORD

from bookingcore import BookingCore, Principal, RateLimit, StaffRole
from bookingcore.testing import FixedClock
from bookingcore_adapters.scanning import ClamdScanner
from examples.api import create_app

HEADER = "customer_name,customer_phone,dealer_code,booking_date,external_id"
CSV = (HEADER + "\nAsha Rao,+919812345601,DL01,2026-03-05,EXT-1\nBad,+9198,NOPE,x,EXT-2\n").encode()
IMPORT = "/api/admin/bookings/import"


@pytest.fixture
def dealer(api_core: BookingCore) -> None:
    api_core.catalog.add_location("DL01", "Dealer One", principal=SETUP)


def _upload(content: bytes = CSV, name: str = "bookings.csv") -> dict[str, Any]:
    return {"files": {"file": (name, content, "text/csv")}}


def _other_admin(core: BookingCore, client: ApiClient) -> dict[str, str]:
    member = core.staff.add("ops@example.com", "Ops", principal=SETUP, role=StaffRole.ADMIN)
    core.staff.set_password(member.id, STAFF_PASSWORD, principal=SETUP)
    answer = client.post(
        "/api/v1/auth/login", json={"email": "ops@example.com", "password": STAFF_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@contextmanager
def _client_of(app: FastAPI) -> Iterator[ApiClient]:
    with start_blocking_portal() as portal:
        client = ApiClient(app, portal)
        try:
            yield client
        finally:
            client.close()


@pytest.mark.usefixtures("dealer")
def test_an_infected_upload_is_refused_on_file_and_nothing_is_kept_or_imported(
    api_core: BookingCore, staff_headers: dict[str, str], tmp_path: Path
) -> None:
    uploads = tmp_path / "scanned"
    with fake_clamd() as clamd:
        app = create_app(api_core, upload_dir=uploads, scanner=ClamdScanner(clamd.host, clamd.port))
        with _client_of(app) as client:
            infected = CSV + b"Eve," + SIGNATURE + b",DL01,2026-03-05,EXT-9\n"
            for path in (IMPORT, "/api/admin/bookings/preview", "/api/admin/bookings/validate"):
                refused = client.post(path, headers=staff_headers, **_upload(infected))
                assert refused.status_code == 422, refused.text
                problem = refused.json()
                assert [(e["field"], e["code"]) for e in problem["errors"]] == [
                    ("file", "infected")
                ]
                assert "Eicar-Test-Signature" in problem["errors"][0]["message"]
            listed = client.get("/api/admin/bookings/imports", headers=staff_headers)
            assert listed.json()["items"] == []
            assert list(uploads.glob("*")) == []
            clean = client.post(IMPORT, headers=staff_headers, **_upload())
            assert clean.status_code == 201, clean.text
    assert clamd.contents[-1] == CSV  # the file part, not the multipart body


@pytest.mark.usefixtures("dealer")
def test_a_scanner_that_cannot_scan_answers_503_and_keeps_nothing(
    api_core: BookingCore, staff_headers: dict[str, str], tmp_path: Path
) -> None:
    with fake_clamd(max_length=10) as clamd:
        app = create_app(
            api_core, upload_dir=tmp_path / "u", scanner=ClamdScanner(clamd.host, clamd.port)
        )
        with _client_of(app) as client:
            answer = client.post(IMPORT, headers=staff_headers, **_upload())
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "scan_failed"
    assert list((tmp_path / "u").glob("*")) == []


@pytest.mark.usefixtures("dealer")
def test_uploads_and_retries_past_a_staff_members_limit_answer_429_with_retry_after(
    api_core: BookingCore, staff_headers: dict[str, str], tmp_path: Path, clock: FixedClock
) -> None:
    app = create_app(
        api_core, upload_dir=tmp_path / "u", import_rate_limit=RateLimit(3, timedelta(minutes=1))
    )
    with _client_of(app) as client:
        made = client.post(IMPORT, headers=staff_headers, **_upload())
        assert made.status_code == 201, made.text
        preview = client.post("/api/admin/bookings/preview", headers=staff_headers, **_upload())
        assert preview.status_code == 200, preview.text
        retry = f"/api/admin/bookings/imports/{made.json()['id']}/retry"
        assert client.post(retry, headers=staff_headers).status_code == 200
        limited = client.post("/api/admin/bookings/validate", headers=staff_headers, **_upload())
        assert limited.status_code == 429, limited.text
        other = _other_admin(api_core, client)  # each staff member has a limit of their own
        mine = client.post("/api/admin/bookings/validate", headers=other, **_upload())
        assert mine.status_code == 200, mine.text
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert client.post(retry, headers=staff_headers).status_code == 429
        # reading is not limited; the window passes
        assert client.get("/api/admin/bookings/imports", headers=staff_headers).status_code == 200
        clock.advance(minutes=1, seconds=1)
        again = client.post("/api/admin/bookings/validate", headers=staff_headers, **_upload())
        assert again.status_code == 200, again.text


@pytest.mark.usefixtures("dealer")
def test_after_the_retention_the_xlsx_report_answers_410_and_the_csv_still_works(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], clock: FixedClock
) -> None:
    made = client.post(IMPORT, headers=staff_headers, **_upload())
    assert made.status_code == 201, made.text
    url = f"/api/admin/bookings/imports/{made.json()['id']}/errors"
    assert client.get(url, params={"format": "xlsx"}, headers=staff_headers).status_code == 200
    signed_in_at = clock.now()
    clock.advance(days=8)
    assert api_core.imports.purge_files(principal=Principal.system("tests")) == 1
    clock.set(signed_in_at)  # so that the staff member's access token is still good

    gone = client.get(url, params={"format": "xlsx"}, headers=staff_headers)
    assert gone.status_code == 410, gone.text
    assert gone.json()["code"] == "import_file_purged"
    as_csv = client.get(url, params={"format": "csv"}, headers=staff_headers)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.content.decode("utf-8-sig").splitlines()[0].startswith(HEADER + ",row,")
    retried = client.post(
        f"/api/admin/bookings/imports/{made.json()['id']}/retry", headers=staff_headers
    )
    assert retried.status_code == 200, retried.text
