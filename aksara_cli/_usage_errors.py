"""pytest's command-line errors on one line, for ``aksara test``.

``aksara test`` hands options it does not define to pytest, so a misspelt
option is reported by pytest's argument parser: a usage banner, the error, the
ini file and the rootdir, four lines in all. The plugin that ``aksara test``
passes to ``pytest.main`` keeps the error, says where the option was looked
for, and leaves the exit code alone (4, a usage error).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

__all__ = ["OneLineUsageErrors", "one_line"]


def one_line(message: str) -> str:
    """The one-line form of a usage error from pytest's argument parser; others unchanged."""
    lines = message.splitlines()
    if not lines or not lines[0].startswith("usage: "):
        return message
    error = next((line.split(": error: ", 1)[1] for line in lines if ": error: " in line), None)
    if error is None:
        return " ".join(message.split())
    if not error.startswith("unrecognized arguments: "):
        return f"aksara test: {error}"
    inifile = next(
        (line.split(":", 1)[1].strip() for line in lines if line.strip().startswith("inifile:")),
        None,
    )
    where = f" and the addopts of {inifile}" if inifile else ""
    return (
        f"aksara test: {error}: not an option of aksara test, pytest or an installed "
        f"plugin; check the spelling against aksara test --help, pytest --help{where}"
    )


class OneLineUsageErrors:
    """The plugin object: rewrites the usage error raised while pytest parses its arguments."""

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_parse(self) -> Generator[None, pytest.Config, pytest.Config]:
        try:
            return (yield)
        except pytest.UsageError as error:
            raise pytest.UsageError(one_line(str(error))) from None
