"""The example FastAPI host: bookingcore's services as HTTP, on the paths booking apps call.

Build it with :func:`~examples.api.app.create_app` over a core from
:func:`~examples.api.app.build_core`; run it with ``python -m examples.api``
(``make serve``). See ``docs/api.md``.
"""

from examples.api.app import build_core, create_app

__all__ = ["build_core", "create_app"]
