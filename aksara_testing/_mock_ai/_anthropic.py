"""Anthropic's Messages API wire format, streaming included.

Streams need an ``event:`` line on every message: the SDK skips data-only
server-sent events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._answers import Answer, ToolCall
from ._calls import AICall
from ._wire import Reply, count_tokens, json_reply, pieces, sse

__all__ = ["reply"]


def reply(call: AICall, answer: Answer, number: int) -> Reply:
    """The reply to one ``/v1/messages`` call."""
    if not call.stream:
        return json_reply(_message(call, answer, number))
    return sse((event["type"], event) for event in _events(call, answer, number))


def _blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.text or not answer.tool_calls:
        blocks.append({"type": "text", "text": answer.text})
    blocks += [_tool_block(t, i, t.arguments) for i, t in enumerate(answer.tool_calls)]
    return blocks


def _tool_block(tool: ToolCall, i: int, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool.id_or("toolu_mock", i), "name": tool.name,
            "input": arguments}  # fmt: skip


def _output_tokens(answer: Answer) -> int:
    return count_tokens(answer.text + "".join(t.arguments_json for t in answer.tool_calls))


def _stop_reason(answer: Answer) -> str:
    return "tool_use" if answer.tool_calls else "end_turn"


def _message(call: AICall, answer: Answer, number: int, done: bool = True) -> dict[str, Any]:
    return {
        "id": f"msg_mock{number}",
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": _blocks(answer) if done else [],
        "stop_reason": _stop_reason(answer) if done else None,
        "stop_sequence": None,
        "usage": {"input_tokens": count_tokens(call.input_text),
                  "output_tokens": _output_tokens(answer) if done else 1},
    }  # fmt: skip


def _events(call: AICall, answer: Answer, number: int) -> Iterator[dict[str, Any]]:
    yield {"type": "message_start", "message": _message(call, answer, number, done=False)}
    yield {"type": "ping"}
    index = 0
    if answer.text or not answer.tool_calls:
        yield {"type": "content_block_start", "index": index,
               "content_block": {"type": "text", "text": ""}}  # fmt: skip
        for piece in pieces(answer.text):
            yield {"type": "content_block_delta", "index": index,
                   "delta": {"type": "text_delta", "text": piece}}  # fmt: skip
        yield {"type": "content_block_stop", "index": index}
        index += 1
    for i, tool in enumerate(answer.tool_calls):
        yield {"type": "content_block_start", "index": index,
               "content_block": _tool_block(tool, i, {})}  # fmt: skip
        arguments = tool.arguments_json
        middle = len(arguments) // 2
        for part in (arguments[:middle], arguments[middle:]):
            yield {"type": "content_block_delta", "index": index,
                   "delta": {"type": "input_json_delta", "partial_json": part}}  # fmt: skip
        yield {"type": "content_block_stop", "index": index}
        index += 1
    yield {"type": "message_delta",
           "delta": {"stop_reason": _stop_reason(answer), "stop_sequence": None},
           "usage": {"output_tokens": _output_tokens(answer)}}  # fmt: skip
    yield {"type": "message_stop"}
