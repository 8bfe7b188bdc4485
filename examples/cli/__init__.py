"""A command-line host for bookingcore, built with Typer and rich.

Run ``python -m examples.cli --help`` from the repository root to see its commands.
"""
