"""Thin pytest fixtures over the library code."""

from __future__ import annotations

import pytest

from ._settings import Settings

__all__ = ["test_settings"]


@pytest.fixture(scope="session")
def test_settings(request: pytest.FixtureRequest) -> Settings:
    """The merged [tool.aksara] settings of this run; override it in a conftest."""
    from .plugin import SETTINGS_KEY

    return request.config.stash[SETTINGS_KEY]
