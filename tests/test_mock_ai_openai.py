"""mock_ai against the real openai SDK (httpx2 underneath): chat, Responses API, completions,
embeddings, tool calls and errors, sync and async, streaming and not."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import httpx
import openai
import pytest

from aksara_testing import AICall, mock_ai

# Made at import time, before any mock starts: class-level interception still sees them.
CLIENT = openai.OpenAI(api_key="sk-test")
ASYNC_CLIENT = openai.AsyncOpenAI(api_key="sk-test")
# Validates every body against the SDK's models, as the real API's bodies would.
STRICT = openai.OpenAI(api_key="sk-test", _strict_response_validation=True)

MESSAGES: Any = [
    {"role": "system", "content": "You answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
PARIS = {"name": "get_weather", "arguments": {"city": "Paris"}}


# -- chat completions ---------------------------------------------------------


def test_chat_completion_answers_the_mocked_text_with_usage() -> None:
    with mock_ai(response="Paris.") as ai:
        completion = STRICT.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.choices[0].message.content == "Paris."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert ai.call_count == 1


async def test_async_chat_completion() -> None:
    with mock_ai(response="Paris.") as ai:
        completion = await ASYNC_CLIENT.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )

    assert completion.choices[0].message.content == "Paris."
    assert ai.last_call is not None and ai.last_call.headers["user-agent"].startswith("AsyncOpenAI")


def test_chat_stream_sends_the_text_in_pieces_then_usage_when_asked() -> None:
    with mock_ai(response="Paris is the capital of France."):
        chunks = list(
            STRICT.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    pieces = [piece for piece in pieces if piece]
    assert "".join(pieces) == "Paris is the capital of France."
    assert len(pieces) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_async_chat_stream_helper_gives_the_final_message() -> None:
    with mock_ai(response="Paris."):
        async with ASYNC_CLIENT.chat.completions.stream(
            model="gpt-4o-mini", messages=MESSAGES
        ) as stream:
            final = await stream.get_final_completion()

    assert final.choices[0].message.content == "Paris."


def test_handler_answers_with_a_tool_call_then_with_text_after_the_tool_result() -> None:
    def handler(call: AICall) -> str | dict[str, Any]:
        if call.messages[-1]["role"] == "tool":
            return f"It is {json.loads(call.messages[-1]['content'])['sky']} in Paris."
        return PARIS

    with mock_ai(handler=handler) as ai:
        first = STRICT.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL]
        )
        tool_call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        followup = [
            *MESSAGES,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": tool_call.id, "content": '{"sky": "sunny"}'},
        ]
        second = STRICT.chat.completions.create(model="gpt-4o-mini", messages=followup)

    assert first.choices[0].finish_reason == "tool_calls"
    assert tool_call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(tool_call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert second.choices[0].message.content == "It is sunny in Paris."
    assert ai.calls[0].tools == ["get_weather"]


def test_streamed_tool_call_is_reassembled_by_the_stream_helper() -> None:
    with (
        mock_ai(response=PARIS),
        CLIENT.chat.completions.stream(
            model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL]
        ) as stream,
    ):
        final = stream.get_final_completion()

    (tool_call,) = final.choices[0].message.tool_calls or []
    assert tool_call.function.name == "get_weather"
    assert json.loads(tool_call.function.arguments) == {"city": "Paris"}


# -- the Responses API ----------------------------------------------------------


def test_responses_create_gives_output_text_and_usage() -> None:
    with mock_ai(response="Paris.") as ai:
        response = STRICT.responses.create(model="gpt-4o-mini", input="Capital of France?")

    assert response.output_text == "Paris."
    assert response.status == "completed"
    assert response.usage is not None and response.usage.total_tokens > 0
    assert ai.last_prompt == "Capital of France?"
    assert (ai.calls[0].provider, ai.calls[0].endpoint) == ("openai", "responses")


async def test_async_responses_stream_sends_the_event_sequence() -> None:
    with mock_ai(response="Paris is the capital."):
        stream = await ASYNC_CLIENT.responses.create(
            model="gpt-4o-mini", input="Capital of France?", stream=True
        )
        events = [event async for event in stream]

    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Paris is the capital."
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_responses_stream_helper_and_function_call() -> None:
    with mock_ai(responses=[PARIS, "Sunny."]):
        with STRICT.responses.stream(model="gpt-4o-mini", input="Weather in Paris?") as stream:
            streamed = stream.get_final_response()
        plain = STRICT.responses.create(model="gpt-4o-mini", input="And now?")

    (item,) = streamed.output
    assert item.type == "function_call"
    assert (item.name, json.loads(item.arguments)) == ("get_weather", {"city": "Paris"})
    assert plain.output_text == "Sunny."


# -- completions and embeddings -------------------------------------------------


def test_legacy_completions_plain_and_streamed() -> None:
    with mock_ai(response="Bonjour le monde"):
        plain = STRICT.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hello")
        # Not STRICT: the SDK's model rejects the null finish_reason the real API streams too.
        streamed = CLIENT.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="Say hello", stream=True
        )
        text = "".join(chunk.choices[0].text for chunk in streamed)

    assert plain.choices[0].text == "Bonjour le monde"
    assert text == "Bonjour le monde"


def test_embeddings_have_the_requested_dimension_and_depend_only_on_the_text() -> None:
    with mock_ai() as ai:
        sized = STRICT.embeddings.create(
            model="text-embedding-3-small", input=["cat", "dog", "cat"], dimensions=256
        )
        default = STRICT.embeddings.create(model="text-embedding-3-small", input="cat")
        large = STRICT.embeddings.create(model="text-embedding-3-large", input="cat")

    cat, dog, cat_again = (d.embedding for d in sized.data)
    assert len(cat) == 256
    assert cat == cat_again and cat != dog
    assert abs(sum(x * x for x in cat) - 1.0) < 1e-9  # unit vectors: cosine = dot product
    assert len(default.data[0].embedding) == 1536
    assert len(large.data[0].embedding) == 3072
    assert ai.calls[0].prompt == "cat\ndog\ncat"


def test_embedding_vectors_from_a_handler() -> None:
    with mock_ai(handler=lambda call: [[1.0, 0.0], [0.0, 1.0]]):
        result = CLIENT.embeddings.create(model="text-embedding-3-small", input=["a", "b"])

    assert [d.embedding for d in result.data] == [[1.0, 0.0], [0.0, 1.0]]


def test_clients_other_than_the_sdk_get_base64_embeddings_when_they_ask() -> None:
    body = {"model": "text-embedding-3-small", "input": "cat", "encoding_format": "base64"}
    with mock_ai():
        sdk = CLIENT.embeddings.create(model="text-embedding-3-small", input="cat")
        raw = httpx.post("https://api.openai.com/v1/embeddings", json=body).json()

    encoded = base64.b64decode(raw["data"][0]["embedding"])
    floats = struct.unpack(f"<{len(encoded) // 4}f", encoded)
    assert len(floats) == 1536
    assert floats == pytest.approx(sdk.data[0].embedding, abs=1e-6)


# -- any base URL ---------------------------------------------------------------


def test_proxies_and_azure_use_the_same_shapes_at_their_own_urls() -> None:
    proxy = openai.OpenAI(api_key="k", base_url="https://llm-proxy.internal:4000/v1")
    azure = openai.AzureOpenAI(
        api_key="k", api_version="2024-10-21", azure_endpoint="https://acme.openai.azure.com"
    )
    with mock_ai(response="ok") as ai:
        via_proxy = proxy.chat.completions.create(model="llama-3", messages=MESSAGES)
        via_azure = azure.chat.completions.create(model="gpt-4o-deployment", messages=MESSAGES)

    assert via_proxy.choices[0].message.content == via_azure.choices[0].message.content == "ok"
    assert ai.calls[0].url == "https://llm-proxy.internal:4000/v1/chat/completions"
    assert ai.calls[1].url.startswith(
        "https://acme.openai.azure.com/openai/deployments/gpt-4o-deployment/chat/completions"
    )


def test_a_client_made_inside_the_block_needs_no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with mock_ai(response="ok"):
        client = openai.OpenAI()
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert answer.choices[0].message.content == "ok"


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "exception", "status"),
    [
        ("rate_limit", openai.RateLimitError, 429),
        ("overloaded", openai.InternalServerError, 503),
        ("unavailable", openai.InternalServerError, 503),
        ("server_error", openai.InternalServerError, 500),
        ("invalid_request", openai.BadRequestError, 400),
        ("authentication", openai.AuthenticationError, 401),
        (429, openai.RateLimitError, 429),
    ],
)
def test_errors_raise_the_sdk_exception_after_one_request(
    error: str | int, exception: type[openai.APIStatusError], status: int
) -> None:
    # CLIENT keeps the SDK's default of two retries; mock_ai's errors switch them off.
    with mock_ai(error=error) as ai, pytest.raises(exception) as raised:
        CLIENT.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert raised.value.status_code == status
    assert ai.call_count == 1
    assert ai.calls[0].status == status


async def test_async_streaming_call_raises_at_create() -> None:
    with mock_ai(error="rate_limit") as ai, pytest.raises(openai.RateLimitError) as raised:
        await ASYNC_CLIENT.responses.create(model="gpt-4o-mini", input="hi", stream=True)

    assert raised.value.code == "rate_limit_exceeded"
    assert ai.call_count == 1


def test_retry_code_sees_the_error_then_the_answer() -> None:
    def ask_with_one_retry() -> str | None:
        for _ in range(2):
            try:
                reply = CLIENT.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            except openai.RateLimitError:
                continue
            return reply.choices[0].message.content
        return None

    with mock_ai(responses=[{"error": "rate_limit"}, "Paris."]) as ai:
        answer = ask_with_one_retry()

    assert answer == "Paris."
    assert [call.status for call in ai.calls] == [429, 200]


def test_endpoints_mock_ai_does_not_emulate_fail_with_a_message() -> None:
    with mock_ai(), pytest.raises(openai.NotFoundError, match="mock_ai does not answer GET"):
        CLIENT.models.list()
