"""Every relative link of the README and the documentation pages leads somewhere.

``mkdocs build --strict`` (tests/unit/test_docs_site.py) checks the site's own
links when MkDocs is installed; this check needs nothing but the files, and also
covers the README, which the site does not build: each ``[text](path#anchor)``
names a file that exists and, when it has one, an anchor that a heading of that
file makes (the way Python-Markdown's ``toc`` extension spells it).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\((?P<target>[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>.+?)[ \t#]*$", flags=re.MULTILINE)


def slugify(title: str) -> str:
    """The anchor Python-Markdown's ``toc`` gives a heading (its default slugify)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _prose(page: Path) -> str:
    """The page without its code blocks (a ``#`` comment there is no heading)."""
    return _FENCE.sub("", page.read_text(encoding="utf-8"))


def anchors(page: Path) -> set[str]:
    """The anchors of ``page``'s headings, with ``_1``, ``_2`` for repeated ones."""
    found: set[str] = set()
    for match in _HEADING.finditer(_prose(page)):
        slug, n = slugify(match.group("title")), 0
        while (slug if n == 0 else f"{slug}_{n}") in found:
            n += 1
        found.add(slug if n == 0 else f"{slug}_{n}")
    return found


def links(page: Path) -> list[str]:
    """The relative link targets of ``page``'s prose (not in code, not URLs)."""
    prose = _CODE.sub("", _prose(page))
    return [
        match.group("target")
        for match in _LINK.finditer(prose)
        if not re.match(r"[a-z][a-z0-9+.-]*:", match.group("target"))
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_each_relative_link_names_a_file_and_a_heading_that_exist(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT)}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading makes #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_check_reads_headings_links_and_anchors_as_markdown_does() -> None:
    assert slugify("5. Book") == "5-book"
    assert slugify("Security: limits") == "security-limits"
    assert slugify("Who may be booked (ages, `certificates`)") == (
        "who-may-be-booked-ages-certificates"
    )
    page = ROOT / "docs" / "getting-started.md"
    assert {"idempotency", "1-wire-a-core", "7-serialise"} <= anchors(page)
    assert "security.md#limits" in links(page)
