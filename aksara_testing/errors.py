"""The exceptions aksara-testing raises.

Every message is one sentence: what happened, the setting, fixture or marker
involved, and how to fix it.
"""

from __future__ import annotations

__all__ = ["AksaraError", "ConfigurationError", "UnsafeDatabaseError"]


class AksaraError(Exception):
    """Base class of every error raised by aksara-testing."""


class ConfigurationError(AksaraError):
    """A setting is missing, misspelt, of the wrong type or cannot be imported.

    The plugin turns it into a pytest usage error: one line, exit code 4.
    """


class UnsafeDatabaseError(ConfigurationError):
    """The toolkit was asked to create, migrate, empty or drop a database it must not touch."""
