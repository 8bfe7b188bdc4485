"""The Typer application of the example CLI host.

Each command is a thin shell: it builds a :class:`rich.console.Console`, calls
one function that does the work, and lets Typer turn the outcome into an exit
code. Further command groups attach here with ``app.add_typer(...)``.
"""

from __future__ import annotations

import typer
from rich.console import Console

from examples.cli.demo import run_demo

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
def demo() -> None:
    """Walk through the library's story on the in-memory adapter and print it."""
    run_demo(Console())
