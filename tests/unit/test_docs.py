"""The README's tour runs as written, so the front page never lies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
