"""Provider failures on demand: the status and error body each provider sends.

The SDKs pick their exception class from the HTTP status alone (429 ->
``RateLimitError``, Anthropic's 529 -> ``OverloadedError``...). Every fault
reply carries ``x-should-retry: false``, which the OpenAI and Anthropic SDKs
honour: the error reaches the caller after one request instead of after two
retries and ~1.5 s of backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._wire import Reply, json_reply

__all__ = ["KINDS", "Fault", "fault_of", "fault_reply"]

# kind -> (status, OpenAI error type, OpenAI code, Anthropic error type, message)
_TABLE: dict[str, tuple[int, str, str | None, str, str]] = {
    "rate_limit": (429, "rate_limit_exceeded", "rate_limit_exceeded", "rate_limit_error",
                   "Rate limit reached"),
    "overloaded": (503, "server_error", None, "overloaded_error", "The model is overloaded"),
    "invalid_request": (400, "invalid_request_error", None, "invalid_request_error",
                        "Invalid request"),
    "authentication": (401, "invalid_request_error", "invalid_api_key", "authentication_error",
                       "Invalid API key"),
    "not_found": (404, "invalid_request_error", "model_not_found", "not_found_error",
                  "Not found"),
    "server_error": (500, "server_error", None, "api_error", "Internal server error"),
    "unavailable": (503, "server_error", None, "api_error", "Service unavailable"),
}  # fmt: skip
KINDS = tuple(_TABLE)
_BY_STATUS = {400: "invalid_request", 401: "authentication", 404: "not_found",
              429: "rate_limit", 503: "unavailable", 529: "overloaded"}  # fmt: skip
_ANTHROPIC_OVERLOADED = 529  # Anthropic's own status; OpenAI and Ollama say 503


@dataclass(frozen=True)
class Fault:
    """A failure to answer with: a kind from :data:`KINDS`, maybe an explicit status."""

    kind: str
    status: int | None = None
    message: str | None = None

    def status_for(self, provider: str) -> int:
        if self.status is not None:
            return self.status
        if self.kind == "overloaded" and provider == "anthropic":
            return _ANTHROPIC_OVERLOADED
        return _TABLE[self.kind][0]

    def message_for(self) -> str:
        return self.message or f"{_TABLE[self.kind][4]} (mock_ai error={self.kind!r})"


def fault_of(spec: Any) -> Fault:
    """A :class:`Fault` from ``"rate_limit"``, a status such as ``429``, or
    ``{"error": kind or status, "message": "..."}``."""
    message = None
    if isinstance(spec, Mapping):
        message = spec.get("message")
        spec = spec.get("error")
    if isinstance(spec, bool):
        pass  # True is an int; it is no status
    elif isinstance(spec, int) and 400 <= spec <= 599:
        kind = _BY_STATUS.get(spec, "server_error" if spec >= 500 else "invalid_request")
        return Fault(kind, spec, message)
    elif isinstance(spec, str) and spec in _TABLE:
        return Fault(spec, None, message)
    raise ValueError(
        f"mock_ai error={spec!r} is not a known failure; use one of {', '.join(KINDS)} "
        "or an HTTP status from 400 to 599"
    )


def fault_reply(provider: str, fault: Fault) -> Reply:
    """The provider's own error body for ``fault``, with retries switched off."""
    status = fault.status_for(provider)
    message = fault.message_for()
    headers = {"x-should-retry": "false"}
    _, openai_type, code, anthropic_type, _ = _TABLE[fault.kind]
    body: dict[str, Any]
    if provider == "anthropic":
        body = {"type": "error", "error": {"type": anthropic_type, "message": message},
                "request_id": "req_mock"}  # fmt: skip
        headers["request-id"] = "req_mock"
    elif provider == "ollama":
        body = {"error": message}
    else:
        body = {"error": {"message": message, "type": openai_type, "param": None, "code": code}}
    return json_reply(body, status, headers)
