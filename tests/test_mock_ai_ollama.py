"""mock_ai against the real ollama SDK (httpx 0.28 underneath): chat, generate, embed,
streams (NDJSON), tool calls, errors."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from aksara_testing import mock_ai

CLIENT = ollama.Client()  # made at import time, like ollama's own module-level client
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def test_module_level_chat_answers_the_mocked_text() -> None:
    with mock_ai(response="Paris.") as ai:
        response = ollama.chat(model="llama3.2", messages=MESSAGES)

    assert response.message.content == "Paris."
    assert response.done is True
    assert ai.calls[0].url == "http://127.0.0.1:11434/api/chat"
    assert (ai.calls[0].provider, ai.calls[0].stream) == ("ollama", False)


async def test_async_chat_stream_sends_pieces_then_done() -> None:
    with mock_ai(response="Paris is the capital."):
        parts = [
            part
            async for part in await ollama.AsyncClient().chat(
                model="llama3.2", messages=MESSAGES, stream=True
            )
        ]

    assert "".join(p.message.content or "" for p in parts) == "Paris is the capital."
    assert [p.done for p in parts][-1] is True and parts[0].done is False


def test_generate_plain_and_streamed() -> None:
    with mock_ai(response="Bonjour.") as ai:
        plain = CLIENT.generate(model="llama3.2", prompt="Say hello in French")
        streamed = "".join(
            part.response for part in CLIENT.generate(model="llama3.2", prompt="Again", stream=True)
        )

    assert plain.response == "Bonjour." and streamed == "Bonjour."
    assert [c.prompt for c in ai.calls] == ["Say hello in French", "Again"]


def test_tool_call_plain_and_streamed() -> None:
    paris = {"name": "get_weather", "arguments": {"city": "Paris"}}
    with mock_ai(response=paris):
        plain = CLIENT.chat(model="llama3.2", messages=MESSAGES, tools=[])
        streamed = [
            call
            for part in CLIENT.chat(model="llama3.2", messages=MESSAGES, stream=True)
            for call in part.message.tool_calls or []
        ]

    for tool_call in [*(plain.message.tool_calls or []), *streamed]:
        assert tool_call.function.name == "get_weather"
        assert tool_call.function.arguments == {"city": "Paris"}
    assert len(streamed) == 1


def test_embed_gives_one_vector_per_input_of_the_model_size() -> None:
    with mock_ai():
        batch = CLIENT.embed(model="nomic-embed-text", input=["cat", "dog"])
        large = CLIENT.embed(model="mxbai-embed-large:latest", input="cat")
        legacy = CLIENT.embeddings(model="nomic-embed-text", prompt="cat")

    assert [len(v) for v in batch.embeddings] == [768, 768]
    assert len(large.embeddings[0]) == 1024
    assert list(legacy.embedding) == list(batch.embeddings[0])  # same text, same vector


def test_any_host_is_answered() -> None:
    remote = ollama.Client(host="https://gpu.example:8443")
    with mock_ai(response="ok") as ai:
        answer = remote.chat(model="llama3.2", messages=MESSAGES)

    assert answer.message.content == "ok"
    assert ai.calls[0].url == "https://gpu.example:8443/api/chat"


@pytest.mark.parametrize(
    ("error", "status"), [("rate_limit", 429), ("overloaded", 503), ("invalid_request", 400)]
)
def test_errors_raise_response_error_with_the_status(error: str, status: int) -> None:
    with mock_ai(error=error) as ai, pytest.raises(ollama.ResponseError) as raised:
        CLIENT.chat(model="llama3.2", messages=MESSAGES)

    assert raised.value.status_code == status
    assert f"error={error!r}" in raised.value.error
    assert ai.call_count == 1


def test_a_request_without_stream_streams_as_the_ollama_server_does() -> None:
    body = {"model": "llama3.2", "messages": MESSAGES}
    with mock_ai(response="one two"):
        response = httpx.post("http://localhost:11434/api/chat", json=body)

    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "".join(line["message"]["content"] for line in lines) == "one two"
    assert [line["done"] for line in lines] == [False, False, True]
