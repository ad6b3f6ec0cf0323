"""OpenAI's wire format: chat completions, the Responses API, completions, embeddings.

The bodies validate against the current SDK's strict models, so typed access
(``.usage.total_tokens``, ``response.output_text``) works on the answers.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

from ._answers import Answer, ToolCall, vector_for
from ._calls import AICall
from ._wire import CREATED, Reply, count_tokens, json_reply, pieces, sse

__all__ = ["reply"]

_DIMENSIONS = {"text-embedding-3-large": 3072}
_DEFAULT_DIMENSIONS = 1536  # text-embedding-3-small and ada-002


def reply(call: AICall, answer: Answer, number: int) -> Reply:
    """The reply to one OpenAI-shaped call (``number`` counts calls, for ids)."""
    if call.endpoint == "embeddings":
        return json_reply(_embeddings(call, answer))
    if call.endpoint == "responses":
        return (
            _responses_stream(call, answer, number)
            if call.stream
            else json_reply(_response(call, answer, number))
        )
    if call.endpoint == "completions":
        return (
            _completion_stream(call, answer, number)
            if call.stream
            else json_reply(_completion(call, answer, number))
        )
    return (
        _chat_stream(call, answer, number)
        if call.stream
        else json_reply(_chat(call, answer, number))
    )


def _usage(call: AICall, answer: Answer) -> dict[str, int]:
    prompt = count_tokens(call.input_text)
    completion = count_tokens(answer.text + "".join(t.arguments_json for t in answer.tool_calls))
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


def _halves(text: str) -> list[str]:
    """Tool-call arguments arrive in pieces; two are enough to need reassembly."""
    middle = len(text) // 2
    return [text[:middle], text[middle:]] if middle else [text]


# -- chat completions ---------------------------------------------------------


def _chat(call: AICall, answer: Answer, number: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text if answer.text or not answer.tool_calls else None,
        "refusal": None,
    }
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": t.id_or("call_mock", i), "type": "function",
             "function": {"name": t.name, "arguments": t.arguments_json}}
            for i, t in enumerate(answer.tool_calls)
        ]  # fmt: skip
    return {
        "id": f"chatcmpl-mock{number}",
        "object": "chat.completion",
        "created": CREATED,
        "model": call.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if answer.tool_calls else "stop"}],
        "usage": _usage(call, answer),
    }  # fmt: skip


def _chat_stream(call: AICall, answer: Answer, number: int) -> Reply:
    base = {"id": f"chatcmpl-mock{number}", "object": "chat.completion.chunk",
            "created": CREATED, "model": call.model}  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return None, {**base, "choices": [choice]}

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces(answer.text)]
    for i, tool in enumerate(answer.tool_calls):
        function = {"name": tool.name, "arguments": ""}
        start = {"index": i, "id": tool.id_or("call_mock", i), "type": "function"}
        events.append(chunk({"tool_calls": [{**start, "function": function}]}))
        for part in _halves(tool.arguments_json):
            events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    events.append(chunk({}, "tool_calls" if answer.tool_calls else "stop"))
    options = call.params.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        events.append((None, {**base, "choices": [], "usage": _usage(call, answer)}))
    return sse(events, done=True)


# -- the Responses API --------------------------------------------------------


def _output(answer: Answer, number: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if answer.text or not answer.tool_calls:
        items.append(_message_item(answer.text, number, "completed"))
    items += [_function_item(t, i, number, "completed") for i, t in enumerate(answer.tool_calls)]
    return items


def _message_item(text: str, number: int, status: str) -> dict[str, Any]:
    content = [_text_part(text)] if status == "completed" else []
    return {"type": "message", "id": f"msg_mock{number}", "status": status,
            "role": "assistant", "content": content}  # fmt: skip


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _function_item(tool: ToolCall, i: int, number: int, status: str) -> dict[str, Any]:
    arguments = tool.arguments_json if status == "completed" else ""
    return {"type": "function_call", "id": f"fc_mock{number}_{i + 1}",
            "call_id": tool.id_or("call_mock", i), "name": tool.name,
            "arguments": arguments, "status": status}  # fmt: skip


def _response(
    call: AICall, answer: Answer, number: int, status: str = "completed"
) -> dict[str, Any]:
    body = call.body
    usage = None
    if status == "completed":
        counts = _usage(call, answer)
        usage = {
            "input_tokens": counts["prompt_tokens"],
            "output_tokens": counts["completion_tokens"],
            "total_tokens": counts["total_tokens"],
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
    return {
        "id": f"resp_mock{number}",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": call.model,
        "output": _output(answer, number) if status == "completed" else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "previous_response_id": body.get("previous_response_id"),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "usage": usage,
    }


def _responses_stream(call: AICall, answer: Answer, number: int) -> Reply:
    def events() -> Iterator[dict[str, Any]]:
        running = _response(call, answer, number, "in_progress")
        yield {"type": "response.created", "response": running}
        yield {"type": "response.in_progress", "response": running}
        index = 0
        if answer.text or not answer.tool_calls:
            yield from _text_events(answer.text, number, index)
            index += 1
        for i, tool in enumerate(answer.tool_calls):
            yield from _function_events(tool, i, number, index)
            index += 1
        yield {"type": "response.completed", "response": _response(call, answer, number)}

    numbered = [{**event, "sequence_number": n} for n, event in enumerate(events())]
    return sse((event["type"], event) for event in numbered)


def _text_events(text: str, number: int, index: int) -> Iterator[dict[str, Any]]:
    item_id = f"msg_mock{number}"
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    yield {"type": "response.output_item.added", "output_index": index,
           "item": _message_item(text, number, "in_progress")}  # fmt: skip
    yield {"type": "response.content_part.added", **where, "part": _text_part("")}
    for piece in pieces(text):
        yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
    yield {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
    yield {"type": "response.content_part.done", **where, "part": _text_part(text)}
    yield {"type": "response.output_item.done", "output_index": index,
           "item": _message_item(text, number, "completed")}  # fmt: skip


def _function_events(tool: ToolCall, i: int, number: int, index: int) -> Iterator[dict[str, Any]]:
    item_id = f"fc_mock{number}_{i + 1}"
    yield {"type": "response.output_item.added", "output_index": index,
           "item": _function_item(tool, i, number, "in_progress")}  # fmt: skip
    for part in _halves(tool.arguments_json):
        yield {"type": "response.function_call_arguments.delta", "item_id": item_id,
               "output_index": index, "delta": part}  # fmt: skip
    yield {"type": "response.function_call_arguments.done", "item_id": item_id,
           "output_index": index, "name": tool.name, "arguments": tool.arguments_json}  # fmt: skip
    yield {"type": "response.output_item.done", "output_index": index,
           "item": _function_item(tool, i, number, "completed")}  # fmt: skip


# -- completions and embeddings -----------------------------------------------


def _completion(call: AICall, answer: Answer, number: int) -> dict[str, Any]:
    return {"id": f"cmpl-mock{number}", "object": "text_completion", "created": CREATED,
            "model": call.model,
            "choices": [{"text": answer.text, "index": 0, "logprobs": None,
                         "finish_reason": "stop"}],
            "usage": _usage(call, answer)}  # fmt: skip


def _completion_stream(call: AICall, answer: Answer, number: int) -> Reply:
    base = {"id": f"cmpl-mock{number}", "object": "text_completion", "created": CREATED,
            "model": call.model}  # fmt: skip

    def chunk(text: str, finish: str | None = None) -> tuple[None, dict[str, Any]]:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
        return None, {**base, "choices": [choice]}

    events = [chunk(piece) for piece in pieces(answer.text)] + [chunk("", "stop")]
    return sse(events, done=True)


def _embeddings(call: AICall, answer: Answer) -> dict[str, Any]:
    texts = _embedding_inputs(call.body.get("input"))
    dimensions = call.params.get("dimensions") or _DIMENSIONS.get(call.model, _DEFAULT_DIMENSIONS)
    vectors = answer.vectors or tuple(vector_for(t, int(dimensions)) for t in texts)
    # The SDK asks for base64 on its own and reads floats as well; strict
    # validation rejects base64, so only other clients that ask for it get it.
    encode = call.params.get("encoding_format") == "base64" and "OpenAI/" not in call.headers.get(
        "user-agent", ""
    )
    data = [
        {"object": "embedding", "index": i, "embedding": _base64(v) if encode else list(v)}
        for i, v in enumerate(vectors)
    ]
    tokens = sum(count_tokens(t) for t in texts)
    return {"object": "list", "model": call.model, "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}  # fmt: skip


def _embedding_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(x, int) for x in value):
        return [" ".join(map(str, value))]  # one input given as token ids
    if isinstance(value, list):
        return [v if isinstance(v, str) else " ".join(map(str, v)) for v in value]
    return [""]


def _base64(vector: tuple[float, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
