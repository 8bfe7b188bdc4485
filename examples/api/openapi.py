"""``python -m examples.api.openapi [PATH]``: write the app's OpenAPI document (``make openapi``).

The document depends on the routes only, not on storage or secrets, so it is
built from an app over an in-memory store. ``docs/openapi.json`` is generated
this way and a test checks it is up to date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender
from examples.api.app import build_core, create_app

__all__ = ["document", "main", "render"]

_PLACEHOLDER = b"openapi-document-only-not-a-secret"


def document() -> dict[str, Any]:
    """The OpenAPI document of :func:`~examples.api.create_app`'s app."""
    core = build_core(
        MemoryStore().unit_of_work,
        token_secret=_PLACEHOLDER,
        otp_pepper=_PLACEHOLDER,
        sms=ConsoleSmsSender(),
    )
    return create_app(core).openapi()


def render() -> str:
    """The document as the committed file holds it: indented JSON, one final newline."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Write the document to the path given (default ``docs/openapi.json``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0] if args else "docs/openapi.json")
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
