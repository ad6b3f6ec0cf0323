"""capture_tasks with Starlette/FastAPI background tasks, through the real test client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI
from starlette.background import BackgroundTask
from starlette.background import BackgroundTasks as StarletteBackgroundTasks
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aksara_testing import AksaraClient, AksaraError, CapturedTasks, capture_tasks

SENT: list[tuple[str, Any]] = []
THREADS: list[str] = []


async def send_email(to: str, subject: str = "") -> str:
    SENT.append(("email", to))
    THREADS.append(threading.current_thread().name)
    return f"sent to {to}"


def write_audit(entry: str) -> str:
    SENT.append(("audit", entry))
    THREADS.append(threading.current_thread().name)
    return entry.upper()


def fail(reason: str) -> None:
    raise RuntimeError(reason)


app = FastAPI()


@app.post("/signup")
async def signup(tasks: BackgroundTasks) -> dict[str, bool]:
    tasks.add_task(send_email, "ann@example.com", subject="Welcome")
    tasks.add_task(write_audit, "signup")
    return {"ok": True}


@app.post("/sync-signup")
def sync_signup(tasks: BackgroundTasks) -> dict[str, bool]:
    # A def endpoint runs in a worker thread.
    tasks.add_task(send_email, "bob@example.com")
    return {"ok": True}


@app.post("/response-background")
async def response_background() -> Response:
    return JSONResponse({"ok": True}, background=BackgroundTask(write_audit, "direct"))


@app.post("/task-list")
async def task_list() -> Response:
    tasks = StarletteBackgroundTasks([BackgroundTask(write_audit, "first")])
    tasks.add_task(write_audit, "second")
    return JSONResponse({"ok": True}, background=tasks)


@app.post("/failing-task")
async def failing_task(tasks: BackgroundTasks) -> dict[str, bool]:
    tasks.add_task(fail, "the task broke")
    return {"ok": True}


class Passthrough(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        return await call_next(request)  # type: ignore[no-any-return]


middleware_app = FastAPI()
middleware_app.add_middleware(Passthrough)
middleware_app.post("/signup")(signup)


@pytest.fixture(autouse=True)
def _reset() -> None:
    SENT.clear()
    THREADS.clear()


@pytest.fixture
async def client() -> AsyncIterator[AksaraClient]:
    async with AksaraClient(app) as test_client:
        yield test_client


async def test_tasks_added_in_a_request_are_captured_and_do_not_run(client: AksaraClient) -> None:
    with capture_tasks() as tasks:
        response = await client.post("/signup")

    assert response.status_code == 200
    assert [(t.name, t.args, t.kwargs, t.backend) for t in tasks] == [
        ("send_email", ("ann@example.com",), {"subject": "Welcome"}, "starlette"),
        ("write_audit", ("signup",), {}, "starlette"),
    ]
    assert tasks[0].func is send_email
    assert SENT == []


async def test_run_all_runs_held_tasks_in_order_and_returns_their_results(
    client: AksaraClient,
) -> None:
    with capture_tasks() as tasks:
        await client.post("/signup")

    results = await tasks.run_all()

    assert results == ["sent to ann@example.com", "SIGNUP"]
    assert SENT == [("email", "ann@example.com"), ("audit", "signup")]
    assert all(task.ran for task in tasks)


async def test_async_tasks_run_on_the_loop_and_sync_tasks_in_a_worker_thread(
    client: AksaraClient,
) -> None:
    with capture_tasks() as tasks:
        await client.post("/signup")

    await tasks[0].run()
    await tasks[1].run()

    assert THREADS[0] == threading.current_thread().name
    assert THREADS[1] != threading.current_thread().name


async def test_run_true_records_tasks_and_runs_them_after_the_response(
    client: AksaraClient,
) -> None:
    with capture_tasks(run=True) as tasks:
        response = await client.post("/signup")

    assert response.json() == {"ok": True}
    assert [t.name for t in tasks] == ["send_email", "write_audit"]
    assert SENT == [("email", "ann@example.com"), ("audit", "signup")]


async def test_running_a_task_that_its_framework_runs_is_an_error(client: AksaraClient) -> None:
    with capture_tasks(run=True) as tasks:
        await client.post("/signup")

    with pytest.raises(AksaraError, match=r"send_email was left to starlette to run"):
        await tasks[0].run()
    with pytest.raises(AksaraError, match=r"use capture_tasks\(\) to hold tasks"):
        await tasks.run_all()
    assert len(SENT) == 2


async def test_a_task_runs_once(client: AksaraClient) -> None:
    with capture_tasks() as tasks:
        await client.post("/signup")
    await tasks[0].run()

    with pytest.raises(AksaraError, match=r"^task send_email already ran; call task\.func"):
        await tasks[0].run()
    assert await tasks.run_all() == ["SIGNUP"]  # only the task not run yet
    assert SENT == [("email", "ann@example.com"), ("audit", "signup")]


async def test_a_failing_task_raises_from_run_and_counts_as_run(client: AksaraClient) -> None:
    with capture_tasks() as tasks:
        response = await client.post("/failing-task")
    assert response.status_code == 200  # held: the failure did not reach the request

    with pytest.raises(RuntimeError, match="the task broke"):
        await tasks.run_all()
    assert tasks[0].ran
    assert await tasks.run_all() == []


async def test_named_picks_tasks_by_name_and_unknown_names_give_an_empty_list(
    client: AksaraClient,
) -> None:
    with capture_tasks() as tasks:
        await client.post("/signup")
        await client.post("/signup")

    emails = tasks.named("send_email")

    assert isinstance(emails, CapturedTasks)
    assert [t.args for t in emails] == [("ann@example.com",), ("ann@example.com",)]
    assert tasks.named("no_such_task") == []
    await emails.run_all()
    assert SENT == [("email", "ann@example.com"), ("email", "ann@example.com")]


async def test_a_def_endpoint_schedules_from_a_worker_thread_and_is_captured(
    client: AksaraClient,
) -> None:
    with capture_tasks() as tasks:
        await client.post("/sync-signup")

    assert [t.args for t in tasks] == [("bob@example.com",)]
    assert SENT == []


async def test_response_background_and_a_background_tasks_list_are_captured(
    client: AksaraClient,
) -> None:
    with capture_tasks() as tasks:
        await client.post("/response-background")
        await client.post("/task-list")

    assert [t.args for t in tasks] == [("direct",), ("first",), ("second",)]
    assert SENT == []


async def test_tasks_scheduled_behind_a_base_http_middleware_are_captured() -> None:
    async with AksaraClient(middleware_app) as client:
        with capture_tasks() as tasks:
            await client.post("/signup")

    assert [t.name for t in tasks] == ["send_email", "write_audit"]
    assert SENT == []


async def test_outside_a_block_tasks_run_as_usual(client: AksaraClient) -> None:
    with capture_tasks():
        pass  # the backends are installed from here on

    await client.post("/signup")

    assert SENT == [("email", "ann@example.com"), ("audit", "signup")]


async def test_nested_blocks_see_their_own_tasks(client: AksaraClient) -> None:
    with capture_tasks() as outer:
        await client.post("/response-background")
        with capture_tasks(run=True) as inner:
            await client.post("/sync-signup")
        await client.post("/response-background")

    assert [t.args for t in outer] == [("direct",), ("direct",)]
    assert [t.args for t in inner] == [("bob@example.com",)]
    assert SENT == [
        ("email", "bob@example.com")
    ]  # the inner block's tasks ran, the outer's did not


async def test_a_closed_block_captures_nothing_from_contexts_copied_while_it_was_open(
    client: AksaraClient,
) -> None:
    later = asyncio.Event()

    async def request_later() -> None:
        await later.wait()
        await client.post("/signup")

    with capture_tasks() as tasks:
        pending = asyncio.create_task(request_later())  # copies the context, block included
    later.set()
    await pending

    assert tasks == []
    assert SENT == [("email", "ann@example.com"), ("audit", "signup")]


async def test_concurrent_blocks_in_separate_tasks_keep_their_own_tasks(
    client: AksaraClient,
) -> None:
    both_open = asyncio.Barrier(2)

    async def capture(path: str) -> CapturedTasks:
        with capture_tasks() as tasks:
            await both_open.wait()
            await client.post(path)
        return tasks

    signup, direct = await asyncio.gather(capture("/signup"), capture("/response-background"))

    assert [t.name for t in signup] == ["send_email", "write_audit"]
    assert [t.args for t in direct] == [("direct",)]


def test_a_block_cannot_be_entered_while_it_is_open() -> None:
    block = capture_tasks()
    with block, pytest.raises(AksaraError, match="already open"), block:
        pass


def test_run_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        capture_tasks(True)  # type: ignore[misc]


def test_importing_the_package_imports_no_task_framework() -> None:
    code = (
        "import sys, aksara_testing\n"
        "print(sorted({'starlette', 'fastapi', 'celery'} & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.stdout.strip() == "[]", result.stderr
