"""What capture_tasks costs: per request, per Celery call, and at the first block.

    python benchmarks/tasks.py [--requests 1000] [--repeats 7] [--write]

For each repeat, in one process, the variants in an order rotated every repeat: 1,000 POSTs through
``AksaraClient`` to a FastAPI endpoint that adds one background task (an async
no-op), (a) with Starlette unpatched (the baseline), (b) patched but outside
any block (what every test pays once a block has run in the process), (c)
inside ``capture_tasks()`` (held) and (d) inside ``capture_tasks(run=True)``;
and 1,000 Celery ``add.delay(1, 2)`` calls to an in-memory broker, unpatched
(baseline), patched outside a block, and held in a block. Unpatched runs
retire the built-in backends first, which restores the originals; the next
block installs them again. Medians of the per-repeat times and of the
per-repeat ratios against the unpatched baseline.

The pass-through cost alone: 100,000 ``BackgroundTask`` builds and runs,
patched outside any block against unpatched (target: at most 1 µs added per
task; a request through the client costs a few hundred µs, so end-to-end
ratios only show the machine's noise).

The first block of a process installs the built-ins; it is timed in fresh
subprocesses (median of 5), with Starlette and Celery already imported (the
usual case: the app imported them) and with nothing imported yet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from importlib.metadata import version
from typing import Any

from _results import machine_line, replace_section  # benchmarks/ is on sys.path
from celery import Celery
from fastapi import BackgroundTasks, FastAPI
from starlette.background import BackgroundTask

from aksara_testing import AksaraClient, capture_tasks
from aksara_testing._tasks import backends

app = FastAPI()
celery_app = Celery("bench", broker="memory://", set_as_current=False)


async def noop(value: int) -> None:
    return None


@app.post("/schedule")
async def schedule(tasks: BackgroundTasks) -> dict[str, bool]:
    tasks.add_task(noop, 1)
    return {"ok": True}


@celery_app.task(name="bench.add")
def add(x: int, y: int) -> int:
    return x + y


def unpatch() -> None:
    for name in ("starlette", "celery"):
        backend = backends._BACKENDS.pop(name, None)
        if backend is not None:
            backend.retire()


def install() -> None:
    with capture_tasks():
        pass


def purge() -> None:
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")


async def timed(n: int, call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return time.perf_counter() - start


def timed_sync(n: int, call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return time.perf_counter() - start


async def one_repeat(n: int, rotation: int) -> dict[str, float]:
    client = AksaraClient(app)
    await client.post("/schedule")  # start the lifespan outside the timing

    def post() -> Awaitable[Any]:
        return client.post("/schedule")

    def delay() -> Any:
        return add.delay(1, 2)

    async def unpatched() -> dict[str, float]:
        unpatch()
        figures = {"request unpatched": await timed(n, post), "delay unpatched": 0.0}
        figures["delay unpatched"] = timed_sync(n, delay)
        purge()
        return figures

    async def patched() -> dict[str, float]:
        install()
        figures = {"request patched": await timed(n, post)}
        figures["delay patched"] = timed_sync(n, delay)
        purge()
        return figures

    async def held() -> dict[str, float]:
        with capture_tasks():
            return {"request held": await timed(n, post), "delay held": timed_sync(n, delay)}

    async def run_true() -> dict[str, float]:
        with capture_tasks(run=True):
            return {"request run=True": await timed(n, post)}

    async def construct_unpatched() -> dict[str, float]:
        unpatch()
        return {"construct unpatched": await construct(n * 100)}

    async def construct_patched() -> dict[str, float]:
        install()
        return {"construct patched": await construct(n * 100)}

    variants = [unpatched, patched, held, run_true, construct_unpatched, construct_patched]
    figures: dict[str, float] = {}
    turn = rotation % len(variants)
    for variant in variants[turn:] + variants[:turn]:  # drift hits every variant alike
        figures.update(await variant())
    await client.aclose()
    return figures


async def construct(n: int) -> float:
    """``n`` times: build a ``BackgroundTask`` and run it, as Starlette does per task."""
    start = time.perf_counter()
    for _ in range(n):
        await BackgroundTask(noop, 1)()
    return time.perf_counter() - start


FIRST_BLOCK = """
import time
{imports}
from aksara_testing import capture_tasks
start = time.perf_counter()
with capture_tasks():
    pass
print(time.perf_counter() - start)
"""


def first_block(imports: str, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        output = subprocess.run(
            [sys.executable, "-c", FIRST_BLOCK.format(imports=imports)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        times.append(float(output))
    return statistics.median(times)


def table(runs: list[dict[str, float]], n: int, first: dict[str, float]) -> str:
    def per_call(key: str) -> float:
        return statistics.median(r[key] for r in runs) * 1e6 / n

    def ratio(key: str, baseline: str) -> float:
        return statistics.median(r[key] / r[baseline] for r in runs)

    lines = [
        "| measured | median | baseline | median | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    added = statistics.median(
        (r["construct patched"] - r["construct unpatched"]) * 1e6 / (n * 100) for r in runs
    )
    lines.append(
        f"| {n * 100:,} x build + run a `BackgroundTask`, patched, outside any block "
        f"| {per_call('construct patched') / 100:.2f} µs | unpatched "
        f"| {per_call('construct unpatched') / 100:.2f} µs "
        f"| {ratio('construct patched', 'construct unpatched'):.2f}x "
        f"| <= 1 µs added ({added:+.2f} µs) | {'yes' if added <= 1 else 'no'} |"
    )
    rows = [
        ("request", "patched", "patched, outside any block"),
        ("request", "held", "inside `capture_tasks()` (held)"),
        ("request", "run=True", "inside `capture_tasks(run=True)`"),
        ("delay", "patched", "patched, outside any block"),
        ("delay", "held", "inside `capture_tasks()` (held)"),
    ]
    for kind, variant, label in rows:
        what = "POST adding a background task" if kind == "request" else "Celery `delay()`"
        baseline = "unpatched, memory broker" if kind == "delay" else "unpatched Starlette"
        lines.append(
            f"| {n:,} x {what}, {label} | {per_call(f'{kind} {variant}'):.0f} µs "
            f"| {baseline} | {per_call(f'{kind} unpatched'):.0f} µs "
            f"| {ratio(f'{kind} {variant}', f'{kind} unpatched'):.2f}x | — | — |"
        )
    for label, seconds in first.items():
        lines.append(
            f"| first block of a process, {label} | {seconds * 1e3:.1f} ms | — | — | — | — | — |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    runs = [asyncio.run(one_repeat(options.requests, i)) for i in range(options.repeats)]
    first = {
        "Starlette and Celery imported": first_block(
            "import starlette.background, celery.app.task"
        ),
        "nothing imported yet": first_block(""),
    }
    section = (
        "## Background tasks\n\n"
        f"`python benchmarks/tasks.py --repeats {options.repeats}` on {date.today()}; "
        f"{machine_line()}, Python {platform.python_version()}, "
        f"Starlette {version('starlette')}, FastAPI {version('fastapi')}, "
        f"Celery {version('celery')}. Medians of {options.repeats} interleaved repeats "
        "in one process; ratio = median of per-repeat ratios against the unpatched "
        "baseline. The first block installs the built-in backends (median of 5 fresh "
        "processes). See the module docstring of `benchmarks/tasks.py`. Load average "
        f"at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}.\n\n"
        + table(runs, options.requests, first)
    )
    print(section)
    if options.write:
        block = f"<!-- tasks:start -->\n{section}\n<!-- tasks:end -->"
        replace_section(block, "<!-- tasks:start -->", "<!-- tasks:end -->")


if __name__ == "__main__":
    main()
