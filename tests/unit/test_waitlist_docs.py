"""The waiting-list guide's tour runs as written and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_waitlist_guide_tour_runs(capsys: pytest.CaptureFixture[str]) -> None:
    guide = (ROOT / "docs" / "waitlists.md").read_text()
    block = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)[0]
    exec(compile(block, "waitlists.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1"
    assert lines[1] == "offered 0"
    assert "held for you until" in lines[2]
    assert lines[-1].startswith("BK-")
    assert lines[-1].endswith(" booked")
