"""MkDocs hook: pages drawn from the code when the site is built, never by hand.

Two markers are replaced in a page's Markdown:

- ``<!-- lifecycle-diagram: NAME -->``: the Mermaid diagram of the preset lifecycle
  ``bookingcore.domain.NAME``, from :meth:`Lifecycle.to_mermaid`.
- ``<!-- error-codes -->``: a table of every error class of ``bookingcore.errors``,
  its stable code and the HTTP status the example host answers with.

An unknown marker fails the build, so a renamed preset cannot leave a stale page.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "src", ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# The hook runs inside MkDocs, from the repository: the library and the example host
# are imported from the checkout above, so the folders go on the path first.
from bookingcore import Lifecycle, domain, errors  # noqa: E402
from examples.api.errors import status_of_class  # noqa: E402

_LIFECYCLE = re.compile(r"<!-- lifecycle-diagram: (?P<name>[A-Z_]+) -->")
_ERROR_CODES = "<!-- error-codes -->"


def lifecycle_diagram(name: str) -> str:
    """The fenced Mermaid block of the preset lifecycle ``name``."""
    lifecycle = getattr(domain, name, None)
    if not isinstance(lifecycle, Lifecycle):
        raise ValueError(f"lifecycle-diagram: bookingcore.domain.{name} is not a Lifecycle")
    return f"```mermaid\n{lifecycle.to_mermaid()}```"


def error_codes_table() -> str:
    """A Markdown table: every error class, its code, its HTTP status in the example host."""
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.BookingError)
    ]
    classes.sort(key=lambda cls: (len(cls.__mro__), cls.__name__))
    lines = [
        "| error | code | HTTP status | title | meaning |",
        "|---|---|---|---|---|",
    ]
    for cls in classes:
        status = status_of_class(cls)
        summary = _plain((inspect.getdoc(cls) or "").split("\n\n")[0])
        lines.append(
            f"| `{cls.__name__}` | `{cls.code}` | {status.status} | {status.title} | {summary} |"
        )
    return "\n".join(lines)


def _plain(text: str) -> str:
    """One Markdown line from a reST-flavoured docstring paragraph."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`").replace("\n", " ").replace("|", "\\|")


def expand(markdown: str) -> str:
    """``markdown`` with every generated-content marker replaced."""
    markdown = _LIFECYCLE.sub(lambda match: lifecycle_diagram(match["name"]), markdown)
    if _ERROR_CODES in markdown:
        markdown = markdown.replace(_ERROR_CODES, error_codes_table())
    return markdown


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: expand the markers of each page."""
    return expand(markdown)
