"""mock_ai against the real anthropic SDK (httpx2 underneath): messages, streams, tool use,
errors."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from aksara_testing import mock_ai

CLIENT = anthropic.Anthropic(api_key="sk-ant-test")  # made at import time
ASYNC_CLIENT = anthropic.AsyncAnthropic(api_key="sk-ant-test")
STRICT = anthropic.Anthropic(api_key="sk-ant-test", _strict_response_validation=True)

MESSAGES: Any = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PARIS = {"name": "get_weather", "arguments": {"city": "Paris"}}


def test_message_answers_the_mocked_text_with_usage() -> None:
    with mock_ai(response="Paris.") as ai:
        message = STRICT.messages.create(
            model="claude-sonnet-5", max_tokens=100, system="Be brief.", messages=MESSAGES
        )

    assert message.content[0].type == "text" and message.content[0].text == "Paris."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    call = ai.calls[0]
    assert (call.provider, call.endpoint) == ("anthropic", "messages")
    assert call.model == "claude-sonnet-5"
    assert call.system == "Be brief."
    assert call.params["max_tokens"] == 100


async def test_async_message() -> None:
    with mock_ai(response="Paris."):
        message = await ASYNC_CLIENT.messages.create(
            model="claude-sonnet-5", max_tokens=100, messages=MESSAGES
        )

    assert message.content[0].type == "text" and message.content[0].text == "Paris."


def test_stream_helper_yields_the_text_in_pieces() -> None:
    with (
        mock_ai(response="Paris is the capital of France."),
        STRICT.messages.stream(
            model="claude-sonnet-5", max_tokens=100, messages=MESSAGES
        ) as stream,
    ):
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert "".join(pieces) == "Paris is the capital of France." and len(pieces) > 1
    assert final.stop_reason == "end_turn"


async def test_async_raw_stream_sends_message_start_to_message_stop() -> None:
    with mock_ai(response="Paris."):
        stream = await ASYNC_CLIENT.messages.create(
            model="claude-sonnet-5", max_tokens=100, messages=MESSAGES, stream=True
        )
        types = [event.type async for event in stream]

    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "content_block_delta" in types and "message_delta" in types


def test_tool_use_plain_and_streamed() -> None:
    with mock_ai(response=PARIS) as ai:
        plain = STRICT.messages.create(
            model="claude-sonnet-5", max_tokens=100, messages=MESSAGES, tools=[WEATHER_TOOL]
        )
        with CLIENT.messages.stream(
            model="claude-sonnet-5", max_tokens=100, messages=MESSAGES, tools=[WEATHER_TOOL]
        ) as stream:
            streamed = stream.get_final_message()

    for message in (plain, streamed):
        (block,) = message.content
        assert block.type == "tool_use"
        assert (block.name, block.input) == ("get_weather", {"city": "Paris"})
        assert message.stop_reason == "tool_use"
    assert ai.calls[0].tools == ["get_weather"]


@pytest.mark.parametrize(
    ("error", "exception", "status"),
    [
        ("rate_limit", anthropic.RateLimitError, 429),
        ("overloaded", anthropic.OverloadedError, 529),
        ("unavailable", anthropic.ServiceUnavailableError, 503),
        ("server_error", anthropic.InternalServerError, 500),
        ("invalid_request", anthropic.BadRequestError, 400),
        (529, anthropic.OverloadedError, 529),
    ],
)
def test_errors_raise_the_sdk_exception_after_one_request(
    error: str | int, exception: type[anthropic.APIStatusError], status: int
) -> None:
    with mock_ai(error=error) as ai, pytest.raises(exception) as raised:
        CLIENT.messages.create(model="claude-sonnet-5", max_tokens=10, messages=MESSAGES)

    assert raised.value.status_code == status
    assert ai.call_count == 1  # the SDK's two retries were switched off


async def test_streaming_call_with_an_error_raises_at_create() -> None:
    with mock_ai(error="overloaded") as ai, pytest.raises(anthropic.OverloadedError) as raised:
        await ASYNC_CLIENT.messages.create(
            model="claude-sonnet-5", max_tokens=10, messages=MESSAGES, stream=True
        )

    assert isinstance(raised.value.body, dict)
    assert raised.value.body["error"]["type"] == "overloaded_error"
    assert ai.call_count == 1


def test_fallback_to_a_second_model_after_overload() -> None:
    def ask() -> str:
        for model in ("claude-opus-5", "claude-haiku-5"):
            try:
                message = CLIENT.messages.create(model=model, max_tokens=10, messages=MESSAGES)
            except anthropic.OverloadedError:
                continue
            block = message.content[0]
            return block.text if block.type == "text" else ""
        raise RuntimeError("every model is overloaded")

    with mock_ai(handler=lambda call: {"error": 529} if "opus" in call.model else "Paris.") as ai:
        answer = ask()

    assert answer == "Paris."
    assert [(c.model, c.status) for c in ai.calls] == [
        ("claude-opus-5", 529),
        ("claude-haiku-5", 200),
    ]
