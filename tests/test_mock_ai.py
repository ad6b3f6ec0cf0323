"""mock_ai's own API: recording, answers in turn, handlers, problems, decorator, fixture,
nesting, and what it leaves alone (non-AI requests, the test's own respx routes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import httpx2
import openai
import pytest
import respx
from loopback import Loopback, loopback_server

from aksara_testing import AICall, AksaraError, MockAI, mock_ai

CLIENT = openai.OpenAI(api_key="sk-test")
ASYNC_CLIENT = openai.AsyncOpenAI(api_key="sk-test")
MESSAGES: Any = [
    {"role": "system", "content": "Answer with one SQL query."},
    {"role": "user", "content": "Get all users"},
]


def ask(client: openai.OpenAI = CLIENT, **params: Any) -> str | None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **params)
    return completion.choices[0].message.content


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    with loopback_server() as server:
        yield server


# -- recording ------------------------------------------------------------------


def test_calls_record_what_was_asked_and_what_was_answered() -> None:
    with mock_ai(response="SELECT * FROM users") as ai:
        ask(temperature=0)

    (call,) = ai.calls
    assert isinstance(call, AICall)
    assert (call.provider, call.endpoint, call.model) == ("openai", "chat", "gpt-4o-mini")
    assert call.url == "https://api.openai.com/v1/chat/completions"
    assert call.messages == MESSAGES
    assert (call.prompt, call.system) == ("Get all users", "Answer with one SQL query.")
    assert call.params == {"temperature": 0}
    assert (call.stream, call.answer, call.status) == (False, "SELECT * FROM users", 200)
    assert call.input_text == "Answer with one SQL query.\nGet all users"
    assert (ai.call_count, ai.last_prompt, ai.last_call) == (1, "Get all users", call)


def test_nothing_recorded_before_the_first_call() -> None:
    with mock_ai() as ai:
        pass

    assert (ai.call_count, ai.last_prompt, ai.last_call, ai.calls) == (0, None, None, [])


def test_assert_called_with_prompt_searches_system_prompt_and_messages() -> None:
    with mock_ai() as ai:
        ask()

    ai.assert_called_with_prompt("one SQL query")
    ai.assert_called_with_prompt("all users")
    with pytest.raises(AssertionError, match=r"no AI call sent 'delete'.*\['Get all users'\]"):
        ai.assert_called_with_prompt("delete")


def test_assert_called_with_prompt_without_calls_says_so() -> None:
    with mock_ai() as ai:
        pass

    with pytest.raises(AssertionError, match="no AI call was made; expected a prompt with 'x'"):
        ai.assert_called_with_prompt("x")


# -- choosing answers -------------------------------------------------------------


def test_default_answer_when_nothing_is_given() -> None:
    with mock_ai():
        assert ask() == "mock response"


def test_responses_answer_in_turn_and_running_out_fails_the_call_and_the_block() -> None:
    answers = []
    exhausted = r"has 2 answer\(s\) but call 3 \(openai chat\)"
    with pytest.raises(AksaraError, match=exhausted), mock_ai(responses=["first", "second"]) as ai:
        answers += [ask(), ask()]
        with pytest.raises(openai.InternalServerError, match="asked for another"):
            ask()

    assert answers == ["first", "second"]
    assert ai.call_count == 3  # the failing call was not retried


def test_handler_sees_each_call() -> None:
    def handler(call: AICall) -> str:
        return f"{call.model}: {call.prompt.upper()}"

    with mock_ai(handler=handler):
        assert ask() == "gpt-4o-mini: GET ALL USERS"


def test_an_exception_in_the_handler_fails_the_call_fast_and_is_raised_by_the_block() -> None:
    def handler(call: AICall) -> str:
        assert "users" not in call.prompt, "the prompt leaked the table name"
        return "ok"

    with (
        pytest.raises(AssertionError, match="leaked the table name"),
        mock_ai(handler=handler) as ai,
    ):
        ask()

    assert ai.call_count == 1
    assert isinstance(ai.calls[0].answer, dict)
    assert "leaked the table name" in ai.calls[0].answer["error"]


def test_an_async_handler_is_refused_with_a_message() -> None:
    async def handler(call: AICall) -> str:
        return "never"

    with (
        pytest.raises(AksaraError, match="make it a plain"),
        mock_ai(handler=handler),
        pytest.raises(openai.InternalServerError),
    ):
        ask()


def test_a_provider_payload_is_sent_as_it_is() -> None:
    payload = {
        "id": "chatcmpl-own",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "raw"},
                "finish_reason": "stop",
            }
        ],
    }
    with mock_ai(response=payload):
        completion = CLIENT.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert (completion.id, completion.choices[0].message.content) == ("chatcmpl-own", "raw")


def test_a_payload_cannot_answer_a_streaming_call() -> None:
    with (
        pytest.raises(AksaraError, match="cannot stream a provider payload"),
        mock_ai(response={"choices": []}),
        pytest.raises(openai.InternalServerError),
    ):
        ask(stream=True)


def test_error_wins_and_can_be_changed_between_calls(mock_ai: MockAI) -> None:
    mock_ai.response = "fine"
    mock_ai.error = "rate_limit"
    with pytest.raises(openai.RateLimitError):
        ask()
    mock_ai.error = None

    assert ask() == "fine"
    assert [call.status for call in mock_ai.calls] == [429, 200]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"response": "a", "handler": str}, TypeError, "got response and handler; pass only one"),
        ({"responses": "abc"}, TypeError, "takes a list of answers"),
        ({"handler": "not callable"}, TypeError, "must be a function of the call"),
        ({"error": "teapot"}, ValueError, "use one of rate_limit, overloaded"),
        ({"error": 200}, ValueError, "an HTTP status from 400 to 599"),
        ({"response": 42}, ValueError, "cannot answer with 42"),
        ({"responses": ["ok", {"name": 1, "arguments": {}}]}, ValueError, "needs a 'name' string"),
    ],
)
def test_bad_arguments_fail_when_the_mock_is_made(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        mock_ai(**kwargs)


# -- forms: context manager, decorator, fixture -------------------------------------

DECORATED = mock_ai(response="from the decorator")
ASYNC_DECORATED = mock_ai(response="from the async decorator")


@DECORATED
def test_decorator_on_a_sync_test() -> None:
    assert ask() == "from the decorator"
    assert DECORATED.call_count == 1


@ASYNC_DECORATED
async def test_decorator_on_an_async_test() -> None:
    completion = await ASYNC_CLIENT.chat.completions.create(model="m", messages=MESSAGES)

    assert completion.choices[0].message.content == "from the async decorator"
    assert ASYNC_DECORATED.call_count == 1


@mock_ai(response="decorated")
def test_decorator_keeps_the_test_fixtures(tmp_path: Any) -> None:
    assert tmp_path.exists() and ask() == "decorated"


def test_fixture_answers_every_call_of_the_test(mock_ai: MockAI) -> None:
    assert ask() == "mock response"
    mock_ai.responses = ["one", "two"]

    assert [ask(), ask()] == ["one", "two"]
    assert mock_ai.call_count == 3


async def test_async_with_and_nesting() -> None:
    async with mock_ai(response="outer") as outer:
        first = await ASYNC_CLIENT.chat.completions.create(model="m", messages=MESSAGES)
        with mock_ai(response="inner") as inner:
            second = await ASYNC_CLIENT.chat.completions.create(model="m", messages=MESSAGES)
        third = await ASYNC_CLIENT.chat.completions.create(model="m", messages=MESSAGES)

    contents = [c.choices[0].message.content for c in (first, second, third)]
    assert contents == ["outer", "inner", "outer"]
    assert (outer.call_count, inner.call_count) == (2, 1)


def test_one_mock_cannot_be_entered_twice() -> None:
    ai = mock_ai()
    with ai, pytest.raises(RuntimeError, match="already active"), ai:
        pass


def test_dummy_api_keys_are_set_inside_and_removed_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-mine")
    with mock_ai():
        inside = (os.environ.get("OPENAI_API_KEY"), os.environ["ANTHROPIC_API_KEY"])

    assert inside[0] is not None and inside[1] == "sk-ant-mine"
    assert "OPENAI_API_KEY" not in os.environ
    assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-mine"


# -- clients and threads ----------------------------------------------------------------


def test_calls_from_worker_threads_are_answered() -> None:
    with mock_ai(response="threaded") as ai, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: ask(), range(8)))

    assert answers == ["threaded"] * 8
    assert ai.call_count == 8


@pytest.mark.parametrize("stack", [httpx2, httpx], ids=["httpx2.Client", "httpx.Client"])
def test_a_custom_http_client_on_the_standard_transport_is_answered(stack: Any) -> None:
    client = openai.OpenAI(api_key="k", http_client=stack.Client(timeout=5, headers={"x-a": "b"}))
    with mock_ai(response="custom") as ai:
        assert ask(client) == "custom"

    assert ai.calls[0].headers["x-a"] == "b"


# -- hand-written HTTP code and requests mock_ai leaves alone -------------------------


async def test_hand_written_httpx_and_httpx2_code_is_answered() -> None:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    with mock_ai(response="SELECT 1") as ai:
        async with httpx.AsyncClient(base_url="https://api.openai.com/v1") as legacy:
            old = (await legacy.post("/chat/completions", json=body)).json()
        with httpx2.Client() as modern:
            new = modern.post("https://openrouter.ai/api/v1/chat/completions", json=body).json()

    assert old["choices"][0]["message"]["content"] == "SELECT 1"
    assert new["choices"][0]["message"]["content"] == "SELECT 1"
    assert ai.calls[1].url == "https://openrouter.ai/api/v1/chat/completions"


def test_other_requests_go_through_on_both_stacks(loopback: Loopback) -> None:
    with mock_ai() as ai:
        via_httpx = httpx.get(f"{loopback.url}/health").json()
        via_httpx2 = httpx2.get(f"{loopback.url}/status").json()
        # A POST to an AI-looking path on an unknown host that is not JSON is not an AI call.
        form = httpx.post(f"{loopback.url}/v1/responses", data={"a": "b"}).json()

    assert (via_httpx, via_httpx2, form) == (
        {"served": "/health"},
        {"served": "/status"},
        {"served": "/v1/responses"},
    )
    assert ai.call_count == 0


def test_the_tests_own_respx_routes_keep_working_inside_mock_ai() -> None:
    with respx.mock(assert_all_called=True) as payments:
        payments.post("https://pay.example/charge").respond(201, json={"id": "ch_1"})
        with mock_ai(response="SELECT 1"):
            charge = httpx.post("https://pay.example/charge", json={"amount": 100})
            sql = httpx.post(
                "https://api.openai.com/v1/chat/completions",
                json={"model": "m", "messages": MESSAGES},
            ).json()
        with pytest.raises(respx.models.AllMockedAssertionError):
            httpx.get("https://pay.example/unmocked")

    assert charge.json() == {"id": "ch_1"}
    assert sql["choices"][0]["message"]["content"] == "SELECT 1"


def test_unknown_endpoints_of_ai_hosts_fail_instead_of_going_out() -> None:
    with mock_ai() as ai:
        response = httpx.get("https://api.anthropic.com/v1/models")

    assert response.status_code == 404
    assert "mock_ai does not answer GET https://api.anthropic.com/v1/models" in response.text
    assert ai.call_count == 0


def test_importing_and_making_a_mock_loads_no_http_library() -> None:
    script = (
        "import json, sys\n"
        "from aksara_testing import AICall, MockAI, mock_ai\n"
        "mock_ai(response='x')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'httpx', 'httpx2', 'httpcore', 'httpcore2', 'respx', 'openai'})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert json.loads(done.stdout) == []
