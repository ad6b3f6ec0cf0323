"""``mock_ai``: answer the LLM calls made inside a block, test or fixture, and record them."""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ..errors import AksaraError
from . import _anthropic, _ollama, _openai
from ._answers import Answer, answer_of
from ._calls import AICall, endpoint_of
from ._faults import Fault, fault_of, fault_reply
from ._net import current_hosts
from ._wire import Reply, json_reply

__all__ = ["MockAI", "mock_ai"]

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[AICall], Any]
ErrorSpec = str | int | Mapping[str, Any]

DEFAULT_TEXT = "mock response"
_RENDER = {"openai": _openai.reply, "anthropic": _anthropic.reply, "ollama": _ollama.reply}
_EMBEDDINGS = frozenset({"embeddings", "embed"})
# SDK clients made inside the block need some key: openai.OpenAI() raises without one.
_DUMMY_KEYS = {"OPENAI_API_KEY": "sk-mock-ai", "ANTHROPIC_API_KEY": "sk-ant-mock-ai"}
_ENDPOINTS = (
    "OpenAI-style POST .../chat/completions, /responses, /completions, /embeddings; "
    "Anthropic POST /v1/messages; Ollama POST /api/chat, /api/generate, /api/embed, /api/embeddings"
)


class MockAI:
    """Answers every OpenAI, Anthropic and Ollama call while active, and records it.

    Made by :func:`mock_ai`; use it as a context manager (``with`` or
    ``async with``), as a decorator on sync or async tests, or through the
    ``mock_ai`` fixture. ``response``, ``responses``, ``handler`` and
    ``error`` can be changed at any time; ``error`` wins over ``handler``,
    which wins over ``responses``, which wins over ``response``.

    >>> with mock_ai(response="Paris") as ai:
    ...     client.chat.completions.create(model="gpt-4o-mini", messages=[...])
    >>> ai.call_count, ai.last_prompt
    (1, 'What is the capital of France?')
    """

    def __init__(
        self,
        response: Any = None,
        *,
        responses: Sequence[Any] | None = None,
        handler: Handler | None = None,
        error: ErrorSpec | None = None,
    ) -> None:
        given = [
            name
            for name, value in (("response", response), ("responses", responses),
                                ("handler", handler))
            if value is not None
        ]  # fmt: skip
        if len(given) > 1:
            raise TypeError(
                f"mock_ai() got {' and '.join(given)}; pass only one of response=, responses= "
                "or handler= (a handler can return a different answer per call)"
            )
        if handler is not None and not callable(handler):
            raise TypeError(f"mock_ai(handler={handler!r}) must be a function of the call")
        if isinstance(responses, str | bytes):
            raise TypeError("mock_ai(responses=...) takes a list of answers; use response= for one")
        for value in [response] if response is not None else list(responses or ()):
            answer_of(value)  # a bad answer fails here, not inside the HTTP call
        if error is not None:
            fault_of(error)
        self.response = response
        self.handler = handler
        self.error = error
        self.calls: list[AICall] = []
        self._responses = list(responses) if responses is not None else None
        self._turn = 0
        self._lock = threading.Lock()
        self._problems: list[BaseException] = []
        self._saved_env: dict[str, str | None] | None = None

    # -- configuration ----------------------------------------------------------

    @property
    def responses(self) -> list[Any] | None:
        """The answers given in turn, one per call; setting them starts from the first."""
        return self._responses

    @responses.setter
    def responses(self, value: Sequence[Any] | None) -> None:
        self._responses = list(value) if value is not None else None
        self._turn = 0

    # -- recording --------------------------------------------------------------

    @property
    def call_count(self) -> int:
        """How many AI calls were answered."""
        return len(self.calls)

    @property
    def last_call(self) -> AICall | None:
        return self.calls[-1] if self.calls else None

    @property
    def last_prompt(self) -> str | None:
        """The last call's prompt (its last user message), or None before any call."""
        return self.calls[-1].prompt if self.calls else None

    def assert_called_with_prompt(self, substring: str) -> None:
        """Fail unless some call sent ``substring`` in its system prompt, messages or prompt."""
        __tracebackhide__ = True
        if any(substring in call.input_text for call in self.calls):
            return
        if not self.calls:
            raise AssertionError(
                f"mock_ai: no AI call was made; expected a prompt with {substring!r}"
            )
        prompts = [call.prompt for call in self.calls]
        raise AssertionError(
            f"mock_ai: no AI call sent {substring!r}; the {len(prompts)} call(s) sent {prompts!r}"
        )

    # -- activation -------------------------------------------------------------

    def __enter__(self) -> MockAI:
        if self._saved_env is not None:
            raise RuntimeError("this mock_ai is already active; nest a new mock_ai(...) instead")
        from ._intercept import INTERCEPTOR

        self.calls, self._turn, self._problems = [], 0, []
        self._saved_env = {name: os.environ.get(name) for name in _DUMMY_KEYS}
        for name, value in _DUMMY_KEYS.items():
            os.environ.setdefault(name, value)
        INTERCEPTOR.push(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        from ._intercept import INTERCEPTOR

        INTERCEPTOR.pop(self)
        for name, value in (self._saved_env or {}).items():
            if value is None:
                os.environ.pop(name, None)
        self._saved_env = None
        if self._problems:
            problem, self._problems = self._problems[0], []
            raise problem

    async def __aenter__(self) -> MockAI:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def __call__(self, func: F) -> F:
        """Decorate a sync or async function (a test) to run inside this mock."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # -- answering (called by the interceptor, possibly from other threads) -----

    def respond(
        self, method: str, url: str, path: str, host: str, port: int,
        headers: Mapping[str, str], content: bytes,
    ) -> Reply | None:  # fmt: skip
        """The reply to one request, or None when it is not an AI call."""
        endpoint = endpoint_of(method, path)
        body = _json_object(content) if endpoint is not None else None
        if endpoint is None or body is None:
            if (host, port) in current_hosts():
                return _unsupported(method, url, host, port)
            return None
        call = AICall.parse(endpoint, url, headers, body)
        with self._lock:
            self.calls.append(call)
            number = len(self.calls)
        answer = self._answer(call)
        if answer.payload is not None and call.stream:
            answer = self._problem(
                AksaraError(
                    f"mock_ai cannot stream a provider payload to a streaming {call.provider} "
                    f"{call.endpoint} call; answer with text or a tool call instead"
                )
            )
        reply = self._render(call, answer, number)
        call.answer, call.status = answer.given, reply.status
        return reply

    def _answer(self, call: AICall) -> Answer:
        try:
            if self.error is not None:
                return Answer(fault=fault_of(self.error), given={"error": self.error})
            if self.handler is not None:
                return self._from_handler(call)
            if call.endpoint in _EMBEDDINGS:
                return Answer()  # vectors derived from the input text
            if self._responses is not None:
                return answer_of(self._next_response(call))
            return answer_of(self.response if self.response is not None else DEFAULT_TEXT)
        except Exception as exc:
            return self._problem(exc)

    def _from_handler(self, call: AICall) -> Answer:
        assert self.handler is not None
        value = self.handler(call)
        if inspect.isawaitable(value):
            getattr(value, "close", lambda: None)()
            raise AksaraError(
                "mock_ai handler returned an awaitable; the handler runs inside the HTTP call, "
                "so make it a plain (non-async) function"
            )
        if value is None and call.endpoint in _EMBEDDINGS:
            return Answer()
        return answer_of(value)

    def _next_response(self, call: AICall) -> Any:
        assert self._responses is not None
        with self._lock:
            turn, self._turn = self._turn, self._turn + 1
        if turn >= len(self._responses):
            raise AksaraError(
                f"mock_ai(responses=[...]) has {len(self._responses)} answer(s) but call "
                f"{turn + 1} ({call.provider} {call.endpoint}) asked for another; "
                "add answers or use handler="
            )
        return self._responses[turn]

    def _render(self, call: AICall, answer: Answer, number: int) -> Reply:
        if answer.fault is not None:
            return fault_reply(call.provider, answer.fault)
        if answer.payload is not None:
            return json_reply(answer.payload)
        return _RENDER[call.provider](call, answer, number)

    def _problem(self, exc: Exception) -> Answer:
        """Fail the call at once (no retries) and raise ``exc`` when the block ends."""
        with self._lock:
            self._problems.append(exc)
        message = f"mock_ai could not answer: {type(exc).__name__}: {exc}"
        return Answer(fault=Fault("server_error", 500, message), given={"error": message})


def mock_ai(
    response: Any = None,
    *,
    responses: Sequence[Any] | None = None,
    handler: Handler | None = None,
    error: ErrorSpec | None = None,
) -> MockAI:
    """Answer LLM calls without the network: a context manager and a decorator.

    ``response`` answers every call; ``responses`` answers call after call;
    ``handler(call)`` computes each answer from the :class:`AICall`; ``error``
    (``"rate_limit"``, ``"overloaded"``, ``"invalid_request"``, ``"server_error"``,
    ``"unavailable"``, ``"authentication"``, ``"not_found"`` or a status such
    as ``429``) makes every call fail as the provider would, at once.

    An answer is text, a tool call ``{"name": ..., "arguments": {...}}``,
    ``{"error": kind}``, an embedding vector or a complete provider payload.

    >>> with mock_ai(response="SELECT * FROM users") as ai:
    ...     response = await client.post("/api/ai/query/", json={"query": "Get all users"})
    >>> ai.last_prompt
    'Get all users'
    """
    return MockAI(response, responses=responses, handler=handler, error=error)


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content) if content else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _unsupported(method: str, url: str, host: str, port: int) -> Reply:
    provider = "anthropic" if "anthropic" in host else "ollama" if port == 11434 else "openai"
    message = f"mock_ai does not answer {method} {url}; it answers {_ENDPOINTS}"
    return fault_reply(provider, Fault("not_found", 404, message))
