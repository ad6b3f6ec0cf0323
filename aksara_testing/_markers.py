"""The plugin's markers; ``slow`` and ``ci_only`` decide which tests run, and why others skip."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import pytest

__all__ = ["MARKERS", "apply_run_markers", "ci_enabled"]

MARKERS = (
    "slow: a slow test; skipped unless aksara test --slow (pytest --aksara-slow) or -m slow",
    "ci_only: runs only in CI: with aksara test --ci (pytest --aksara-ci) or CI=true",
    "transactional: real commits on separate connections; tables are emptied afterwards",
    "allow_ai_calls: let this test call real AI services (lifts the mock_ai safety net)",
)
_TRUE = {"1", "true", "yes", "on"}


def ci_enabled(flag: bool, environ: Mapping[str, str] | None = None) -> bool:
    """True when ci_only tests should run: the flag, or a true ``CI`` variable."""
    environ = os.environ if environ is None else environ
    return flag or environ.get("CI", "").strip().lower() in _TRUE


def _selects_slow(markexpr: str) -> bool:
    return re.search(r"(?<![\w-])slow(?![\w-])", markexpr) is not None


def apply_run_markers(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    """Skip slow and ci_only tests that were not asked for."""
    run_slow = bool(config.getoption("aksara_slow")) or _selects_slow(
        config.getoption("markexpr") or ""
    )
    run_ci = ci_enabled(bool(config.getoption("aksara_ci")))
    if run_slow and run_ci:
        return
    skip_slow = pytest.mark.skip(reason="slow test: run it with aksara test --slow or -m slow")
    skip_ci = pytest.mark.skip(
        reason="ci_only test: runs in CI; use aksara test --ci or set CI=true"
    )
    for item in items:
        if not run_slow and item.get_closest_marker("slow") is not None:
            item.add_marker(skip_slow)
        elif not run_ci and item.get_closest_marker("ci_only") is not None:
            item.add_marker(skip_ci)
