"""aksara-testing: test async SQLAlchemy + ASGI apps with pytest.

The plugin loads by itself (entry point ``aksara``); import helpers from here.
"""

from __future__ import annotations

from ._version import __version__
from .errors import AksaraError, ConfigurationError, UnsafeDatabaseError

__all__ = [
    "AksaraError",
    "ConfigurationError",
    "UnsafeDatabaseError",
    "__version__",
]
