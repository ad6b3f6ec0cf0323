"""The ``aksara`` command. Kept light: ``--help`` imports no pytest, app or driver."""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``aksara`` command group; return the process exit code."""
    from ._app import run_cli

    return run_cli(argv)
