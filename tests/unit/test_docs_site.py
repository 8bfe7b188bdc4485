"""The documentation site builds strictly and shows what the code says.

The site is built once per run into a temporary folder with ``mkdocs build
--strict`` (a broken link, a missing reference or any warning fails it); the
tests then read the built pages and the mkdocstrings inventory.
"""

from __future__ import annotations

import html
import importlib
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bookingcore import errors
from bookingcore.domain import APPOINTMENT, PRESETS, RESERVATION, TRAVEL

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_hooks"))
import generated  # noqa: E402  (the site's build hook, imported from its folder)
from tests.unit.test_public_api import PUBLIC_MODULES  # noqa: E402

#: The namespaces and adapter modules whose ``__all__`` the reference must cover: every
#: public namespace, and every public adapter module the public-API test lists.
DOCUMENTED = [
    "bookingcore",
    "bookingcore.domain",
    "bookingcore.ports",
    "bookingcore.services",
    "bookingcore.testing",
    *(name for name in PUBLIC_MODULES if name.startswith("bookingcore_adapters.")),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    return folder


def _inventory(site: Path) -> set[str]:
    data = (site / "objects.inv").read_bytes()
    _, _, body = data.partition(b"zlib.\n")
    return {line.split(" ", 1)[0] for line in zlib.decompress(body).decode().splitlines()}


def test_every_public_name_has_its_place_in_the_api_reference(site: Path) -> None:
    documented = _inventory(site)
    missing = [
        f"{module}.{name}"
        for module in DOCUMENTED
        for name in importlib.import_module(module).__all__
        if f"{module}.{name}" not in documented
    ]
    assert missing == []


def test_each_preset_lifecycle_page_draws_the_diagram_the_code_makes(site: Path) -> None:
    page = (site / "lifecycles.html").read_text()
    drawn = [
        html.unescape(block).strip()
        for block in re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', page, re.S)
    ]
    assert drawn == [lc.to_mermaid().strip() for lc in (RESERVATION, APPOINTMENT, TRAVEL)]


def test_the_error_code_page_lists_every_error_with_its_status(site: Path) -> None:
    page = html.unescape((site / "concepts" / "errors.html").read_text())
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.BookingError):
            assert f"<code>{cls.code}</code>" in page, cls.__name__
    assert "<td>429</td>" in page
    assert "<td>422</td>" in page


def test_an_unknown_lifecycle_marker_fails_the_build() -> None:
    with pytest.raises(ValueError, match="BOOKING_DRAFTS is not a Lifecycle"):
        generated.expand("<!-- lifecycle-diagram: BOOKING_DRAFTS -->")


def test_every_preset_can_be_drawn_by_the_hook() -> None:
    for name in ("RESERVATION", "APPOINTMENT", "TRAVEL"):
        block = generated.expand(f"<!-- lifecycle-diagram: {name} -->")
        assert block.startswith("```mermaid\nstateDiagram-v2")
    assert len(PRESETS) == 3


def test_the_readme_links_to_the_site() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make docs" in readme
