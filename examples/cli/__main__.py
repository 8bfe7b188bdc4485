"""Entry point: ``python -m examples.cli``."""

import sys

from sqlalchemy.exc import DBAPIError

from examples.cli.app import app


def main() -> None:
    """Run the CLI; a database that cannot be reached is one line and exit code 2, not
    a traceback."""
    try:
        app()
    except DBAPIError as exc:
        print(f"database: cannot use it: {exc.orig}".rstrip(), file=sys.stderr)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
