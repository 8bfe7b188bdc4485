"""The example CLI host tells the library's story and exits cleanly."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from examples.cli.demo import run_demo

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_text() -> str:
    """The plain text the demo prints to a recording console 120 columns wide."""
    console = Console(record=True, width=120, file=io.StringIO())
    run_demo(console)
    return console.export_text()


def test_phone_registration_normalises_and_is_idempotent(demo_text: str) -> None:
    """The local number is stored as E.164 and a second registration finds the same customer."""
    assert "register('98765 43210') -> +919876543210 created=True" in demo_text
    assert "register('+91-98765-43210') -> +919876543210 created=False (same customer)" in demo_text


def test_group_booking_prices_with_the_ten_percent_tier(demo_text: str) -> None:
    """Four travelers at 8,500 INR get 10 % off: 34,000 - 3,400 = 30,600."""
    assert "34,000.00 INR" in demo_text
    assert "-3,400.00 INR" in demo_text
    assert "30,600.00 INR" in demo_text
    assert "Group discount 10%" in demo_text
    assert "Vegetarian meals" in demo_text
    assert "Seats left on Hampta Pass trek: 2 of 6" in demo_text


def test_partner_is_held_to_its_locations(demo_text: str) -> None:
    """The partner's booking is marked partner and its refusal elsewhere leaves no customer."""
    assert "for a new customer: source=partner" in demo_text
    assert "refused: partner TrekMates may not book at location" in demo_text
    assert "customer +91 91234 56789 does not exist" in demo_text


def test_overbooking_is_refused_with_seats_left(demo_text: str) -> None:
    """Asking for three seats when one is left raises CapacityError with seats_left=1."""
    assert "refused (capacity_exceeded):" in demo_text
    assert "has 1 seat left; 3 requested" in demo_text
    assert "seats_left=1, requested=3" in demo_text


def test_bad_input_names_each_field(demo_text: str) -> None:
    """Validation errors carry their code and one line per offending field."""
    assert "phone: '12345' is not a valid phone number (invalid_phone)" in demo_text
    assert "(primary_contact)" in demo_text
    assert "age: must be between 0 and 130 (out_of_range)" in demo_text
    assert "emergency_contact_phone: '555' is not a valid phone number" in demo_text


def test_cancellation_frees_seats_and_lists_are_scoped(demo_text: str) -> None:
    """Cancelling four travelers frees four seats, and each principal sees only its bookings."""
    assert "seats left before: 1, after: 5" in demo_text
    assert "The operator sees 2 booking(s); partner TrekMates sees only its own 1:" in demo_text
    assert "Customer Asha Verma sees only their own 1:" in demo_text


def test_module_runs_as_a_command() -> None:
    """`python -m examples.cli demo` exits 0 and prints the story."""
    result = subprocess.run(
        [sys.executable, "-m", "examples.cli", "demo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "+919876543210" in result.stdout
    assert "30,600.00 INR" in result.stdout
    assert "Who sees what" in result.stdout
