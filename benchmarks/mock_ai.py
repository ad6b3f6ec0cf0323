"""mock_ai against a bare respx route returning the same body, through the real SDKs.

    python benchmarks/mock_ai.py [--calls 300] [--repeats 7] [--write]

For each repeat, interleaved: ``--calls`` sequential SDK calls inside one
``mock_ai`` block, and the same calls inside a ``respx`` router whose single
route returns, byte for byte, the body mock_ai sends for that request
(captured once before timing). Rows: openai chat completion (httpx2, sync),
openai chat completion streamed, anthropic message (httpx2, async) and ollama
chat (httpx, sync). respx reaches httpx2 through a ``httpcore2`` mocker (the
one pytest-httpx2 registers). Medians of the per-repeat times and of the
per-repeat ratios. Target (issue 7): at most 1.2x the respx route. Also the
cost of entering and leaving a ``mock_ai`` block.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from importlib.metadata import version
from typing import Any, ClassVar
from urllib.parse import urlsplit

import anthropic
import ollama
import openai
import respx
from _results import machine_line, replace_section  # benchmarks/ is on sys.path
from respx.mocks import HTTPCoreMocker, Mocker

from aksara_testing import mock_ai

if "httpcore2" not in Mocker.registry:

    class HTTPCore2Mocker(HTTPCoreMocker):  # what pytest-httpx2 registers
        name = "httpcore2"
        targets: ClassVar[list[str]] = [
            "httpcore2._sync.connection.HTTPConnection",
            "httpcore2._sync.connection_pool.ConnectionPool",
            "httpcore2._sync.http_proxy.HTTPProxy",
            "httpcore2._async.connection.AsyncHTTPConnection",
            "httpcore2._async.connection_pool.AsyncConnectionPool",
            "httpcore2._async.http_proxy.AsyncHTTPProxy",
        ]


MESSAGES: Any = [
    {"role": "system", "content": "Answer with one SQL query."},
    {"role": "user", "content": "Get all users who signed up this week"},
]
ANSWER = "SELECT * FROM users WHERE created_at > now() - interval '7 days'"
OPENAI = openai.OpenAI(api_key="sk-bench")
ANTHROPIC = anthropic.AsyncAnthropic(api_key="sk-bench")
OLLAMA = ollama.Client()


def openai_chat() -> Any:
    return OPENAI.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def openai_stream() -> Any:
    stream = OPENAI.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


async def anthropic_message() -> Any:
    return await ANTHROPIC.messages.create(
        model="claude-sonnet-5", max_tokens=200, messages=MESSAGES[1:]
    )


def ollama_chat() -> Any:
    return OLLAMA.chat(model="llama3.2", messages=MESSAGES)


# name -> (call, URL, respx mocker, is async)
CASES: dict[str, tuple[Callable[[], Any], str, str, bool]] = {
    "openai chat completion (httpx2, sync)": (
        openai_chat,
        "https://api.openai.com/v1/chat/completions",
        "httpcore2",
        False,
    ),
    "openai chat completion, streamed (httpx2, sync)": (
        openai_stream,
        "https://api.openai.com/v1/chat/completions",
        "httpcore2",
        False,
    ),
    "anthropic message (httpx2, async)": (
        anthropic_message,
        "https://api.anthropic.com/v1/messages",
        "httpcore2",
        True,
    ),
    "ollama chat (httpx, sync)": (
        ollama_chat,
        "http://127.0.0.1:11434/api/chat",
        "httpcore",
        False,
    ),
}


def run_calls(call: Callable[[], Any], is_async: bool, n: int) -> float:
    if is_async:

        async def many() -> float:
            start = time.perf_counter()
            for _ in range(n):
                await call()
            return time.perf_counter() - start

        return asyncio.run(many())
    start = time.perf_counter()
    for _ in range(n):
        call()
    return time.perf_counter() - start


def reference_bodies() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Each case's reply from mock_ai: the recorded request answered again, outside HTTP."""
    bodies = {}
    for name, (call, url, _using, is_async) in CASES.items():
        with mock_ai(response=ANSWER) as ai:
            run_calls(call, is_async, 1)
        sent, parts = ai.calls[0], urlsplit(url)
        reply = mock_ai(response=ANSWER).respond(
            "POST", sent.url, parts.path, parts.hostname or "", parts.port or 443,
            sent.headers, json.dumps(sent.body).encode(),
        )  # fmt: skip
        assert reply is not None and reply.status == 200
        bodies[name] = (reply.body, dict(reply.headers))
    return bodies


def one_repeat(n: int, bodies: dict[str, tuple[bytes, dict[str, str]]]) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, (call, url, using, is_async) in CASES.items():
        body, headers = bodies[name]
        with mock_ai(response=ANSWER):
            run_calls(call, is_async, 5)  # warm up
            figures[f"{name}|mock_ai"] = run_calls(call, is_async, n)
        with respx.mock(using=using, assert_all_called=False) as router:
            router.post(url).respond(200, headers=headers, content=body)
            run_calls(call, is_async, 5)
            figures[f"{name}|respx"] = run_calls(call, is_async, n)
    rounds = 1000
    start = time.perf_counter()
    for _ in range(rounds):
        with mock_ai(response=ANSWER):
            pass
    figures["enter+exit"] = (time.perf_counter() - start) / rounds
    return figures


def table(runs: list[dict[str, float]], n: int) -> str:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    lines = [
        "| SDK call | mock_ai | bare respx route, same body | ratio | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name in CASES:
        ratio = statistics.median(r[f"{name}|mock_ai"] / r[f"{name}|respx"] for r in runs)
        ours, bare = median(f"{name}|mock_ai"), median(f"{name}|respx")
        lines.append(
            f"| {name} | {ours * 1e6 / n:.0f} µs/call | {bare * 1e6 / n:.0f} µs/call "
            f"| {ratio:.2f}x | <= 1.2x | {'yes' if ratio <= 1.2 else 'no'} |"
        )
    lines.append(
        f"| entering + leaving a `mock_ai` block | {median('enter+exit') * 1e6:.1f} µs "
        "| — | — | — | — |"
    )
    return "\n".join(lines)


def write(section: str) -> None:
    block = f"<!-- mock_ai:start -->\n{section}\n<!-- mock_ai:end -->"
    replace_section(block, "<!-- mock_ai:start -->", "<!-- mock_ai:end -->")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    bodies = reference_bodies()
    runs = [one_repeat(options.calls, bodies) for _ in range(options.repeats)]
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in ("openai", "anthropic", "ollama", "httpx", "httpx2", "respx")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    section = (
        "## mock_ai\n\n"
        f"`python benchmarks/mock_ai.py --repeats {options.repeats}` on {date.today()}; "
        f"{machine_line()}, Python {platform.python_version()}, {versions}; "
        f"load average at the end {load}. "
        f"{options.calls} sequential calls per variant and repeat, interleaved; the respx "
        "route returns the exact status, headers and body mock_ai sends. Medians of "
        f"{options.repeats} repeats; ratio = median of per-repeat ratios.\n\n"
        + table(runs, options.calls)
    )
    print(section)
    if options.write:
        write(section)


if __name__ == "__main__":
    main()
