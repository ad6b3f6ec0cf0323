"""What the mock answers with, whatever the provider: text, tool calls, a payload or a fault.

``response=``, each item of ``responses=`` and a handler's return value all
go through :func:`answer_of`:

- ``"some text"``: the reply text;
- ``{"name": "get_weather", "arguments": {"city": "Paris"}}``: one tool call;
  ``{"tool_calls": [...], "content": "..."}``: several, with optional text;
- ``{"error": "rate_limit"}`` (or a status, ``{"error": 429}``): a failure;
- a list of floats (or of lists): embedding vectors;
- any other dict: a complete provider payload, sent as it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._faults import Fault, fault_of

__all__ = ["Answer", "ToolCall", "answer_of", "vector_for"]


@dataclass(frozen=True)
class ToolCall:
    """A function the model asks the caller to run."""

    name: str
    arguments: Mapping[str, Any]
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)

    def id_or(self, prefix: str, index: int) -> str:
        return self.id or f"{prefix}{index + 1}"


@dataclass(frozen=True)
class Answer:
    """One answer in provider-neutral form."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    payload: Mapping[str, Any] | None = None
    fault: Fault | None = None
    vectors: tuple[tuple[float, ...], ...] | None = None
    given: Any = None  # the value the test supplied, for the call record


def answer_of(value: Any) -> Answer:
    """Read a value given by the test (see the module docstring); ValueError if unusable."""
    if isinstance(value, str):
        return Answer(text=value, given=value)
    if isinstance(value, Mapping):
        return _from_mapping(value)
    if isinstance(value, Sequence) and value and not isinstance(value, bytes):
        vectors = value if isinstance(value[0], Sequence) else [value]
        if all(_is_vector(v) for v in vectors):
            return Answer(vectors=tuple(tuple(float(x) for x in v) for v in vectors), given=value)
    raise ValueError(
        f"mock_ai cannot answer with {value!r}; give text, a tool call "
        "{'name': ..., 'arguments': {...}}, {'error': 'rate_limit'}, a provider payload dict "
        "or an embedding (a list of floats)"
    )


def vector_for(text: str, dimensions: int) -> tuple[float, ...]:
    """A unit vector that depends only on ``text``: equal texts embed equally."""
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    rng = random.Random(seed)
    raw = [rng.random() - 0.5 for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return tuple(x / norm for x in raw)


def _from_mapping(value: Mapping[str, Any]) -> Answer:
    if set(value) <= {"error", "message"} and isinstance(value.get("error"), str | int):
        return Answer(fault=fault_of(value), given=dict(value))
    if "name" in value and "arguments" in value:
        return Answer(tool_calls=(_tool_call(value),), given=dict(value))
    calls = value.get("tool_calls")
    if isinstance(calls, list) and not {"choices", "message", "output"} & set(value):
        text = value.get("content", value.get("text", ""))
        return Answer(
            text=text if isinstance(text, str) else "",
            tool_calls=tuple(_tool_call(c) for c in calls),
            given=dict(value),
        )
    return Answer(payload=value, given=dict(value))


def _tool_call(value: Any) -> ToolCall:
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise ValueError(
            f"mock_ai tool call {value!r} needs a 'name' string and 'arguments'; "
            "write it like {'name': 'get_weather', 'arguments': {'city': 'Paris'}}"
        )
    arguments = value.get("arguments") or {}
    if isinstance(arguments, str):
        arguments = json.loads(arguments)
    if not isinstance(arguments, Mapping):
        raise ValueError(f"mock_ai tool call {value['name']!r} arguments must be a dict")
    call_id = value.get("id")
    return ToolCall(value["name"], dict(arguments), call_id if isinstance(call_id, str) else None)


def _is_vector(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    )
