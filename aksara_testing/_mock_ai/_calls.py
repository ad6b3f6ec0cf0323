"""One intercepted AI call: which provider and endpoint, what was asked, what was answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AICall", "Endpoint", "endpoint_of", "text_of"]

# Path suffix -> (provider, endpoint). Matched on the path's end, so any base
# URL works: Azure deployments, vLLM, LiteLLM or OpenRouter proxies, Ollama's
# own OpenAI-compatible /v1. Longer suffixes first.
_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    ("/api/chat", "ollama", "chat"),
    ("/api/generate", "ollama", "generate"),
    ("/api/embeddings", "ollama", "embeddings"),
    ("/api/embed", "ollama", "embed"),
    ("/v1/messages", "anthropic", "messages"),
    ("/chat/completions", "openai", "chat"),
    ("/completions", "openai", "completions"),
    ("/embeddings", "openai", "embeddings"),
    ("/responses", "openai", "responses"),
)
_NOT_INPUT = frozenset({"model", "messages", "prompt", "input", "stream"})


@dataclass(frozen=True)
class Endpoint:
    """A provider endpoint mock_ai answers, e.g. ``Endpoint("openai", "chat")``."""

    provider: str
    name: str


def endpoint_of(method: str, path: str) -> Endpoint | None:
    """The endpoint a request goes to, or None when mock_ai does not answer it."""
    if method != "POST":
        return None
    path = path.rstrip("/")
    for suffix, provider, name in _SUFFIXES:
        if path.endswith(suffix):
            return Endpoint(provider, name)
    return None


@dataclass
class AICall:
    """A call the mock answered; ``mock.calls`` lists them in order.

    ``prompt`` is the last user message (or the prompt / embedding input);
    ``params`` holds every other field of the request body (``temperature``,
    ``tools``, ``max_tokens``...). ``answer`` is what the mock replied: the
    text, the tool call or payload dict, or ``{"error": kind}`` (None for
    embeddings derived from the input text).

    >>> call = mock.calls[0]
    >>> call.provider, call.endpoint, call.model, call.prompt
    ('openai', 'chat', 'gpt-4o-mini', 'Get all users')
    """

    provider: str
    endpoint: str
    url: str
    model: str
    messages: list[dict[str, Any]]
    prompt: str
    system: str
    params: dict[str, Any]
    stream: bool
    headers: dict[str, str] = field(repr=False)
    body: dict[str, Any] = field(repr=False)
    answer: Any = None
    status: int = 200

    @classmethod
    def parse(
        cls, endpoint: Endpoint, url: str, headers: Mapping[str, str], body: dict[str, Any]
    ) -> AICall:
        """Read a request body the way its provider means it."""
        messages = _messages(endpoint, body)
        return cls(
            provider=endpoint.provider,
            endpoint=endpoint.name,
            url=url,
            model=str(body.get("model") or ""),
            messages=messages,
            prompt=_prompt(endpoint, body, messages),
            system=_system(body, messages),
            params={k: v for k, v in body.items() if k not in _NOT_INPUT},
            # Ollama's server streams unless told not to; the others only when asked.
            stream=bool(body.get("stream", endpoint.provider == "ollama")),
            headers=dict(headers),
            body=body,
        )

    @property
    def input_text(self) -> str:
        """Every piece of text sent: system prompt, each message, prompt; one per line."""
        said = [m for m in self.messages if m.get("role") not in {"system", "developer"}]
        texts = [self.system, *(text_of(m) for m in said)]
        if not self.messages:
            texts.append(self.prompt)
        return "\n".join(t for t in texts if t)

    @property
    def tools(self) -> list[str]:
        """The names of the tools (functions) offered to the model."""
        names = []
        for tool in self.params.get("tools") or []:
            if isinstance(tool, Mapping):
                inner = tool.get("function")
                spec = inner if isinstance(inner, Mapping) else tool
                if isinstance(spec.get("name"), str):
                    names.append(spec["name"])
        return names


def text_of(value: Any) -> str:
    """The text inside a message, content string or list of content parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(t for t in (text_of(part) for part in value) if t)
    if isinstance(value, Mapping):
        for key in ("text", "content", "output"):
            if key in value:
                return text_of(value[key])
    return ""


def _messages(endpoint: Endpoint, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("messages")
    if endpoint.name == "responses":
        raw = body.get("input")
        if isinstance(raw, str):
            raw = [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        return []
    return [m for m in raw if isinstance(m, dict)]


def _prompt(endpoint: Endpoint, body: Mapping[str, Any], messages: list[dict[str, Any]]) -> str:
    if messages:
        users = [m for m in messages if m.get("role") == "user"] or messages
        return text_of(users[-1].get("content", users[-1]))
    value = body.get("prompt", body.get("input", ""))
    if isinstance(value, list):
        return "\n".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _system(body: Mapping[str, Any], messages: list[dict[str, Any]]) -> str:
    texts = [text_of(body.get("system")), text_of(body.get("instructions"))]
    texts += [
        text_of(m.get("content")) for m in messages if m.get("role") in {"system", "developer"}
    ]
    return "\n".join(t for t in texts if t)
