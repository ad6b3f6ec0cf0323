"""The test client against bare httpx, in the same process and run.

    python benchmarks/client.py [--requests 1000] [--repeats 7] [--write]

For each repeat, interleaved: 1,000 sequential GETs and 1,000 JSON POSTs to a
small FastAPI app through ``AksaraClient`` and through a bare
``httpx.AsyncClient(transport=httpx.ASGITransport(app))``; and the cost of a
client's lifespan start + stop. Medians of the per-repeat times and of the
per-repeat ratios. Target (issue 5): at most 1.15x bare httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from _results import machine_line, replace_section  # benchmarks/ is on sys.path
from fastapi import FastAPI

from aksara_testing import AksaraClient

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@asynccontextmanager
async def lifespan(_app: FastAPI) -> Any:
    yield {"ready": True}


app = FastAPI(lifespan=lifespan)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


@app.post("/echo")
async def echo(body: dict[str, Any]) -> dict[str, Any]:
    return body


async def timed(n: int, call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return time.perf_counter() - start


async def one_repeat(n: int) -> dict[str, float]:
    payload = {"title": "hello", "tags": ["a", "b"], "count": 3}
    bare = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver")
    ours = AksaraClient(app)
    await ours.get("/ping")  # start the lifespan outside the timing
    figures = {
        "bare GET": await timed(n, lambda: bare.get("/ping")),
        "aksara GET": await timed(n, lambda: ours.get("/ping")),
        "bare POST": await timed(n, lambda: bare.post("/echo", json=payload)),
        "aksara POST": await timed(n, lambda: ours.post("/echo", json=payload)),
    }
    await bare.aclose()
    await ours.aclose()
    rounds = 100
    start = time.perf_counter()
    for _ in range(rounds):
        client = AksaraClient(app)
        await client.get("/ping")
        await client.aclose()
    with_lifespan = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        plain = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver")
        await plain.get("/ping")
        await plain.aclose()
    figures["lifespan per client"] = with_lifespan - (time.perf_counter() - start) / rounds
    return figures


def table(runs: list[dict[str, float]], n: int) -> str:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def ratio(ours: str, bare: str) -> float:
        return statistics.median(r[ours] / r[bare] for r in runs)

    lines = [
        "| measured | median | baseline | median | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for verb in ("GET", "POST"):
        r = ratio(f"aksara {verb}", f"bare {verb}")
        lines.append(
            f"| {n:,} {verb}s, AksaraClient | {median(f'aksara {verb}') * 1e6 / n:.0f} µs/req "
            f"| bare httpx ASGITransport | {median(f'bare {verb}') * 1e6 / n:.0f} µs/req "
            f"| {r:.2f}x | <= 1.15x | {'yes' if r <= 1.15 else 'no'} |"
        )
    lifespan_ms = median("lifespan per client") * 1e3
    lines.append(
        f"| lifespan start + stop, per client | {lifespan_ms:.2f} ms | — | — | — | — | — |"
    )
    return "\n".join(lines)


def write(section: str) -> None:
    block = f"<!-- client:start -->\n{section}\n<!-- client:end -->"
    replace_section(block, "<!-- client:start -->", "<!-- client:end -->")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    runs = [asyncio.run(one_repeat(options.requests)) for _ in range(options.repeats)]
    section = (
        "## Test client\n\n"
        f"`python benchmarks/client.py --repeats {options.repeats}` on {date.today()}; "
        f"{machine_line()}, Python {platform.python_version()}, "
        f"httpx {httpx.__version__}. Medians of {options.repeats} interleaved repeats; "
        "ratio = median of per-repeat ratios; lifespan = extra cost of a client whose "
        "app lifespan starts and stops, over a bare client's first request.\n\n"
        + table(runs, options.requests)
    )
    print(section)
    if options.write:
        write(section)


if __name__ == "__main__":
    main()
