"""The README's tour runs as written, so the front page never lies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bookingcore.domain.events import event_types

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_tour_runs_and_books_with_the_discount(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README has no python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "30,600.00 INR" in printed
    assert "has 8 seats left; 9 requested" in printed
    batch = namespace["batch"]
    core = namespace["core"]
    admin = namespace["admin"]
    seats_left = core.catalog.get_slot(batch.id, principal=admin).seats_left  # type: ignore[attr-defined]
    assert seats_left == 12


def test_the_lifecycle_guide_draws_each_preset_from_the_code() -> None:
    guide = (ROOT / "docs" / "lifecycles.md").read_text()
    markers = re.findall(r"<!-- lifecycle-diagram: (\w+) -->", guide)
    assert markers == ["RESERVATION", "APPOINTMENT", "TRAVEL"]
    assert "```mermaid" not in guide, "a hand-drawn diagram would drift from the code"


def test_the_lifecycle_guide_check_example_prints_what_it_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    guide = (ROOT / "docs" / "lifecycles.md").read_text()
    example = next(
        block
        for block in re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
        if "check(" in block
    )
    exec(compile(example, "lifecycles.md", "exec"), {})
    expected = next(line[2:] for line in example.splitlines() if line.startswith("# unknown"))
    assert capsys.readouterr().out.strip() == expected


def test_the_events_guide_lists_every_event_the_library_raises() -> None:
    """docs/events.md's table names each library event class with its registered name."""
    table = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `(\w+)` \(`([\w.]+)`\) \|", table, flags=re.MULTILINE))
    library = {
        cls.__name__: name
        for name, cls in event_types().items()
        if cls.__module__.startswith("bookingcore.")
    }
    assert listed == library
