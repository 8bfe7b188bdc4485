"""Entry point: ``python -m examples.cli``."""

from examples.cli.app import app

if __name__ == "__main__":
    app()
