"""Timing plugin for the sync isolation benchmark (``-p _benchtime``).

Times each test's whole run protocol (setup, call, teardown and their hooks) in
the test process, wall clock and process CPU, and writes the lists as JSON to
``$BENCH_TIME_FILE`` when pytest ends. Loaded in every variant alike.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

WALL: list[float] = []
CPU: list[float] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Generator[None, object, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        WALL.append(time.perf_counter() - wall)
        CPU.append(time.process_time() - cpu)


def pytest_unconfigure(config: Any) -> None:
    path = os.environ.get("BENCH_TIME_FILE")
    if path:
        with open(path, "w") as out:
            json.dump({"wall": WALL, "cpu": CPU}, out)
