"""What every provider format shares: replies, SSE and NDJSON framing, token counts.

A :class:`Reply` is the HTTP answer in stack-neutral form; the interception
layer turns it into an ``httpx.Response``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CREATED", "Reply", "count_tokens", "json_reply", "ndjson", "pieces", "sse"]

CREATED = 1700000000  # a fixed timestamp: answers are the same on every run
_WORDS = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers and the whole body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """``payload`` as an ``application/json`` reply."""
    return Reply(
        status,
        json.dumps(payload).encode(),
        {"content-type": "application/json", **(headers or {})},
    )


def sse(events: Iterable[tuple[str | None, Any]], done: bool = False) -> Reply:
    """Server-sent events: ``(event name or None, data)`` pairs; ``data: [DONE]`` last if asked."""
    parts = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        parts.append(f"event: {name}\ndata: {text}\n\n" if name else f"data: {text}\n\n")
    if done:
        parts.append("data: [DONE]\n\n")
    return Reply(200, "".join(parts).encode(), {"content-type": "text/event-stream"})


def ndjson(lines: Iterable[Any]) -> Reply:
    """One JSON object per line, as Ollama streams."""
    body = "".join(json.dumps(line) + "\n" for line in lines)
    return Reply(200, body.encode(), {"content-type": "application/x-ndjson"})


def pieces(text: str) -> list[str]:
    """``text`` cut into word-sized stream deltas that join back to it exactly."""
    return _WORDS.findall(text)


def count_tokens(text: str) -> int:
    """A rough token count (four characters a token), enough for usage figures."""
    return (len(text) + 3) // 4
