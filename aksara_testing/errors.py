"""The exceptions aksara-testing raises.

Every message is one sentence: what happened, the setting, fixture or marker
involved, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AksaraError",
    "ConfigurationError",
    "FactoryError",
    "MigrationError",
    "UnsafeDatabaseError",
]


class AksaraError(Exception):
    """Base class of every error raised by aksara-testing."""


class ConfigurationError(AksaraError):
    """A setting is missing, misspelt, of the wrong type or cannot be imported.

    The plugin turns it into a pytest usage error: one line, exit code 4.
    """


class UnsafeDatabaseError(ConfigurationError):
    """The toolkit was asked to create, migrate, empty or drop a database it must not touch."""


class FactoryError(AksaraError):
    """A factory was declared or called with something it does not know."""


class MigrationError(AksaraError):
    """A revision failed to upgrade or downgrade; the message is one line.

    ``revision`` names the revision that failed, if one did; ``original`` is the
    exception behind the message, if there is one.
    """

    def __init__(self, message: str, revision: str | None = None) -> None:
        super().__init__(message)
        self.revision = revision
        self.original: BaseException | None = None
