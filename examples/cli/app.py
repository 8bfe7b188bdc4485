"""The Typer application of the example CLI host.

Each command is a thin shell: it builds a :class:`rich.console.Console`, calls
one function that does the work, and lets Typer turn the outcome into an exit
code. Further command groups attach here with ``app.add_typer(...)``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from examples.cli.demo import DEFAULT_DATABASE, DemoError, run_demo

app = typer.Typer(
    name="bookingcore-cli",
    help="An example host for bookingcore.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """An example host for bookingcore: run its commands against an adapter."""
    # A callback keeps Typer in command-group mode, so `demo` stays a named
    # subcommand even while it is the only one.


@app.command()
def demo(
    db: Annotated[
        str,
        typer.Option(
            help="SQLAlchemy URL of an EMPTY database, or 'memory'. "
            "The default SQLite file is recreated on every run.",
        ),
    ] = DEFAULT_DATABASE,
) -> None:
    """Walk through the library's story on a database (a fresh SQLite file) and print it."""
    try:
        run_demo(Console(), db)
    except DemoError as exc:
        typer.echo(f"demo: {exc}", err=True)
        raise typer.Exit(2) from exc
