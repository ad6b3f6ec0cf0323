"""Ollama's native API: ``/api/chat``, ``/api/generate``, ``/api/embed``, ``/api/embeddings``.

Streams are newline-delimited JSON. A request without ``"stream"`` streams,
as the Ollama server does; the Python client always says which it wants.
"""

from __future__ import annotations

from typing import Any

from ._answers import Answer, vector_for
from ._calls import AICall
from ._wire import Reply, count_tokens, json_reply, ndjson, pieces

__all__ = ["reply"]

_CREATED_AT = "2024-01-01T00:00:00.000000Z"
_DIMENSIONS = {"nomic-embed-text": 768, "mxbai-embed-large": 1024, "all-minilm": 384,
               "bge-m3": 1024, "snowflake-arctic-embed": 1024}  # fmt: skip
_DEFAULT_DIMENSIONS = 768


def reply(call: AICall, answer: Answer, number: int) -> Reply:
    """The reply to one Ollama call."""
    if call.endpoint in {"embed", "embeddings"}:
        return json_reply(_embeddings(call, answer))
    key = "message" if call.endpoint == "chat" else "response"
    head = {"model": call.model, "created_at": _CREATED_AT}
    final = {**head, key: _content(key, ""), "done": True, **_stats(call, answer)}
    if call.endpoint == "generate":
        final["context"] = [1, 2, 3]
    if not call.stream:
        final[key] = _content(key, answer.text)
        if answer.tool_calls and key == "message":
            final["message"]["tool_calls"] = _tool_calls(answer)
        return json_reply(final)
    lines = [{**head, key: _content(key, piece), "done": False} for piece in pieces(answer.text)]
    if answer.tool_calls and key == "message":
        message = {**_content(key, ""), "tool_calls": _tool_calls(answer)}
        lines.append({**head, "message": message, "done": False})
    return ndjson([*lines, final])


def _content(key: str, text: str) -> Any:
    return {"role": "assistant", "content": text} if key == "message" else text


def _tool_calls(answer: Answer) -> list[dict[str, Any]]:
    return [{"function": {"name": t.name, "arguments": dict(t.arguments)}}
            for t in answer.tool_calls]  # fmt: skip


def _stats(call: AICall, answer: Answer) -> dict[str, Any]:
    return {"done_reason": "stop", "total_duration": 1000, "load_duration": 10,
            "prompt_eval_count": count_tokens(call.input_text), "prompt_eval_duration": 100,
            "eval_count": count_tokens(answer.text), "eval_duration": 200}  # fmt: skip


def _embeddings(call: AICall, answer: Answer) -> dict[str, Any]:
    model = call.model.split(":")[0]
    dimensions = int(call.params.get("dimensions") or _DIMENSIONS.get(model, _DEFAULT_DIMENSIONS))
    if call.endpoint == "embeddings":  # the legacy endpoint: one prompt, one vector
        vector = answer.vectors[0] if answer.vectors else vector_for(call.prompt, dimensions)
        return {"embedding": list(vector)}
    raw = call.body.get("input", "")
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
    vectors = answer.vectors or tuple(vector_for(t, dimensions) for t in texts)
    return {"model": call.model, "embeddings": [list(v) for v in vectors],
            "total_duration": 1000, "load_duration": 10,
            "prompt_eval_count": sum(count_tokens(t) for t in texts)}  # fmt: skip
