"""Mock LLM calls in tests: ``mock_ai`` and the safety net for real AI calls.

The plugin imports only the net (``_net``) at start-up; the rest loads with
the first use of ``mock_ai``, and httpx/httpx2 with the first ``mock_ai``
block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._calls import AICall
    from ._mock import MockAI, mock_ai

__all__ = ["AICall", "MockAI", "mock_ai"]


def __getattr__(name: str) -> Any:
    if name == "AICall":
        from ._calls import AICall

        return AICall
    if name in {"MockAI", "mock_ai"}:
        from . import _mock

        return getattr(_mock, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
