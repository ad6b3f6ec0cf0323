"""Shared helpers for the suite: PostgreSQL server discovery and pytester defaults."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL_VAR = "AKSARA_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url() -> str:
    """The admin URL of a real PostgreSQL server, or skip (fail in CI) when none is set."""
    url = os.environ.get(POSTGRES_URL_VAR)
    if not url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{POSTGRES_URL_VAR} is not set: CI must run the PostgreSQL tests")
        pytest.skip(
            f"no PostgreSQL server: set {POSTGRES_URL_VAR}=postgresql://user:pw@host/postgres"
        )
    return url


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs under test must not see this run's CI flag or aksara variables."""
    for name in list(os.environ):
        if name.startswith("AKSARA_") and name != POSTGRES_URL_VAR:
            monkeypatch.delenv(name)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
